/**
 * The store conformance suite: the behaviour every Store backend must show,
 * written once and run against each (store.test.ts). A backend passes only
 * if it is indistinguishable from the others through the Store interface.
 * The roster side (rosters, blocks, last presence) is in roster.conformance.ts.
 */
import assert from 'node:assert/strict';
import { isImpError, type ErrorCode } from '../../src/errors.js';
import { FakeClock } from '../../src/util/clock.js';
import type { Credentials, SessionRecord, Store } from '../../src/store/types.js';
import { DOMAIN, publishConformance } from './publish.conformance.js';
import { rosterConformance } from './roster.conformance.js';

export interface OpenedStore {
  store: Store;
  /**
   * A second handle on the same data, as another node holds (another Redis
   * connection, another SQLite connection); where there is no such thing
   * (memory), the store itself. The suite closes it before dispose.
   */
  twin(): Promise<Store>;
  /** Removes whatever the store left behind (files, keys); the suite has closed the store already. */
  dispose(): Promise<void>;
}

/** Opens a fresh, empty store for the domain `domain` that reads the time from `clock`. */
export type StoreFactory = (clock: FakeClock, domain: string) => Promise<OpenedStore>;

const T0 = Date.UTC(2024, 0, 15, 9, 30, 0);

export async function rejectsWith(p: Promise<unknown>, code: ErrorCode): Promise<void> {
  await assert.rejects(p, (err: unknown) => {
    assert.ok(isImpError(err, code), `expected ${code}, got ${String(err)}`);
    return true;
  });
}

export function creds(tag: string): Credentials {
  const b = (s: string): string => Buffer.from(`${tag}:${s}`).toString('base64');
  return {
    'SHA-1': { salt: b('salt1'), iterations: 4096, storedKey: b('stored1'), serverKey: b('server1') },
    'SHA-256': { salt: b('salt256'), iterations: 8192, storedKey: b('stored256'), serverKey: b('server256') },
  };
}

export function session(userId: string, resource: string, nodeId: string, extra: Partial<SessionRecord> = {}): SessionRecord {
  return { userId, resource, nodeId, priority: 0, available: false, presence: null, since: 1712345678901, ...extra };
}

const byKey = (a: SessionRecord, b: SessionRecord): number =>
  `${a.userId}/${a.resource}` < `${b.userId}/${b.resource}` ? -1 : 1;

