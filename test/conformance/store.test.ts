/**
 * Runs the store conformance suite against every backend (memory, embedded
 * SQLite in a temp folder, Redis under a fresh prefix per test), plus what is
 * particular to one backend: SQLite's durability across reopen and its schema
 * version, migration and query plans, Redis's key discipline (nothing outside
 * the prefix, nothing left behind), and openStore's choices.
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
import { emptyItem } from '../../src/store/roster-types.js';
import { CONTACT_COUNT_SQL, WATCHERS_SQL, WATCHER_COUNT_SQL } from '../../src/store/sqlite-roster.js';
import { MIGRATIONS, PUBLISH_CONTACTS_SQL, PUBLISH_WATCHERS_SQL, SESSIONS_OF_MANY_SQL, SqliteStore } from '../../src/store/sqlite.js';
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

storeConformance('memory', async (clock, domain) => {
  const store = new MemoryStore(clock, { domain });
  return { store, twin: async () => store, dispose: async () => {} };
});

storeConformance('embedded (sqlite)', async (clock, domain) => {
  const dir = tempDir();
  return {
    store: new SqliteStore({ dataDir: dir, clock, domain }),
    twin: async () => new SqliteStore({ dataDir: dir, clock, domain }),
    dispose: async () => rmSync(dir, { recursive: true, force: true }),
  };
});

let admin: Redis;
before(function () { admin = new Redis(testRedisUrl()); });
after(async function () { await admin.quit(); });

storeConformance('redis', async (clock, domain) => {
  const prefix = freshPrefix('conf');
  const store = await RedisStore.open({ url: testRedisUrl(), prefix, clock, domain });
  return { store, twin: () => RedisStore.open({ url: testRedisUrl(), prefix, clock, domain }), dispose: () => deleteUnder(admin, prefix) };
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
    const bobItem = { ...emptyItem('bob@example.com'), name: 'Bøb', groups: ['Zürich', 'Friends'], subscription: 'both' as const };
    await a.rosters.put('jöran', bobItem, { maxContacts: 10, maxWatchers: 10 });
    await a.blocks.add('jöran', ['spam.example']);
    await a.presence.setLast('jöran', { stanza: '<presence type="unavailable"/>', at: 444 });
    const msgs = await a.offline.list('jöran');
    await a.close();

    const b = new SqliteStore({ dataDir: dir });
    try {
      assert.deepEqual(await b.users.get('jöran'), alice);
      assert.deepEqual(await b.users.getCredentials('jöran'), creds('j'));
      assert.deepEqual(await b.users.list(0, 10).then((p) => p.users.map((u) => u.userId)), ['bob', 'jöran']);
      assert.deepEqual(await b.offline.list('jöran'), msgs);
      assert.deepEqual(await b.sessions.listByNode('n1'), [session('bob', 'laptop', 'n1', { priority: 3 })]);
      assert.deepEqual(await b.rosters.get('jöran'), { version: 1, items: [bobItem] });
      assert.deepEqual(await b.rosters.watchers('jöran'), ['bob@example.com']);
      assert.deepEqual(await b.blocks.list('jöran'), ['spam.example']);
      assert.deepEqual(await b.presence.getLast('jöran'), { stanza: '<presence type="unavailable"/>', at: 444 });
      await b.offline.push('jöran', '<message>3</message>', 333, 10);
      assert.ok((await b.offline.list('jöran'))[2]!.id > msgs[1]!.id, 'ids keep increasing after reopen');
    } finally {
      await b.close();
    }
  });

  it('opens in WAL mode at schema version 3', async function () {
    const st = new SqliteStore({ dataDir: dir });
    await st.close();
    const db = new Database(path.join(dir, 'imp.sqlite'));
    try {
      assert.equal(db.pragma('journal_mode', { simple: true }), 'wal');
      assert.equal(db.pragma('user_version', { simple: true }), 3);
    } finally { db.close(); }
  });

  it('migrates a version 2 database to version 3: sessions gain a null presence', async function () {
    const db = new Database(path.join(dir, 'imp.sqlite'));
    db.exec(MIGRATIONS[0]!);
    db.exec(MIGRATIONS[1]!);
    db.pragma('user_version = 2');
    db.prepare('INSERT INTO sessions VALUES (?, ?, ?, ?, ?, ?)').run('old', 'r', 'n1', 4, 1, 5);
    db.close();
    const st = new SqliteStore({ dataDir: dir });
    try {
      assert.deepEqual(await st.sessions.get('old', 'r'), session('old', 'r', 'n1', { priority: 4, available: true, since: 5 }));
      await st.sessions.update('old', 'r', 'n1', { presence: '<presence/>' });
      assert.equal((await st.sessions.get('old', 'r'))!.presence, '<presence/>');
    } finally { await st.close(); }
  });

  it('migrates a version 1 database to version 3, keeping its data', async function () {
    const db = new Database(path.join(dir, 'imp.sqlite'));
    db.exec(MIGRATIONS[0]!);
    db.pragma('user_version = 1');
    db.prepare('INSERT INTO users VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)')
      .run('old', 'Old', null, null, null, null, 1, 1, '2023-01-01T00:00:00.000Z', '2023-01-01T00:00:00.000Z');
    db.prepare('INSERT INTO offline_messages VALUES (?, ?, ?, ?)').run('old', 1, '<message/>', 5);
    db.close();

    const st = new SqliteStore({ dataDir: dir });
    try {
      assert.equal((await st.users.get('old'))?.firstName, 'Old');
      assert.equal(await st.offline.count('old'), 1);
      assert.deepEqual(await st.rosters.get('old'), { version: 0, items: [] });
      await st.rosters.put('old', { ...emptyItem('bob@example.com'), subscription: 'from' }, { maxContacts: 10, maxWatchers: 10 });
      assert.deepEqual(await st.rosters.watchers('old'), ['bob@example.com']);
      assert.equal(await st.users.remove('old'), true);
      assert.deepEqual(await st.rosters.get('old'), { version: 0, items: [] });
    } finally { await st.close(); }
    const again = new Database(path.join(dir, 'imp.sqlite'));
    try { assert.equal(again.pragma('user_version', { simple: true }), 3); } finally { again.close(); }
  });

  it('answers watchers and both counts from an index alone, never reading rows', async function () {
    const st = new SqliteStore({ dataDir: dir });
    await st.close();
    const db = new Database(path.join(dir, 'imp.sqlite'));
    try {
      const plan = (q: string): string => db.prepare(`EXPLAIN QUERY PLAN ${q}`).all('alice').map((r) => (r as { detail: string }).detail).join('; ');
      assert.match(plan(WATCHERS_SQL), /USING COVERING INDEX roster_watchers \(user_id=\? AND subscription=\?\)/);
      assert.match(plan(WATCHER_COUNT_SQL), /USING COVERING INDEX roster_watchers \(user_id=\? AND subscription=\?\)/);
      assert.match(plan(CONTACT_COUNT_SQL), /USING COVERING INDEX roster_visible \(user_id=\?\)/);
    } finally { db.close(); }
  });

  it('answers publish with index seeks only: the roster by roster_watchers, sessions and blocks by their keys', async function () {
    const st = new SqliteStore({ dataDir: dir });
    await st.close();
    const db = new Database(path.join(dir, 'imp.sqlite'));
    try {
      const plan = (q: string, ...params: unknown[]): string[] => db.prepare(`EXPLAIN QUERY PLAN ${q}`).all(...params).map((r) => (r as { detail: string }).detail);
      const named = { user: 'alice', suffix: '@example.com', me: 'alice@example.com' };
      for (const q of [PUBLISH_WATCHERS_SQL, PUBLISH_CONTACTS_SQL]) {
        const steps = plan(q, named);
        assert.ok(steps.some((d) => /^SEARCH r USING COVERING INDEX roster_watchers \(user_id=\? AND subscription=\?\)$/.test(d)), steps.join('; '));
        assert.ok(steps.some((d) => /^SEARCH s USING PRIMARY KEY \(user_id=\?\)$/.test(d)), steps.join('; '));
        assert.ok(steps.some((d) => /^SEARCH b USING PRIMARY KEY \(user_id=\? AND jid=\?\)$/.test(d)), steps.join('; '));
        assert.ok(!steps.some((d) => /^SCAN (r|s|b)\b/.test(d)), `no table scan: ${steps.join('; ')}`);
      }
      const many = plan(SESSIONS_OF_MANY_SQL, '["a","b"]');
      assert.ok(many.some((d) => /^SEARCH sessions USING PRIMARY KEY \(user_id=\?\)$/.test(d)), many.join('; '));
    } finally { db.close(); }
  });

  it('publish holds one transaction against a second connection (another process would see the same)', async function () {
    const a = new SqliteStore({ dataDir: dir, domain: 'example.com' });
    const b = new SqliteStore({ dataDir: dir, domain: 'example.com' });
    try {
      await a.sessions.register(session('alice', 'r', 'n1'));
      await b.rosters.put('alice', { ...emptyItem('bob@example.com'), subscription: 'from' }, { maxContacts: 10, maxWatchers: 10 });
      await b.sessions.register(session('bob', 'r', 'n2', { available: true }));
      const out = await a.sessions.publish!('alice', 'r', 'n1', { available: true, priority: 1, presence: '<presence/>' }, false);
      assert.deepEqual(out?.watchers.map((w) => w.userId), ['bob']);
      assert.equal((await b.sessions.get('alice', 'r'))!.presence, '<presence/>');
    } finally { await a.close(); await b.close(); }
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

  it('keeps a user\'s roster side under the documented keys; removing the user leaves none of them', async function () {
    const keys = new RedisKeys(prefix);
    const lim = { maxContacts: 10, maxWatchers: 10 };
    await store.users.create('jöran', {}, creds('j'));
    await store.rosters.put('jöran', { ...emptyItem('bob@example.com'), subscription: 'from' }, lim);
    await store.rosters.put('jöran', { ...emptyItem('eve@example.com'), pendingIn: true, hidden: true }, lim);
    await store.blocks.add('jöran', ['spam.example']);
    await store.presence.setLast('jöran', { stanza: null, at: 1 });
    assert.deepEqual((await keysUnder(admin, prefix)).sort(), [
      keys.blocks('jöran'), keys.credentials('jöran'), keys.lastPresence('jöran'), keys.roster('jöran'), keys.rosterHidden('jöran'),
      keys.rosterVersion('jöran'), keys.user('jöran'), keys.users(), keys.watchers('jöran'),
    ].sort());
    assert.deepEqual(await admin.smembers(keys.watchers('jöran')), ['bob@example.com']);
    assert.deepEqual(await admin.smembers(keys.rosterHidden('jöran')), ['eve@example.com']);
    assert.equal(await admin.get(keys.rosterVersion('jöran')), '2');
    assert.deepEqual(JSON.parse((await admin.hget(keys.roster('jöran'), 'bob@example.com'))!), { ...emptyItem('bob@example.com'), subscription: 'from' });
    await store.users.remove('jöran');
    assert.deepEqual(await keysUnder(admin, prefix), []);
  });

  it('rosters.clear and emptying a roster leave no set behind', async function () {
    const lim = { maxContacts: 10, maxWatchers: 10 };
    await store.rosters.put('a', { ...emptyItem('b@x'), subscription: 'both', hidden: true }, lim);
    await store.rosters.remove('a', 'b@x');
    assert.deepEqual(await keysUnder(admin, prefix), [new RedisKeys(prefix).rosterVersion('a')], 'only the version outlives the items');
    await store.blocks.add('a', ['x']);
    await store.blocks.remove('a', null);
    await store.presence.setLast('a', { stanza: null, at: 1 });
    await store.rosters.clear('a');
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
    await admin.script('FLUSH');
    assert.equal((await store.rosters.put('a', emptyItem('b@x'), { maxContacts: 1, maxWatchers: 1 }) as { version: number }).version, 1);
    assert.equal((await store.users.list(0, 10)).total, 2);
  });

  it('publish is one EVALSHA, survives a flushed script cache, and leaves no key of its own', async function () {
    const keys = new RedisKeys(prefix);
    const lim = { maxContacts: 10, maxWatchers: 10 };
    await store.rosters.put('alice', { ...emptyItem('bob@localhost'), subscription: 'both' }, lim);
    await store.sessions.register(session('alice', 'r', 'n1'));
    await store.sessions.register(session('bob', 'r', 'n2', { available: true, presence: '<presence><show>away</show></presence>' }));
    await admin.script('FLUSH');
    const first = await store.sessions.publish!('alice', 'r', 'n1', { available: true, priority: 0, presence: null }, true);
    assert.deepEqual(first?.contacts.map((c) => c.presence), ['<presence><show>away</show></presence>']);
    await admin.config('RESETSTAT');
    const out = await store.sessions.publish!('alice', 'r', 'n1', { available: true, priority: 3, presence: '<presence/>' }, true);
    const stats = await admin.info('commandstats');
    const calls = (cmd: string): number => Number(new RegExp(`^cmdstat_${cmd}:calls=(\\d+)`, 'm').exec(stats)?.[1] ?? 0);
    assert.equal(calls('evalsha'), 1, stats);
    assert.equal(calls('eval'), 0, stats);
    assert.deepEqual(out?.watchers.map((w) => [w.userId, w.nodeId]), [['bob', 'n2']]);
    assert.deepEqual(JSON.parse((await admin.hget(keys.sessions('alice'), 'r'))!),
      { userId: 'alice', resource: 'r', nodeId: 'n1', priority: 3, available: true, since: 1712345678901, presence: '<presence/>' });
    assert.deepEqual((await keysUnder(admin, prefix)).sort(), [
      keys.nodeSessions('n1'), keys.nodeSessions('n2'), keys.roster('alice'), keys.rosterVersion('alice'), keys.sessions('alice'),
      keys.sessions('bob'), keys.watchers('alice'),
    ].sort());
  });

  it('publish skips the block list when it is empty and reads a long one per watcher', async function () {
    const lim = { maxContacts: 100, maxWatchers: 100 };
    for (const w of ['b1', 'b2', 'b3']) {
      await store.rosters.put('alice', { ...emptyItem(`${w}@localhost`), subscription: 'from' }, lim);
      await store.sessions.register(session(w, 'r', 'n1', { available: true }));
    }
    await store.sessions.register(session('alice', 'r', 'n1'));
    const ids = async (): Promise<string[]> =>
      (await store.sessions.publish!('alice', 'r', 'n1', { available: true, priority: 0, presence: null }, false))!.watchers.map((w) => w.userId).sort();
    assert.deepEqual(await ids(), ['b1', 'b2', 'b3']);
    await store.blocks.add('alice', ['b2@localhost']);
    assert.deepEqual(await ids(), ['b1', 'b3'], 'a short list, read whole');
    await store.blocks.add('alice', ['x1@localhost', 'x2@localhost', 'x3@localhost', 'b3@localhost']);
    assert.deepEqual(await ids(), ['b1'], 'a list longer than the watchers, asked per watcher');
  });

  it('keeps presence through the older scripts that rewrite a session record', async function () {
    await store.sessions.register(session('a', 'r', 'n1', { presence: '<presence>ü / "x"</presence>' }));
    await store.sessions.update('a', 'r', 'n1', { priority: 4 });
    assert.deepEqual(await store.sessions.get('a', 'r'), session('a', 'r', 'n1', { priority: 4, presence: '<presence>ü / "x"</presence>' }));
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

  it('gives every backend the domain, localhost unless told otherwise', async function () {
    const root = tempDir();
    const prefix = freshPrefix('open');
    const lim = { maxContacts: 10, maxWatchers: 10 };
    try {
      for (const [domain, other] of [[undefined, 'localhost'], ['example.org', 'example.org']] as const) {
        for (const opts of [{ kind: 'memory' as const }, { kind: 'embedded' as const, dataDir: path.join(root, other) }, { kind: 'redis' as const, redisUrl: testRedisUrl(), prefix: `${prefix}${other}:` }]) {
          const st = await openStore({ ...opts, domain });
          try {
            await st.rosters.put('alice', { ...emptyItem(`bob@${other}`), subscription: 'from' }, lim);
            await st.rosters.put('alice', { ...emptyItem(`carol@${other === 'localhost' ? 'example.org' : 'localhost'}`), subscription: 'from' }, lim);
            await st.sessions.register(session('alice', 'r', 'n1'));
            await st.sessions.register(session('bob', 'r', 'n1', { available: true }));
            await st.sessions.register(session('carol', 'r', 'n1', { available: true }));
            const out = await st.sessions.publish!('alice', 'r', 'n1', { available: true, priority: 0, presence: null }, false);
            assert.deepEqual(out?.watchers.map((w) => w.userId), ['bob'], `${opts.kind}, domain ${String(domain)}`);
          } finally { await st.close(); }
        }
      }
    } finally {
      rmSync(root, { recursive: true, force: true });
      await deleteUnder(admin, prefix);
    }
  });

  it('rejects a configuration missing what its kind needs', async function () {
    await rejectsWith(openStore({ kind: 'embedded' }), 'IMP_CONFIG_INVALID');
    await rejectsWith(openStore({ kind: 'redis' }), 'IMP_CONFIG_INVALID');
    await rejectsWith(openStore({ kind: 'redis', redisUrl: 'localhost:6379' }), 'IMP_CONFIG_INVALID');
  });
});
