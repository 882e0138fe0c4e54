/**
 * Runs the store conformance suite against every backend (memory, embedded
 * SQLite in a temp folder, Redis under a fresh prefix per test), plus what is
 * particular to one backend: SQLite's durability across reopen and its schema
 * version, Redis's key discipline (nothing outside the prefix, nothing left
 * behind), and openStore's choices.
 */
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import Database from 'better-sqlite3';
import { Redis } from 'ioredis';
import { FakeClock } from '../../src/util/clock.js';
import { MemoryStore } from '../../src/store/memory.js';
import { openStore } from '../../src/store/open.js';
import { RedisKeys } from '../../src/store/redis-keys.js';
import { RedisStore } from '../../src/store/redis.js';
import { SqliteStore } from '../../src/store/sqlite.js';
import { freshPrefix, testRedisUrl } from '../helpers/redis-server.js';
import { creds, rejectsWith, session, storeConformance } from './store.conformance.js';

const tempDir = (): string => mkdtempSync(path.join(os.tmpdir(), 'imp-store-'));

async function keysUnder(admin: Redis, prefix: string): Promise<string[]> {
  const out: string[] = [];
  let cursor = '0';
  do {
    const [next, batch] = await admin.scan(cursor, 'MATCH', new RedisKeys(prefix).pattern(), 'COUNT', 1000);
    out.push(...batch);
    cursor = next;
  } while (cursor !== '0');
  return out;
}

async function deleteUnder(admin: Redis, prefix: string): Promise<void> {
  const keys = await keysUnder(admin, prefix);
  for (let i = 0; i < keys.length; i += 500) await admin.del(...keys.slice(i, i + 500));
}

storeConformance('memory', async (clock) => ({ store: new MemoryStore(clock), dispose: async () => {} }));

storeConformance('embedded (sqlite)', async (clock) => {
  const dir = tempDir();
  return { store: new SqliteStore({ dataDir: dir, clock }), dispose: async () => rmSync(dir, { recursive: true, force: true }) };
});

let admin: Redis;
before(function () { admin = new Redis(testRedisUrl()); });
after(async function () { await admin.quit(); });

storeConformance('redis', async (clock) => {
  const prefix = freshPrefix('conf');
  const store = await RedisStore.open({ url: testRedisUrl(), prefix, clock });
  return { store, dispose: () => deleteUnder(admin, prefix) };
});

describe('embedded store specifics', function () {
  let dir: string;
  beforeEach(function () { dir = tempDir(); });
  afterEach(function () { rmSync(dir, { recursive: true, force: true }); });

  it('keeps everything across close and reopen', async function () {
    const clock = new FakeClock(Date.UTC(2024, 4, 1));
    const a = new SqliteStore({ dataDir: dir, clock });
    const alice = await a.users.create('jöran', { displayName: 'Jöran', homeCluster: true }, creds('j'));
    await a.users.create('bob', {}, creds('b'));
    await a.offline.push('jöran', '<message>1</message>', 111, 10);
    await a.offline.push('jöran', '<message>2</message>', 222, 10);
    await a.sessions.register(session('bob', 'laptop', 'n1', { priority: 3 }));
    const msgs = await a.offline.list('jöran');
    await a.close();

    const b = new SqliteStore({ dataDir: dir });
    try {
      assert.deepEqual(await b.users.get('jöran'), alice);
      assert.deepEqual(await b.users.getCredentials('jöran'), creds('j'));
      assert.deepEqual(await b.users.list(0, 10).then((p) => p.users.map((u) => u.userId)), ['bob', 'jöran']);
      assert.deepEqual(await b.offline.list('jöran'), msgs);
      assert.deepEqual(await b.sessions.listByNode('n1'), [session('bob', 'laptop', 'n1', { priority: 3 })]);
      await b.offline.push('jöran', '<message>3</message>', 333, 10);
      assert.ok((await b.offline.list('jöran'))[2]!.id > msgs[1]!.id, 'ids keep increasing after reopen');
    } finally {
      await b.close();
    }
  });

  it('opens in WAL mode at schema version 1', async function () {
    const st = new SqliteStore({ dataDir: dir });
    await st.close();
    const db = new Database(path.join(dir, 'imp.sqlite'));
    try {
      assert.equal(db.pragma('journal_mode', { simple: true }), 'wal');
      assert.equal(db.pragma('user_version', { simple: true }), 1);
    } finally { db.close(); }
  });

  it('refuses a database from a newer schema version instead of touching it', async function () {
    const db = new Database(path.join(dir, 'imp.sqlite'));
    db.pragma('user_version = 99');
    db.close();
    assert.throws(() => new SqliteStore({ dataDir: dir }), /schema version 99/);
  });
});

