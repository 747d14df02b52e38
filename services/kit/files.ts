import { existsSync, readFileSync } from 'node:fs';
import { isAbsolute, join, resolve } from 'node:path';

/** The repository root, from the source tree (services/kit) or the build (dist/services/kit). */
export function projectRoot(): string {
  for (const candidate of [join(__dirname, '..', '..'), join(__dirname, '..', '..', '..')]) {
    if (existsSync(join(candidate, 'package.json'))) return candidate;
  }
  throw new Error(`kairos: cannot find the project root above ${__dirname}`);
}

/** A data file's path: absolute as given, else relative to the project root. */
export function configPath(file: string): string {
  return isAbsolute(file) ? file : resolve(projectRoot(), file);
}

/** Reads a data file (rules, segments, campaigns), with an error naming the file when it cannot. */
export function readConfigFile(file: string): { path: string; text: string } {
  const path = configPath(file);
  try {
    return { path, text: readFileSync(path, 'utf8') };
  } catch (err) {
    throw new Error(`cannot read ${path}: ${(err as Error).message}; set the variable naming this file to an existing file`);
  }
}
