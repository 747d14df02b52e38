/**
 * Every metric the alert rules and the Grafana dashboard (infra/observability) name is one that
 * running services export: every service of services/ is started from the build against the
 * local stack (a private pipeline), and their /metrics pages are read.
 */
import type { ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { createTestPipeline, type TestPipeline } from '../../support/pipeline';
import { collect, exited, freePort, spawnNode, waitFor } from '../../support/stack';
import { exportedMetricNames, observedMetrics, ROOT, serviceNames } from '../../support/deploy';

/** infra/local.env's development settings (the emulator, the public development signing secret). */
const localEnv = Object.fromEntries(
  readFileSync(join(ROOT, 'infra/local.env'), 'utf8').split('\n').filter((l) => /^[A-Z_]+=/.test(l)).map((l) => {
    const [k, ...rest] = l.split('=');
    return [k, rest.join('=').replace(/^\$\{[A-Z_]+:-(.*)\}$/, '$1')];
  }),
);

describe('the metrics named by infra/observability', () => {
  let pipeline: TestPipeline;
  const children: Array<{ name: string; child: ChildProcess; stderr: () => string }> = [];
  const pages = new Map<string, string>();

  beforeAll(async () => {
    pipeline = await createTestPipeline('deploy-metrics');
    const names = serviceNames();
    const ports = Object.fromEntries(await Promise.all(names.map(async (name) => [name, await freePort()] as const)));
    const urls = Object.fromEntries(names.map((name) => [`${name.toUpperCase()}_URL`, `http://127.0.0.1:${ports[name]}`]));
    for (const name of names) {
      const env: Record<string, string> = {
        ...localEnv,
        ...pipeline.env,
        GROUP_ID: `${pipeline.env.GROUP_ID}-${name}`,
        HTTP_PORT: String(ports[name]),
        ...(name === 'console' ? urls : {}),
        ...(name === 'renderer' ? { RECOMMENDER_URL: urls.RECOMMENDER_URL } : {}),
      };
      if (name === 'console') delete env.GROUP_ID;
      const child = spawnNode(`services/${name}/main.js`, [], env);
      children.push({ name, child, stderr: collect(child.stderr).text });
    }
    for (const { name, child, stderr } of children) {
      const page = await waitFor(`/metrics of ${name}`, async () => {
        if (child.exitCode !== null) throw new Error(`${name} exited with ${child.exitCode}: ${stderr()}`);
        const response = await fetch(`http://127.0.0.1:${ports[name]}/metrics`);
        return response.ok ? response.text() : undefined;
      }, 90_000);
      pages.set(name, page);
    }
  }, 180_000);

  afterAll(async () => {
    for (const { child } of children) child.kill('SIGTERM');
    await Promise.all(children.map(({ child }) => exited(child)));
    await pipeline?.close();
  }, 60_000);

  it('are all exported by a running service', () => {
    const exported = new Map<string, string[]>();
    for (const [service, page] of pages) for (const name of exportedMetricNames(page)) exported.set(name, [...(exported.get(name) ?? []), service]);
    const observed = observedMetrics();
    expect(observed.size).toBeGreaterThan(20);
    const missing = [...observed].filter(([name]) => !exported.has(name)).map(([name, where]) => `${name} (${where.join(', ')})`);
    expect(missing).toEqual([]);
  });

  it('carry the service label the rules and panels group by', () => {
    for (const [service, page] of pages) expect({ service, labelled: page.includes(`process_start_time_seconds{service="${service}"}`) }).toEqual({ service, labelled: true });
  });
});
