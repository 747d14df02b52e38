/**
 * The on-disk layout of a template set (paths relative to the templates folder):
 *   layouts/main.hbs, layouts/main.text.hbs        the HTML and text layouts
 *   partials/<name>.hbs, partials/<name>.text.hbs  blocks for the HTML and text parts
 *   emails/<name>/{subject,preheader,html,text}.hbs one email template
 * Files not ending in .hbs (README.md) are ignored.
 */
import { TemplateCompileError } from './errors';

export const EMAIL_PARTS = ['subject', 'preheader', 'html', 'text'] as const;
export type EmailPart = (typeof EMAIL_PARTS)[number];

export type FileRole =
  | { kind: 'layout'; flavor: 'html' | 'text' }
  | { kind: 'partial'; name: string; flavor: 'html' | 'text' }
  | { kind: 'email'; name: string; part: EmailPart };

const NAME = '([a-z][a-z0-9_-]{0,62})';
const LAYOUT = /^layouts\/main(\.text)?\.hbs$/;
const PARTIAL = new RegExp(`^partials/${NAME}(\\.text)?\\.hbs$`);
const EMAIL = new RegExp(`^emails/${NAME}/(subject|preheader|html|text)\\.hbs$`);

/** "a\\b/./c.hbs" -> "a/b/c.hbs": adapters on any OS pass paths relative to the folder. */
export function normalizePath(path: string): string {
  return path.replace(/\\/g, '/').split('/').filter((segment) => segment !== '' && segment !== '.').join('/');
}

/** What a file is in the set, null for non-template files; throws for a misplaced .hbs. */
export function classify(path: string): FileRole | null {
  if (!path.endsWith('.hbs')) return null;
  const layout = LAYOUT.exec(path);
  if (layout !== null) return { kind: 'layout', flavor: layout[1] === undefined ? 'html' : 'text' };
  const partial = PARTIAL.exec(path);
  if (partial !== null) return { kind: 'partial', name: partial[1], flavor: partial[2] === undefined ? 'html' : 'text' };
  const email = EMAIL.exec(path);
  if (email !== null) return { kind: 'email', name: email[1], part: email[2] as EmailPart };
  throw new TemplateCompileError(
    `${path}: not a place for a template; expected layouts/main.hbs, layouts/main.text.hbs, partials/<name>[.text].hbs or emails/<name>/{subject,preheader,html,text}.hbs (names in lower case)`,
    path, null, null,
  );
}
