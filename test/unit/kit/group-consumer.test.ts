/**
 * groupConsumer: the group member every consuming service reads with gets its fetch settings
 * from the config (FETCH_MAX_BYTES_PER_PARTITION, FETCH_MIN_BYTES, FETCH_MAX_WAIT).
 */
import type { Consumer, ConsumerConfig, Kafka } from 'kafkajs';
import { loadConfig } from '../../../services/kit/config';
import { consumerServiceShape, DEFAULT_FETCH_MAX_WAIT_MS, groupConsumer } from '../../../services/kit/consumer-service';
import { ConfigError } from '../../../services/kit/errors';
import { thrownBy } from '../../support/thrown';

const shape = consumerServiceShape({ httpPort: 0, groupId: 'kairos-test', timerIntervalMs: 1000 });

/** The options groupConsumer hands kafkajs for `env`. */
function consumerOptions(env: Record<string, string>): ConsumerConfig {
  let options: ConsumerConfig | undefined;
  const kafka = { consumer: (config: ConsumerConfig) => ((options = config), {} as Consumer) } as unknown as Kafka;
  groupConsumer(kafka, loadConfig(shape, env));
  if (options === undefined) throw new Error('groupConsumer did not create a consumer');
  return options;
}

describe('groupConsumer fetch settings', () => {
  it("defaults to kafkajs's own: answered from the first byte, an idle fetch waits 5 s", () => {
    expect(DEFAULT_FETCH_MAX_WAIT_MS).toBe(5000);
    expect(consumerOptions({})).toMatchObject({ groupId: 'kairos-test', maxBytesPerPartition: 1024 * 1024, minBytes: 1, maxWaitTimeInMs: 5000 });
  });

  it('passes FETCH_MIN_BYTES and FETCH_MAX_WAIT (a duration) to the consumer', () => {
    expect(consumerOptions({ FETCH_MIN_BYTES: '65536', FETCH_MAX_WAIT: '20ms' })).toMatchObject({ minBytes: 65536, maxWaitTimeInMs: 20 });
    expect(consumerOptions({ FETCH_MAX_WAIT: '2s' })).toMatchObject({ minBytes: 1, maxWaitTimeInMs: 2000 });
  });

  it.each([
    ['FETCH_MIN_BYTES', '0'],
    ['FETCH_MIN_BYTES', '64k'],
    ['FETCH_MAX_WAIT', '11s'],
    ['FETCH_MAX_WAIT', '0'],
    ['FETCH_MAX_WAIT', 'soon'],
  ])('refuses %s=%s at start-up, naming the variable', (variable, value) => {
    const error = thrownBy(ConfigError, () => loadConfig(shape, { [variable]: value }));
    expect(error.message).toContain(variable);
  });
});
