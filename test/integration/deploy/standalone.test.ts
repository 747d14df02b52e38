/**
 * A service runs from the build output alone: dist/'s services, schemas and default config,
 * the image's entry point (infra/image/kairos) and production dependencies (`npm ci
 * --omit=dev`, as the Dockerfile installs them) copied to a directory outside the checkout,
 * started there with only its environment and a config folder mounted from elsewhere, like
 * the image in a pod. It must pass its health checks and process events, and never touch the
 * checkout: a preloaded probe records every file the process opens, reads, lists or loads as a
 * module, and none may be under the checkout.
 */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { cpSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { delimiter, join } from 'node:path';
import { behaviorEvent, type SegmentChange } from '../../../services/core/types';
import { createTestPipeline, type TestPipeline } from '../../support/pipeline';
import { collect, exited, freePort, waitFor } from '../../support/stack';
import { ROOT } from '../../support/deploy';

/** Preloaded with NODE_OPTIONS: appends every path the process touches through fs or require to PROBE_LOG. */
const PROBE = `
const fs = require('node:fs');
const Module = require('node:module');
const path = require('node:path');
const log = process.env.KAIROS_TEST_PROBE_LOG;
const append = fs.appendFileSync.bind(fs);
const seen = new Set();
function note(p) {
  if (typeof p !== 'string' && !(p instanceof URL) && !Buffer.isBuffer(p)) return;
  const abs = path.resolve(String(p instanceof URL ? p.pathname : p));
  if (seen.has(abs)) return;
  seen.add(abs);
  append(log, abs + '\\n');
}
for (const name of ['openSync', 'readFileSync', 'readdirSync', 'statSync', 'lstatSync', 'existsSync', 'realpathSync', 'accessSync', 'opendirSync']) {
  const original = fs[name];
  fs[name] = function (p, ...rest) { note(p); return original.call(this, p, ...rest); };
}
for (const name of ['open', 'readFile', 'readdir', 'stat', 'lstat', 'access', 'opendir']) {
  const original = fs.promises[name];
  fs.promises[name] = function (p, ...rest) { note(p); return original.call(this, p, ...rest); };
}
const resolve = Module._resolveFilename;
Module._resolveFilename = function (...args) { const file = resolve.apply(this, args); note(file); return file; };
`;

const STANDALONE_SEGMENT = `
  # Added by the standalone test: proves the mounted config is the one read.
  - name: deploy_probe
    description: Viewed any product in the last day.
    conditions:
      recency: { event: product_view, within: 1d }
`;

describe('a service started from the build output alone, outside the checkout', () => {
  let pipeline: TestPipeline;
  let work: string;
  let child: ChildProcess | undefined;
  let stderr: () => string = () => '';
  let stdout: () => string = () => '';
  let port: number;
  let env: Record<string, string>;
  const app = () => join(work, 'app');
  const probeLog = () => join(work, 'opened.log');

  beforeAll(async () => {
    for (const part of ['services/kit/lua', 'schemas', 'config', 'services/console/views']) {
      if (!existsSync(join(ROOT, 'dist', part))) throw new Error(`dist/${part} is missing: build with \`make build\` (npm run build) before the integration tests`);
    }
    work = mkdtempSync(join(tmpdir(), 'kairos-standalone-'));
    // The image's /app: the build output, the entry point, production dependencies only.
    for (const part of ['services', 'schemas', 'config']) cpSync(join(ROOT, 'dist', part), join(app(), part), { recursive: true });
    cpSync(join(ROOT, 'infra/image/kairos'), join(app(), 'kairos'));
    for (const file of ['package.json', 'package-lock.json']) cpSync(join(ROOT, file), join(app(), file));
    execFileSync('npm', ['ci', '--omit=dev', '--ignore-scripts', '--prefer-offline', '--no-audit', '--no-fund'], { cwd: app(), stdio: 'pipe', timeout: 300_000 });
    // The config "mounted from elsewhere": the shipped segments plus one of ours.
    const mounted = join(work, 'etc-kairos');
    cpSync(join(ROOT, 'config'), mounted, { recursive: true });
    writeFileSync(join(mounted, 'segments.yaml'), readFileSync(join(ROOT, 'config/segments.yaml'), 'utf8') + STANDALONE_SEGMENT);
    writeFileSync(join(work, 'probe.js'), PROBE);

    pipeline = await createTestPipeline('deploy-standalone');
    port = await freePort();
    // Only what a pod would have: no variable of the test's own environment (npm's, jest's)
    // comes along, and PATH loses the checkout's node_modules/.bin.
    env = {
      PATH: (process.env.PATH ?? '').split(delimiter).filter((dir) => !dir.startsWith(ROOT)).join(delimiter),
      HOME: work,
      KAFKA_BROKERS: process.env.KAFKA_BROKERS ?? '127.0.0.1:9092',
      SCHEMA_REGISTRY_URL: process.env.SCHEMA_REGISTRY_URL ?? 'http://127.0.0.1:8081/apis/ccompat/v7',
      REDIS_URL: process.env.REDIS_URL ?? 'redis://127.0.0.1:6379',
      ...pipeline.env,
      LOG_LEVEL: 'info',
      HTTP_PORT: String(port),
      SEGMENTS_FILE: join(mounted, 'segments.yaml'),
      NODE_OPTIONS: `--require=${join(work, 'probe.js')}`,
      KAIROS_TEST_PROBE_LOG: probeLog(),
    };
    writeFileSync(probeLog(), '');
    child = spawn('sh', [join(app(), 'kairos'), 'segmenter'], { cwd: app(), env, stdio: ['ignore', 'pipe', 'pipe'] });
    stdout = collect(child.stdout).text;
    stderr = collect(child.stderr).text;
  }, 400_000);

  afterAll(async () => {
    if (child && child.exitCode === null) {
      child.kill('SIGKILL');
      await exited(child);
    }
    await pipeline?.close();
    if (work) rmSync(work, { recursive: true, force: true });
  }, 60_000);

  it('runs in a directory outside the checkout, with no variable pointing into it', () => {
    expect(app().startsWith(ROOT)).toBe(false);
    expect(Object.entries(env).filter(([, value]) => value.includes(ROOT))).toEqual([]);
  });

  it('passes /healthz and /readyz', async () => {
    const status = async (path: string) => {
      if (child!.exitCode !== null) throw new Error(`the segmenter exited with ${child!.exitCode}: ${stderr()}${stdout()}`);
      return (await fetch(`http://127.0.0.1:${port}${path}`)).status;
    };
    await waitFor('/healthz 200', async () => (await status('/healthz')) === 200, 90_000);
    await waitFor('/readyz 200', async () => (await status('/readyz')) === 200, 90_000);
  });

  it('reads the mounted config and processes events: a product view puts the customer in its segment', async () => {
    const segments = (await (await fetch(`http://127.0.0.1:${port}/segments`)).json()) as { segments: Array<{ name: string }> } | Array<{ name: string }>;
    const names = (Array.isArray(segments) ? segments : segments.segments).map((s) => s.name);
    expect(names).toContain('deploy_probe');
    const customer = `standalone-${Date.now()}`;
    await pipeline.produceEvents([behaviorEvent({ event_id: `${customer}-1`, customer_id: customer, type: 'product_view', occurred_at: Date.now(), product_id: 'sku-1' })]);
    const changes = await pipeline.read<SegmentChange>(pipeline.topics.segmentChanges, 'SegmentChange', 1, 60_000);
    expect(changes).toEqual(expect.arrayContaining([expect.objectContaining({ customer_id: customer, segment: 'deploy_probe', change: 'entered' })]));
  });

  it('logs JSON lines that name it', () => {
    const lines = stdout().split('\n').filter((l) => l.trim() !== '');
    expect(lines.length).toBeGreaterThan(0);
    for (const line of lines) expect(JSON.parse(line)).toEqual(expect.objectContaining({ service: 'segmenter', level: expect.any(String) }));
    expect(lines.some((l) => (JSON.parse(l) as { msg: string }).msg === 'started')).toBe(true);
  });

  it('stops on SIGTERM within the shutdown bound, exit code 0', async () => {
    const started = Date.now();
    child!.kill('SIGTERM');
    expect(await exited(child!)).toEqual({ code: 0, signal: null });
    expect(Date.now() - started).toBeLessThan(30_000);
  });

  it('touched no file of the checkout: code, Lua scripts, schemas and config all came from the build output and the mount', () => {
    const paths = readFileSync(probeLog(), 'utf8').split('\n').filter((p) => p !== '');
    expect(paths.filter((p) => p === ROOT || p.startsWith(`${ROOT}/`))).toEqual([]);
    // The probe saw the process at work (else the check above proves nothing).
    for (const expected of [join(app(), 'services/kit/lua'), join(app(), 'schemas/BehaviorEvent.avsc'), join(work, 'etc-kairos/segments.yaml'), join(app(), 'node_modules/kafkajs')]) {
      expect({ expected, seen: paths.some((p) => p.startsWith(expected)) }).toEqual({ expected, seen: true });
    }
  });
});
