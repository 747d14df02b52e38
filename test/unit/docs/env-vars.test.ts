/**
 * docs/operations.md documents every environment variable the code reads, and nothing else.
 *
 * Read by the code (found statically, so a new service under services/ counts without a change
 * here): every `NAME: someVar(...)` entry of a configuration shape (services/kit/config.ts's
 * builders, each service's shape) and every direct `process.env.NAME` / `process.env['NAME']`.
 * Documented: the names in the first column of every table in docs/operations.md whose header
 * starts with "variable" (the Console section brings its own).
 */
import { readFileSync, readdirSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { commonShape } from '../../../services/kit/config';
import { rendererShape } from '../../../services/renderer/config';
import { trackerShape } from '../../../services/tracker/config';

const ROOT = join(__dirname, '../../..');

/**
 * Read, but deliberately not in the guide, each with its reason. Keep this list short.
 */
const NOT_DOCUMENTED: Record<string, string> = {
  // Read only to decide whether the AWS SDK's own credential chain is configured (real SES);
  // they are the SDK's variables, documented by AWS, and docs/security.md says how to set them.
  AWS_ACCESS_KEY_ID: 'the AWS SDK credential chain, documented by AWS (docs/security.md)',
  AWS_PROFILE: 'the AWS SDK credential chain, documented by AWS (docs/security.md)',
};

function files(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) return files(path);
    return path.endsWith('.ts') && !path.endsWith('.d.ts') ? [path] : [];
  });
}

/** Variable name -> the files that read it. */
function readByCode(): Map<string, string[]> {
  const found = new Map<string, string[]>();
  const add = (name: string, file: string) => found.set(name, [...new Set([...(found.get(name) ?? []), relative(ROOT, file)])]);
  for (const file of files(join(ROOT, 'services'))) {
    const text = readFileSync(file, 'utf8');
    // A shape entry: `  NAME: urlVar().default(...)`, `  NAME: z.string()`.
    for (const m of text.matchAll(/^\s*([A-Z][A-Z0-9_]*[A-Z0-9])\s*:\s*[A-Za-z_][\w.]*\(/gm)) add(m[1], file);
    for (const m of text.matchAll(/process\.env(?:\.([A-Z][A-Z0-9_]*)|\[\s*['"]([A-Z][A-Z0-9_]*)['"]\s*\])/g)) add(m[1] ?? m[2], file);
  }
  return found;
}

/** Variable name -> the table header it is documented under. */
function documented(): Map<string, string> {
  const names = new Map<string, string>();
  let header: string | null = null;
  for (const line of readFileSync(join(ROOT, 'docs/operations.md'), 'utf8').split('\n')) {
    if (!line.startsWith('|')) {
      header = null;
      continue;
    }
    const first = line.split('|')[1]?.trim() ?? '';
    if (header === null) {
      header = first;
      continue;
    }
    if (!/^variable\b/i.test(header) || /^-+$/.test(first)) continue;
    for (const m of first.matchAll(/`([A-Z][A-Z0-9_]*)`/g)) names.set(m[1], header);
  }
  return names;
}

describe('docs/operations.md and the environment variables the code reads', () => {
  const code = readByCode();
  const docs = documented();

  it('finds the variables of the configuration shapes (the static search works)', () => {
    for (const shape of [commonShape, rendererShape, trackerShape]) {
      for (const name of Object.keys(shape)) expect({ name, found: code.has(name) }).toEqual({ name, found: true });
    }
  });

  it('documents every variable the code reads', () => {
    const missing = [...code].filter(([name]) => !docs.has(name) && !(name in NOT_DOCUMENTED)).map(([name, where]) => `${name} (${where.join(', ')})`);
    expect(missing).toEqual([]);
  });

  it('documents only variables the code reads', () => {
    expect([...docs.keys()].filter((name) => !code.has(name))).toEqual([]);
  });

  it('keeps the exceptions true: each is read by the code and not documented', () => {
    for (const name of Object.keys(NOT_DOCUMENTED)) {
      expect({ name, read: code.has(name), documented: docs.has(name) }).toEqual({ name, read: true, documented: false });
    }
  });
});
