import { createSign, generateKeyPairSync, createVerify } from 'node:crypto';
import { snsMessageSchema, snsSignatureAlgorithm, snsStringToSign, timestampProblem, urlAllowed, DEFAULT_SNS_CERT_URL_PATTERN, DEFAULT_SNS_SUBSCRIBE_URL_PATTERN, type SnsMessage } from '../../../../services/core/feedback';

const base = { MessageId: 'm-1', TopicArn: 'arn:aws:sns:us-east-1:123456789012:t', Timestamp: '2026-12-01T08:00:00.000Z', SignatureVersion: '1' as const, Signature: 'c2ln', SigningCertURL: 'https://sns.us-east-1.amazonaws.com/SimpleNotificationService-abc.pem' };

describe('the string SNS signs', () => {
  it('Notification: Message, MessageId, Subject (when present), Timestamp, TopicArn, Type, each as name\\nvalue\\n', () => {
    const message: SnsMessage = { ...base, Type: 'Notification', Message: '{"a":1}\nline', Subject: 'Hi', UnsubscribeURL: 'https://x' };
    expect(snsStringToSign(message)).toBe('Message\n{"a":1}\nline\nMessageId\nm-1\nSubject\nHi\nTimestamp\n2026-12-01T08:00:00.000Z\nTopicArn\narn:aws:sns:us-east-1:123456789012:t\nType\nNotification\n');
    const { Subject: _s, ...noSubject } = message;
    expect(snsStringToSign(noSubject as SnsMessage)).toBe('Message\n{"a":1}\nline\nMessageId\nm-1\nTimestamp\n2026-12-01T08:00:00.000Z\nTopicArn\narn:aws:sns:us-east-1:123456789012:t\nType\nNotification\n');
  });

  it('SubscriptionConfirmation and UnsubscribeConfirmation: Message, MessageId, SubscribeURL, Timestamp, Token, TopicArn, Type', () => {
    for (const Type of ['SubscriptionConfirmation', 'UnsubscribeConfirmation'] as const) {
      const message = { ...base, Type, Message: 'm', Token: 'tok', SubscribeURL: 'https://sns.us-east-1.amazonaws.com/?Action=ConfirmSubscription' } as SnsMessage;
      expect(snsStringToSign(message)).toBe(`Message\nm\nMessageId\nm-1\nSubscribeURL\nhttps://sns.us-east-1.amazonaws.com/?Action=ConfirmSubscription\nTimestamp\n2026-12-01T08:00:00.000Z\nToken\ntok\nTopicArn\narn:aws:sns:us-east-1:123456789012:t\nType\n${Type}\n`);
    }
  });

  it.each([['1', 'RSA-SHA1'], ['2', 'RSA-SHA256']] as const)('SignatureVersion %s verifies as %s', (version, algorithm) => {
    expect(snsSignatureAlgorithm(version)).toBe(algorithm);
    const { privateKey, publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
    const message: SnsMessage = { ...base, SignatureVersion: version, Type: 'Notification', Message: 'x' };
    const signature = createSign(algorithm).update(snsStringToSign(message)).sign(privateKey);
    expect(createVerify(algorithm).update(snsStringToSign(message)).verify(publicKey, signature)).toBe(true);
    expect(createVerify(algorithm).update(snsStringToSign({ ...message, Message: 'y' })).verify(publicKey, signature)).toBe(false);
  });
});

describe('the SNS envelope', () => {
  it('accepts the three types and refuses what is not one', () => {
    expect(snsMessageSchema.safeParse({ ...base, Type: 'Notification', Message: 'x' }).success).toBe(true);
    expect(snsMessageSchema.safeParse({ ...base, Type: 'SubscriptionConfirmation', Message: 'x' }).success).toBe(false); // no Token, SubscribeURL
    expect(snsMessageSchema.safeParse({ ...base, Type: 'Other', Message: 'x' }).success).toBe(false);
    expect(snsMessageSchema.safeParse({ ...base, Type: 'Notification', Message: 'x', SignatureVersion: '3' }).success).toBe(false);
    expect(snsMessageSchema.safeParse({ ...base, Type: 'Notification', Message: 'x', Timestamp: 'yesterday' }).success).toBe(false);
  });
});

describe('allow-lists and age', () => {
  const cert = new RegExp(DEFAULT_SNS_CERT_URL_PATTERN);
  it.each([
    ['https://sns.us-east-1.amazonaws.com/SimpleNotificationService-abc.pem', true],
    ['https://sns.cn-north-1.amazonaws.com.cn/SimpleNotificationService-abc.pem', true],
    ['http://sns.us-east-1.amazonaws.com/SimpleNotificationService-abc.pem', false],
    ['https://sns.us-east-1.amazonaws.com.evil.example/x.pem', false],
    ['https://evil.example/sns.us-east-1.amazonaws.com/x.pem', false],
    ['https://sns.us-east-1.amazonaws.com@evil.example/x.pem', false],
    ['https://user:pw@sns.us-east-1.amazonaws.com/x.pem', false],
    ['https://sns.us-east-1.amazonaws.com/x.pem?y', false],
    ['https://sns.us-east-1.amazonaws.com/x.txt', false],
    ['not a url', false],
  ])('certificate URL %s allowed: %s', (url, allowed) => {
    expect(urlAllowed(url, cert)).toBe(allowed);
  });

  it('SubscribeURL: SNS hosts only', () => {
    const subscribe = new RegExp(DEFAULT_SNS_SUBSCRIBE_URL_PATTERN);
    expect(urlAllowed('https://sns.eu-west-1.amazonaws.com/?Action=ConfirmSubscription&TopicArn=x&Token=y', subscribe)).toBe(true);
    expect(urlAllowed('https://evil.example/?Action=ConfirmSubscription', subscribe)).toBe(false);
  });

  it('refuses a Timestamp older than the maximum age or far in the future', () => {
    const now = Date.parse('2026-12-01T09:00:00Z');
    expect(timestampProblem('2026-12-01T08:30:00.000Z', now, 3_600_000)).toBeNull();
    expect(timestampProblem('2026-12-01T07:59:59.000Z', now, 3_600_000)).toMatch(/replay/);
    expect(timestampProblem('2026-12-01T09:10:00.000Z', now, 3_600_000)).toMatch(/future/);
  });
});
