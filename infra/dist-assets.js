#!/usr/bin/env node
/**
 * The second half of the build (`npm run build`, `make build`): tsc emits the JavaScript into
 * dist/, and this copies beside it what the services read at run time, at the same relative
 * paths as in the checkout, so dist/ runs on its own (an image, a directory outside the
 * checkout): each service's Lua scripts, the console's views and static files, the Avro
 * schemas and the default configuration. The services find the first three relative to their
 * own module (services/kit/files.ts, buildRoot), and the configuration relative to the working
 * directory (config/... by default; an absolute *_FILE / *_DIR variable points elsewhere).
 *
 *   node infra/dist-assets.js [outDir]     (default: dist)
 */
const { cpSync, existsSync, readdirSync, rmSync, statSync } = require('node:fs');
const { join, resolve } = require('node:path');

const ROOT = resolve(__dirname, '..');

/** Folders copied from the checkout into the build, relative to both. */
function assetFolders(root = ROOT) {
  const lua = readdirSync(join(root, 'services'))
    .map((name) => join('services', name, 'lua'))
    .filter((dir) => existsSync(join(root, dir)) && statSync(join(root, dir)).isDirectory());
  return ['schemas', 'config', ...lua, join('services', 'console', 'views'), join('services', 'console', 'static')];
}

/** Replaces each asset folder in `outDir` by a fresh copy (files deleted in the checkout go too). */
function copyAssets(outDir = join(ROOT, 'dist'), root = ROOT) {
  if (!existsSync(join(outDir, 'services', 'kit'))) {
    throw new Error(`${outDir} holds no compiled services (services/kit missing): run tsc -p tsconfig.build.json first (npm run build does both)`);
  }
  const folders = assetFolders(root);
  for (const folder of folders) {
    const target = join(outDir, folder);
    rmSync(target, { recursive: true, force: true });
    cpSync(join(root, folder), target, { recursive: true });
  }
  return folders;
}

module.exports = { assetFolders, copyAssets };

if (require.main === module) {
  try {
    const outDir = resolve(process.argv[2] ?? join(ROOT, 'dist'));
    const folders = copyAssets(outDir);
    process.stdout.write(`dist-assets: copied ${folders.join(', ')} into ${outDir}\n`);
  } catch (error) {
    process.stderr.write(`dist-assets: ${error.message}\n`);
    process.exit(1);
  }
}
