import { createLogger, scrubEmails, type LoggerOptions } from '../../../services/kit/logger';

/** A logger writing into an array of parsed lines; parsing proves every line is valid JSON. */
function capture(options: Partial<LoggerOptions> = {}) {
  const raw: string[] = [];
  const logger = createLogger({ service: 'test-svc', level: 'trace', destination: { write: (s: string) => raw.push(s) }, ...options });
  const lines = (): Record<string, unknown>[] => raw.map((line) => JSON.parse(line) as Record<string, unknown>);
  return { logger, raw, lines };
}

const ADDRESS = /[\w.+-]+@[\w-]+\.[\w.]+/;

describe('createLogger', () => {
  it('writes one JSON line with service, ISO time and a level label', () => {
    const { logger, raw, lines } = capture();
    logger.info({ topic: 'behavior.events', partition: 3 }, 'batch done');
    expect(raw).toHaveLength(1);
    expect(raw[0]?.endsWith('\n')).toBe(true);
    const [line] = lines();
    expect(line).toMatchObject({ level: 'info', service: 'test-svc', msg: 'batch done', topic: 'behavior.events', partition: 3 });
    expect(new Date(line?.time as string).toISOString()).toBe(line?.time);
  });

  it('respects the level', () => {
    const { logger, lines } = capture({ level: 'warn' });
    logger.info('hidden');
    logger.warn('shown');
    expect(lines().map((l) => l.msg)).toEqual(['shown']);
  });

  it('scrubs email addresses from the message, format arguments and nested string values', () => {
    const { logger, raw, lines } = capture();
    logger.info(
      { customer: { id: 'c-1', note: 'contact jane.doe+shop@mail.example.co.uk today' }, list: ['x', 'a@b.io'] },
      'sending to %s for alice@example.com',
      'bob@example.org',
    );
    const text = raw.join('');
    expect(text).not.toMatch(ADDRESS);
    const [line] = lines();
    expect(line?.msg).toBe('sending to [email] for [email]');
    expect(line?.customer).toEqual({ id: 'c-1', note: 'contact [email] today' });
    expect(line?.list).toEqual(['x', '[email]']);
  });

  it('redacts personal data keys at any depth and whole profiles', () => {
    const { logger, raw, lines } = capture();
    logger.info({
      email: 'x',
      customer_id: 'c-9',
      event: { payload: { customer: { firstName: 'Jane', last_name: 'Doe', name: 'Jane Doe', consent_email: true } } },
      profile: { locale: 'en-US', timezone: 'Europe/Paris' },
    });
    const text = raw.join('');
    expect(text).not.toContain('Jane');
    expect(text).not.toContain('Doe');
    expect(text).not.toContain('Europe/Paris');
    const [line] = lines();
    expect(line).toMatchObject({
      email: '[redacted]',
      customer_id: 'c-9',
      event: { payload: { customer: { firstName: '[redacted]', last_name: '[redacted]', name: '[redacted]', consent_email: true } } },
      profile: '[redacted]',
    });
  });

  it('redacts secrets: built-in config keys, secret-looking keys and per-service extras', () => {
    const { logger, raw, lines } = capture({ secretKeys: ['TRACKING_LINK_KEY'] });
    logger.info({
      config: {
        AWS_SECRET_ACCESS_KEY: 'aws-s3cr3t',
        TRACKING_LINK_KEY: 'link-s3cr3t',
        KAFKA_BROKERS: ['127.0.0.1:9092'],
      },
      headers: { Authorization: 'Bearer tok-s3cr3t' },
      hmacSecret: 'hmac-s3cr3t',
    });
    expect(raw.join('')).not.toMatch(/s3cr3t/);
    const [line] = lines();
    expect(line?.config).toEqual({ AWS_SECRET_ACCESS_KEY: '[redacted]', TRACKING_LINK_KEY: '[redacted]', KAFKA_BROKERS: ['127.0.0.1:9092'] });
    expect(line?.hmacSecret).toBe('[redacted]');
  });

  it('keeps errors useful but scrubbed, including the fallback message', () => {
    const { logger, raw, lines } = capture();
    class SendError extends Error {
      recipient = 'carol@example.com';
      topic = 'triggers';
    }
    logger.error(new SendError('SES rejected carol@example.com'));
    logger.error({ err: new Error('bounce from dave@example.com') });
    expect(raw.join('')).not.toMatch(ADDRESS);
    const [first, second] = lines();
    expect(first?.msg).toBe('SES rejected [email]');
    expect(first?.err).toMatchObject({ type: 'SendError', message: 'SES rejected [email]', recipient: '[redacted]', topic: 'triggers' });
    expect((first?.err as { stack: string }).stack).toContain('SES rejected [email]');
    expect(second?.msg).toBe('bounce from [email]');
  });

  it('scrubs child bindings, class instances and survives cycles', () => {
    const { logger, raw, lines } = capture();
    class Decoded {
      constructor(readonly contact: string) {}
    }
    const cyclic: Record<string, unknown> = { label: 'loop' };
    cyclic.self = cyclic;
    logger.child({ requestedBy: 'eve@example.com' }).info({ record: new Decoded('frank@example.com'), cyclic }, 'ok');
    expect(raw.join('')).not.toMatch(ADDRESS);
    const [line] = lines();
    expect(line).toMatchObject({ requestedBy: '[email]', record: { contact: '[email]' }, cyclic: { label: 'loop', self: '[circular]' } });
  });

  it('scrubEmails leaves other text alone', () => {
    expect(scrubEmails('no address @ here, version 1.2@3')).toBe('no address @ here, version 1.2@3');
    expect(scrubEmails('a@b.co and c.d@e-f.example')).toBe('[email] and [email]');
  });
});
