import { z } from 'zod';
import {
  boolVar,
  brokersVar,
  commonShape,
  durationVar,
  enumVar,
  EXIT_CONFIG,
  hostPortListVar,
  intVar,
  loadConfig,
  portVar,
  runMain,
  secretVar,
  secretVariables,
  stringVar,
  textVar,
  urlVar,
  type MainIo,
} from '../../../services/kit/config';
import { ConfigError, KairosError } from '../../../services/kit/errors';
import { thrownBy } from '../../support/thrown';

describe('field builders', () => {
  it.each([
    ['127.0.0.1:9092', ['127.0.0.1:9092']],
    ['a.example.com:9092, 10.0.0.2:9093', ['a.example.com:9092', '10.0.0.2:9093']],
    ['[::1]:9092', ['[::1]:9092']],
  ])('brokersVar accepts %s', (raw, expected) => {
    expect(brokersVar().parse(raw)).toEqual(expected);
  });

  it.each(['localhost', 'host:0', 'host:70000', 'a:1,,b:2', 'http://x:1'])('brokersVar rejects %s', (raw) => {
    expect(brokersVar().safeParse(raw).success).toBe(false);
  });

  it('urlVar checks the scheme', () => {
    expect(urlVar().parse('http://127.0.0.1:8081/apis')).toBe('http://127.0.0.1:8081/apis');
    expect(urlVar().safeParse('ftp://x').success).toBe(false);
    expect(urlVar().safeParse('not a url').success).toBe(false);
    expect(urlVar(['redis:', 'rediss:']).parse('rediss://h:6380')).toBe('rediss://h:6380');
  });

  it('portVar accepts 1..65535 only', () => {
    expect(portVar().parse('8080')).toBe(8080);
    expect(portVar().parse('65535')).toBe(65535);
    for (const raw of ['0', '65536', '80.5', '-1', 'http']) expect(portVar().safeParse(raw).success).toBe(false);
  });

  it('intVar enforces its bounds', () => {
    expect(intVar(-5, 5).parse('-5')).toBe(-5);
    expect(intVar(1, 10).safeParse('11').success).toBe(false);
    expect(intVar(1, 10).safeParse('3e0').success).toBe(false);
  });

  it.each([
    ['250', 250],
    ['500ms', 500],
    ['30s', 30_000],
    ['15m', 900_000],
    ['24h', 86_400_000],
    ['30d', 2_592_000_000],
  ])('durationVar reads %s as %d ms', (raw, ms) => {
    expect(durationVar().parse(raw)).toBe(ms);
  });

  it.each(['15 minutes', '1.5h', '-3m', 'm', '99999999999999999999d'])('durationVar rejects %s', (raw) => {
    expect(durationVar().safeParse(raw).success).toBe(false);
  });

  it('durationVar with bounds takes durations within them and rejects others, naming the range', () => {
    const wait = durationVar({ min: 10, max: 10_000 });
    expect(wait.parse('10s')).toBe(10_000);
    expect(wait.parse('10ms')).toBe(10);
    for (const [raw, why] of [['11s', 'is too long'], ['5ms', 'is too short'], ['0', 'is too short']]) {
      const error = thrownBy(ConfigError, () => loadConfig({ WAIT: wait }, { WAIT: raw as string }));
      expect(error.message).toContain(`WAIT: "${raw as string}" ${why}`);
      expect(error.message).toContain('from 10 to 10000 ms');
    }
    expect(durationVar({ min: 1000 }).safeParse('999').success).toBe(false);
    expect(durationVar().parse('0')).toBe(0);
  });

  it('boolVar and enumVar', () => {
    expect(boolVar().parse('YES')).toBe(true);
    expect(boolVar().parse('0')).toBe(false);
    expect(boolVar().safeParse('maybe').success).toBe(false);
    const level = enumVar(['info', 'debug']);
    expect(level.parse('DEBUG')).toBe('debug');
    expect(level.safeParse('loud').success).toBe(false);
  });

  it('stringVar and secretVar', () => {
    expect(stringVar().safeParse('').success).toBe(false);
    expect(stringVar({ pattern: /^[a-z]+$/ }).safeParse('A').success).toBe(false);
    expect(secretVar(8).safeParse('short').success).toBe(false);
    expect(secretVar(8).parse('long-enough')).toBe('long-enough');
  });

  it('textVar keeps tab and line breaks and refuses other control characters, naming the character', () => {
    expect(textVar().parse('Kairos Shop\n12 Main St\tBerlin')).toBe('Kairos Shop\n12 Main St\tBerlin');
    expect(textVar().safeParse('').success).toBe(false);
    for (const control of ['\x01', '\x02', '\x00', '\x7f', '\x85']) {
      const error = thrownBy(ConfigError, () => loadConfig({ BRAND_NAME: textVar() }, { BRAND_NAME: `Kairos${control}Shop` }));
      const code = control.charCodeAt(0).toString(16).toUpperCase().padStart(4, '0');
      expect(error.message).toContain(`BRAND_NAME: ${JSON.stringify(`Kairos${control}Shop`)} holds the control character U+${code}; expected text without control characters (tab and line breaks allowed)`);
    }
  });
});

