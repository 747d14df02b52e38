import { randomUUID } from 'node:crypto';
import { collect, exited, spawnNode } from '../../support/stack';

describe('a service started with an unreachable REDIS_URL', () => {
  it('exits 78 within a bounded time, naming REDIS_URL without its credentials, with only JSON log lines beside that message', async () => {
    const started = Date.now();
    const child = spawnNode('services/trigger/main.js', [], {
      // Port 1 is closed: every connection attempt is refused at once.
      REDIS_URL: 'redis://app:s3cret@127.0.0.1:1',
      GROUP_ID: `test-redis-unreachable-${randomUUID()}`,
      HTTP_PORT: '0',
      LOG_LEVEL: 'info',
    });
    const stdout = collect(child.stdout);
    const stderr = collect(child.stderr);
    const { code } = await exited(child);
    const seconds = (Date.now() - started) / 1000;
    expect(code).toBe(78);
    // REDIS_CONNECT_TIMEOUT is 5 s by default; the rest is start-up.
    expect(seconds).toBeLessThan(20);

    const lines = `${stdout.text()}${stderr.text()}`.split('\n').filter((line) => line.trim() !== '');
    const plain = lines.filter((line) => {
      try {
        JSON.parse(line);
        return false;
      } catch {
        return true;
      }
    });
    expect(plain).toEqual([
      expect.stringMatching(
        /^trigger: cannot reach REDIS_URL=redis:\/\/127\.0\.0\.1:1: no answer to PING within 5000 ms \(connect ECONNREFUSED 127\.0\.0\.1:1\); start Redis there or set REDIS_URL to a reachable one/,
      ),
    ]);
    expect(lines.join('\n')).not.toContain('[ioredis]');
    expect(lines.join('\n')).not.toContain('s3cret');
    const json = lines.filter((line) => !plain.includes(line)).map((line) => JSON.parse(line) as Record<string, unknown>);
    expect(json).toContainEqual(expect.objectContaining({ level: 'fatal', msg: 'dependency unreachable at start-up', variable: 'REDIS_URL', target: 'redis://127.0.0.1:1' }));
    // The client's reconnect errors over those seconds are one line, not one per attempt.
    expect(json.filter((line) => line.msg === 'redis connection error; reconnecting')).toHaveLength(1);
  });
});
