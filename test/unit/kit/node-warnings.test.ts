import { isKafkajsNegativeTimeout } from '../../../services/kit/node-warnings';

/** The stack of the warning kafkajs 2.2.4 causes on Node 24 (tulios/kafkajs#1751), as Node prints it. */
const kafkajsStack = [
  'Error',
  '    at process.emitWarning (/app/dist/services/kit/node-warnings.js:27:62)',
  '    at new Timeout (node:internal/timers:233:17)',
  '    at setTimeout (node:timers:125:19)',
  '    at RequestQueue.scheduleCheckPendingRequests (/app/node_modules/kafkajs/src/network/requestQueue/index.js:317:37)',
  '    at RequestQueue.checkPendingRequests (/app/node_modules/kafkajs/src/network/requestQueue/index.js:297:10)',
].join('\n');

const ourStack = [
  'Error',
  '    at process.emitWarning (/app/dist/services/kit/node-warnings.js:27:62)',
  '    at new Timeout (node:internal/timers:233:17)',
  '    at setTimeout (node:timers:125:19)',
  '    at sleep (/app/dist/services/kit/kafka.js:98:13)',
].join('\n');

describe('the kafkajs negative-timeout warning filter', () => {
  it("drops the TimeoutNegativeWarning of kafkajs's request queue", () => {
    expect(isKafkajsNegativeTimeout('TimeoutNegativeWarning', kafkajsStack)).toBe(true);
    expect(isKafkajsNegativeTimeout('TimeoutNegativeWarning', kafkajsStack.replaceAll('/', '\\'))).toBe(true);
  });

  it('keeps every other warning: our own negative timers, other types from kafkajs, no stack', () => {
    expect(isKafkajsNegativeTimeout('TimeoutNegativeWarning', ourStack)).toBe(false);
    expect(isKafkajsNegativeTimeout('TimeoutOverflowWarning', kafkajsStack)).toBe(false);
    expect(isKafkajsNegativeTimeout('DeprecationWarning', kafkajsStack)).toBe(false);
    expect(isKafkajsNegativeTimeout(undefined, kafkajsStack)).toBe(false);
    expect(isKafkajsNegativeTimeout('TimeoutNegativeWarning', undefined)).toBe(false);
  });
});
