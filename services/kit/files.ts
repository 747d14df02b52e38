import { existsSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';

/**
 * The root of the running code: the checkout when run from source (ts-jest), the build output
 * (dist/, or wherever it was copied: an image's /app) when run from the build. The build
 * (`npm run build`: tsc, then infra/dist-assets.js) puts the Avro schemas, the default config,
 * each service's Lua scripts and the console's views and static files there, at the same
 * relative paths as in the checkout, so a service finds them relative to its own module and
 * never reaches into a source tree.
 */
export function buildRoot(): string {
  // services/kit -> the checkout; dist/services/kit -> dist
  return join(__dirname, '..', '..');
}

/** A path under buildRoot(), like `builtPath('schemas')`. */
export function builtPath(...parts: string[]): string {
  return join(buildRoot(), ...parts);
}

/** Returns `dir` if it exists, else throws saying that the build must copy it there (tsc alone does not). */
export function requireBuilt(dir: string): string {
  if (!existsSync(dir)) {
    throw new Error(
      `kairos: ${dir} does not exist; it ships with the build at ${buildRoot()}: build with \`npm run build\` (or \`make build\`), which runs tsc and copies schemas, config, Lua scripts and the console's views beside the code (tsc alone does not)`,
    );
  }
  return dir;
}

/** The checkout's root, for the benchmarks and the chaos suite (they run from a checkout only; the services use buildRoot). */
export function projectRoot(): string {
  for (const candidate of [join(__dirname, '..', '..'), join(__dirname, '..', '..', '..')]) {
    if (existsSync(join(candidate, 'package.json'))) return candidate;
  }
  throw new Error(`kairos: cannot find the project root above ${__dirname}`);
}

/**
 * A data file's path: absolute as given, else relative to the working directory (the
 * checkout for `make start`, /app in the image, where the build's config/ holds the defaults).
 */
export function configPath(file: string): string {
  return resolve(file);
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
