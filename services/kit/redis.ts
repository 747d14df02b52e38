import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { basename, join, resolve } from 'node:path';
import { Cluster, Redis, type ClusterOptions, type RedisOptions } from 'ioredis';
import { DependencyUnreachableError } from './errors';
import { builtPath, requireBuilt } from './files';
import { reasonOf } from './health';
import { createLogger, type Logger } from './logger';
import { RepeatLimiter } from './repeat-limiter';

/**
 * The Lua folder of `services/<folder>`, relative to the running code: the checkout's from
 * source, the build's copy (infra/dist-assets.js) from dist/ or an image.
 */
export function luaDirOf(folder: string): string {
  return builtPath('services', folder, 'lua');
}

/** The kit's Lua scripts (one file per atomic change), which a service loads beside its own. */
export const KIT_LUA_DIR = luaDirOf('kit');

/** A single Redis or a Redis Cluster; Kairos code must run unchanged on both. */
export type RedisClient = Redis | Cluster;

export interface RedisConfig {
  REDIS_URL: string;
  /** `host:port` seed nodes; when present a Cluster is used and REDIS_URL only lends credentials and TLS. */
  REDIS_CLUSTER_NODES?: readonly string[] | undefined;
}

export interface CreateRedisOptions {
  /** Shows in CLIENT LIST, so operators can tell which service holds a connection. */
  connectionName?: string;
  /** Extra ioredis options for each node connection (overrides the defaults below). */
  redisOptions?: RedisOptions;
  /** Extra Cluster options (Cluster only). */
  clusterOptions?: ClusterOptions;
  /**
   * Gets the client's connection errors as JSON lines. Services pass theirs; without one they
   * go to stderr as JSON all the same, never as ioredis's "[ioredis] Unhandled error event".
   */
  logger?: Logger;
}

function splitHostPort(node: string): { host: string; port: number } {
  const at = node.lastIndexOf(':');
  return { host: node.slice(0, at).replace(/^\[(.*)\]$/, '$1'), port: Number(node.slice(at + 1)) };
}

/** Credentials, TLS and database from REDIS_URL, as ioredis node options. */
function urlOptions(redisUrl: string): RedisOptions {
  const url = new URL(redisUrl);
  const db = url.pathname.length > 1 ? Number(url.pathname.slice(1)) : undefined;
  return {
    ...(url.username ? { username: decodeURIComponent(url.username) } : {}),
    ...(url.password ? { password: decodeURIComponent(url.password) } : {}),
    ...(url.protocol === 'rediss:' ? { tls: {} } : {}),
    ...(db !== undefined && Number.isInteger(db) ? { db } : {}),
  };
}

/**
 * Connects to Redis, or to a Redis Cluster when REDIS_CLUSTER_NODES is set. Auto-pipelining is
 * on: concurrent commands from many partitions share round trips without any batching code.
 */
export function createRedis(cfg: RedisConfig, opts: CreateRedisOptions = {}): RedisClient {
  const client = newClient(cfg, opts);
  logConnectionErrors(client, opts.logger ?? fallbackLogger());
  return client;
}

let fallback: Logger | undefined;
/** For clients made without a logger (tests, scripts): JSON on stderr, shared by all of them. */
function fallbackLogger(): Logger {
  fallback ??= createLogger({ service: 'kairos', level: 'warn', destination: process.stderr });
  return fallback;
}

function newClient(cfg: RedisConfig, opts: CreateRedisOptions): RedisClient {
  const nodeOptions: RedisOptions = {
    ...urlOptions(cfg.REDIS_URL),
    ...(opts.connectionName ? { connectionName: opts.connectionName } : {}),
    ...opts.redisOptions,
  };
  if (cfg.REDIS_CLUSTER_NODES && cfg.REDIS_CLUSTER_NODES.length > 0) {
    // Cluster has no databases; a db in REDIS_URL would make every node connection fail.
    const { db: _db, ...clusterNodeOptions } = nodeOptions;
    return new Cluster(cfg.REDIS_CLUSTER_NODES.map(splitHostPort), {
      // Off for a cluster: ioredis groups an EVALSHA by the slot of its first argument (the
      // script's sha, not a key), so concurrent scripts on one node failed with "All keys in the
      // pipeline should belong to the same slots allocation group" (ioredis#2109).
      enableAutoPipelining: false,
      redisOptions: clusterNodeOptions,
      ...opts.clusterOptions,
    });
  }
  const url = new URL(cfg.REDIS_URL);
  return new Redis({
    host: url.hostname.replace(/^\[(.*)\]$/, '$1') || '127.0.0.1',
    port: url.port ? Number(url.port) : 6379,
    enableAutoPipelining: true,
    ...nodeOptions,
  });
}

/**
 * Logs the client's errors as JSON, each kind at most once per 30 s with a count of the ones
 * held back: ioredis reports every failed reconnect, many a second while Redis is away.
 */