describe('loadConfig', () => {
  it('applies the common defaults', () => {
    const config = loadConfig(commonShape, {});
    expect(config).toEqual({
      KAFKA_BROKERS: ['127.0.0.1:9092'],
      SCHEMA_REGISTRY_URL: 'http://127.0.0.1:8081/apis/ccompat/v7',
      REDIS_URL: 'redis://127.0.0.1:6379',
      REDIS_KEY_PREFIX: 'kairos',
      LOG_LEVEL: 'info',
      TOPIC_BEHAVIOR_EVENTS: 'behavior.events',
      TOPIC_CUSTOMER_PROFILES: 'customer.profiles',
      TOPIC_SEGMENT_CHANGES: 'segment.changes',
      TOPIC_TRIGGERS: 'triggers',
      TOPIC_EMAIL_OUTCOMES: 'email.outcomes',
      DLQ_SUFFIX: '.dlq',
      AWS_REGION: 'us-east-1',
    });
    expect(config.KAFKA_CLIENT_ID).toBeUndefined();
    expect(config.REDIS_CLUSTER_NODES).toBeUndefined();
  });

  it('reads set values and treats empty ones as unset', () => {
    const config = loadConfig(commonShape, {
      KAFKA_BROKERS: '10.0.0.1:9092,10.0.0.2:9092',
      REDIS_CLUSTER_NODES: '10.0.0.5:7000,10.0.0.6:7000',
      LOG_LEVEL: 'debug',
      SES_ENDPOINT: 'http://127.0.0.1:8005',
      TOPIC_TRIGGERS: '',
    });
    expect(config.KAFKA_BROKERS).toEqual(['10.0.0.1:9092', '10.0.0.2:9092']);
    expect(config.REDIS_CLUSTER_NODES).toEqual(['10.0.0.5:7000', '10.0.0.6:7000']);
    expect(config.LOG_LEVEL).toBe('debug');
    expect(config.SES_ENDPOINT).toBe('http://127.0.0.1:8005');
    expect(config.TOPIC_TRIGGERS).toBe('triggers');
  });

  it('defaults do not leak mutations into later loads', () => {
    loadConfig(commonShape, {}).KAFKA_BROKERS.push('mutated:1');
    expect(loadConfig(commonShape, {}).KAFKA_BROKERS).toEqual(['127.0.0.1:9092']);
  });

  it('lists every bad or missing variable in one ConfigError', () => {
    const shape = {
      ...commonShape,
      PORT: portVar(),
      CART_TIMEOUT: durationVar().default(900_000),
      SIGNING_SECRET: secretVar(32),
    };
    const error = thrownBy(ConfigError, () =>
      loadConfig(shape, {
        KAFKA_BROKERS: 'localhost',
        LOG_LEVEL: 'loud',
        REDIS_KEY_PREFIX: 'kairos{x}',
        CART_TIMEOUT: '15 minutes',
        SIGNING_SECRET: 'hunter2',
      }),
    );
    expect(error).toBeInstanceOf(KairosError);
    expect(error.retriable).toBe(false);
    expect(error.problems.map((p) => p.variable)).toEqual([
      'KAFKA_BROKERS',
      'REDIS_KEY_PREFIX',
      'LOG_LEVEL',
      'PORT',
      'CART_TIMEOUT',
      'SIGNING_SECRET',
    ]);
    expect(error.message).toContain(
      'KAFKA_BROKERS: "localhost" is not a host:port list; expected like 127.0.0.1:9092,10.0.0.2:9092',
    );
    expect(error.message).toContain('LOG_LEVEL: "loud" is not an allowed value; expected one of fatal, error, warn, info, debug, trace');
    expect(error.message).toContain('PORT: is required but not set; expected an integer from 1 to 65535');
    expect(error.message).toContain('CART_TIMEOUT: "15 minutes" is not a duration');
    expect(error.message).toMatch(/SIGNING_SECRET: \(value hidden\) is too short; expected a secret of at least 32 characters/);
    expect(error.message).not.toContain('hunter2');
    expect(error.problems.find((p) => p.variable === 'SIGNING_SECRET')).not.toHaveProperty('value');
  });

  it('masks URL credentials and email addresses when echoing a bad value', () => {
    const error = thrownBy(ConfigError, () =>
      loadConfig({ REDIS_URL: urlVar(['redis:']), OWNER: hostPortListVar() }, {
        REDIS_URL: 'rediss://user:p4ssw0rd@cache:6380',
        OWNER: 'ops@example.com',
      }),
    );
    expect(error.message).toContain('"rediss://user:***@cache:6380" has scheme rediss:');
    expect(error.message).not.toContain('p4ssw0rd');
    expect(error.message).not.toContain('ops@example.com');
  });

  it('works with plain zod schemas too', () => {
    const error = thrownBy(ConfigError, () => loadConfig({ MODE: z.literal('x') }, { MODE: 'y' }));
    expect(error.problems[0]).toMatchObject({ variable: 'MODE', value: 'y', reason: 'is invalid' });
  });

  it('secretVariables names the secretVar fields', () => {
    expect(secretVariables({ ...commonShape, A: secretVar(), B: secretVar(4).optional(), C: stringVar() })).toEqual(['A', 'B']);
  });
});

