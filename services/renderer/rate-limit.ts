import { randomUUID } from 'node:crypto';
import { loadServiceScripts, runScript, type RedisClient } from '../kit/redis';

/** Waits for permission to make one SES call; shared by every renderer instance. */
export interface SendRateLimiter {
  /** Resolves when the call may go out, with the admission time (server clock, ms). */
  acquire(): Promise<number>;
}

/**
 * At most `perSecond` SES calls in any rolling second across all instances (takeSendToken-1.lua,
 * a sliding-window log on the Redis server clock). Every attempt takes a slot, retries too:
 * SES counts each call against the account's maximum send rate. The window is 1.1 s, not 1 s:
 * calls admitted just over a second apart can reach SES less than a second apart (event loop
 * and network jitter), and it is SES's count that must stay under the limit.
 */
export class RedisSendRateLimiter implements SendRateLimiter {
  constructor(
    private readonly redis: RedisClient,
    private readonly key: string,
    private readonly perSecond: number,
    private readonly windowMs = 1100,
  ) {
    loadServiceScripts(redis, 'renderer');
  }

  async acquire(): Promise<number> {
    for (;;) {
      const [waitMs, admittedAt] = await runScript<[number, number]>(this.redis, 'takeSendToken', [this.key], [this.perSecond, this.windowMs, randomUUID()]);
      if (waitMs === 0) return admittedAt;
      await new Promise((resolve) => setTimeout(resolve, waitMs));
    }
  }
}
