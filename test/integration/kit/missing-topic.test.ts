import { randomUUID } from 'node:crypto';
import { collect, exited, spawnNode } from '../../support/stack';

describe('a consuming service whose input topic does not exist', () => {
  it('exits 78 naming the variable, the topic and how to create it (not kafkajs\'s "does not host this topic-partition")', async () => {
    const topic = `test-missing-${randomUUID()}`;
    const child = spawnNode('services/segmenter/main.js', [], {
      TOPIC_CUSTOMER_PROFILES: topic,
      GROUP_ID: `test-missing-topic-${randomUUID()}`,
      HTTP_PORT: '0',
    });
    const stderr = collect(child.stderr);
    const { code } = await exited(child);
    expect(code).toBe(78);
    const lines = stderr.text().split('\n').filter((line) => line.trim() !== '');
    expect(lines).toContain(
      `segmenter: cannot reach TOPIC_CUSTOMER_PROFILES=${topic}: no such topic on KAFKA_BROKERS=127.0.0.1:9092; create the topics there (\`make up\` locally, \`npm run provision\` elsewhere) or set TOPIC_CUSTOMER_PROFILES to an existing topic`,
    );
    expect(lines.map((line) => (line.startsWith('{') ? (JSON.parse(line) as Record<string, unknown>) : null))).toContainEqual(
      expect.objectContaining({ level: 'fatal', msg: 'dependency unreachable at start-up', variable: 'TOPIC_CUSTOMER_PROFILES', target: topic }),
    );
  }, 60_000);
});
