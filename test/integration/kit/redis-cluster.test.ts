/**
 * Guarantee 5: the same partition-state code runs on a Redis Cluster. Starts a private 3-node
 * cluster (redis-server on ports 17001-17003, no persistence), runs the atomic apply across
 * partitions (so across slots and nodes), and stops the nodes again.
 */
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { createRedis } from '../../../services/kit/redis';
import { emptyChange, PartitionKeys, PartitionStateStore } from '../../../services/kit/partition-state';
import { waitFor } from '../../support/stack';

const run = promisify(execFile);
const PORTS = [17001, 17002, 17003];

describe('partition state on a 3-node Redis Cluster', () => {
  const dir = mkdtempSync(join(tmpdir(), 'kairos-cluster-'));
  const nodes: ChildProcess[] = [];

  beforeAll(async () => {
    for (const port of PORTS) {
      const node = spawn('redis-server', [
        '--port', String(port), '--bind', '127.0.0.1', '--cluster-enabled', 'yes',
        '--cluster-config-file', join(dir, `nodes-${port}.conf`), '--save', '', '--appendonly', 'no', '--dir', dir,
      ], { stdio: 'ignore' });
      nodes.push(node);
    }
    await waitFor('the nodes to answer', async () => {
      for (const port of PORTS) await run('redis-cli', ['-p', String(port), 'ping']);
      return true;
    });
    await run('redis-cli', ['--cluster', 'create', ...PORTS.map((p) => `127.0.0.1:${p}`), '--cluster-replicas', '0', '--cluster-yes']);
    await waitFor('the cluster to be ok', async () => (await run('redis-cli', ['-p', '17001', 'cluster', 'info'])).stdout.includes('cluster_state:ok'));
  });
  afterAll(async () => {
    for (const node of nodes) node.kill('SIGTERM');
    await Promise.all(nodes.map((node) => new Promise((resolve) => (node.exitCode !== null ? resolve(null) : node.once('exit', resolve)))));
  });

  it('applies and reads each partition atomically, the partitions spread over the nodes', async () => {
    const redis = createRedis({ REDIS_URL: 'redis://127.0.0.1:17001', REDIS_CLUSTER_NODES: PORTS.map((p) => `127.0.0.1:${p}`) });
    try {
      const keys = new PartitionKeys('kairos', 'segmenter');
      const store = new PartitionStateStore(redis, keys, 60_000);
      const slots = new Set<number>();
      for (let partition = 0; partition < 12; partition += 1) {
        const change = emptyChange();
        change.advance = { topic: 'behavior.events', offset: String(100 + partition) };
        change.states.set(`c-${partition}`, `{"p":${partition}}`);
        change.timers.set(`c-${partition}`, 1000 + partition);
        change.sets.push({ set: 'm:engaged', op: '+', member: `c-${partition}` });
        change.outbox.push(`record-${partition}`);
        expect(await store.apply(partition, 0, change)).toBe(true);
        const snapshot = await store.read(partition, [`c-${partition}`]);
        expect(snapshot.appliedOffsets.get('behavior.events')).toBe(BigInt(100 + partition));
        expect(snapshot.states.get(`c-${partition}`)).toBe(`{"p":${partition}}`);
        expect(await store.apply(partition, 0, change)).toBe(false); // the fence holds on the cluster too
        slots.add(Number((await run('redis-cli', ['-p', '17001', 'cluster', 'keyslot', keys.fence(partition)])).stdout.trim()));
      }
      const owners = new Set<string>();
      for (const slot of slots) {
        const { stdout } = await run('redis-cli', ['-p', '17001', 'cluster', 'shards']);
        owners.add(ownerOf(stdout, slot));
      }
      expect(owners.size).toBeGreaterThan(1); // really spread over several nodes
    } finally {
      redis.disconnect();
    }
  });

  it('runs the scripts of many partitions at once (a service applies several partitions concurrently)', async () => {
    const redis = createRedis({ REDIS_URL: 'redis://127.0.0.1:17001', REDIS_CLUSTER_NODES: PORTS.map((p) => `127.0.0.1:${p}`) });
    try {
      const store = new PartitionStateStore(redis, new PartitionKeys('kairos', 'trigger'), 60_000);
      const partitions = Array.from({ length: 48 }, (_, p) => p);
      const applied = await Promise.all(partitions.map(async (partition) => {
        const change = emptyChange();
        change.advance = { topic: 'behavior.events', offset: '7' };
        change.states.set(`c-${partition}`, '{}');
        return store.apply(partition, 0, change);
      }));
      expect(applied.every(Boolean)).toBe(true);
      const read = await Promise.all(partitions.map((partition) => store.read(partition, [`c-${partition}`])));
      expect(read.map((r) => r.appliedOffsets.get('behavior.events'))).toEqual(partitions.map(() => 7n));
    } finally {
      redis.disconnect();
    }
  });
});

/** The port of the node serving `slot`, from `CLUSTER SHARDS`' plain-text reply. */
function ownerOf(shards: string, slot: number): string {
  const lines = shards.split('\n').map((l) => l.trim());
  for (let i = 0; i < lines.length; i += 1) {
    if (lines[i] !== 'slots') continue;
    const ranges: number[] = [];
    let j = i + 1;
    while (/^\d+$/.test(lines[j] ?? '')) ranges.push(Number(lines[j++]));
    for (let r = 0; r + 1 < ranges.length; r += 2) {
      if (slot >= ranges[r] && slot <= ranges[r + 1]) {
        const port = lines.slice(j).find((_line, k, all) => all[k - 1] === 'port');
        return port ?? 'unknown';
      }
    }
  }
  return 'unknown';
}
