/**
 * The produce tool applies the services' limits at the edge (issue 11, "Sizes"): a file with a
 * record over a limit stops the run before anything is sent, with an error naming the line, the
 * field, its size and the limit, and not the value. Runs the compiled tool (npm run build).
 */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { AvroCodec } from '../../../services/kit/codec';
import { collect, createTopics, exited, randomTopic, registerValueSchema, REGISTRY_URL, spawnNode, withAdmin } from '../../support/stack';

const dir = mkdtempSync(join(tmpdir(), 'kairos-limits-'));
const LEAK = 'Q'.repeat(8);

async function runProduce(args: string[]): Promise<{ code: number | null; stderr: string }> {
  const child = spawnNode('services/tools/produce.js', args);
  const stderr = collect(child.stderr);
  const { code } = await exited(child);
  return { code, stderr: stderr.text() };
}

describe('the produce CLI and the limits at the edge', () => {
  const codec = AvroCodec.connect(REGISTRY_URL);

  it.each([
    ['profiles', 'CustomerProfile', { customer_id: 'c-2', updated_at: 1795861190000, first_name: 'Q'.repeat(1_000_000) }, 'line 2: first_name is 1000000 characters; at most 256'],
    ['events', 'BehaviorEvent', { event_id: 'e-2', customer_id: 'c-2', type: 'purchase', occurred_at: 1795861190000, value_cents: -1e15 }, 'line 2: value_cents is below 0; it must be 0 to 100000000000'],
  ] as const)('%s: refuses an over-limit line before sending anything', async (kind, schema, over, expected) => {
    const topic = randomTopic(`limits-produce-${kind}`);
    await createTopics([topic]);
    await registerValueSchema(codec, topic, schema);
    const good = kind === 'profiles' ? { customer_id: 'c-1', updated_at: 1795861190000, first_name: 'Dana' } : { event_id: 'e-1', customer_id: 'c-1', type: 'purchase', occurred_at: 1795861190000, value_cents: 4599 };
    const file = join(dir, `${kind}.jsonl`);
    writeFileSync(file, `${JSON.stringify(good)}\n${JSON.stringify(over)}\n`);

    const result = await runProduce(['--kind', kind, '--file', file, '--topic', topic]);
    expect(result.code).toBe(1);
    expect(result.stderr).toContain(expected);
    expect(result.stderr).toContain('docs/producers.md');
    expect(result.stderr).not.toContain(LEAK);
    expect(result.stderr).not.toContain('1000000000000000');
    const offsets = await withAdmin((admin) => admin.fetchTopicOffsets(topic));
    expect(offsets.every((p) => p.high === '0')).toBe(true);
  });
});
