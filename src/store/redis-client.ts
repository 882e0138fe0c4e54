/**
 * What every part of the Redis store shares: the client type with the Lua
 * scripts of redis-scripts.ts defined on it, and the mapping of what ioredis
 * throws to the store's errors (q for one command, exec for a MULTI or
 * pipeline).
 */
import type { ChainableCommander, Redis } from 'ioredis';
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
