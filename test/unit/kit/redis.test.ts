import { mkdtempSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Cluster, Redis, type ClusterOptions } from 'ioredis';
import { createRedis, KIT_LUA_DIR, loadLuaScripts, loadServiceScripts, runScript, type RedisClient } from '../../../services/kit/redis';

/** Records defineCommand calls the way ioredis would see them; no server needed. */
function fakeRedis(): RedisClient & { defined: Record<string, { numberOfKeys: number; lua: string }> } {
  const fake = {
    defined: {} as Record<string, { numberOfKeys: number; lua: string }>,
    get: () => undefined, // a built-in command a script must not replace
    defineCommand(name: string, definition: { numberOfKeys: number; lua: string }) {
      fake.defined[name] = definition;
      (fake as Record<string, unknown>)[name] = async (...input: unknown[]) => ({ name, input });
    },
  };
  return fake as unknown as RedisClient & { defined: typeof fake.defined };
}

describe('loadLuaScripts', () => {
  let dir: string;
  const write = (name: string, text: string): void => writeFileSync(join(dir, name), text);

  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'kairos-lua-'));
    mkdirSync(join(dir, 'includes'));
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it('defines each verbNoun-N.lua with its key count and inlined includes', () => {
    write('includes/clamp.lua', '--@include "toNumber"\nlocal function clamp(x) return x end\n');
    write('includes/toNumber.lua', 'local function toNumber(x) return tonumber(x) end\n');
    write('applyBatch-3.lua', '--[[ header ]]\n--@include "clamp"\n  --@include "toNumber.lua"\nreturn clamp(1)\n');
    write('pollTimers-1.lua', 'return 1\n');
    write('README.md', 'not a script');
    const redis = fakeRedis();
    expect(loadLuaScripts(redis, dir)).toEqual(['applyBatch', 'pollTimers']);
    expect(redis.defined.pollTimers).toEqual({ numberOfKeys: 1, lua: 'return 1\n' });
    const applyBatch = redis.defined.applyBatch;
    expect(applyBatch?.numberOfKeys).toBe(3);
    expect(applyBatch?.lua).not.toContain('--@include');
    // toNumber is inlined once, before clamp which needs it.
    expect(applyBatch?.lua.match(/local function toNumber/g)).toHaveLength(1);
    expect(applyBatch?.lua.indexOf('toNumber(x)')).toBeLessThan(applyBatch?.lua.indexOf('clamp(x)') ?? -1);
  });

  it('rejects a file not named like verbNoun-<numberOfKeys>.lua, naming it and the pattern', () => {
    write('apply_batch.lua', 'return 1');
    expect(() => loadLuaScripts(fakeRedis(), dir)).toThrow(/apply_batch\.lua" must be named like verbNoun-<numberOfKeys>\.lua/);
  });

  it('names the script and the include when an include is missing', () => {
    write('doThing-1.lua', '--@include "nowhere"\nreturn 1');
    expect(() => loadLuaScripts(fakeRedis(), dir)).toThrow(/doThing-1\.lua includes "nowhere"/);
  });

  it('reports include cycles', () => {
    write('includes/a.lua', '--@include "b"\n');
    write('includes/b.lua', '--@include "a"\n');
    write('doThing-1.lua', '--@include "a"\nreturn 1');
    expect(() => loadLuaScripts(fakeRedis(), dir)).toThrow(/include cycle doThing-1\.lua -> a -> b -> a/);
  });

  it('refuses to replace a built-in command but allows reloading its own', () => {
    write('doThing-1.lua', 'return 1');
    const redis = fakeRedis();
    expect(loadLuaScripts(redis, dir)).toEqual(['doThing']);
    expect(loadLuaScripts(redis, dir)).toEqual(['doThing']);
    write('get-1.lua', 'return 1');
    expect(() => loadLuaScripts(redis, dir)).toThrow(/would replace the existing command "get"/);
  });

  it('loads several folders: a service folder uses the kit folder\'s includes', () => {
    const service = join(dir, 'service');
    mkdirSync(service);
    write('includes/toNumber.lua', 'local function toNumber(x) return tonumber(x) end\n');
    write('applyBatch-3.lua', 'return 1\n');
    write('service/takeToken-1.lua', '--@include "toNumber"\nreturn toNumber(ARGV[1])\n');
    const redis = fakeRedis();
    expect(loadLuaScripts(redis, [dir, service])).toEqual(['applyBatch', 'takeToken']);
    expect(redis.defined.takeToken).toEqual({ numberOfKeys: 1, lua: 'local function toNumber(x) return tonumber(x) end\n\nreturn toNumber(ARGV[1])\n' });
    // The kit's folder again, alone (as another store of the same service does): the same files.
    expect(loadLuaScripts(redis, dir)).toEqual(['applyBatch']);
  });

  it('refuses a script or include name found in two folders, naming both files, and defines nothing', () => {
    const service = join(dir, 'service');
    mkdirSync(join(service, 'includes'), { recursive: true });
    write('applyBatch-3.lua', 'return 1');
    write('service/applyBatch-2.lua', 'return 2');
    const redis = fakeRedis();
    expect(() => loadLuaScripts(redis, [dir, service])).toThrow(
      `Lua script "applyBatch" is defined twice, in ${join(dir, 'applyBatch-3.lua')} and in ${join(service, 'applyBatch-2.lua')}`,
    );
    expect(redis.defined).toEqual({});
    rmSync(join(service, 'applyBatch-2.lua'));
    write('includes/clamp.lua', '');
    write('service/includes/clamp.lua', '');
    expect(() => loadLuaScripts(redis, [dir, service])).toThrow(/Lua include "clamp" is defined twice, in .*includes\/clamp\.lua and in .*service\/includes\/clamp\.lua/);
  });

  it('refuses a script of another folder under a name this client already has', () => {
    const other = join(dir, 'other');
    mkdirSync(other);
    write('doThing-1.lua', 'return 1');
    write('other/doThing-1.lua', 'return 2');
    const redis = fakeRedis();
    loadLuaScripts(redis, dir);
    expect(() => loadLuaScripts(redis, other)).toThrow(`in ${join(dir, 'doThing-1.lua')} and in ${join(other, 'doThing-1.lua')}`);
    expect(redis.defined.doThing?.lua).toBe('return 1');
  });

  it('the shipped folders load: the kit\'s alone, and each service\'s beside the kit\'s', () => {
    expect(loadLuaScripts(fakeRedis(), KIT_LUA_DIR)).toEqual(['applyPartitionChange', 'claimOutbox', 'readOutbox', 'trimOutbox', 'trimOutboxTo']);
    expect(loadServiceScripts(fakeRedis(), 'renderer')).toEqual([
      'applyPartitionChange',
      'claimOutbox',
      'readOutbox',
      'trimOutbox',
      'trimOutboxTo',
      'finishTrigger',
      'markOptOutTime',
      'reserveSend',
      'restoreOutcome',
      'storeProfile',
      'takeSendToken',
    ]);
    const recommender = fakeRedis();
    expect(loadServiceScripts(recommender, 'recommender')).toEqual(['applyPartitionChange', 'claimOutbox', 'readOutbox', 'trimOutbox', 'trimOutboxTo', 'applyCoViews', 'applyPopularity', 'readPopular']);
    expect(recommender.defined.readPopular?.lua).toContain('local function toInteger');
  });

  it('runScript checks the script exists and gets its declared number of keys', async () => {
    write('doThing-2.lua', 'return 1');
    const redis = fakeRedis();
    loadLuaScripts(redis, dir);
    await expect(runScript(redis, 'doThing', ['k1', 'k2'], ['a', 1])).resolves.toEqual({ name: 'doThing', input: ['k1', 'k2', 'a', 1] });
    await expect(runScript(redis, 'doThing', ['k1'])).rejects.toThrow(/takes 2 keys, got 1/);
    await expect(runScript(redis, 'other', [])).rejects.toThrow(/"other" was not loaded/);
  });
});

