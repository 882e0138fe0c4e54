/**
 * The presence half of the store conformance suite: SessionRecord.presence,
 * SessionStore.listByUsers and the atomic SessionStore.publish, as every
 * backend must show them. storeConformance (store.conformance.ts) calls it
 * inside its own describe, on a fresh store per test whose domain is DOMAIN.
 *
 * The last test is the reason publish exists: two users who watch each other
 * and come online at once must each learn of the other exactly once — from
 * the other's broadcast or from their own probe, never both, never neither.
 * It runs on two handles of one backend (two Redis connections, two SQLite
 * connections), as two nodes would.
 */
import assert from 'node:assert/strict';
import { emptyItem, type RosterItem, type RosterLimits, type Subscription } from '../../src/store/roster-types.js';
import type { SessionRecord, Store } from '../../src/store/types.js';
import { rejectsWith } from './store.conformance.js';

/** The domain every conformance store is opened with. */
export const DOMAIN = 'example.com';

const ROOMY: RosterLimits = { maxContacts: 1000, maxWatchers: 1000 };
const jid = (userId: string): string => `${userId}@${DOMAIN}`;
const sub = (j: string, subscription: Subscription): RosterItem => ({ ...emptyItem(j), subscription });

function rec(userId: string, resource: string, nodeId: string, extra: Partial<SessionRecord> = {}): SessionRecord {
  return { userId, resource, nodeId, priority: 0, available: false, presence: null, since: 1712345678901, ...extra };
}

/** What publish promises about a session it names (the rest of the record is not carried). */
interface Seen { userId: string; resource: string; nodeId: string; priority: number; available: boolean; presence?: string | null }

function seen(list: SessionRecord[], withPresence = false): Seen[] {
  return list
    .map((r) => {
      const o: Seen = { userId: r.userId, resource: r.resource, nodeId: r.nodeId, priority: r.priority, available: r.available };
      if (withPresence) o.presence = r.presence;
      return o;
    })
    .sort((a, b) => (`${a.userId}/${a.resource}` < `${b.userId}/${b.resource}` ? -1 : 1));
}

const PRES = (show: string): string => `<presence from="x"><show>${show}</show><status>Büro &amp; "quotes" / 🚀</status></presence>`;

/**
 * `twin` opens a second handle on the same data (another connection, as a
 * second node would hold); it may be the store itself where there is no
 * such thing (memory). The suite closes what twin returns.
 */
