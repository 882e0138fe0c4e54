/** Runs the bulk roster import conformance suite (import.conformance.ts) against memory, embedded SQLite and Redis. */
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Redis } from 'ioredis';
import { FakeClock } from '../../src/util/clock.js';
import { MemoryStore } from '../../src/store/memory.js';
import { RedisKeys } from '../../src/store/redis-keys.js';
import { RedisStore } from '../../src/store/redis.js';
import { SqliteStore } from '../../src/store/sqlite.js';
import { freshPrefix, testRedisUrl } from '../helpers/redis-server.js';
import { importConformance } from './import.conformance.js';

const clock = (): FakeClock => new FakeClock(Date.UTC(2024, 0, 15, 9, 30, 0));

importConformance('memory', async (domain) => {
  const store = new MemoryStore(clock(), { domain });
  return { store, close: () => store.close() };
});

importConformance('embedded (sqlite)', async (domain) => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'imp-import-'));
  const store = new SqliteStore({ dataDir: dir, clock: clock(), domain });
  return { store, close: async () => { await store.close(); rmSync(dir, { recursive: true, force: true }); } };
});

importConformance('redis', async (domain) => {
  const prefix = freshPrefix('import');
  const store = await RedisStore.open({ url: testRedisUrl(), prefix, clock: clock(), domain });
  return {
    store,
    close: async () => {
      await store.close();
      const admin = new Redis(testRedisUrl());
      try {
        let cursor = '0';
        do {
          const [next, keys] = await admin.scan(cursor, 'MATCH', new RedisKeys(prefix).pattern(), 'COUNT', 1000);
          if (keys.length) await admin.del(...keys);
          cursor = next;
        } while (cursor !== '0');
      } finally { await admin.quit(); }
    },
  };
});
