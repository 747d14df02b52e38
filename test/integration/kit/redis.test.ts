import { randomBytes } from 'node:crypto';
import { copyFileSync, mkdtempSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Redis } from 'ioredis';
import { createRedis, loadLuaScripts, runScript, type RedisClient } from '../../../services/kit/redis';

const REAL_INCLUDES = join(__dirname, '../../../services/kit/lua/includes');

describe('Redis adapter against a real Redis', () => {
  // A random prefix per run: parallel runs and leftovers never collide.
  const prefix = `kairos-test:${randomBytes(6).toString('hex')}`;
  let redis: RedisClient;
  let dir: string;

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'kairos-lua-'));
    mkdirSync(join(dir, 'includes'));
    // The shipped include, so the test proves it is valid Lua too.
    copyFileSync(join(REAL_INCLUDES, 'toInteger.lua'), join(dir, 'includes', 'toInteger.lua'));
    writeFileSync(
      join(dir, 'incrBy-1.lua'),
      [
        '--[[',
        '  Adds ARGV[1] (a non-number counts as 0) to KEYS[1], a plain integer.',
        '  KEYS[1] counter   ARGV[1] amount   returns the new value',
        ']]',
        '--@include "toInteger"',
        "local current = toInteger(redis.call('GET', KEYS[1]), 0)",
        'local next = current + toInteger(ARGV[1], 0)',
        "redis.call('SET', KEYS[1], next)",
        'return next',
        '',
      ].join('\n'),
    );
    redis = createRedis({ REDIS_URL: process.env.REDIS_URL ?? 'redis://127.0.0.1:6379' }, { connectionName: 'kairos-test' });
  });

  afterAll(async () => {
    // SCAN rather than KEYS: never block a shared Redis.
    for await (const keys of (redis as Redis).scanStream({ match: `${prefix}:*`, count: 500 }) as AsyncIterable<string[]>) {
      if (keys.length > 0) await redis.del(...keys);
    }
    expect(await (redis as Redis).exists(`${prefix}:{p0}:counter`)).toBe(0);
    await redis.quit();
    rmSync(dir, { recursive: true, force: true });
  });

  it('loads a script with an include and runs it', async () => {
    expect(loadLuaScripts(redis, dir)).toEqual(['incrBy']);
    const key = `${prefix}:{p0}:counter`;
    expect(await runScript<number>(redis, 'incrBy', [key], [5])).toBe(5);
    expect(await runScript<number>(redis, 'incrBy', [key], ['3'])).toBe(8);
    expect(await runScript<number>(redis, 'incrBy', [key], ['not-a-number'])).toBe(8);
    // The command is also callable directly, the way BullMQ-style callers use it.
    const direct = (redis as unknown as { incrBy(key: string, amount: number): Promise<number> }).incrBy(key, 2);
    expect(await direct).toBe(10);
    expect(await redis.get(key)).toBe('10');
  });

  it('auto-pipelines concurrent calls and keeps each atomic', async () => {
    const key = `${prefix}:{p2}:counter`;
    const results = await Promise.all(Array.from({ length: 50 }, () => runScript<number>(redis, 'incrBy', [key], [1])));
    expect(new Set(results).size).toBe(50);
    expect(await redis.get(key)).toBe('50');
  });
});
