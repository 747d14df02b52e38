/**
 * The Dockerfile builds what `npm run build` builds and runs it as infra/image/kairos says (no
 * Docker engine here to build it): a current Node.js LTS base in every stage, the sources the
 * build needs, the assets infra/dist-assets.js copies, production dependencies only in the
 * runtime, a non-root user, and the entry point choosing the service by its first argument.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { ROOT } from '../../support/deploy';

// eslint-disable-next-line @typescript-eslint/no-require-imports
const { assetFolders } = require('../../../infra/dist-assets.js') as { assetFolders(): string[] };

const dockerfile = readFileSync(join(ROOT, 'Dockerfile'), 'utf8');
const lines = dockerfile.split('\n').filter((l) => l.trim() !== '' && !l.startsWith('#'));
const stages = lines.filter((l) => l.startsWith('FROM '));
const runtime = lines.slice(lines.lastIndexOf(stages[stages.length - 1]));
const copies = (section: string[]) => section.filter((l) => l.startsWith('COPY ')).map((l) => l.split(/\s+/).slice(1));

describe('the Dockerfile', () => {
  it('is multi-stage on a Node.js 24 LTS image', () => {
    expect(stages.length).toBeGreaterThanOrEqual(3);
    const base = /^ARG NODE_IMAGE=(\S+)$/m.exec(dockerfile)?.[1];
    expect(base).toMatch(/^node:24[.\d]*-(bookworm|trixie)-slim$/);
    for (const stage of stages) expect(stage).toMatch(/^FROM \$\{NODE_IMAGE\}( AS \w+)?$/);
  });

  it('copies into the build stage every source the build reads, and builds as npm run build does', () => {
    const build = lines.slice(lines.indexOf(stages[0]), lines.indexOf(stages[1]));
    const sources = copies(build).flatMap((parts) => parts.slice(0, -1));
    for (const folder of assetFolders()) expect({ folder, copied: sources.some((s) => folder === s || folder.startsWith(`${s}/`)) }).toEqual({ folder, copied: true });
    for (const file of ['package.json', 'package-lock.json', 'tsconfig.json', 'tsconfig.build.json', 'infra/dist-assets.js', 'services']) expect(sources).toContain(file);
    const pkg = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { scripts: { build: string } };
    expect(pkg.scripts.build).toBe('tsc -p tsconfig.build.json && node infra/dist-assets.js');
    expect(build).toContain('RUN npx tsc -p tsconfig.build.json && node infra/dist-assets.js');
  });

  it('runs the build output with production dependencies only, as the unprivileged node user', () => {
    expect(lines).toContain('RUN npm ci --omit=dev --ignore-scripts --no-audit --no-fund && npm cache clean --force');
    const into = copies(runtime).map((parts) => parts[parts.length - 1]);
    expect(into).toEqual(expect.arrayContaining(['node_modules', 'services', 'schemas', 'config', 'kairos']));
    expect(runtime).toContain('WORKDIR /app');
    expect(runtime).toContain('USER node');
    expect(runtime).toContain('ENTRYPOINT ["/app/kairos"]');
    // Its own files belong to root (COPY without --chown): the service cannot change its code.
    expect(runtime.filter((l) => l.includes('--chown'))).toEqual([]);
  });

  it('exposes the services\' default ports', () => {
    expect(/^EXPOSE (.*)$/m.exec(dockerfile)?.[1].split(' ').map(Number).sort()).toEqual([8090, 8091, 8092, 8093, 8094, 8095, 8096]);
  });
});
