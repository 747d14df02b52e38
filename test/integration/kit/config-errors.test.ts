import { collect, exited, spawnNode } from '../../support/stack';

describe('a process with bad configuration', () => {
  it('exits 78 with a message naming each bad variable and what is expected', async () => {
    const child = spawnNode('services/tools/provision.js', [], {
      KAFKA_BROKERS: 'localhost',
      REDIS_URL: 'http://nope',
      KAFKA_PARTITIONS: 'twelve',
    });
    const stderr = collect(child.stderr);
    const { code } = await exited(child);
    expect(code).toBe(78);
    const text = stderr.text();
    const [jsonLine] = text.split('\n');
    const parsed = JSON.parse(jsonLine) as { level: string; msg: string; problems: Array<{ variable: string }> };
    expect(parsed).toEqual(expect.objectContaining({ level: 'fatal', msg: 'invalid configuration' }));
    expect(parsed.problems.map((p) => p.variable).sort()).toEqual(['KAFKA_BROKERS', 'KAFKA_PARTITIONS', 'REDIS_URL']);
    expect(text).toMatch(/KAFKA_BROKERS: "localhost" .*expected .*127\.0\.0\.1:9092/);
    expect(text).toMatch(/KAFKA_PARTITIONS: "twelve" .*expected/);
  });

  it('exits non-zero with a clear message when a required argument is missing', async () => {
    const child = spawnNode('services/tools/tap.js', []);
    const stderr = collect(child.stderr);
    const { code } = await exited(child);
    expect(code).toBe(1);
    expect(stderr.text()).toContain('--topic is required');
  });
});
