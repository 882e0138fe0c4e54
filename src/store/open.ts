/**
 * openStore: turns the store section of the configuration into a ready Store.
 * The only place that knows all three backends; the composition root calls it
 * and everything else sees the Store interface.
 */
import { mkdirSync } from 'node:fs';
import { ImpError } from '../errors.js';
import type { Logger } from '../util/log.js';
import { MemoryStore } from './memory.js';
import { RedisStore } from './redis.js';
import { SqliteStore } from './sqlite.js';
import type { Store, StoreOptions } from './types.js';

/**
 * memory: nothing to open. embedded: `<dataDir>/imp.sqlite`, creating the
 * folder if needed. redis: connects to redisUrl (keys under `prefix`, default
 * `imp:`) and rejects with IMP_STORE_UNAVAILABLE naming the URL if Redis does
 * not answer within a few seconds. `domain` (default 'localhost') goes to
 * every backend: SessionStore.publish maps bare JIDs to userIds by it.
 */
export async function openStore(opts: StoreOptions, log?: Logger): Promise<Store> {
  switch (opts.kind) {
    case 'memory':
      return new MemoryStore(undefined, { domain: opts.domain });
    case 'embedded': {
      if (!opts.dataDir) throw new ImpError('IMP_CONFIG_INVALID', 'the embedded store needs dataDir', { field: 'dataDir' });
      try {
        mkdirSync(opts.dataDir, { recursive: true });
      } catch (err) {
        throw new ImpError('IMP_STORE_UNAVAILABLE', `cannot create the data folder ${opts.dataDir}: ${(err as Error).message}`, { cause: err });
      }
      const store = new SqliteStore({ dataDir: opts.dataDir, domain: opts.domain, log });
      log?.info({ file: store.file }, 'embedded store opened');
      return store;
    }
    case 'redis': {
      if (!opts.redisUrl) throw new ImpError('IMP_CONFIG_INVALID', 'the redis store needs redisUrl', { field: 'redisUrl' });
      return RedisStore.open({ url: opts.redisUrl, prefix: opts.prefix, domain: opts.domain, log });
    }
    default:
      throw new ImpError('IMP_CONFIG_INVALID', `unknown store kind ${String((opts as { kind: unknown }).kind)}`, { field: 'kind' });
  }
}
