/**
 * A private redis-server, or a 3-master Redis Cluster, started from `redis-server` on the given
 * ports (no persistence, files in `dir`) and `redis-cli --cluster create`, and stopped again (the
 * processes this started). The chaos harness's Redis (which it flushes for the Redis loss) and the
 * bench's cluster for the scale-out figure.
 */
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { waitUntil } from './stack';

const run = promisify(execFile);

const answers = (port: number) => run('redis-cli', ['-p', String(port), 'ping']).then(() => true, () => false);

export class PrivateRedis {
  private readonly nodes: ChildProcess[] = [];

  constructor(
    private readonly dir: string,
    readonly ports: readonly number[],
    readonly cluster: boolean,
  ) {}

  /** The services' environment for it (with a cluster, REDIS_URL only lends options, see services/kit/redis.ts). */
  env(): Record<string, string> {
    return this.cluster
      ? { REDIS_URL: `redis://127.0.0.1:${this.ports[0]}`, REDIS_CLUSTER_NODES: this.ports.map((p) => `127.0.0.1:${p}`).join(',') }
      : { REDIS_URL: `redis://127.0.0.1:${this.ports[0]}` };
  }

  async up(): Promise<void> {
    for (const port of this.ports) {
      if (await answers(port)) throw new Error(`something already answers on 127.0.0.1:${port}; stop it (a redis-server left by an earlier run?) or choose other ports, and run again`);
      const args = ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--dir', this.dir];
      if (this.cluster) args.push('--cluster-enabled', 'yes', '--cluster-config-file', join(this.dir, `nodes-${port}.conf`));
      this.nodes.push(spawn('redis-server', args, { stdio: 'ignore' }));
    }
    await waitUntil('the Redis nodes to answer', async () => (await Promise.all(this.ports.map(answers))).every(Boolean), 20_000, 100);
    if (!this.cluster) return;
    await run('redis-cli', ['--cluster', 'create', ...this.ports.map((p) => `127.0.0.1:${p}`), '--cluster-replicas', '0', '--cluster-yes']);
    await waitUntil('the cluster to be ok on every node', async () => {
      for (const port of this.ports) {
        if (!(await run('redis-cli', ['-p', String(port), 'cluster', 'info'])).stdout.includes('cluster_state:ok')) return false;
      }
      return true;
    }, 30_000, 100);
  }

  /** The loss: every key of every node gone (FLUSHALL on each master). */
  async flush(): Promise<void> {
    for (const port of this.ports) await run('redis-cli', ['-p', String(port), 'flushall']);
  }

  async usedMemory(): Promise<number> {
    let total = 0;
    for (const port of this.ports) {
      const { stdout } = await run('redis-cli', ['-p', String(port), 'info', 'memory']);
      total += Number(/used_memory:(\d+)/.exec(stdout)?.[1] ?? 0);
    }
    return total;
  }

  /** Keys matching `pattern` over all nodes. */
  async keyCount(pattern: string): Promise<number> {
    let count = 0;
    for (const port of this.ports) {
      const { stdout } = await run('redis-cli', ['-p', String(port), '--scan', '--pattern', pattern], { maxBuffer: 64 * 1024 * 1024 });
      count += stdout.split('\n').filter((l) => l !== '').length;
    }
    return count;
  }

  /** SIGTERM to every node it started, SIGKILL to one still running after 5 s. */
  async down(): Promise<void> {
    await Promise.all(
      this.nodes.map(
        (node) =>
          new Promise<void>((resolve) => {
            if (node.exitCode !== null || node.signalCode !== null) return resolve();
            node.once('exit', () => resolve());
            node.kill('SIGTERM');
            setTimeout(() => {
              node.kill('SIGKILL');
              resolve();
            }, 5000).unref();
          }),
      ),
    );
  }
}
