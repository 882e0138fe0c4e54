/**
 * What every part of the Redis store shares: the client type with the Lua
 * scripts of redis-scripts.ts defined on it, and the mapping of what ioredis
 * throws to the store's errors (q for one command, exec for a MULTI or
 * pipeline).
 */
import { Redis as RedisClient, type ChainableCommander, type Redis } from 'ioredis';
import { ImpError, storeUnavailable } from '../errors.js';
import type { ScriptName } from './redis-scripts.js';

type ScriptFn = (...args: (string | number)[]) => Promise<unknown>;
export type ScriptedRedis = Redis & Record<ScriptName, ScriptFn>;

/** Error replies that mean "Redis cannot serve now", as opposed to a bug in a command or script. */
const UNAVAILABLE_REPLY = /^(LOADING|BUSY|READONLY|MASTERDOWN|TRYAGAIN|CLUSTERDOWN|NOREPLICAS|OOM|MISCONF|NOAUTH|WRONGPASS|NOPERM)\b/;

export function mapError(err: unknown): ImpError {
  if (err instanceof ImpError) return err;
  if (err instanceof Error && err.name === 'ReplyError' && !UNAVAILABLE_REPLY.test(err.message)) {
    return new ImpError('IMP_INTERNAL', `redis: ${err.message}`, { cause: err });
  }
  // Everything else ioredis raises is about the connection: closed, not writable, retries exhausted, timed out.
  return storeUnavailable(err);
}

export async function q<T>(p: Promise<T>): Promise<T> {
  try { return await p; } catch (err) { throw mapError(err); }
}

export async function exec(batch: ChainableCommander): Promise<unknown[]> {
  const replies = await q(batch.exec());
  if (!replies) throw storeUnavailable('transaction aborted');
  return replies.map(([err, res]) => { if (err) throw mapError(err); return res; });
}

/** The URL without its password, fit for logs and error messages. */
export function redactUrl(url: string): string {
  try {
    const u = new URL(url);
    if (u.password) u.password = '***';
    return u.toString().replace(/\/$/, '');
  } catch { return url; }
}

export interface ConnectOptions {
  connectTimeoutMs?: number;
  socketTimeoutMs?: number;
  /** Pub/sub connections: subscribe again after a reconnect. */
  autoResubscribe?: boolean;
}

/**
 * A client that fails fast while Redis is away (no offline queue, no
 * retries, nothing resent after a reconnect) and reconnects by itself
 * forever with a back-off capped at 1 s: callers get IMP_STORE_UNAVAILABLE
 * at once instead of hanging, and the node recovers without help.
 */
export function newRedis(url: string, opts: ConnectOptions = {}): Redis {
  if (!/^rediss?:\/\//.test(url)) {
    throw new ImpError('IMP_CONFIG_INVALID', `the Redis URL must start with redis:// or rediss://, not ${redactUrl(url)}`, { field: 'redisUrl' });
  }
  return new RedisClient(url, {
    lazyConnect: true,
    enableOfflineQueue: false,
    maxRetriesPerRequest: 0,
    autoResendUnfulfilledCommands: false,
    autoResubscribe: opts.autoResubscribe ?? false,
    connectTimeout: opts.connectTimeoutMs ?? 3000,
    socketTimeout: opts.socketTimeoutMs ?? 5000,
    retryStrategy: (times) => Math.min(100 * times, 1000),
  });
}

/**
 * Connects clients and resolves once Redis answers on all of them. Within
 * connectTimeoutMs or never: at start a wrong URL is reported (naming it,
 * without its password), not retried forever.
 */
export async function connectOrFail(clients: Redis[], url: string, what: string, connectTimeoutMs = 3000): Promise<void> {
  let lastError: Error | undefined;
  const remember = (e: Error): void => { lastError = e; };
  for (const c of clients) c.on('error', remember);
  let timer: NodeJS.Timeout | undefined;
  try {
    await Promise.race([
      Promise.all(clients.map((c) => c.connect())),
      new Promise<never>((_, reject) => { timer = setTimeout(() => reject(new Error(`no answer within ${connectTimeoutMs} ms`)), connectTimeoutMs); }),
    ]);
  } catch (err) {
    for (const c of clients) c.disconnect();
    const detail = lastError?.message ?? (err as Error).message;
    throw new ImpError('IMP_STORE_UNAVAILABLE', `cannot reach Redis at ${redactUrl(url)}${what}: ${detail}`, { cause: lastError ?? err });
  } finally {
    clearTimeout(timer);
    for (const c of clients) c.off('error', remember);
  }
}
