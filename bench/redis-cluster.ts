/**
 * A private 3-master Redis Cluster for the scale-out figure, started from `redis-server` on
 * BENCH_CLUSTER_PORTS (default 27001,27002,27003; no persistence, a temporary directory) and
 * `redis-cli --cluster create`, and stopped again (the processes this started, by pid).
 */
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { waitUntil } from './stack';

const run = promisify(execFile);

export class BenchRedisCluster {
  private readonly nodes: ChildProcess[] = [];
  private readonly dir = mkdtempSync(join(tmpdir(), 'kairos-bench-cluster-'));

  constructor(readonly ports: readonly number[]) {}

  /** The services' environment for the cluster (REDIS_URL only lends options, see services/kit/redis.ts). */
  env(): Record<string, string> {
    return { REDIS_URL: `redis://127.0.0.1:${this.ports[0]}`, REDIS_CLUSTER_NODES: this.ports.map((p) => `127.0.0.1:${p}`).join(',') };
  }

  async up(): Promise<void> {
    for (const port of this.ports) {
      const answering = await run('redis-cli', ['-p', String(port), 'ping']).then(() => true, () => false);
      if (answering) throw new Error(`bench: something already answers on 127.0.0.1:${port}; choose other BENCH_CLUSTER_PORTS`);
    }
    for (const port of this.ports) {
      this.nodes.push(
        spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--dir', this.dir,
          '--cluster-enabled', 'yes', '--cluster-config-file', join(this.dir, `nodes-${port}.conf`)], { stdio: 'ignore' }),
      );
    }
    await waitUntil('the cluster nodes to answer', async () => {
      for (const port of this.ports) if (!(await run('redis-cli', ['-p', String(port), 'ping']).then(() => true, () => false))) return false;
      return true;
    }, 20_000, 100);
    await run('redis-cli', ['--cluster', 'create', ...this.ports.map((p) => `127.0.0.1:${p}`), '--cluster-replicas', '0', '--cluster-yes']);
    await waitUntil('the cluster to be ok', async () => {
      for (const port of this.ports) {
        const { stdout } = await run('redis-cli', ['-p', String(port), 'cluster', 'info']);
        if (!stdout.includes('cluster_state:ok')) return false;
      }
      return true;
    }, 30_000, 100);
  }

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
    rmSync(this.dir, { recursive: true, force: true });
  }
}
