/**
 * A private redis-server, or a 3-master Redis Cluster, started from `redis-server` on the given
 * ports (no persistence, files in `dir`) and `redis-cli --cluster create`, and stopped again (the
 * processes this started). The chaos harness's Redis (which it flushes for the Redis loss) and the
 * bench's cluster for the scale-out figure.
 */
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { waitUntil } from './stack';
import { tracked } from './interrupt';

const run = promisify(execFile);

const answers = (port: number) => run('redis-cli', ['-p', String(port), 'ping']).then(() => true, () => false);

/** The last lines of a node's output, on one line, for an error message. */
function lastLines(output: string): string {
  return output.trim().split('\n').slice(-3).map((line) => line.trim()).join(' | ') || 'no output';
}

/** The kernel's range of ephemeral ports (Linux), or null when it cannot be read. */
export function localPortRange(): [number, number] | null {
  try {
    const [low, high] = readFileSync('/proc/sys/net/ipv4/ip_local_port_range', 'utf8').trim().split(/\s+/).map(Number);
    return Number.isInteger(low) && Number.isInteger(high) ? [low, high] : null;
  } catch {
    return null;
  }
}

/**
 * A cluster node also listens on its port + 10000 (the cluster bus). A bus port inside the
 * ephemeral range can be taken at any moment by an outgoing connection (the broker's to its
 * controller took 37002 once), and the node then exits at start: refuse such ports up front.
 */
export function checkBusPorts(ports: readonly number[], range: [number, number] | null): void {
  if (range === null) return;
  const [low, high] = range;
  const clashing = ports.filter((port) => port + 10_000 >= low && port + 10_000 <= high);
  if (clashing.length > 0) {
    throw new Error(`Redis Cluster ports ${clashing.join(', ')}: their cluster bus ports (${clashing.map((p) => p + 10_000).join(', ')}) lie in the ephemeral port range ${low}-${high}, where any outgoing connection can take them; choose ports below ${low - 10_000} (BENCH_CLUSTER_PORTS)`);
  }
}

/**
 * Redis's own time per call (µs, `usec_per_call`) of each command since the last CONFIG
 * RESETSTAT, by command name in lower case (`evalsha`, `hget`), from INFO commandstats.
 */
export async function commandMicros(redis: { info(section: 'commandstats'): Promise<string> }): Promise<Record<string, number>> {
  const out: Record<string, number> = {};
  for (const match of (await redis.info('commandstats')).matchAll(/cmdstat_(\w+):calls=\d+,usec=\d+,usec_per_call=([\d.]+)/g)) out[match[1]] = Number(match[2]);
  return out;
}

export class PrivateRedis {
  private readonly nodes: ChildProcess[] = [];

  constructor(
    private readonly dir: string,
    readonly ports: readonly number[],
    readonly cluster: boolean,
    /** More redis-server arguments for every node (settings such as `--hash-max-listpack-value 4096`). */
    private readonly config: readonly string[] = [],
  ) {}

  /** The services' environment for it (with a cluster, REDIS_URL only lends options, see services/kit/redis.ts). */
  env(): Record<string, string> {
    return this.cluster
      ? { REDIS_URL: `redis://127.0.0.1:${this.ports[0]}`, REDIS_CLUSTER_NODES: this.ports.map((p) => `127.0.0.1:${p}`).join(',') }
      : { REDIS_URL: `redis://127.0.0.1:${this.ports[0]}` };
  }

  /** Starts the nodes (and forms the cluster); on failure stops what it started and says why. */
  async up(): Promise<void> {
    if (this.cluster) checkBusPorts(this.ports, localPortRange());
    try {
      await this.start();
    } catch (error) {
      await this.down();
      throw error;
    }
  }

  private async start(): Promise<void> {
    const exits = new Map<number, string>();
    for (const port of this.ports) {
      if (await answers(port)) throw new Error(`something already answers on 127.0.0.1:${port}; stop it (a redis-server left by an earlier run?) or choose other ports, and run again`);
      const args = ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--dir', this.dir];
      args.push(...this.config);
      if (this.cluster) args.push('--cluster-enabled', 'yes', '--cluster-config-file', join(this.dir, `nodes-${port}.conf`));
      const node = tracked(spawn('redis-server', args, { stdio: ['ignore', 'pipe', 'pipe'] }));
      let output = '';
      const keep = (chunk: Buffer) => (output = (output + chunk.toString()).slice(-2000));
      node.stdout?.on('data', keep);
      node.stderr?.on('data', keep);
      node.once('exit', (code, signal) => exits.set(port, `exited (${signal ?? `code ${code}`}): ${lastLines(output)}`));
      this.nodes.push(node);
    }
    await waitUntil('the Redis nodes to answer', async () => {
      const [port, why] = [...exits][0] ?? [];
      if (port !== undefined) throw new Error(`redis-server on port ${port} ${why}`);
      return (await Promise.all(this.ports.map(answers))).every(Boolean);
    }, 20_000, 100);
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
    return (await this.keys(pattern)).length;
  }

  /** The names of the keys matching `pattern` over all nodes. */
  async keys(pattern: string): Promise<string[]> {
    const names: string[] = [];
    for (const port of this.ports) {
      const { stdout } = await run('redis-cli', ['-p', String(port), '--scan', '--pattern', pattern], { maxBuffer: 64 * 1024 * 1024 });
      names.push(...stdout.split('\n').filter((l) => l !== ''));
    }
    return names;
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
