/**
 * A metadata read that no broker answered fails with an error that says so.
 *
 * kafkajs 2.2.4 (its last release) reads metadata for the admin (fetchTopicMetadata,
 * listTopics, describeCluster) with Cluster.metadata, which asks its brokers one by one through
 * BrokerPool.withBroker. withBroker drops each broker's error and resolves null when none
 * answered, so the admin then fails with "TypeError: Cannot read properties of null (reading
 * 'topicMetadata')". That happens when the broker goes away between the pool's metadata refresh
 * and the read itself: a service that started as the broker stopped took the TypeError for a
 * bug and exited 1 (start-up failed) instead of waiting for the broker (seen in CI: the short
 * chaos run, a segmenter restarted as the broker was stopped; reproduced by a loop of admin
 * metadata reads across broker restarts: 4 TypeErrors in 8 restarts, none with this in 8).
 *
 * Here Cluster.metadata rejects with KafkaJSBrokerNotFound instead, kafkajs's own error for "no
 * broker to ask": start-up steps wait for it (isBrokerAway), and health probes report it.
 */
import { KafkaJSBrokerNotFound, wrapClusterMethods } from './kafkajs';

/** The message of the error a metadata read that no broker answered ends with. */
export const NO_BROKER_ANSWERED = 'no broker answered the metadata request (each one failed or went away)';

// kafkajs's types give it no parameters; it passes its arguments to KafkaJSError (message first).
const BrokerNotFound = KafkaJSBrokerNotFound as unknown as new (message: string) => Error;

let installed = false;

/** Makes kafkajs's Cluster.metadata reject instead of resolving null (see above), once per process. */
export function failUnansweredMetadata(): void {
  if (installed) return;
  installed = true;
  wrapClusterMethods(['metadata'], (metadata) =>
    async function (this: object, ...args: unknown[]) {
      const answer = await metadata.apply(this, args);
      if (answer === null || answer === undefined) throw new BrokerNotFound(NO_BROKER_ANSWERED);
      return answer;
    },
  );
}
