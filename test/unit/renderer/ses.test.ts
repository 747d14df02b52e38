import { requireMailbox } from '../../../services/core/recipients';
import { classifySesError, RetryingSender, SesEmailSender, SesSendError, type EmailSender } from '../../../services/renderer/ses';

const sdkError = (name: string, status?: number, code?: string) =>
  Object.assign(new Error(`${name} happened`), { name, ...(code ? { code } : {}), ...(status === undefined ? {} : { $metadata: { httpStatusCode: status } }) });

const mail = { raw: Buffer.from('x'), to: requireMailbox('c1@example.com'), triggerId: 't', campaign: 'c', variant: null };

describe('SES error classification', () => {
  it.each([
    ['TooManyRequestsException', 429, 'throttled'],
    ['LimitExceededException', 400, 'throttled'],
    ['Throttling', 400, 'throttled'],
    ['SomethingNew', 429, 'throttled'],
    ['InternalFailure', 500, 'transient'],
    ['ServiceUnavailable', 503, 'transient'],
    ['MessageRejected', 400, 'permanent'],
    ['MailFromDomainNotVerifiedException', 400, 'permanent'],
    ['AccountSuspendedException', 400, 'permanent'],
    ['BadRequestException', 400, 'permanent'],
  ])('%s (%i) is %s', (name, status, kind) => {
    expect(classifySesError(sdkError(name, status))).toEqual(expect.objectContaining({ name, kind }));
  });

  it('a network error without an HTTP answer is transient', () => {
    expect(classifySesError(sdkError('Error', undefined, 'ECONNRESET')).kind).toBe('transient');
    expect(classifySesError(sdkError('TimeoutError')).kind).toBe('transient');
  });
});

describe('RetryingSender', () => {
  function harness(failures: Error[]) {
    const acquired: number[] = [];
    const sleeps: number[] = [];
    let calls = 0;
    const inner: EmailSender = {
      send: async () => {
        calls += 1;
        const failure = failures.shift();
        if (failure) throw failure;
        return { messageId: 'm-1' };
      },
    };
    const sender = new RetryingSender(inner, { acquire: async () => acquired.push(calls) }, { maxAttempts: 4, baseDelayMs: 100, maxDelayMs: 250 }, {}, () => 1, async (ms) => void sleeps.push(ms));
    return { sender, acquired, sleeps, calls: () => calls };
  }

  it('retries throttling with capped exponential backoff, taking a rate-limit slot per attempt', async () => {
    const h = harness([sdkError('TooManyRequestsException', 429), sdkError('InternalFailure', 500), sdkError('Throttling', 400)]);
    await expect(h.sender.send(mail)).resolves.toEqual({ messageId: 'm-1' });
    expect(h.calls()).toBe(4);
    expect(h.acquired).toHaveLength(4);
    expect(h.sleeps).toEqual([100, 200, 250]); // random() = 1: the full backoff, capped at 250
  });

  it('gives up on a permanent error at once, naming it', async () => {
    const h = harness([sdkError('MessageRejected', 400)]);
    const error = await h.sender.send(mail).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(SesSendError);
    expect(error).toEqual(expect.objectContaining({ errorName: 'MessageRejected', kind: 'permanent', retriable: false, attempts: 1 }));
    expect(h.calls()).toBe(1);
  });

  it('throws a retriable error after the last attempt', async () => {
    const h = harness([1, 2, 3, 4].map(() => sdkError('TooManyRequestsException', 429)));
    const error = (await h.sender.send(mail).catch((e: unknown) => e)) as SesSendError;
    expect(error.retriable).toBe(true);
    expect(error.attempts).toBe(4);
  });
});

describe('SesEmailSender tags', () => {
  const sentWith = async (customerId: string | undefined, variant: string | null = null) => {
    const commands: Array<{ input: { EmailTags?: Array<{ Name: string; Value: string }> } }> = [];
    const client = { send: async (command: unknown) => (commands.push(command as (typeof commands)[number]), { MessageId: 'm-1', $metadata: {} }) };
    const sender = new SesEmailSender(client as unknown as ConstructorParameters<typeof SesEmailSender>[0], 'kairos');
    await sender.send({ raw: Buffer.from('x'), to: requireMailbox('ada@example.com'), triggerId: 't-1', customerId, campaign: 'cart_reminder', variant });
    return commands[0]?.input.EmailTags;
  };

  it('names the trigger, campaign and customer, so SES events can be attributed', async () => {
    expect(await sentWith('c-1')).toEqual([{ Name: 'trigger_id', Value: 't-1' }, { Name: 'campaign', Value: 'cart_reminder' }, { Name: 'customer_id', Value: 'c-1' }]);
  });

  it('writes a multivariate arm name with - for +, which SES tag values do not allow', async () => {
    expect(await sentWith('c-1', 'question+popular')).toContainEqual({ Name: 'variant', Value: 'question-popular' });
    expect(await sentWith('c-1', 'control')).toContainEqual({ Name: 'variant', Value: 'control' });
  });

  it('encodes a customer id SES tags do not allow, and never puts it raw', async () => {
    const tags = await sentWith('ada@shop.example');
    expect(tags).toContainEqual({ Name: 'customer_b64', Value: Buffer.from('ada@shop.example').toString('base64url') });
    expect(JSON.stringify(tags)).not.toContain('@');
  });
});