export function publishConformance(store: () => Store, twin: () => Promise<Store>): void {
  let s: Store;
  beforeEach(function () { s = store(); });

  const publish = (st: Store, userId: string, resource: string, nodeId: string, p: { available: boolean; priority?: number; presence?: string | null }, probe = false) =>
    st.sessions.publish!(userId, resource, nodeId, { available: p.available, priority: p.priority ?? 0, presence: p.presence ?? null }, probe);

  describe('session presence, listByUsers, publish', function () {
    it('implements publish and listByUsers', function () {
      assert.equal(typeof s.sessions.publish, 'function');
      assert.equal(typeof s.sessions.listByUsers, 'function');
    });

    it('register keeps the presence given (null when none) and every read returns it', async function () {
      const a = rec('alice', 'laptop', 'n1', { available: true, presence: PRES('away') });
      await s.sessions.register(a);
      const { presence: _, ...noPresence } = rec('alice', 'phone', 'n1');
      await s.sessions.register(noPresence);
      const b = rec('alice', 'phone', 'n1');
      assert.deepEqual(await s.sessions.get('alice', 'laptop'), a);
      assert.deepEqual(await s.sessions.get('alice', 'phone'), b);
      const byKey = (x: SessionRecord, y: SessionRecord): number => (x.resource < y.resource ? -1 : 1);
      assert.deepEqual((await s.sessions.listByUser('alice')).sort(byKey), [a, b]);
      assert.deepEqual((await s.sessions.listByNode('n1')).sort(byKey), [a, b]);
      assert.deepEqual((await s.sessions.listByUsers!(['alice'])).get('alice')!.sort(byKey), [a, b]);
      assert.deepEqual(await s.sessions.register(rec('alice', 'laptop', 'n2')), a, 'the replaced record comes back with its presence');
    });

    it('update sets, keeps and clears presence, and a non-owner changes nothing', async function () {
      const a = rec('alice', 'laptop', 'n1');
      await s.sessions.register(a);
      await s.sessions.update('alice', 'laptop', 'n1', { available: true, presence: PRES('chat') });
      assert.deepEqual(await s.sessions.get('alice', 'laptop'), { ...a, available: true, presence: PRES('chat') });
      await s.sessions.update('alice', 'laptop', 'n1', { priority: 5 });
      assert.deepEqual(await s.sessions.get('alice', 'laptop'), { ...a, available: true, priority: 5, presence: PRES('chat') }, 'kept');
      await s.sessions.update('alice', 'laptop', 'n2', { presence: PRES('dnd'), available: false });
      assert.deepEqual(await s.sessions.get('alice', 'laptop'), { ...a, available: true, priority: 5, presence: PRES('chat') }, 'not the owner');
      await s.sessions.update('alice', 'laptop', 'n1', { available: false, presence: null });
      assert.deepEqual(await s.sessions.get('alice', 'laptop'), { ...a, priority: 5 }, 'cleared');
      await s.sessions.update('alice', 'laptop', 'n1', { presence: '' });
      assert.equal((await s.sessions.get('alice', 'laptop'))!.presence, '', 'an empty string is not null');
    });

    it('listByUsers answers every distinct id, [] for a user without sessions', async function () {
      const a1 = rec('alice', 'laptop', 'n1', { available: true, priority: 3, presence: PRES('xa') });
      const a2 = rec('alice', 'phone', 'n2');
      const j = rec('jöran', 'r', 'n1');
      for (const r of [a1, a2, j, rec('bob', 'r', 'n1')]) await s.sessions.register(r);
      const m = await s.sessions.listByUsers!(['alice', 'jöran', 'ghost', 'alice']);
      assert.deepEqual([...m.keys()].sort(), ['alice', 'ghost', 'jöran']);
      assert.deepEqual(m.get('alice')!.sort((x, y) => (x.resource < y.resource ? -1 : 1)), [a1, a2]);
      assert.deepEqual(m.get('jöran'), [j]);
      assert.deepEqual(m.get('ghost'), []);
      assert.equal((await s.sessions.listByUsers!([])).size, 0);
    });

    it('publish writes availability, priority and presence; null (and nothing written) for a session this node does not own', async function () {
      const a = rec('alice', 'laptop', 'n1');
      await s.sessions.register(a);
      assert.equal(await publish(s, 'alice', 'laptop', 'n2', { available: true, priority: 9, presence: PRES('away') }, true), null);
      assert.deepEqual(await s.sessions.get('alice', 'laptop'), a, 'another node: unchanged');
      assert.equal(await publish(s, 'alice', 'phone', 'n1', { available: true }), null);
      assert.equal(await s.sessions.get('alice', 'phone'), null, 'an unknown resource is not created');
      assert.equal(await publish(s, 'ghost', 'r', 'n1', { available: true }), null);
      assert.deepEqual(await s.sessions.listByUser('ghost'), []);

      assert.deepEqual(await publish(s, 'alice', 'laptop', 'n1', { available: true, priority: -5, presence: PRES('away') }, true), { watchers: [], contacts: [] });
      assert.deepEqual(await s.sessions.get('alice', 'laptop'), { ...a, available: true, priority: -5, presence: PRES('away') });
      assert.deepEqual(await publish(s, 'alice', 'laptop', 'n1', { available: false, priority: 2, presence: null }), { watchers: [], contacts: [] });
      assert.deepEqual(await s.sessions.get('alice', 'laptop'), { ...a, priority: 2 });
    });

    it('watchers: the available sessions of from/both contacts on our domain, minus those the user blocks', async function () {
      const roster: Array<[string, Subscription]> = [
        [jid('bob'), 'both'], [jid('carol'), 'from'], [jid('dave'), 'to'], [jid('erin'), 'none'],
        [jid('gina'), 'from'], [jid('hank'), 'from'], [jid('ivan'), 'both'],
        ['frank@elsewhere.org', 'from'], ['bob@sub.example.com', 'from'], [DOMAIN, 'from'],
      ];
      for (const [j, sb] of roster) await s.rosters.put('alice', sub(j, sb), ROOMY);
      await s.blocks.add('alice', [jid('gina'), jid('dave')]);
      const sessions = [
        rec('alice', 'laptop', 'n1'), rec('alice', 'phone', 'n1', { available: true }),
        rec('bob', 'desk', 'n1', { available: true, priority: 7, presence: PRES('chat') }), rec('bob', 'mobile', 'n2', { available: true, priority: -1 }),
        rec('carol', 'a', 'n2', { available: true }), rec('carol', 'b', 'n2'),
        rec('dave', 'r', 'n1', { available: true }), rec('erin', 'r', 'n1', { available: true }),
        rec('gina', 'r', 'n1', { available: true }), rec('ivan', 'r', 'n1'),
        rec('frank', 'r', 'n1', { available: true }), rec('zed', 'r', 'n1', { available: true }),
      ];
      for (const r of sessions) await s.sessions.register(r);

      const out = await publish(s, 'alice', 'laptop', 'n1', { available: true, presence: PRES('away') });
      assert.ok(out);
      const want: Seen[] = [
        { userId: 'bob', resource: 'desk', nodeId: 'n1', priority: 7, available: true },
        { userId: 'bob', resource: 'mobile', nodeId: 'n2', priority: -1, available: true },
        { userId: 'carol', resource: 'a', nodeId: 'n2', priority: 0, available: true },
      ];
      assert.deepEqual(seen(out.watchers), want);
      assert.deepEqual(out.contacts, [], 'no probe, no contacts');

      // Going unavailable is broadcast to the same watchers; unblocking gina brings her in.
      await s.blocks.remove('alice', [jid('gina')]);
      const off = await publish(s, 'alice', 'laptop', 'n1', { available: false });
      assert.deepEqual(seen(off!.watchers), [...want, { userId: 'gina', resource: 'r', nodeId: 'n1', priority: 0, available: true }]);
    });

    it('contacts: only with probe, the available sessions with their presence of to/both contacts on our domain, minus those blocking the user', async function () {
      const roster: Array<[string, Subscription]> = [
        [jid('bob'), 'to'], [jid('carol'), 'both'], [jid('dave'), 'from'], [jid('erin'), 'to'],
        [jid('gina'), 'to'], [jid('hank'), 'both'], ['frank@elsewhere.org', 'to'], ['bob@sub.example.com', 'both'],
      ];
      for (const [j, sb] of roster) await s.rosters.put('alice', sub(j, sb), ROOMY);
      await s.blocks.add('erin', [jid('alice')]);
      await s.blocks.add('hank', [jid('zed'), 'alice@elsewhere.org']);
      const sessions = [
        rec('alice', 'laptop', 'n1'),
        rec('bob', 'desk', 'n1', { available: true, priority: 7, presence: PRES('chat') }), rec('bob', 'mobile', 'n2', { available: true, priority: -1 }),
        rec('carol', 'a', 'n2', { available: true, presence: PRES('dnd') }), rec('carol', 'b', 'n2', { presence: PRES('stale') }),
        rec('dave', 'r', 'n1', { available: true }), rec('erin', 'r', 'n1', { available: true, presence: PRES('away') }),
        rec('gina', 'r', 'n1'), rec('hank', 'r', 'n3', { available: true, priority: 1, presence: PRES('xa') }),
        rec('frank', 'r', 'n1', { available: true }),
      ];
      for (const r of sessions) await s.sessions.register(r);

      const noProbe = await publish(s, 'alice', 'laptop', 'n1', { available: true }, false);
      assert.deepEqual(noProbe!.contacts, []);
      const out = await publish(s, 'alice', 'laptop', 'n1', { available: true, presence: PRES('away') }, true);
      assert.deepEqual(seen(out!.contacts, true), [
        { userId: 'bob', resource: 'desk', nodeId: 'n1', priority: 7, available: true, presence: PRES('chat') },
        { userId: 'bob', resource: 'mobile', nodeId: 'n2', priority: -1, available: true, presence: null },
        { userId: 'carol', resource: 'a', nodeId: 'n2', priority: 0, available: true, presence: PRES('dnd') },
        { userId: 'hank', resource: 'r', nodeId: 'n3', priority: 1, available: true, presence: PRES('xa') },
      ]);
      assert.deepEqual(seen(out!.watchers), [
        { userId: 'carol', resource: 'a', nodeId: 'n2', priority: 0, available: true },
        { userId: 'dave', resource: 'r', nodeId: 'n1', priority: 0, available: true },
        { userId: 'hank', resource: 'r', nodeId: 'n3', priority: 1, available: true },
      ], 'a probe still names the watchers');
    });

    it('publish sees what it just wrote and what others wrote before it', async function () {
      await s.rosters.putPair({ userId: 'alice', jid: jid('bob'), item: sub(jid('bob'), 'both') }, { userId: 'bob', jid: jid('alice'), item: sub(jid('alice'), 'both') }, ROOMY);
      await s.sessions.register(rec('alice', 'r', 'n1'));
      await s.sessions.register(rec('bob', 'r', 'n2'));
      const a = await publish(s, 'alice', 'r', 'n1', { available: true, presence: PRES('a') }, true);
      assert.deepEqual(a, { watchers: [], contacts: [] }, 'bob is not available yet');
      const b = await publish(s, 'bob', 'r', 'n2', { available: true, presence: PRES('b') }, true);
      assert.deepEqual(seen(b!.watchers), [{ userId: 'alice', resource: 'r', nodeId: 'n1', priority: 0, available: true }]);
      assert.deepEqual(seen(b!.contacts, true), [{ userId: 'alice', resource: 'r', nodeId: 'n1', priority: 0, available: true, presence: PRES('a') }]);
      await s.sessions.unregister('alice', 'r', 'n1');
      assert.deepEqual(await publish(s, 'bob', 'r', 'n2', { available: true }, true), { watchers: [], contacts: [] }, 'a gone session is no watcher');
    });

    it('two watchers coming online together learn of each other exactly once each (200 pairs, two handles)', async function () {
      this.timeout(60000);
      const other = await twin();
      try {
        const n = 200;
        const pairs = Array.from({ length: n }, (_, i) => [`ca${i}`, `cb${i}`] as const);
        for (const [a, b] of pairs) {
          await s.rosters.putPair({ userId: a, jid: jid(b), item: sub(jid(b), 'both') }, { userId: b, jid: jid(a), item: sub(jid(a), 'both') }, ROOMY);
          await s.sessions.register(rec(a, 'r', 'n1'));
          await other.sessions.register(rec(b, 'r', 'n2'));
        }
        const results = await Promise.all(pairs.map(([a, b]) => Promise.all([
          publish(s, a, 'r', 'n1', { available: true, presence: PRES(a) }, true),
          publish(other, b, 'r', 'n2', { available: true, presence: PRES(b) }, true),
        ])));
        const has = (list: SessionRecord[], userId: string): number => list.filter((r) => r.userId === userId).length;
        results.forEach(([ra, rb], i) => {
          const [a, b] = pairs[i]!;
          assert.ok(ra && rb);
          const bLearnsOfA = has(ra.watchers, b) + has(rb.contacts, a);
          const aLearnsOfB = has(rb.watchers, a) + has(ra.contacts, b);
          assert.equal(bLearnsOfA, 1, `pair ${i}: ${b} learns of ${a} ${bLearnsOfA} times`);
          assert.equal(aLearnsOfB, 1, `pair ${i}: ${a} learns of ${b} ${aLearnsOfB} times`);
          for (const c of [...ra.contacts, ...rb.contacts]) assert.equal(c.presence, PRES(c.userId), 'the probe answer carries the presence just published');
        });
      } finally {
        if (other !== s) await other.close();
      }
    });

    it('after close, publish and listByUsers reject with IMP_STORE_UNAVAILABLE', async function () {
      await s.close();
      await rejectsWith(publish(s, 'alice', 'r', 'n1', { available: true }, true), 'IMP_STORE_UNAVAILABLE');
      await rejectsWith(s.sessions.listByUsers!(['alice']), 'IMP_STORE_UNAVAILABLE');
    });
  });
}