function logConnectionErrors(client: RedisClient, logger: Logger): void {
  const log = logger.child({ component: 'redis' });
  const limiter = new RepeatLimiter();
  let failing = false;
  const onError = (error: unknown, node?: string) => {
    failing = true;
    const reason = reasonOf(error);
    const admitted = limiter.admit(`${node ?? ''} ${reason}`);
    if (admitted === null) return;
    const code = (error as { code?: unknown }).code;
    log.error(
      { reason, ...(typeof code === 'string' ? { code } : {}), ...(node ? { node } : {}), ...(admitted.suppressed > 0 ? { repeated: admitted.suppressed } : {}) },
      'redis connection error; reconnecting',
    );
  };
  client.on('error', (error: unknown) => onError(error));
  // A Cluster reports the errors of its node connections separately.
  if (client instanceof Cluster) client.on('node error', (error: unknown, node: string) => onError(error, node));
  client.on('ready', () => {
    if (!failing) return;
    failing = false;
    const heldBack = limiter.reset();
    log.info({ ...(heldBack > 0 ? { repeated: heldBack } : {}) }, 'redis connection ready again');
  });
}

/** REDIS_URL (or the cluster nodes) as shown to an operator: no user name or password. */
export function describeRedisTarget(cfg: RedisConfig): { variable: string; target: string } {
  if (cfg.REDIS_CLUSTER_NODES && cfg.REDIS_CLUSTER_NODES.length > 0) {
    return { variable: 'REDIS_CLUSTER_NODES', target: cfg.REDIS_CLUSTER_NODES.join(',') };
  }
  const url = new URL(cfg.REDIS_URL);
  url.username = '';
  url.password = '';
  return { variable: 'REDIS_URL', target: url.toString().replace(/\/$/, '') };
}

/**
 * Resolves once `redis` answers PING. Throws DependencyUnreachableError (exit code 78 through
 * runMain) when it has not within `timeoutMs`: a service that cannot reach its state would
 * otherwise sit in its group unready, holding partitions it cannot process.
 */
export async function ensureRedisReachable(redis: RedisClient, cfg: RedisConfig, timeoutMs: number): Promise<void> {
  let lastError: unknown;
  const remember = (error: unknown) => {
    lastError = error;
  };
  redis.on('error', remember);
  if (redis instanceof Cluster) redis.on('node error', remember);
  let timer: NodeJS.Timeout | undefined;
  try {
    const timedOut = new Promise<'timeout'>((resolve) => {
      timer = setTimeout(() => resolve('timeout'), timeoutMs);
    });
    const outcome = await Promise.race([redis.ping().then(() => 'ok' as const, (error: unknown) => ({ error })), timedOut]);
    if (outcome === 'ok') return;
    const { variable, target } = describeRedisTarget(cfg);
    throw new DependencyUnreachableError(
      variable,
      target,
      outcome === 'timeout'
        ? `no answer to PING within ${timeoutMs} ms${lastError === undefined ? '' : ` (${reasonOf(lastError)})`}`
        : `PING failed: ${reasonOf(outcome.error)}`,
      `start Redis there or set ${variable} to a reachable one (REDIS_CONNECT_TIMEOUT sets how long to wait)`,
    );
  } finally {
    clearTimeout(timer);
    redis.off('error', remember);
    if (redis instanceof Cluster) redis.off('node error', remember);
  }
}

/**
 * BullMQ's naming: the file says the command name and how many of its arguments are KEYS;
 * `-n` marks a script that takes a variable number of keys (the caller passes the count).
 */
export const SCRIPT_FILE_PATTERN = /^([a-z][A-Za-z0-9]*)-(\d+|n)\.lua$/;
const VARIABLE_KEYS = -1;
const INCLUDE_LINE = /^[ \t]*--@include[ \t]+"([^"]+)"[ \t]*$/gm;

/** Reads `file` and inlines its `--@include "name"` lines from `includes`, each include once. */
function expandIncludes(file: string, includes: ReadonlyMap<string, string>, included: Set<string>, stack: string[]): string {
  const source = readFileSync(file, 'utf8');
  return source.replace(INCLUDE_LINE, (_line, name: string) => {
    const includeName = name.replace(/\.lua$/, '');
    if (stack.includes(includeName)) {
      throw new Error(`kairos redis: include cycle ${[...stack, includeName].join(' -> ')} in ${basename(stack[0] ?? file)}`);
    }
    if (included.has(includeName)) return '';
    included.add(includeName);
    const includeFile = includes.get(includeName);
    if (includeFile === undefined) {
      throw new Error(`kairos redis: ${basename(file)} includes "${name}" but no includes/${includeName}.lua exists in the loaded folders`);
    }
    return expandIncludes(includeFile, includes, included, [...stack, includeName]);
  });
}

