import { failUnansweredMetadata, NO_BROKER_ANSWERED } from '../../../services/kit/kafka-metadata';
import { isBrokerAway } from '../../../services/kit/kafka';

// kafkajs's own Cluster.metadata, retrier and BrokerPool.withBroker, on a cluster whose brokers are scripted.
// eslint-disable-next-line @typescript-eslint/no-require-imports
const Cluster = require('kafkajs/src/cluster') as { prototype: { metadata(this: object, options?: { topics?: string[] }): Promise<unknown> } };
// eslint-disable-next-line @typescript-eslint/no-require-imports
const BrokerPool = require('kafkajs/src/cluster/brokerPool') as { prototype: object };
// eslint-disable-next-line @typescript-eslint/no-require-imports
const createRetry = require('kafkajs/src/retry') as (options: { retries: number }) => unknown;

/** A cluster of two brokers whose metadata refresh worked, then whose metadata requests `read` answers. */
function clusterWhoseBrokers(read: () => Promise<unknown>) {
  const brokerPool = Object.assign(Object.create(BrokerPool.prototype) as object, {
    brokers: { 1: {}, 2: {} },
    findBroker: async () => ({ metadata: read }),
    refreshMetadataIfNecessary: async () => undefined,
  });
  return { retrier: createRetry({ retries: 0 }), brokerPool };
}

const refused = Object.assign(new Error('Connection error: connect ECONNREFUSED 127.0.0.1:9092'), { name: 'KafkaJSConnectionError', code: 'ECONNREFUSED' });

describe('failUnansweredMetadata', () => {
  it("kafkajs's own Cluster.metadata resolves null when no broker answered (what the admin then dereferences)", async () => {
    const gone = clusterWhoseBrokers(async () => Promise.reject(refused));
    await expect(Cluster.prototype.metadata.call(gone, { topics: ['t'] })).resolves.toBeNull();
  });

  it('makes that a KafkaJSBrokerNotFound, which start-up steps wait out; an answer passes unchanged', async () => {
    failUnansweredMetadata();
    failUnansweredMetadata(); // once per process: a second call does not wrap it again
    const gone = clusterWhoseBrokers(async () => Promise.reject(refused));
    const error = await Cluster.prototype.metadata.call(gone, { topics: ['t'] }).catch((e: unknown) => e);
    expect(error).toMatchObject({ name: 'KafkaJSBrokerNotFound', message: NO_BROKER_ANSWERED });
    expect(isBrokerAway(error)).toBe(true);
    const answer = { topicMetadata: [{ topic: 't', partitionMetadata: [] }], brokers: [] };
    const up = clusterWhoseBrokers(async () => answer);
    await expect(Cluster.prototype.metadata.call(up, { topics: ['t'] })).resolves.toBe(answer);
  });
});
