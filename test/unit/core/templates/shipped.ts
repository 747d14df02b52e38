/** Reads the shipped config/templates folder the way the renderer's adapter will. */
import { readdirSync, readFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import type { TemplateFile } from '../../../../services/core/templates';

export const TEMPLATES_DIR = join(__dirname, '../../../../config/templates');
export const CAMPAIGNS_FILE = join(__dirname, '../../../../config/campaigns.yaml');

function walk(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) =>
    entry.isDirectory() ? walk(join(dir, entry.name)) : [join(dir, entry.name)],
  );
}

export function shippedTemplateFiles(): TemplateFile[] {
  return walk(TEMPLATES_DIR).map((file) => ({ path: relative(TEMPLATES_DIR, file), text: readFileSync(file, 'utf8') }));
}