/** The `.lua` files directly in `dir`, sorted. */
function luaFileNames(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true })
    .filter((entry) => entry.isFile() && entry.name.endsWith('.lua'))
    .map((entry) => entry.name)
    .sort();
}

/** One name, one file: `earlier` is the file that defined `name` first, if any. */
function assertSingleDefinition(kind: 'script' | 'include', name: string, earlier: string | undefined, file: string): void {
  if (earlier !== undefined && earlier !== file) {
    throw new Error(`kairos redis: Lua ${kind} "${name}" is defined twice, in ${earlier} and in ${file}; rename one`);
  }
}

interface DefinedScript {
  numberOfKeys: number;
  file: string;
}

// Which scripts each client got from loadLuaScripts, and from which file, so reloading may
// redefine them but a script can never silently replace a built-in command such as `get` or
// `set`, nor another folder's script of the same name.
const definedScripts = new WeakMap<RedisClient, Map<string, DefinedScript>>();

/**
 * Defines every `verbNoun-<numberOfKeys>.lua` in `dirs` (the kit's folder and a service's) as
 * a command on `redis`, so callers run `redis.verbNoun(...keys, ...args)`. Includes come from
 * the `includes/` folders among them. A script or include name found in two folders is an
 * error naming both files; nothing is defined unless every script is valid. Returns the names.
 */
export function loadLuaScripts(redis: RedisClient, dirs: string | readonly string[]): string[] {
  const includes = new Map<string, string>();
  const scripts = new Map<string, DefinedScript>();
  for (const dir of (typeof dirs === 'string' ? [dirs] : dirs).map((d) => requireBuilt(resolve(d)))) {
    const includesDir = join(dir, 'includes');
    for (const fileName of existsSync(includesDir) ? luaFileNames(includesDir) : []) {
      const name = fileName.replace(/\.lua$/, '');
      const file = join(includesDir, fileName);
      assertSingleDefinition('include', name, includes.get(name), file);
      includes.set(name, file);
    }
    for (const fileName of luaFileNames(dir)) {
      const match = SCRIPT_FILE_PATTERN.exec(fileName);
      if (match === null) {
        throw new Error(
          `kairos redis: Lua script file "${join(dir, fileName)}" must be named like verbNoun-<numberOfKeys>.lua (e.g. applyBatch-3.lua)`,
        );
      }
      const name = match[1] as string;
      const file = join(dir, fileName);
      assertSingleDefinition('script', name, scripts.get(name)?.file, file);
      scripts.set(name, { numberOfKeys: match[2] === 'n' ? VARIABLE_KEYS : Number(match[2]), file });
    }
  }
  const defined = definedScripts.get(redis) ?? new Map<string, DefinedScript>();
  definedScripts.set(redis, defined);
  const sources = new Map<string, string>();
  for (const [name, { file }] of scripts) {
    const earlier = defined.get(name);
    if (earlier === undefined && name in redis) {
      throw new Error(`kairos redis: Lua script "${basename(file)}" would replace the existing command "${name}"; rename it`);
    }
    assertSingleDefinition('script', name, earlier?.file, file);
    sources.set(name, expandIncludes(file, includes, new Set(), [basename(file)]));
  }
  for (const [name, script] of scripts) {
    const lua = sources.get(name) as string;
    redis.defineCommand(name, script.numberOfKeys === VARIABLE_KEYS ? { lua } : { numberOfKeys: script.numberOfKeys, lua });
    defined.set(name, script);
  }
  return [...scripts.keys()];
}

/** Defines the kit's scripts and those of `services/<service>/lua` on `redis`; see loadLuaScripts. */
export function loadServiceScripts(redis: RedisClient, service: string): string[] {
  return loadLuaScripts(redis, [KIT_LUA_DIR, luaDirOf(service)]);
}

/**
 * Runs a script defined by loadLuaScripts, checking it exists and gets the declared number of
 * keys: a wrong count would silently shift arguments into KEYS.
 */
export async function runScript<T = unknown>(
  redis: RedisClient,
  name: string,
  keys: readonly string[],
  args: readonly (string | number | Buffer)[] = [],
): Promise<T> {
  const numberOfKeys = definedScripts.get(redis)?.get(name)?.numberOfKeys;
  if (numberOfKeys === undefined) throw new Error(`kairos redis: Lua script "${name}" was not loaded`);
  if (numberOfKeys !== VARIABLE_KEYS && keys.length !== numberOfKeys) {
    throw new Error(`kairos redis: Lua script "${name}" takes ${numberOfKeys} keys, got ${keys.length}`);
  }
  const command = (redis as unknown as Record<string, (...input: unknown[]) => Promise<T>>)[name] as (
    ...input: unknown[]
  ) => Promise<T>;
  return numberOfKeys === VARIABLE_KEYS
    ? command.call(redis, keys.length, ...keys, ...args)
    : command.call(redis, ...keys, ...args);
}
