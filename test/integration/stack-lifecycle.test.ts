import { execFile } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { holdPrivatePorts } from '../../bench/chaos/port-lock';
import { ROOT } from '../support/stack';

const run = promisify(execFile);

// A second, private stack on other ports, so the shared one the other tests use is untouched.
const dir = mkdtempSync(join(tmpdir(), 'kairos-stack-'));
const env = {
  ...process.env,
  KAIROS_STACK_DIR: join(dir, 'state'),
  KAIROS_STACK_LOGS: join(dir, 'logs'),
  KAFKA_PORT: '19092',
  KAFKA_CONTROLLER_PORT: '19093',
  REGISTRY_PORT: '18081',
  REDIS_PORT: '16379',
  SES_PORT: '18005',
};
const PORTS = [19092, 19093, 18081, 16379, 18005];

function stack(command: string) {
  return run(join(ROOT, 'infra', 'stack.sh'), [command], { env, timeout: 240_000 });
}

function pids(): Record<string, number> {
  const state = join(dir, 'state');
  return Object.fromEntries(
    readdirSync(state)
      .filter((f) => f.endsWith('.pid'))
      .map((f) => [f.replace(/\.pid$/, ''), Number(readFileSync(join(state, f), 'utf8'))]),
  );
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

function listening(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect({ host: '127.0.0.1', port });
    socket.once('connect', () => (socket.destroy(), resolve(true)));
    socket.once('error', () => resolve(false));
  });
}

describe('infra/stack.sh', () => {
  // The chaos runs use 19092-19093 too: one of them at a time (make test runs two suites at once).
  let release: () => Promise<void> = async () => undefined;
  beforeAll(async () => {
    release = await holdPrivatePorts('the stack-lifecycle test', { log: (line) => console.log(line) });
  }, 50 * 60_000);
  afterAll(async () => {
    await stack('down').catch(() => undefined);
    await release();
  });

  it('up twice starts each component once; down stops exactly those and leaves no process running', async () => {
    await stack('up');
    const first = pids();
    expect(Object.keys(first).sort()).toEqual(['kafka', 'redis', 'registry', 'ses']);
    for (const port of PORTS) expect(await listening(port)).toBe(true);

    const again = await stack('up');
    expect(pids()).toEqual(first); // nothing started twice
    expect(again.stderr).toContain('kafka already running');

    await stack('down');
    for (const [name, pid] of Object.entries(first)) expect({ name, alive: alive(pid) }).toEqual({ name, alive: false });
    for (const port of PORTS) expect({ port, listening: await listening(port) }).toEqual({ port, listening: false });
    const { stdout } = await run('ps', ['-eo', 'args']);
    expect(stdout.split('\n').filter((line) => line.includes(dir) || /:1(9092|8081|8005|6379)\b/.test(line))).toEqual([]);
    // The machine's own Redis (not started by the stack) is still there.
    expect(await listening(Number(new URL(process.env.REDIS_URL ?? 'redis://127.0.0.1:6379').port || 6379))).toBe(true);
  });
});
