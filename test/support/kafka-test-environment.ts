import { TestEnvironment } from 'jest-environment-node';
import { ignoreKafkajsNegativeTimeouts } from '../../services/kit/node-warnings';
import { CREATED_TOPICS_GLOBAL, deleteTopicsPresent } from './stack';

/**
 * The integration and browser tests' environment: Node's, with two additions.
 *
 * - kafkajs's negative-timeout warning is dropped in the Jest worker itself (see
 *   services/kit/node-warnings.ts). A test file sees Jest's own copy of `process`, so the filter
 *   the kit's Kafka clients install from inside a test never reaches the warning Node's timers
 *   emit on the worker's real process; this module runs outside the test's sandbox, where
 *   `process` is that real one.
 * - The topics a test file created through test/support/stack.ts's `createTopics` are deleted
 *   once the file has finished (after its last afterAll, so the services it started are
 *   stopped). Only the file's own topics: another file running at the same time, or a second
 *   test run against the same stack, keeps its own. A failed deletion is reported on stderr
 *   and does not fail the file (the topics then stay, as they did before).
 */
export default class KafkaTestEnvironment extends TestEnvironment {
  constructor(...args: ConstructorParameters<typeof TestEnvironment>) {
    super(...args);
    ignoreKafkajsNegativeTimeouts();
    this.global[CREATED_TOPICS_GLOBAL] = [];
  }

  override async teardown(): Promise<void> {
    const created = this.global[CREATED_TOPICS_GLOBAL];
    if (Array.isArray(created) && created.length > 0) {
      try {
        await deleteTopicsPresent(created as string[]);
      } catch (error) {
        process.stderr.write(`kafka-test-environment: the ${created.length} topics this test file created could not be deleted and stay on the broker: ${(error as Error).message}\n`);
      }
    }
    await super.teardown();
  }
}
