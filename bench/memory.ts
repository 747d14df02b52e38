/** Redis memory of a measured run: MEMORY USAGE of every key under its prefix. */
import type { BenchStack } from './stack';

export interface MemoryFigure {
  bytes_per_customer: number;
  total_bytes: number;
  keys: number;
  customers: number;
  /** Bytes of the per-customer state keys only (`:c:`), per customer. */
  state_bytes_per_customer: number;
  /** Mean length of a stored customer value, by service. */
  mean_value_chars: Record<string, number>;
}

export async function measureMemory(stack: BenchStack, prefix: string, customers: number): Promise<MemoryFigure> {
  const keys = await stack.keysOf(prefix);
  let total = 0;
  let stateBytes = 0;
  const chars: Record<string, { sum: number; n: number }> = {};
  for (let i = 0; i < keys.length; i += 2000) {
    const chunk = keys.slice(i, i + 2000);
    const sizes = await Promise.all(chunk.map((key) => stack.redis.memory('USAGE', key, 'SAMPLES', '0') as Promise<number | null>));
    const isState = chunk.map((key) => key.includes('}:c:'));
    const lengths = await Promise.all(chunk.map((key, j) => (isState[j] ? stack.redis.strlen(key) : Promise.resolve(0))));
    chunk.forEach((key, j) => {
      const size = sizes[j] ?? 0;
      total += size;
      if (!isState[j]) return;
      stateBytes += size;
      const service = /^\{[^:]+(?::[^:]+)*?:(segmenter|trigger):\d+\}/.exec(key)?.[1] ?? 'other';
      const entry = (chars[service] ??= { sum: 0, n: 0 });
      entry.sum += lengths[j];
      entry.n += 1;
    });
  }
  return {
    bytes_per_customer: Math.round(total / customers),
    total_bytes: total,
    keys: keys.length,
    customers,
    state_bytes_per_customer: Math.round(stateBytes / customers),
    mean_value_chars: Object.fromEntries(Object.entries(chars).map(([k, v]) => [k, Math.round(v.sum / v.n)])),
  };
}