export function storeConformance(name: string, factory: StoreFactory): void {
  describe(`Store conformance: ${name}`, function () {
    let clock: FakeClock;
    let opened: OpenedStore;
    let s: Store;

    beforeEach(async function () {
      clock = new FakeClock(T0);
      opened = await factory(clock, DOMAIN);
      s = opened.store;
    });
    afterEach(async function () {
      await s.close();
      await opened.dispose();
    });

    describe('users', function () {
      it('creates a user with defaults and timestamps from the clock', async function () {
        const u = await s.users.create('alice', {}, creds('a'));
        const iso = new Date(T0).toISOString();
        assert.deepEqual(u, {
          userId: 'alice', firstName: null, lastName: null, displayName: null, email: null, telephoneNumber: null,
          imPresenceEnabled: false, homeCluster: false, createdAt: iso, updatedAt: iso,
        });
        assert.deepEqual(await s.users.get('alice'), u);
      });

      it('keeps every field as given, telling an empty string from null', async function () {
        const fields = {
          firstName: 'Alice', lastName: '', displayName: 'Alice Ä. Liddell', email: 'alice@example.com',
          telephoneNumber: '+49 30 1234', imPresenceEnabled: true, homeCluster: true,
        };
        const u = await s.users.create('alice', fields, creds('a'));
        assert.deepEqual(await s.users.get('alice'), u);
        assert.equal(u.lastName, '');
        assert.equal(u.displayName, 'Alice Ä. Liddell');
        assert.equal(u.imPresenceEnabled, true);
      });

      it('refuses a second create with IMP_USER_EXISTS and changes nothing', async function () {
        const u = await s.users.create('alice', { firstName: 'First' }, creds('a'));
        clock.advance(1000);
        await rejectsWith(s.users.create('alice', { firstName: 'Second', homeCluster: true }, creds('b')), 'IMP_USER_EXISTS');
        assert.deepEqual(await s.users.get('alice'), u);
        assert.deepEqual(await s.users.getCredentials('alice'), creds('a'));
        assert.equal((await s.users.list(0, 10)).total, 1);
      });

      it('answers null for an unknown user and its credentials', async function () {
        assert.equal(await s.users.get('nobody'), null);
        assert.equal(await s.users.getCredentials('nobody'), null);
      });

      it('round-trips credentials exactly', async function () {
        await s.users.create('alice', {}, creds('a'));
        assert.deepEqual(await s.users.getCredentials('alice'), creds('a'));
      });

      it('update merges: undefined keeps, null clears, values replace; updatedAt moves, createdAt stays', async function () {
        const u = await s.users.create('alice', { firstName: 'A', lastName: 'L', email: 'a@x', imPresenceEnabled: true }, creds('a'));
        clock.advance(60_000);
        const v = await s.users.update('alice', { firstName: undefined, lastName: null, email: 'new@x', homeCluster: true });
        assert.deepEqual(v, {
          ...u, lastName: null, email: 'new@x', homeCluster: true, updatedAt: new Date(T0 + 60_000).toISOString(),
        });
        assert.equal(v.createdAt, u.createdAt);
        assert.deepEqual(await s.users.get('alice'), v);
      });

      it('update can turn flags off again and with no fields only bumps updatedAt', async function () {
        await s.users.create('alice', { imPresenceEnabled: true, homeCluster: true }, creds('a'));
        const v = await s.users.update('alice', { imPresenceEnabled: false });
        assert.equal(v.imPresenceEnabled, false);
        assert.equal(v.homeCluster, true);
        clock.advance(5);
        const w = await s.users.update('alice', {});
        assert.deepEqual(w, { ...v, updatedAt: new Date(T0 + 5).toISOString() });
      });

      it('update keeps credentials unless given, and replaces them when given', async function () {
        await s.users.create('alice', {}, creds('a'));
        await s.users.update('alice', { firstName: 'A' });
        assert.deepEqual(await s.users.getCredentials('alice'), creds('a'));
        await s.users.update('alice', {}, creds('b'));
        assert.deepEqual(await s.users.getCredentials('alice'), creds('b'));
      });

      it('update of an unknown user rejects with IMP_USER_NOT_FOUND and creates nothing', async function () {
        await rejectsWith(s.users.update('ghost', { firstName: 'G' }, creds('g')), 'IMP_USER_NOT_FOUND');
        assert.equal(await s.users.get('ghost'), null);
        assert.equal(await s.users.getCredentials('ghost'), null);
        assert.deepEqual(await s.users.list(0, 10), { users: [], total: 0 });
      });

      it('remove deletes the user, its credentials and its offline messages', async function () {
        await s.users.create('alice', {}, creds('a'));
        await s.users.create('bob', {}, creds('b'));
        assert.equal(await s.offline.push('alice', '<message/>', T0, 10), true);
        assert.equal(await s.offline.push('bob', '<message/>', T0, 10), true);
        assert.equal(await s.users.remove('alice'), true);
        assert.equal(await s.users.get('alice'), null);
        assert.equal(await s.users.getCredentials('alice'), null);
        assert.equal(await s.offline.count('alice'), 0);
        assert.deepEqual(await s.offline.list('alice'), []);
        assert.deepEqual((await s.users.list(0, 10)).users.map((u) => u.userId), ['bob']);
        assert.equal(await s.offline.count('bob'), 1, 'another user keeps its messages');
        assert.deepEqual(await s.users.getCredentials('bob'), creds('b'));
      });

      it('remove answers false for an unknown or already removed user', async function () {
        assert.equal(await s.users.remove('ghost'), false);
        await s.users.create('alice', {}, creds('a'));
        assert.equal(await s.users.remove('alice'), true);
        assert.equal(await s.users.remove('alice'), false);
      });

      it('a removed userId can be created afresh', async function () {
        await s.users.create('alice', { firstName: 'Old' }, creds('a'));
        await s.offline.push('alice', '<old/>', T0, 10);
        await s.users.remove('alice');
        clock.advance(1000);
        const u = await s.users.create('alice', {}, creds('b'));
        assert.equal(u.firstName, null);
        assert.equal(u.createdAt, new Date(T0 + 1000).toISOString());
        assert.deepEqual(await s.users.getCredentials('alice'), creds('b'));
        assert.deepEqual(await s.offline.list('alice'), []);
      });

      it('list orders by userId, pages with offset/limit and reports the total', async function () {
        const ids = ['mallory', 'alice', 'dave', 'carol', 'bob', 'erin', 'frank'];
        for (const id of ids) await s.users.create(id, {}, creds(id));
        const sorted = [...ids].sort();
        const all = await s.users.list(0, 100);
        assert.deepEqual(all.users.map((u) => u.userId), sorted);
        assert.equal(all.total, 7);
        assert.deepEqual(await s.users.get('carol'), all.users[2]);
        const pages: string[] = [];
        for (let off = 0; off < 7; off += 3) {
          const p = await s.users.list(off, 3);
          assert.equal(p.total, 7);
          assert.ok(p.users.length <= 3);
          pages.push(...p.users.map((u) => u.userId));
        }
        assert.deepEqual(pages, sorted);
        assert.deepEqual((await s.users.list(5, 10)).users.map((u) => u.userId), ['frank', 'mallory']);
        assert.deepEqual(await s.users.list(7, 10), { users: [], total: 7 });
        assert.deepEqual(await s.users.list(100, 10), { users: [], total: 7 });
        assert.deepEqual(await s.users.list(0, 0), { users: [], total: 7 });
      });

      it('list on an empty store is empty', async function () {
        assert.deepEqual(await s.users.list(0, 50), { users: [], total: 0 });
      });

      it('list orders non-ASCII userIds by code point (UTF-8 byte order)', async function () {
        const ids = ['😀', 'zoe', 'jöran', 'joe', '\uff21x', 'j', 'éa'];
        for (const id of ids) await s.users.create(id, {}, creds(id));
        assert.deepEqual((await s.users.list(0, 10)).users.map((u) => u.userId), ['j', 'joe', 'jöran', 'zoe', 'éa', '\uff21x', '😀']);
      });

      it('handles a unicode userId throughout', async function () {
        const id = 'jöran';
        await s.users.create(id, { displayName: 'Jöran Ødegård' }, creds('j'));
        assert.equal((await s.users.get(id))?.displayName, 'Jöran Ødegård');
        assert.equal(await s.users.get('joran'), null);
        assert.deepEqual(await s.users.getCredentials(id), creds('j'));
        await s.users.update(id, { firstName: 'Jöran' });
        assert.equal((await s.users.get(id))?.firstName, 'Jöran');
        await s.offline.push(id, '<message>hej då</message>', T0, 5);
        await s.sessions.register(session(id, 'mobil', 'n1'));
        assert.equal((await s.sessions.listByUser(id)).length, 1);
        assert.deepEqual((await s.sessions.listByNode('n1')).map((r) => r.userId), [id]);
        assert.equal(await s.users.remove(id), true);
        assert.equal(await s.offline.count(id), 0);
      });

      it('hands out copies: changing what it returned or was given changes nothing stored', async function () {
        const c = creds('a');
        const u = await s.users.create('alice', { firstName: 'A' }, c);
        u.firstName = 'mutated';
        c['SHA-256'].iterations = 1;
        assert.equal((await s.users.get('alice'))?.firstName, 'A');
        const got = (await s.users.getCredentials('alice'))!;
        assert.equal(got['SHA-256'].iterations, 8192);
        got['SHA-1'].salt = 'x';
        assert.deepEqual(await s.users.getCredentials('alice'), creds('a'));
        const page = await s.users.list(0, 1);
        page.users[0]!.email = 'x';
        assert.equal((await s.users.get('alice'))?.email, null);
      });

      it('concurrent creates of one userId: exactly one wins', async function () {
        const results = await Promise.allSettled([1, 2, 3, 4, 5].map((i) => s.users.create('race', { firstName: `r${i}` }, creds(`r${i}`))));
        const won = results.filter((r) => r.status === 'fulfilled');
        assert.equal(won.length, 1);
        for (const r of results) if (r.status === 'rejected') assert.ok(isImpError(r.reason, 'IMP_USER_EXISTS'));
        const winner = (won[0] as PromiseFulfilledResult<{ firstName: string | null }>).value.firstName!;
        assert.equal((await s.users.get('race'))?.firstName, winner);
        assert.deepEqual(await s.users.getCredentials('race'), creds(winner));
      });
    });

    describe('sessions', function () {
      it('registers a new session: null back, then visible by key, user and node', async function () {
        const rec = session('alice', 'laptop', 'n1', { priority: 5, available: true });
        assert.equal(await s.sessions.register(rec), null);
        assert.deepEqual(await s.sessions.get('alice', 'laptop'), rec);
        assert.deepEqual(await s.sessions.listByUser('alice'), [rec]);
        assert.deepEqual(await s.sessions.listByNode('n1'), [rec]);
        assert.equal(await s.sessions.get('alice', 'phone'), null);
        assert.equal(await s.sessions.get('bob', 'laptop'), null);
      });

      it('keeps negative priorities, large timestamps and odd resources exactly', async function () {
        const rec = session('alice', 'Büro / laptop "1" :x', 'node:a', { priority: -128, since: 4102444800123 });
        await s.sessions.register(rec);
        assert.deepEqual(await s.sessions.get('alice', rec.resource), rec);
        assert.deepEqual(await s.sessions.listByNode('node:a'), [rec]);
        await s.sessions.update('alice', rec.resource, 'node:a', { priority: 127 });
        assert.deepEqual(await s.sessions.get('alice', rec.resource), { ...rec, priority: 127 });
      });

      it('register on another node replaces the record, returns the old one and moves the node index', async function () {
        const old = session('alice', 'laptop', 'n1', { priority: 1, available: true });
        await s.sessions.register(old);
        const neu = session('alice', 'laptop', 'n2', { since: 1712345679999 });
        assert.deepEqual(await s.sessions.register(neu), old);
        assert.deepEqual(await s.sessions.get('alice', 'laptop'), neu);
        assert.deepEqual(await s.sessions.listByUser('alice'), [neu]);
        assert.deepEqual(await s.sessions.listByNode('n1'), []);
        assert.deepEqual(await s.sessions.listByNode('n2'), [neu]);
        assert.equal(await s.sessions.purgeNode('n1'), 0);
        assert.deepEqual(await s.sessions.get('alice', 'laptop'), neu);
      });

      it('register again on the same node replaces in place', async function () {
        const a = session('alice', 'laptop', 'n1');
        await s.sessions.register(a);
        const b = session('alice', 'laptop', 'n1', { since: a.since + 1 });
        assert.deepEqual(await s.sessions.register(b), a);
        assert.deepEqual(await s.sessions.listByNode('n1'), [b]);
        assert.equal(await s.sessions.purgeNode('n1'), 1);
      });

      it('unregister by the owner removes it everywhere', async function () {
        await s.sessions.register(session('alice', 'laptop', 'n1'));
        await s.sessions.unregister('alice', 'laptop', 'n1');
        assert.equal(await s.sessions.get('alice', 'laptop'), null);
        assert.deepEqual(await s.sessions.listByUser('alice'), []);
        assert.deepEqual(await s.sessions.listByNode('n1'), []);
      });

      it('unregister by a node that no longer owns it leaves the session alone', async function () {
        await s.sessions.register(session('alice', 'laptop', 'n1'));
        const neu = session('alice', 'laptop', 'n2');
        await s.sessions.register(neu);
        await s.sessions.unregister('alice', 'laptop', 'n1');
        assert.deepEqual(await s.sessions.get('alice', 'laptop'), neu);
        assert.deepEqual(await s.sessions.listByNode('n2'), [neu]);
        await s.sessions.unregister('alice', 'laptop', 'n3');
        assert.deepEqual(await s.sessions.get('alice', 'laptop'), neu);
      });

      it('unregister of an unknown session is a no-op', async function () {
        await s.sessions.unregister('ghost', 'r', 'n1');
        await s.sessions.register(session('alice', 'laptop', 'n1'));
        await s.sessions.unregister('alice', 'phone', 'n1');
        assert.equal((await s.sessions.listByUser('alice')).length, 1);
      });

      it('update by the owner patches priority and availability, separately or together', async function () {
        const rec = session('alice', 'laptop', 'n1');
        await s.sessions.register(rec);
        await s.sessions.update('alice', 'laptop', 'n1', { available: true });
        assert.deepEqual(await s.sessions.get('alice', 'laptop'), { ...rec, available: true });
        await s.sessions.update('alice', 'laptop', 'n1', { priority: -1 });
        assert.deepEqual(await s.sessions.get('alice', 'laptop'), { ...rec, available: true, priority: -1 });
        await s.sessions.update('alice', 'laptop', 'n1', { priority: 10, available: false });
        await s.sessions.update('alice', 'laptop', 'n1', {});
        const want = { ...rec, priority: 10, available: false };
        assert.deepEqual(await s.sessions.get('alice', 'laptop'), want);
        assert.deepEqual(await s.sessions.listByNode('n1'), [want]);
      });

      it('update by a node that does not own the session is ignored; update of an unknown one creates nothing', async function () {
        const rec = session('alice', 'laptop', 'n1');
        await s.sessions.register(rec);
        await s.sessions.update('alice', 'laptop', 'n2', { priority: 50, available: true });
        assert.deepEqual(await s.sessions.get('alice', 'laptop'), rec);
        await s.sessions.update('alice', 'phone', 'n1', { priority: 1 });
        assert.equal(await s.sessions.get('alice', 'phone'), null);
        assert.deepEqual(await s.sessions.listByNode('n1'), [rec]);
      });

      it('listByUser and listByNode see exactly their own sessions', async function () {
        const recs = [
          session('alice', 'laptop', 'n1'), session('alice', 'phone', 'n2'), session('alice', 'desk', 'n1'),
          session('bob', 'laptop', 'n1'), session('carol', 'x', 'n3'),
        ];
        for (const r of recs) await s.sessions.register(r);
        assert.deepEqual((await s.sessions.listByUser('alice')).sort(byKey), recs.slice(0, 3).sort(byKey));
        assert.deepEqual(await s.sessions.listByUser('bob'), [recs[3]]);
        assert.deepEqual(await s.sessions.listByUser('dave'), []);
        assert.deepEqual((await s.sessions.listByNode('n1')).sort(byKey), [recs[0]!, recs[2]!, recs[3]!].sort(byKey));
        assert.deepEqual(await s.sessions.listByNode('n2'), [recs[1]]);
        assert.deepEqual(await s.sessions.listByNode('n9'), []);
      });

      it('purgeNode removes every session of that node only and says how many', async function () {
        await s.sessions.register(session('alice', 'laptop', 'n1'));
        await s.sessions.register(session('alice', 'phone', 'n2'));
        await s.sessions.register(session('bob', 'laptop', 'n1'));
        await s.sessions.register(session('carol', 'a', 'n1'));
        await s.sessions.register(session('carol', 'a', 'n2'));
        assert.equal(await s.sessions.purgeNode('n1'), 2);
        assert.deepEqual(await s.sessions.listByNode('n1'), []);
        assert.equal(await s.sessions.get('bob', 'laptop'), null);
        assert.deepEqual((await s.sessions.listByUser('alice')).map((r) => r.resource), ['phone']);
        assert.equal((await s.sessions.listByNode('n2')).length, 2);
        assert.equal(await s.sessions.purgeNode('n1'), 0);
        assert.equal(await s.sessions.purgeNode('never-seen'), 0);
      });

      it('purgeNode copes with many sessions', async function () {
        const regs: Promise<unknown>[] = [];
        for (let i = 0; i < 1200; i++) regs.push(s.sessions.register(session(`u${i % 300}`, `r${i}`, 'big')));
        await Promise.all(regs);
        assert.equal((await s.sessions.listByNode('big')).length, 1200);
        assert.equal(await s.sessions.purgeNode('big'), 1200);
        assert.deepEqual(await s.sessions.listByUser('u7'), []);
      });

      it('concurrent registers of one resource from many nodes leave one consistent owner', async function () {
        const nodes = ['n0', 'n1', 'n2', 'n3', 'n4', 'n5', 'n6', 'n7'];
        const results = await Promise.all(nodes.map((n) => s.sessions.register(session('alice', 'laptop', n))));
        assert.equal(results.filter((r) => r === null).length, 1, 'exactly one register found nothing to replace');
        const owner = (await s.sessions.get('alice', 'laptop'))!.nodeId;
        for (const n of nodes) {
          assert.equal((await s.sessions.listByNode(n)).length, n === owner ? 1 : 0, `node ${n}`);
        }
        let purged = 0;
        for (const n of nodes) purged += await s.sessions.purgeNode(n);
        assert.equal(purged, 1);
      });

      it('hands out copies of session records', async function () {
        const rec = session('alice', 'laptop', 'n1');
        await s.sessions.register(rec);
        rec.priority = 99;
        const got = (await s.sessions.get('alice', 'laptop'))!;
        assert.equal(got.priority, 0);
        got.nodeId = 'evil';
        (await s.sessions.listByNode('n1'))[0]!.available = true;
        assert.deepEqual(await s.sessions.get('alice', 'laptop'), session('alice', 'laptop', 'n1'));
      });
    });

    describe('offline messages', function () {
      const st = (n: number): string => `<message from='bob@example.com' to='alice@example.com'><body>m${n}: ünïcödé 😀 &amp; a:b</body></message>`;

      it('push stores, list gives them oldest first with increasing ids and count agrees', async function () {
        for (let i = 1; i <= 3; i++) assert.equal(await s.offline.push('alice', st(i), T0 + i, 10), true);
        const msgs = await s.offline.list('alice');
        assert.deepEqual(msgs.map((m) => [m.stanza, m.storedAt]), [[st(1), T0 + 1], [st(2), T0 + 2], [st(3), T0 + 3]]);
        assert.ok(msgs[0]!.id < msgs[1]!.id && msgs[1]!.id < msgs[2]!.id);
        assert.equal(await s.offline.count('alice'), 3);
        assert.deepEqual(await s.offline.list('alice'), msgs, 'list does not consume');
      });

      it('an unknown user has no messages; ack on it is a no-op', async function () {
        assert.deepEqual(await s.offline.list('nobody'), []);
        assert.equal(await s.offline.count('nobody'), 0);
        await s.offline.ack('nobody', 100);
      });

      it('push refuses at max, storing nothing, and accepts again after an ack', async function () {
        for (let i = 1; i <= 3; i++) assert.equal(await s.offline.push('alice', st(i), T0, 3), true);
        assert.equal(await s.offline.push('alice', st(4), T0, 3), false);
        assert.equal(await s.offline.count('alice'), 3);
        assert.deepEqual((await s.offline.list('alice')).map((m) => m.stanza), [st(1), st(2), st(3)]);
        const first = (await s.offline.list('alice'))[0]!;
        await s.offline.ack('alice', first.id);
        assert.equal(await s.offline.push('alice', st(5), T0, 3), true);
        assert.deepEqual((await s.offline.list('alice')).map((m) => m.stanza), [st(2), st(3), st(5)]);
        assert.equal(await s.offline.push('alice', st(6), T0, 2), false, 'a lower max applies at once');
        assert.equal(await s.offline.push('bob', st(1), T0, 0), false, 'max 0 stores nothing');
        assert.equal(await s.offline.count('bob'), 0);
      });

      it('ack removes ids up to and including the one given, and ids are never reused', async function () {
        for (let i = 1; i <= 5; i++) await s.offline.push('alice', st(i), T0, 10);
        const ids = (await s.offline.list('alice')).map((m) => m.id);
        await s.offline.ack('alice', ids[0]! - 1);
        assert.equal(await s.offline.count('alice'), 5);
        await s.offline.ack('alice', ids[2]!);
        assert.deepEqual((await s.offline.list('alice')).map((m) => m.id), ids.slice(3));
        await s.offline.ack('alice', ids[4]! + 1000);
        assert.equal(await s.offline.count('alice'), 0);
        await s.offline.push('alice', st(6), T0, 10);
        const [next] = await s.offline.list('alice');
        assert.ok(next!.id > ids[4]!, 'a new message gets a higher id than any acked one');
      });

      it('keeps each user apart', async function () {
        await s.offline.push('alice', st(1), T0, 10);
        await s.offline.push('bob', st(2), T0, 10);
        await s.offline.push('bob', st(3), T0, 10);
        const bobIds = (await s.offline.list('bob')).map((m) => m.id);
        await s.offline.ack('alice', Math.max(...bobIds) + 10);
        assert.equal(await s.offline.count('alice'), 0);
        assert.equal(await s.offline.count('bob'), 2);
      });

      it('concurrent pushes never exceed max', async function () {
        const results = await Promise.all(Array.from({ length: 20 }, (_, i) => s.offline.push('alice', st(i), T0, 5)));
        assert.equal(results.filter(Boolean).length, 5);
        assert.equal(await s.offline.count('alice'), 5);
        const ids = (await s.offline.list('alice')).map((m) => m.id);
        assert.equal(new Set(ids).size, 5);
      });

      it('hands out copies of messages', async function () {
        await s.offline.push('alice', st(1), T0, 10);
        (await s.offline.list('alice'))[0]!.stanza = 'x';
        assert.equal((await s.offline.list('alice'))[0]!.stanza, st(1));
      });
    });

    // Rosters, block lists, last presence: roster.conformance.ts, on the same fresh store.
    rosterConformance(() => s);

    // Session presence, listByUsers and the atomic publish: publish.conformance.ts, on the same fresh store.
    publishConformance(() => s, () => opened.twin());

    describe('store', function () {
      it('is up and answers ping', async function () {
        await s.ping();
        assert.equal(s.status(), 'up');
        const off = s.onStatus(() => {});
        assert.equal(typeof off, 'function');
        off();
      });

      it('after close, calls reject with IMP_STORE_UNAVAILABLE and close is idempotent', async function () {
        await s.close();
        await rejectsWith(s.users.get('alice'), 'IMP_STORE_UNAVAILABLE');
        await rejectsWith(s.sessions.listByNode('n1'), 'IMP_STORE_UNAVAILABLE');
        await rejectsWith(s.offline.push('alice', '<m/>', T0, 10), 'IMP_STORE_UNAVAILABLE');
        await rejectsWith(s.ping(), 'IMP_STORE_UNAVAILABLE');
        await s.close();
      });
    });
  });
}