describe('runMain', () => {
  function fakeIo(): MainIo & { output: string; code: number | undefined } {
    const io = {
      output: '',
      code: undefined as number | undefined,
      stderr: {
        write(text: string, done?: () => void): boolean {
          io.output += text;
          done?.();
          return true;
        },
      },
      exit(code: number): void {
        io.code = code;
      },
    };
    return io;
  }

  it('exits 78 with one structured line on a ConfigError', async () => {
    const io = fakeIo();
    await runMain(
      'segmenter',
      async () => {
        loadConfig({ ...commonShape, TOKEN: secretVar(10) }, { KAFKA_BROKERS: 'localhost', TOKEN: 'abc' });
      },
      io,
    );
    expect(io.code).toBe(EXIT_CONFIG);
    expect(EXIT_CONFIG).toBe(78);
    const [first, ...rest] = io.output.trimEnd().split('\n');
    const line = JSON.parse(first as string);
    expect(line).toMatchObject({ level: 'fatal', service: 'segmenter', msg: 'invalid configuration' });
    expect(line.problems).toEqual([
      { variable: 'KAFKA_BROKERS', value: 'localhost', reason: 'is not a host:port list', expected: 'like 127.0.0.1:9092,10.0.0.2:9092' },
      { variable: 'TOKEN', reason: '(value hidden) is too short', expected: 'a secret of at least 10 characters' },
    ]);
    expect(rest.join('\n')).toContain('segmenter: invalid configuration');
    expect(rest.join('\n')).toContain('KAFKA_BROKERS: "localhost"');
    expect(io.output).not.toContain('"abc"');
  });

  it('exits 1 on any other start-up error, without email addresses', async () => {
    const io = fakeIo();
    await runMain('renderer', async () => Promise.reject(new Error('cannot reach bob@example.com')), io);
    expect(io.code).toBe(1);
    const [json, human] = io.output.split('\n');
    const line = JSON.parse(json);
    expect(line).toMatchObject({ level: 'fatal', service: 'renderer', err: { type: 'Error', message: 'cannot reach [email]' } });
    expect(human).toBe('renderer: start-up failed: cannot reach [email]');
  });

  it('does not exit when main succeeds', async () => {
    const io = fakeIo();
    await runMain('tracker', async () => undefined, io);
    expect(io.code).toBeUndefined();
    expect(io.output).toBe('');
  });
});
