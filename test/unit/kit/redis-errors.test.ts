import { Writable } from 'node:stream';
import { runMain, EXIT_CONFIG, type MainIo } from '../../../services/kit/config';
import { DependencyUnreachableError } from '../../../services/kit/errors';
import { createLogger } from '../../../services/kit/logger';
import { createRedis, describeRedisTarget, ensureRedisReachable } from '../../../services/kit/redis';

// Port 1 (tcpmux) is closed on any sane machine: connections are refused at once.
const CLOSED = 'redis://app:s3cret@127.0.0.1:1/2';

function memoryLogger() {
  const lines: Array<Record<string, unknown>> = [];
  const logger = createLogger({
    service: 'redis-test',
    destination: new Writable({
      write(chunk, _enc, done) {
        lines.push(JSON.parse(String(chunk)) as Record<string, unknown>);
        done();
      },
    }),
  });
  return { logger, lines };
}

describe('a Redis client that cannot connect', () => {
  it('logs its errors as JSON through the logger, repeats held back, and never as an unhandled error event', async () => {
    const { logger, lines } = memoryLogger();
    const written: string[] = [];
    const spy = jest.spyOn(console, 'error').mockImplementation((...args: unknown[]) => void written.push(args.join(' ')));
    // Reconnects every 20 ms, so a second passes with dozens of failures.
    const redis = createRedis({ REDIS_URL: CLOSED }, { logger, redisOptions: { retryStrategy: () => 20 } });
    try {
      const started = Date.now();
      let attempts = 0;
      redis.on('error', () => (attempts += 1));
      while (attempts < 10 && Date.now() - started < 5000) await new Promise((r) => setTimeout(r, 20));
      expect(attempts).toBeGreaterThanOrEqual(10);
      const errors = lines.filter((l) => l.msg === 'redis connection error; reconnecting');
      expect(errors).toHaveLength(1);
      expect(errors[0]).toEqual(
        expect.objectContaining({ level: 'error', component: 'redis', service: 'redis-test', code: 'ECONNREFUSED', reason: 'connect ECONNREFUSED 127.0.0.1:1' }),
      );
      expect(JSON.stringify(lines)).not.toContain('s3cret');
      expect(written.filter((w) => w.includes('[ioredis]'))).toEqual([]);
    } finally {
      redis.disconnect();
      spy.mockRestore();
    }
  });

  it('makes start-up fail with DependencyUnreachableError naming REDIS_URL without its credentials', async () => {
    const { logger } = memoryLogger();
    const redis = createRedis({ REDIS_URL: CLOSED }, { logger });
    try {
      const started = Date.now();
      const error = await ensureRedisReachable(redis, { REDIS_URL: CLOSED }, 300).then(
        () => undefined,
        (e: unknown) => e,
      );
      expect(Date.now() - started).toBeLessThan(10_000); // refused at once: no waiting out a client timeout
      expect(error).toBeInstanceOf(DependencyUnreachableError);
      const { variable, target, message } = error as DependencyUnreachableError;
      expect({ variable, target }).toEqual({ variable: 'REDIS_URL', target: 'redis://127.0.0.1:1/2' });
      expect(message).toMatch(/^cannot reach REDIS_URL=redis:\/\/127\.0\.0\.1:1\/2: no answer to PING within 300 ms \(connect ECONNREFUSED 127\.0\.0\.1:1\); start Redis there or set REDIS_URL/);
      expect(message).not.toContain('s3cret');
    } finally {
      redis.disconnect();
    }
  });

  it('names REDIS_CLUSTER_NODES when a cluster is configured', () => {
    expect(describeRedisTarget({ REDIS_URL: CLOSED, REDIS_CLUSTER_NODES: ['10.0.0.1:7000', '10.0.0.2:7000'] })).toEqual({
      variable: 'REDIS_CLUSTER_NODES',
      target: '10.0.0.1:7000,10.0.0.2:7000',
    });
  });
});

describe('runMain with an unreachable dependency', () => {
  it('exits 78 with one JSON line and one plain line', async () => {
    const io: MainIo & { output: string; code?: number } = {
      output: '',
      stderr: {
        write(text: string, done?: () => void) {
          io.output += text;
          done?.();
          return true;
        },
      },
      exit(code: number) {
        io.code = code;
      },
    };
    await runMain(
      'trigger',
      async () => {
        throw new DependencyUnreachableError('REDIS_URL', 'redis://127.0.0.1:1', 'no answer to PING within 5000 ms', 'start Redis there');
      },
      io,
    );
    expect(io.code).toBe(EXIT_CONFIG);
    const [json, human, ...rest] = io.output.split('\n');
    expect(JSON.parse(json as string)).toEqual(
      expect.objectContaining({ level: 'fatal', service: 'trigger', msg: 'dependency unreachable at start-up', variable: 'REDIS_URL', target: 'redis://127.0.0.1:1' }),
    );
    expect(human).toBe('trigger: cannot reach REDIS_URL=redis://127.0.0.1:1: no answer to PING within 5000 ms; start Redis there');
    expect(rest).toEqual(['']);
  });
});