describe('redis store specifics', function () {
  let prefix: string;
  let store: RedisStore;
  beforeEach(async function () {
    prefix = freshPrefix('spec');
    store = await RedisStore.open({ url: testRedisUrl(), prefix });
  });
  afterEach(async function () {
    await store.close();
    await deleteUnder(admin, prefix);
  });

  it('removing a user and purging a node leave no key behind', async function () {
    await store.users.create('jöran', {}, creds('j'));
    await store.offline.push('jöran', '<m/>', 1, 10);
    await store.sessions.register(session('jöran', 'r', 'n1'));
    const keys = new RedisKeys(prefix);
    assert.deepEqual((await keysUnder(admin, prefix)).sort(), [
      keys.credentials('jöran'), keys.nodeSessions('n1'), keys.offline('jöran'), keys.offlineSeq('jöran'),
      keys.sessions('jöran'), keys.user('jöran'), keys.users(),
    ].sort());
    await store.users.remove('jöran');
    await store.sessions.purgeNode('n1');
    assert.deepEqual(await keysUnder(admin, prefix), []);
  });

  it('moving a session between nodes leaves nothing in the old node index', async function () {
    const keys = new RedisKeys(prefix);
    await store.sessions.register(session('a', 'r', 'n1'));
    await store.sessions.register(session('a', 'r', 'n2'));
    assert.equal(await admin.exists(keys.nodeSessions('n1')), 0);
    assert.equal(await admin.scard(keys.nodeSessions('n2')), 1);
    await store.sessions.unregister('a', 'r', 'n1');
    assert.equal(await admin.scard(keys.nodeSessions('n2')), 1, 'a non-owner unregister leaves the index alone');
    await store.sessions.unregister('a', 'r', 'n2');
    assert.deepEqual(await keysUnder(admin, prefix), []);
  });

  it('survives the script cache being flushed (EVALSHA falls back to EVAL)', async function () {
    await store.users.create('a', {}, creds('a'));
    await admin.script('FLUSH');
    await store.users.create('b', {}, creds('b'));
    assert.equal(await store.offline.push('a', '<m/>', 1, 5), true);
    assert.equal((await store.users.list(0, 10)).total, 2);
  });

  it('skips node-index entries it cannot read', async function () {
    await store.sessions.register(session('a', 'r', 'n1'));
    await admin.sadd(new RedisKeys(prefix).nodeSessions('n1'), 'not json');
    assert.equal((await store.sessions.listByNode('n1')).length, 1);
    assert.equal(await store.sessions.purgeNode('n1'), 1);
    assert.equal(await admin.exists(new RedisKeys(prefix).nodeSessions('n1')), 0);
  });
});

describe('openStore', function () {
  it('opens a memory store', async function () {
    const st = await openStore({ kind: 'memory' });
    assert.equal(st.kind, 'memory');
    await st.close();
  });

  it('opens an embedded store, creating the data folder', async function () {
    const root = tempDir();
    const dataDir = path.join(root, 'nested', 'data');
    try {
      const st = await openStore({ kind: 'embedded', dataDir });
      assert.equal(st.kind, 'embedded');
      assert.ok(existsSync(path.join(dataDir, 'imp.sqlite')));
      await st.close();
    } finally { rmSync(root, { recursive: true, force: true }); }
  });

  it('opens a redis store under the prefix given', async function () {
    const prefix = freshPrefix('open');
    const st = await openStore({ kind: 'redis', redisUrl: testRedisUrl(), prefix });
    try {
      assert.equal(st.kind, 'redis');
      await st.users.create('x', {}, creds('x'));
      assert.equal(await admin.exists(new RedisKeys(prefix).user('x')), 1);
    } finally {
      await st.close();
      await deleteUnder(admin, prefix);
    }
  });

  it('rejects a configuration missing what its kind needs', async function () {
    await rejectsWith(openStore({ kind: 'embedded' }), 'IMP_CONFIG_INVALID');
    await rejectsWith(openStore({ kind: 'redis' }), 'IMP_CONFIG_INVALID');
    await rejectsWith(openStore({ kind: 'redis', redisUrl: 'localhost:6379' }), 'IMP_CONFIG_INVALID');
  });
});
