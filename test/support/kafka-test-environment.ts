import { TestEnvironment } from 'jest-environment-node';
import { ignoreKafkajsNegativeTimeouts } from '../../services/kit/node-warnings';

/**
 * The integration and browser tests' environment: Node's, with kafkajs's negative-timeout
 * warning dropped in the Jest worker itself (see services/kit/node-warnings.ts). A test file
 * sees Jest's own copy of `process`, so the filter the kit's Kafka clients install from inside
 * a test never reaches the warning Node's timers emit on the worker's real process; this module
 * runs outside the test's sandbox, where `process` is that real one.
 */
export default class KafkaTestEnvironment extends TestEnvironment {
  constructor(...args: ConstructorParameters<typeof TestEnvironment>) {
    super(...args);
    ignoreKafkajsNegativeTimeouts();
  }
}
