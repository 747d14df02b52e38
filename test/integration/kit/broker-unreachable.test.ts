import { randomUUID } from 'node:crypto';
import { localEnvDefaults } from '../../support/link-keys';
import { collect, exited, spawnNode } from '../../support/stack';

/**
 * Every consuming service and the tracker wait for a broker at start-up up to
 * KAFKA_CONNECT_TIMEOUT, then exit 78 naming KAFKA_BROKERS (docs/operations.md). Port 1 is
 * closed: every connection is refused. The local stack's settings (SES, link secret) let the
 * renderer and the tracker start.
 */
describe.each(['segmenter', 'trigger', 'renderer', 'recommender', 'results', 'tracker'])('the %s started with no broker at KAFKA_BROKERS', (service) => {
  it('waits KAFKA_CONNECT_TIMEOUT, then exits 78 naming KAFKA_BROKERS', async () => {
    const started = Date.now();
    const child = spawnNode(`services/${service}/main.js`, [], {
      ...localEnvDefaults(),
      KAFKA_BROKERS: '127.0.0.1:1',
      KAFKA_CONNECT_TIMEOUT: '3s',
      GROUP_ID: `test-broker-unreachable-${randomUUID()}`,
      HTTP_PORT: '0',
    });
    const stderr = collect(child.stderr);
    const { code } = await exited(child);
    expect({ code, stderr: stderr.text() }).toEqual({
      code: 78,
      stderr: expect.stringMatching(new RegExp(`\\n${service}: cannot reach KAFKA_BROKERS=127\\.0\\.0\\.1:1: no broker answered within 3000 ms \\(.*\\); start Kafka there`)),
    });
    expect(Date.now() - started).toBeGreaterThanOrEqual(3000);
  }, 60_000);
});
