/**
 * The Redis store when Redis goes away and comes back, against a private
 * redis-server this file stops and restarts: calls fail fast with
 * IMP_STORE_UNAVAILABLE, status follows the connection, the store reconnects
 * by itself and nothing acknowledged before the outage is lost. Also: a URL
 * where nothing listens is reported at open, naming the URL.
 */
import assert from 'node:assert/strict';
import { Redis } from 'ioredis';
import { isImpError } from '../../src/errors.js';
import { openStore } from '../../src/store/open.js';
import { emptyItem } from '../../src/store/roster-types.js';
import { RedisStore } from '../../src/store/redis.js';
import type { StoreStatus } from '../../src/store/types.js';
import { RedisServer, freePort } from '../helpers/redis-server.js';
import { creds, rejectsWith, session } from './store.conformance.js';

/** Resolves when the store reports `want`, failing after `ms`. */
function nextStatus(store: RedisStore, want: StoreStatus, ms: number): Promise<number> {
  const t0 = Date.now();
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => { off(); reject(new Error(`no '${want}' status within ${ms} ms`)); }, ms);
    const off = store.onStatus((s) => {
      if (s !== want) return;
      clearTimeout(timer); off(); resolve(Date.now() - t0);
    });
  });
}

/** Runs a call that must fail with IMP_STORE_UNAVAILABLE and returns how long it took. */
async function failsFast(call: () => Promise<unknown>): Promise<number> {
  const t0 = Date.now();
  await rejectsWith(call(), 'IMP_STORE_UNAVAILABLE');
  return Date.now() - t0;
}

describe('redis store: outage and recovery', function () {
  this.timeout(30000);
  let server: RedisServer;
  let store: RedisStore;
  const seen: StoreStatus[] = [];

  before(async function () {
    server = await RedisServer.start();
    store = await RedisStore.open({ url: server.url, prefix: 'imp-outage:' });
    store.onStatus((s) => seen.push(s));
  });
  after(async function () {
    await store?.close();
    await server?.destroy();
  });

  it('fails fast while Redis is down, reconnects by itself and keeps what was written', async function () {
    const alice = await store.users.create('jöran', { displayName: 'Jöran' }, creds('j'));
    assert.equal(await store.offline.push('jöran', '<message>before</message>', 1, 10), true);
    await store.sessions.register(session('jöran', 'laptop', 'n1'));
    await store.rosters.put('jöran', { ...emptyItem('carol@example.com'), subscription: 'from' }, { maxContacts: 10, maxWatchers: 10 });
    assert.equal(store.status(), 'up');

    const down = nextStatus(store, 'down', 2000);
    await server.stop();
    const noticed = await down;
    assert.equal(store.status(), 'down');
    assert.ok(noticed < 2000, `down noticed after ${noticed} ms`);

    const calls: Array<() => Promise<unknown>> = [
      () => store.ping(),
      () => store.users.get('jöran'),
      () => store.users.create('bob', {}, creds('b')),
      () => store.users.list(0, 10),
      () => store.offline.push('jöran', '<message>during</message>', 2, 10),
      () => store.sessions.register(session('jöran', 'phone', 'n1')),
      () => store.sessions.listByNode('n1'),
      () => store.sessions.purgeNode('n1'),
      () => store.rosters.get('jöran'),
      () => store.rosters.put('jöran', emptyItem('bob@example.com'), { maxContacts: 10, maxWatchers: 10 }),
      () => store.rosters.putPair({ userId: 'jöran', jid: 'bob@example.com', item: null }, { userId: 'bob', jid: 'jöran@example.com', item: null },
        { maxContacts: 10, maxWatchers: 10 }),
      () => store.rosters.watchersOfMany(['jöran', 'bob']),
      () => store.blocks.add('jöran', ['spam.example']),
      () => store.presence.getLast('jöran'),
    ];
    for (const call of calls) {
      const took = await failsFast(call);
      assert.ok(took < 500, `a call took ${took} ms to fail`);
    }
    // Stay down across several reconnect attempts: calls must still fail at once, not queue.
    await new Promise((r) => setTimeout(r, 1500));
    assert.ok(await failsFast(() => store.users.get('jöran')) < 500);
    assert.equal(store.status(), 'down');

    const up = nextStatus(store, 'up', 5000);
    await server.start();
    await up;
    assert.equal(store.status(), 'up');
    assert.deepEqual(seen, ['down', 'up']);

    assert.deepEqual(await store.users.get('jöran'), alice);
    assert.deepEqual(await store.users.getCredentials('jöran'), creds('j'));
    assert.deepEqual((await store.offline.list('jöran')).map((m) => m.stanza), ['<message>before</message>']);
    assert.deepEqual(await store.sessions.listByNode('n1'), [session('jöran', 'laptop', 'n1')]);
    assert.deepEqual(await store.rosters.get('jöran'), { version: 1, items: [{ ...emptyItem('carol@example.com'), subscription: 'from' }] });
    assert.deepEqual(await store.rosters.watchers('jöran'), ['carol@example.com']);
    assert.deepEqual(await store.blocks.list('jöran'), [], 'a block refused during the outage did not happen later');
    assert.equal(await store.users.get('bob'), null, 'a write refused during the outage did not happen later');
    // The restarted server has an empty script cache: scripted writes must work again.
    await store.users.create('bob', {}, creds('b'));
    assert.equal(await store.offline.push('jöran', '<message>after</message>', 3, 10), true);
    assert.equal(await store.offline.count('jöran'), 2);
  });

  it('rejects a call that is in flight when the connection drops', async function () {
    assert.equal(store.status(), 'up');
    const admin = new Redis(server.url);
    await admin.client('PAUSE', 10000, 'ALL');
    admin.disconnect();
    const t0 = Date.now();
    const pending = store.users.get('jöran');
    const outcome = pending.then(() => 'resolved', (err: unknown) => (isImpError(err, 'IMP_STORE_UNAVAILABLE') ? 'unavailable' : String(err)));
    await new Promise((r) => setTimeout(r, 100));
    const down = nextStatus(store, 'down', 3000);
    await server.stop();
    assert.equal(await outcome, 'unavailable');
    assert.ok(Date.now() - t0 < 2000, `the in-flight call took ${Date.now() - t0} ms to fail`);
    await down;
    const up = nextStatus(store, 'up', 5000);
    await server.start();
    await up;
    assert.equal((await store.users.get('jöran'))?.displayName, 'Jöran');
  });

  it('openStore rejects at once, naming the URL, when nothing listens there', async function () {
    const url = `redis://127.0.0.1:${await freePort()}`;
    const t0 = Date.now();
    await assert.rejects(openStore({ kind: 'redis', redisUrl: url }), (err: unknown) => {
      assert.ok(isImpError(err, 'IMP_STORE_UNAVAILABLE'), String(err));
      assert.ok(err.message.includes(url), err.message);
      return true;
    });
    assert.ok(Date.now() - t0 < 5000, `took ${Date.now() - t0} ms`);
  });

  it('keeps a password in the URL out of the error message', async function () {
    const url = `redis://:sekrit@127.0.0.1:${await freePort()}`;
    await assert.rejects(openStore({ kind: 'redis', redisUrl: url }), (err: unknown) => {
      assert.ok(isImpError(err, 'IMP_STORE_UNAVAILABLE'));
      assert.ok(!err.message.includes('sekrit'), err.message);
      assert.ok(err.message.includes('127.0.0.1'), err.message);
      return true;
    });
  });
});
