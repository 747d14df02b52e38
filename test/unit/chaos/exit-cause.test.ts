import { exitCause, KEPT_LINES, LastLines } from '../../../bench/chaos/exit-cause';

const json = (record: Record<string, unknown>) => JSON.stringify(record);

describe('exitCause', () => {
  it('names the last fatal log line, with its error', () => {
    const lines = [
      json({ level: 'info', msg: 'started' }),
      json({ level: 'fatal', msg: 'start-up failed', err: { type: 'KafkaJSProtocolError', message: 'Broker not available' } }),
      'segmenter: start-up failed: Broker not available',
    ];
    expect(exitCause(lines)).toBe('start-up failed: KafkaJSProtocolError: Broker not available');
  });

  it('takes the latest of several fatal lines, and pino\'s numeric level', () => {
    const lines = [json({ level: 'fatal', msg: 'first' }), json({ level: 60, msg: 'stopping: the consumer hit an error that retrying cannot fix' })];
    expect(exitCause(lines)).toBe('stopping: the consumer hit an error that retrying cannot fix');
  });

  it('finds the error line of an uncaught exception or unhandled rejection report', () => {
    const lines = [
      json({ level: 'error', msg: 'Connection error' }),
      '/work/node_modules/kafkajs/src/producer/index.js:42',
      '        throw new KafkaJSNonRetriableError(message)',
      '        ^',
      '',
      'KafkaJSNonRetriableError: The broker is shutting down',
      '    at Object.connect (/work/node_modules/kafkajs/src/producer/index.js:42:15)',
      '',
      'Node.js v24.22.3',
    ];
    expect(exitCause(lines)).toBe('KafkaJSNonRetriableError: The broker is shutting down');
  });

  it("finds Node's report of a rejection with a non-error, and an error with a code", () => {
    const rejection = '[UnhandledPromiseRejection: This error originated either by throwing inside of an async function without a catch block, or by rejecting a promise which was not handled with .catch(). The promise rejected with the reason "gone".] {';
    expect(exitCause(['node:internal/process/promises:394', '    triggerUncaughtException(err, true /* fromPromise */);', '    ^', '', rejection])).toBe(rejection);
    expect(exitCause(['Error [ERR_SOCKET_CLOSED]: Socket is closed'])).toBe('Error [ERR_SOCKET_CLOSED]: Socket is closed');
  });

  it('is null when the output names no cause (a signal, say)', () => {
    expect(exitCause([json({ level: 'info', msg: 'started' }), 'not json {', '{"level":"fatal"'])).toBeNull();
    expect(exitCause([])).toBeNull();
  });
});

describe('LastLines', () => {
  it('joins lines split across chunks and keeps the last ones only', () => {
    const last = new LastLines();
    last.push('a\nb');
    last.push('c\n');
    for (let i = 0; i < KEPT_LINES + 5; i += 1) last.push(`line ${i}\n`);
    last.push('tail without newline');
    const all = last.all();
    expect(all).toHaveLength(KEPT_LINES + 1);
    expect(all[0]).toBe('line 5');
    expect(all.at(-1)).toBe('tail without newline');
    const early = new LastLines();
    early.push('a\nb');
    early.push('c\n');
    expect(early.all()).toEqual(['a', 'bc']);
  });
});
