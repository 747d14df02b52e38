/**
 * The SES feedback endpoint's variables, for the tracker's shape (spread it in):
 *
 *   SNS_TOPIC_ARNS            the SNS topics whose messages are accepted (comma-separated ARNs);
 *                             empty = every message is refused (403) until it is set
 *   SNS_CERT_URL_PATTERN      regex a SigningCertURL must match before it is fetched
 *                             (default: https://sns.<region>.amazonaws.com[.cn]/....pem)
 *   SNS_SUBSCRIBE_URL_PATTERN regex a SubscribeURL must match before it is visited
 *   SNS_MAX_AGE               older messages (by their Timestamp) are refused as replays (1h)
 *   SNS_FETCH_TIMEOUT         certificate download and subscription confirmation timeout (5s)
 *   GUARD_COMPLAINT_RATE      complaint rate that pauses a campaign (0.001 = 0.1%)
 *   GUARD_BOUNCE_RATE         hard-bounce rate that pauses a campaign (0.05 = 5%)
 *   GUARD_MIN_SENDS           sends in the window before the guard decides (1000)
 *   GUARD_WINDOW_DAYS         the rolling window, in UTC days (7)
 *   SES_SENT_RECORD_TTL       how long a trigger's Send record is kept (7d)
 */
import { z } from 'zod';
import { DEFAULT_GUARD_THRESHOLDS, DEFAULT_SNS_CERT_URL_PATTERN, DEFAULT_SNS_SUBSCRIBE_URL_PATTERN, type GuardThresholds } from '../../core/feedback';
import { durationVar, envVar, intVar, invalid } from '../../kit/config';

function patternVar(): z.ZodType<RegExp, string> {
  return envVar({ expected: 'a regular expression anchored with ^ (e.g. ^https://sns\\.[a-z0-9-]+\\.amazonaws\\.com/.+\\.pem$)' }, (raw) => {
    if (!raw.startsWith('^')) return invalid('is not anchored at the start (^)');
    try {
      return new RegExp(raw);
    } catch {
      return invalid('is not a valid regular expression');
    }
  });
}

function rateVar(): z.ZodType<number, string> {
  return envVar({ expected: 'a fraction between 0 and 1, like 0.001 for 0.1%' }, (raw) => {
    const value = Number(raw);
    return /^\d*\.?\d+$/.test(raw) && value > 0 && value < 1 ? value : invalid('is not a fraction between 0 and 1');
  });
}

const ARN = /^arn:aws[a-z-]*:sns:[a-z0-9-]+:\d{12}:[A-Za-z0-9_-]{1,256}$/;

function arnListVar(): z.ZodType<string[], string> {
  return envVar({ expected: 'SNS topic ARNs separated by commas, like arn:aws:sns:eu-west-1:123456789012:kairos-ses-events' }, (raw) => {
    const items = raw.split(',').map((item) => item.trim()).filter((item) => item !== '');
    return items.every((item) => ARN.test(item)) ? items : invalid('holds something that is not an SNS topic ARN');
  });
}

export const sesFeedbackShape = {
  SNS_TOPIC_ARNS: arnListVar().default(() => []),
  SNS_CERT_URL_PATTERN: patternVar().default(() => new RegExp(DEFAULT_SNS_CERT_URL_PATTERN)),
  SNS_SUBSCRIBE_URL_PATTERN: patternVar().default(() => new RegExp(DEFAULT_SNS_SUBSCRIBE_URL_PATTERN)),
  SNS_MAX_AGE: durationVar().default(3_600_000),
  SNS_FETCH_TIMEOUT: durationVar().default(5000),
  GUARD_COMPLAINT_RATE: rateVar().default(DEFAULT_GUARD_THRESHOLDS.complaintRate),
  GUARD_BOUNCE_RATE: rateVar().default(DEFAULT_GUARD_THRESHOLDS.bounceRate),
  GUARD_MIN_SENDS: intVar(1, 100_000_000).default(DEFAULT_GUARD_THRESHOLDS.minSends),
  GUARD_WINDOW_DAYS: intVar(1, 90).default(7),
  SES_SENT_RECORD_TTL: durationVar().default(7 * 86_400_000),
};

export interface SesFeedbackSettings {
  topicArns: readonly string[];
  certUrlPattern: RegExp;
  subscribeUrlPattern: RegExp;
  maxAgeMs: number;
  fetchTimeoutMs: number;
  guard: GuardThresholds & { windowDays: number };
  sentRecordTtlMs: number;
}

export function sesFeedbackSettings(config: z.output<z.ZodObject<typeof sesFeedbackShape>>): SesFeedbackSettings {
  return {
    topicArns: config.SNS_TOPIC_ARNS,
    certUrlPattern: config.SNS_CERT_URL_PATTERN,
    subscribeUrlPattern: config.SNS_SUBSCRIBE_URL_PATTERN,
    maxAgeMs: config.SNS_MAX_AGE,
    fetchTimeoutMs: config.SNS_FETCH_TIMEOUT,
    guard: { complaintRate: config.GUARD_COMPLAINT_RATE, bounceRate: config.GUARD_BOUNCE_RATE, minSends: config.GUARD_MIN_SENDS, windowDays: config.GUARD_WINDOW_DAYS },
    sentRecordTtlMs: config.SES_SENT_RECORD_TTL,
  };
}