describe('createRedis', () => {
  const clients: RedisClient[] = [];
  afterAll(() => clients.forEach((client) => client.disconnect()));
  const lazy = { redisOptions: { lazyConnect: true } };

  it('makes a single Redis from REDIS_URL with credentials, db and auto-pipelining', () => {
    const redis = createRedis({ REDIS_URL: 'redis://app:s%40cret@cache.local:6380/2' }, { ...lazy, connectionName: 'kairos-test' });
    clients.push(redis);
    expect(redis).toBeInstanceOf(Redis);
    expect((redis as Redis).options).toMatchObject({
      host: 'cache.local',
      port: 6380,
      db: 2,
      username: 'app',
      password: 's@cret',
      connectionName: 'kairos-test',
      enableAutoPipelining: true,
    });
  });

  it('makes a Cluster when REDIS_CLUSTER_NODES is set, using REDIS_URL for credentials and TLS', () => {
    const cluster = createRedis(
      { REDIS_URL: 'rediss://:pw@ignored:6379/3', REDIS_CLUSTER_NODES: ['10.0.0.1:7000', '[::1]:7001'] },
      { redisOptions: {}, clusterOptions: { lazyConnect: true } },
    );
    clients.push(cluster);
    expect(cluster).toBeInstanceOf(Cluster);
    const c = cluster as unknown as { startupNodes: unknown; options: ClusterOptions };
    expect(c.startupNodes).toEqual([
      { host: '10.0.0.1', port: 7000 },
      { host: '::1', port: 7001 },
    ]);
    expect(c.options.enableAutoPipelining).toBe(false); // ioredis#2109: EVALSHA grouped by its sha
    expect(c.options.redisOptions).toMatchObject({ password: 'pw', tls: {} });
    expect(c.options.redisOptions).not.toHaveProperty('db');
  });
});
