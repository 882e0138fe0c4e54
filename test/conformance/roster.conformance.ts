/**
 * The roster half of the store conformance suite: rosters with their watcher
 * index and limits, block lists and last presence, as every backend must
 * show them. storeConformance (store.conformance.ts) calls it inside its own
 * describe, so it runs against each backend with a fresh store per test.
 */
import assert from 'node:assert/strict';
import { emptyItem, type RosterChange, type RosterItem, type RosterLimits, type RosterPairSide, type RosterRefusal, type Subscription } from '../../src/store/roster-types.js';
import type { Store } from '../../src/store/types.js';
import { creds, rejectsWith } from './store.conformance.js';

const T0 = Date.UTC(2024, 0, 15, 9, 30, 0);

/** Room for anything a test does not mean to hit. */
const ROOMY: RosterLimits = { maxContacts: 1000, maxWatchers: 1000 };

export function item(jid: string, extra: Partial<RosterItem> = {}): RosterItem {
  return { ...emptyItem(jid), ...extra };
}

const sub = (jid: string, subscription: Subscription, extra: Partial<RosterItem> = {}): RosterItem => item(jid, { subscription, ...extra });

const sorted = (xs: string[]): string[] => [...xs].sort();

/** A putPair side writing `it` into userId's roster. */
const side = (userId: string, it: RosterItem): RosterPairSide => ({ userId, jid: it.jid, item: it });
/** A putPair side removing jid from userId's roster. */
const gone = (userId: string, jid: string): RosterPairSide => ({ userId, jid, item: null });

function isRefusal(x: unknown): x is RosterRefusal {
  return typeof x === 'object' && x !== null && 'refused' in x;
}

/** The change a write must have produced (fails the test on a refusal). */
function applied<T extends RosterChange | [RosterChange, RosterChange]>(x: T | RosterRefusal): T {
  assert.ok(!isRefusal(x), `expected the change to apply, got ${JSON.stringify(x)}`);
  return x as T;
}

export function rosterConformance(store: () => Store): void {
  let s: Store;
  beforeEach(function () { s = store(); });

  /** Everything observable about one user's roster side, to show that a refused write changed nothing. */
  async function snapshot(userId: string): Promise<unknown> {
    return {
      roster: await s.rosters.get(userId), watchers: sorted(await s.rosters.watchers(userId)),
      counts: await s.rosters.counts(userId),
    };
  }

  describe('rosters', function () {
    it('an unknown user has an empty roster at version 0, no watchers and zero counts', async function () {
      assert.deepEqual(await s.rosters.get('alice'), { version: 0, items: [] });
      assert.equal(await s.rosters.getItem('alice', 'bob@example.com'), null);
      assert.deepEqual(await s.rosters.watchers('alice'), []);
      assert.deepEqual(await s.rosters.counts('alice'), { contacts: 0, watchers: 0 });
    });

    it('put adds, put again replaces, remove deletes: the version moves by one each step', async function () {
      const bob = item('bob@example.com', { name: 'Bob', groups: ['Friends'] });
      assert.deepEqual(await s.rosters.put('alice', bob, ROOMY), { version: 1, item: bob });
      assert.deepEqual(await s.rosters.get('alice'), { version: 1, items: [bob] });
      assert.deepEqual(await s.rosters.getItem('alice', 'bob@example.com'), bob);

      const renamed = { ...bob, name: 'Robert', ask: true, approved: true };
      assert.deepEqual(await s.rosters.put('alice', renamed, ROOMY), { version: 2, item: renamed });
      assert.deepEqual(await s.rosters.get('alice'), { version: 2, items: [renamed] });

      const carol = item('carol@example.com');
      assert.deepEqual(await s.rosters.put('alice', carol, ROOMY), { version: 3, item: carol });
      assert.deepEqual(await s.rosters.remove('alice', 'bob@example.com'), { version: 4, item: null });
      assert.deepEqual(await s.rosters.get('alice'), { version: 4, items: [carol] });
      assert.equal(await s.rosters.getItem('alice', 'bob@example.com'), null);
    });

    it('remove of an absent item answers null and leaves the version alone', async function () {
      assert.equal(await s.rosters.remove('alice', 'bob@example.com'), null);
      assert.deepEqual(await s.rosters.get('alice'), { version: 0, items: [] });
      await s.rosters.put('alice', item('bob@example.com'), ROOMY);
      assert.equal(await s.rosters.remove('alice', 'carol@example.com'), null);
      assert.deepEqual(await s.rosters.remove('alice', 'bob@example.com'), { version: 2, item: null });
      assert.equal(await s.rosters.remove('alice', 'bob@example.com'), null);
      assert.deepEqual(await s.rosters.get('alice'), { version: 2, items: [] }, 'an emptied roster keeps its version');
    });

    it('get returns every item, hidden ones too, ordered by jid in UTF-8 byte order', async function () {
      const jids = ['zoe@example.com', 'éa@example.com', 'a@example.com', '😀@example.com', '\uff21@example.com', 'a@example', 'example.com'];
      for (const j of jids) await s.rosters.put('alice', item(j, { hidden: j === 'zoe@example.com', pendingIn: j === 'zoe@example.com' }), ROOMY);
      const got = await s.rosters.get('alice');
      assert.equal(got.version, jids.length);
      assert.deepEqual(got.items.map((i) => i.jid),
        ['a@example', 'a@example.com', 'example.com', 'zoe@example.com', 'éa@example.com', '\uff21@example.com', '😀@example.com']);
      assert.equal(got.items.find((i) => i.jid === 'zoe@example.com')?.hidden, true);
    });

    it('round-trips every field: names and groups (unicode, order as given, none), flags', async function () {
      const items = [
        item('bob@example.com', { name: 'Bøb 😀 "the builder" <b>', groups: ['Zürich', 'Friends', '家族', ''], subscription: 'both', approved: true }),
        item('carol@example.com', { name: '', groups: [] }),
        item('dave@example.com', { name: null, groups: ['only'], ask: true, pendingIn: true, subscription: 'to' }),
        item('erin@example.com', { pendingIn: true, hidden: true }),
      ];
      for (const i of items) await s.rosters.put('alice', i, ROOMY);
      assert.deepEqual((await s.rosters.get('alice')).items, items);
      for (const i of items) assert.deepEqual(await s.rosters.getItem('alice', i.jid), i);
    });

    it('keeps each user\'s roster apart', async function () {
      await s.rosters.put('alice', sub('bob@example.com', 'from'), ROOMY);
      await s.rosters.put('bob', item('alice@example.com'), ROOMY);
      await s.rosters.put('bob', item('carol@example.com'), ROOMY);
      assert.equal((await s.rosters.get('alice')).version, 1);
      assert.deepEqual((await s.rosters.get('bob')).items.map((i) => i.jid), ['alice@example.com', 'carol@example.com']);
      assert.equal(await s.rosters.getItem('bob', 'bob@example.com'), null);
      assert.deepEqual(await s.rosters.watchers('bob'), []);
    });

    it('hidden items count neither as contacts nor against maxContacts until they become visible', async function () {
      const stranger = item('eve@example.com', { pendingIn: true, hidden: true });
      await s.rosters.put('alice', item('bob@example.com'), ROOMY);
      await s.rosters.put('alice', stranger, ROOMY);
      assert.deepEqual(await s.rosters.counts('alice'), { contacts: 1, watchers: 0 });
      await s.rosters.put('alice', { ...stranger, hidden: false }, ROOMY);
      assert.deepEqual(await s.rosters.counts('alice'), { contacts: 2, watchers: 0 });
      await s.rosters.put('alice', { ...stranger, hidden: true }, ROOMY);
      assert.deepEqual(await s.rosters.counts('alice'), { contacts: 1, watchers: 0 });
      await s.rosters.remove('alice', 'eve@example.com');
      assert.deepEqual(await s.rosters.counts('alice'), { contacts: 1, watchers: 0 });
    });

    it('the watcher index follows every subscription change: none → from → both → to → none, and remove', async function () {
      const bob = 'bob@example.com';
      await s.rosters.put('alice', item('carol@example.com', { subscription: 'both' }), ROOMY);
      const steps: Array<[Subscription, boolean]> = [['none', false], ['from', true], ['both', true], ['to', false], ['none', false], ['both', true]];
      for (const [subscription, watching] of steps) {
        await s.rosters.put('alice', sub(bob, subscription), ROOMY);
        const want = watching ? [bob, 'carol@example.com'] : ['carol@example.com'];
        assert.deepEqual(sorted(await s.rosters.watchers('alice')), want, `after ${subscription}`);
        assert.deepEqual(await s.rosters.counts('alice'), { contacts: 2, watchers: want.length }, `counts after ${subscription}`);
        assert.deepEqual(sorted((await s.rosters.watchersOfMany(['alice'])).get('alice') ?? []), want, `watchersOfMany after ${subscription}`);
      }
      await s.rosters.remove('alice', bob);
      assert.deepEqual(await s.rosters.watchers('alice'), ['carol@example.com']);
      await s.rosters.remove('alice', 'carol@example.com');
      assert.deepEqual(await s.rosters.watchers('alice'), []);
      assert.deepEqual(await s.rosters.counts('alice'), { contacts: 0, watchers: 0 });
      assert.deepEqual(await s.rosters.watchers('bob'), [], 'the index is per roster owner, never the contact');
    });

    it('a hidden item with from/both is still a watcher (watching is about subscription, not display)', async function () {
      await s.rosters.put('alice', sub('bob@example.com', 'from', { hidden: true }), ROOMY);
      assert.deepEqual(await s.rosters.watchers('alice'), ['bob@example.com']);
      assert.deepEqual(await s.rosters.counts('alice'), { contacts: 0, watchers: 1 });
    });

    it('watchersOfMany answers many users at once, unknown ones and duplicates included', async function () {
      const want = new Map<string, string[]>();
      for (let u = 0; u < 60; u++) {
        const userId = `user${u}`;
        const w: string[] = [];
        for (let c = 0; c < u % 5; c++) {
          const jid = `contact${c}@example.com`;
          const subscription: Subscription = c % 2 === 0 ? 'both' : 'from';
          await s.rosters.put(userId, sub(jid, subscription), ROOMY);
          w.push(jid);
        }
        if (u % 7 === 0) await s.rosters.put(userId, sub('to-only@example.com', 'to'), ROOMY);
        want.set(userId, w);
      }
      const ids = [...want.keys(), 'nobody', 'ghost', 'user3', 'jöran'];
      const got = await s.rosters.watchersOfMany(ids);
      assert.equal(got.size, want.size + 3, 'one entry per distinct user asked');
      for (const [userId, w] of want) assert.deepEqual(sorted(got.get(userId) ?? ['missing']), w, userId);
      assert.deepEqual(got.get('nobody'), []);
      assert.deepEqual(got.get('ghost'), []);
      assert.deepEqual(got.get('jöran'), []);
      assert.deepEqual(await s.rosters.watchersOfMany([]), new Map());
    });

    describe('limits', function () {
      it('maxContacts: exactly at the limit works, one more is refused and writes nothing', async function () {
        const lim = { maxContacts: 3, maxWatchers: 1000 };
        for (const j of ['a@x', 'b@x', 'c@x']) applied(await s.rosters.put('alice', item(j), lim));
        const before = await snapshot('alice');
        assert.deepEqual(await s.rosters.put('alice', sub('d@x', 'from'), lim), { refused: 'max-contacts', limit: 3 });
        assert.deepEqual(await snapshot('alice'), before);
        assert.equal(await s.rosters.getItem('alice', 'd@x'), null);
      });

      it('maxContacts: at the limit an existing item still changes, a hidden one can be added, and may not become visible', async function () {
        const lim = { maxContacts: 2, maxWatchers: 1000 };
        await s.rosters.put('alice', item('a@x'), lim);
        await s.rosters.put('alice', item('b@x'), lim);
        assert.deepEqual(applied(await s.rosters.put('alice', item('a@x', { name: 'A', subscription: 'both' }), lim)).version, 3);
        const hidden = item('h@x', { pendingIn: true, hidden: true });
        assert.deepEqual(await s.rosters.put('alice', hidden, lim), { version: 4, item: hidden });
        const before = await snapshot('alice');
        assert.deepEqual(await s.rosters.put('alice', { ...hidden, hidden: false }, lim), { refused: 'max-contacts', limit: 2 });
        assert.deepEqual(await snapshot('alice'), before);
        await s.rosters.remove('alice', 'b@x');
        assert.equal(applied(await s.rosters.put('alice', { ...hidden, hidden: false }, lim)).item?.hidden, false);
      });

      it('maxContacts: a roster above a lowered limit can still be edited, not grown', async function () {
        for (const j of ['a@x', 'b@x', 'c@x']) await s.rosters.put('alice', item(j), ROOMY);
        const lim = { maxContacts: 1, maxWatchers: 1000 };
        applied(await s.rosters.put('alice', item('b@x', { groups: ['G'] }), lim));
        assert.deepEqual(await s.rosters.put('alice', item('d@x'), lim), { refused: 'max-contacts', limit: 1 });
        assert.deepEqual(await s.rosters.put('alice', item('e@x'), { maxContacts: 0, maxWatchers: 1000 }), { refused: 'max-contacts', limit: 0 });
      });

      it('maxWatchers: exactly at the limit works, gaining one more is refused naming the user, nothing written', async function () {
        const lim = { maxContacts: 1000, maxWatchers: 2 };
        applied(await s.rosters.put('alice', sub('a@x', 'from'), lim));
        applied(await s.rosters.put('alice', sub('b@x', 'both'), lim));
        applied(await s.rosters.put('alice', sub('c@x', 'to'), lim));
        const before = await snapshot('alice');
        assert.deepEqual(await s.rosters.put('alice', sub('c@x', 'both'), lim), { refused: 'max-watchers', limit: 2, userId: 'alice' });
        assert.deepEqual(await s.rosters.put('alice', sub('d@x', 'from'), lim), { refused: 'max-watchers', limit: 2, userId: 'alice' });
        assert.deepEqual(await snapshot('alice'), before);
        assert.equal((await s.rosters.getItem('alice', 'c@x'))?.subscription, 'to');
      });

      it('maxWatchers: at the limit a watcher item may still change (from → both, renamed) and non-watchers may be added', async function () {
        const lim = { maxContacts: 1000, maxWatchers: 1 };
        await s.rosters.put('alice', sub('a@x', 'from'), lim);
        assert.equal(applied(await s.rosters.put('alice', sub('a@x', 'both', { name: 'A' }), lim)).item?.subscription, 'both');
        applied(await s.rosters.put('alice', sub('b@x', 'to'), lim));
        applied(await s.rosters.put('alice', item('c@x'), lim));
        await s.rosters.put('alice', sub('a@x', 'to'), lim);
        applied(await s.rosters.put('alice', sub('b@x', 'both'), lim));
        assert.deepEqual(await s.rosters.watchers('alice'), ['b@x']);
      });

      it('maxContacts is checked before maxWatchers when a write passes both', async function () {
        await s.rosters.put('alice', sub('a@x', 'from'), ROOMY);
        assert.deepEqual(await s.rosters.put('alice', sub('b@x', 'from'), { maxContacts: 1, maxWatchers: 1 }), { refused: 'max-contacts', limit: 1 });
      });

      it('concurrent puts never pass maxContacts and each counts once in the version', async function () {
        const lim = { maxContacts: 5, maxWatchers: 3 };
        const results = await Promise.all(Array.from({ length: 20 }, (_, i) => s.rosters.put('alice', sub(`c${i}@x`, i % 2 ? 'from' : 'none'), lim)));
        const done = results.filter((r) => !isRefusal(r));
        assert.equal(done.length <= 5, true);
        const roster = await s.rosters.get('alice');
        assert.equal(roster.items.length, done.length);
        assert.equal(roster.version, done.length);
        assert.deepEqual(sorted((done as RosterChange[]).map((c) => String(c.version))), sorted(done.map((_, i) => String(i + 1))));
        const counts = await s.rosters.counts('alice');
        assert.equal(counts.contacts, 5, 'the limit is reached, not passed');
        assert.ok(counts.watchers <= 3);
        assert.equal(counts.watchers, (await s.rosters.watchers('alice')).length);
      });
    });

    describe('putPair', function () {
      it('writes both users\' items and bumps each roster once', async function () {
        await s.rosters.put('bob', item('carol@example.com'), ROOMY);
        const a = sub('bob@example.com', 'to');
        const b = sub('alice@example.com', 'from');
        const out = applied(await s.rosters.putPair(side('alice', a), side('bob', b), ROOMY));
        assert.deepEqual(out, [{ version: 1, item: a }, { version: 2, item: b }]);
        assert.deepEqual((await s.rosters.get('alice')).items, [a]);
        assert.deepEqual(await s.rosters.getItem('bob', 'alice@example.com'), b);
        assert.deepEqual(await s.rosters.watchers('bob'), ['alice@example.com']);
        assert.deepEqual(await s.rosters.watchers('alice'), []);
      });

      it('a null item removes that side\'s item; removing an absent one leaves its version alone', async function () {
        await s.rosters.put('alice', sub('bob@example.com', 'both'), ROOMY);
        await s.rosters.put('bob', sub('alice@example.com', 'both'), ROOMY);
        const a = sub('bob@example.com', 'to');
        const out = applied(await s.rosters.putPair(side('alice', a), gone('bob', 'alice@example.com'), ROOMY));
        assert.deepEqual(out, [{ version: 2, item: a }, { version: 2, item: null }]);
        assert.deepEqual(await s.rosters.get('bob'), { version: 2, items: [] });
        assert.deepEqual(await s.rosters.watchers('bob'), []);
        assert.deepEqual(await s.rosters.watchers('alice'), []);
        const again = applied(await s.rosters.putPair(
          gone('alice', 'bob@example.com'), gone('bob', 'alice@example.com'), ROOMY));
        assert.deepEqual(again, [{ version: 3, item: null }, { version: 2, item: null }]);
        assert.deepEqual(await s.rosters.get('alice'), { version: 3, items: [] });
      });

      it('a max-watchers refusal on side b names b\'s user and leaves side a untouched', async function () {
        const lim = { maxContacts: 1000, maxWatchers: 1 };
        await s.rosters.put('bob', sub('carol@example.com', 'from'), lim);
        await s.rosters.put('alice', sub('bob@example.com', 'none', { ask: true }), lim);
        const [aBefore, bBefore] = [await snapshot('alice'), await snapshot('bob')];
        const out = await s.rosters.putPair(
          side('alice', sub('bob@example.com', 'to')), side('bob', sub('alice@example.com', 'from')), lim);
        assert.deepEqual(out, { refused: 'max-watchers', limit: 1, userId: 'bob' });
        assert.deepEqual(await snapshot('alice'), aBefore);
        assert.deepEqual(await snapshot('bob'), bBefore);
      });

      it('a max-watchers refusal on side a names a\'s user and leaves side b untouched', async function () {
        const lim = { maxContacts: 1000, maxWatchers: 1 };
        await s.rosters.put('alice', sub('carol@example.com', 'both'), lim);
        const bBefore = await snapshot('bob');
        const out = await s.rosters.putPair(
          side('alice', sub('bob@example.com', 'from')), side('bob', sub('alice@example.com', 'to')), lim);
        assert.deepEqual(out, { refused: 'max-watchers', limit: 1, userId: 'alice' });
        assert.equal(await s.rosters.getItem('alice', 'bob@example.com'), null);
        assert.deepEqual(await snapshot('bob'), bBefore);
      });

      it('a max-contacts refusal on either side writes neither', async function () {
        const lim = { maxContacts: 1, maxWatchers: 1000 };
        await s.rosters.put('bob', item('carol@example.com'), lim);
        const [aBefore, bBefore] = [await snapshot('alice'), await snapshot('bob')];
        const out = await s.rosters.putPair(
          side('alice', sub('bob@example.com', 'to')), side('bob', sub('alice@example.com', 'from')), lim);
        assert.deepEqual(out, { refused: 'max-contacts', limit: 1 });
        assert.deepEqual(await snapshot('alice'), aBefore);
        assert.deepEqual(await snapshot('bob'), bBefore);
        // A hidden entry on the full side does not count, so the pair goes through.
        applied(await s.rosters.putPair(
          side('alice', sub('bob@example.com', 'none', { ask: true })),
          side('bob', item('alice@example.com', { pendingIn: true, hidden: true })), lim));
        assert.deepEqual(await s.rosters.counts('bob'), { contacts: 1, watchers: 0 });
      });

      it('rejects a side whose item belongs to another jid than it names, writing neither side', async function () {
        await rejectsWith(s.rosters.putPair(
          side('alice', item('bob@example.com')), { userId: 'bob', jid: 'alice@example.com', item: item('mallory@example.com') }, ROOMY),
        'IMP_INTERNAL');
        assert.deepEqual(await s.rosters.get('alice'), { version: 0, items: [] });
        assert.deepEqual(await s.rosters.get('bob'), { version: 0, items: [] });
      });

      it('both sides on one roster apply in order, each a change of its own, limits counted together', async function () {
        const out = applied(await s.rosters.putPair(
          side('alice', sub('bob@example.com', 'from')), side('alice', sub('carol@example.com', 'both')), ROOMY));
        assert.deepEqual(out.map((c) => c.version), [1, 2]);
        assert.deepEqual(sorted(await s.rosters.watchers('alice')), ['bob@example.com', 'carol@example.com']);
        assert.deepEqual(await s.rosters.putPair(
          side('alice', sub('dave@example.com', 'from')), side('alice', sub('erin@example.com', 'from')),
          { maxContacts: 1000, maxWatchers: 3 }), { refused: 'max-watchers', limit: 3, userId: 'alice' });
        assert.equal(await s.rosters.getItem('alice', 'dave@example.com'), null);
        const same = applied(await s.rosters.putPair(
          side('alice', sub('bob@example.com', 'both')), gone('alice', 'bob@example.com'), ROOMY));
        assert.deepEqual(same.map((c) => c.version), [3, 4]);
        assert.deepEqual(await s.rosters.watchers('alice'), ['carol@example.com']);
      });
    });

    it('clear removes the roster, its version, its watchers, the block list and last presence of that user only', async function () {
      await s.rosters.put('alice', sub('bob@example.com', 'both'), ROOMY);
      await s.rosters.put('alice', item('eve@example.com', { pendingIn: true, hidden: true }), ROOMY);
      await s.blocks.add('alice', ['spam@example.net']);
      await s.presence.setLast('alice', { stanza: '<presence type="unavailable"/>', at: T0 });
      await s.rosters.put('bob', sub('alice@example.com', 'both'), ROOMY);
      await s.blocks.add('bob', ['spam@example.net']);
      await s.presence.setLast('bob', { stanza: null, at: T0 });

      await s.rosters.clear('alice');
      assert.deepEqual(await s.rosters.get('alice'), { version: 0, items: [] });
      assert.deepEqual(await s.rosters.watchers('alice'), []);
      assert.deepEqual(await s.rosters.counts('alice'), { contacts: 0, watchers: 0 });
      assert.deepEqual(await s.blocks.list('alice'), []);
      assert.equal(await s.presence.getLast('alice'), null);
      assert.deepEqual((await s.rosters.get('bob')).version, 1);
      assert.deepEqual(await s.rosters.watchers('bob'), ['alice@example.com']);
      assert.deepEqual(await s.blocks.list('bob'), ['spam@example.net']);
      assert.deepEqual(await s.presence.getLast('bob'), { stanza: null, at: T0 });

      assert.deepEqual(await s.rosters.put('alice', item('bob@example.com'), ROOMY), { version: 1, item: item('bob@example.com') });
      await s.rosters.clear('nobody');
    });

    it('users.remove clears the user\'s roster, block list and last presence too', async function () {
      await s.users.create('alice', {}, creds('a'));
      await s.users.create('bob', {}, creds('b'));
      for (const u of ['alice', 'bob']) {
        await s.rosters.put(u, sub('carol@example.com', 'from'), ROOMY);
        await s.blocks.add(u, ['spam@example.net']);
        await s.presence.setLast(u, { stanza: '<presence/>', at: T0 });
      }
      assert.equal(await s.users.remove('alice'), true);
      assert.deepEqual(await s.rosters.get('alice'), { version: 0, items: [] });
      assert.deepEqual(await s.rosters.watchersOfMany(['alice', 'bob']), new Map([['alice', []], ['bob', ['carol@example.com']]]));
      assert.deepEqual(await s.blocks.list('alice'), []);
      assert.equal(await s.presence.getLast('alice'), null);
      assert.equal((await s.rosters.get('bob')).items.length, 1);
      assert.deepEqual(await s.blocks.list('bob'), ['spam@example.net']);

      await s.users.create('alice', {}, creds('a'));
      assert.deepEqual(await s.rosters.get('alice'), { version: 0, items: [] }, 'a recreated user starts afresh');
    });

    it('hands out copies: changing what it returned or was given changes nothing stored', async function () {
      const given = item('bob@example.com', { groups: ['A', 'B'] });
      const change = applied(await s.rosters.put('alice', given, ROOMY));
      given.groups.push('mutated');
      given.name = 'mutated';
      change.item!.groups.pop();
      const got = (await s.rosters.get('alice')).items[0]!;
      assert.deepEqual(got, item('bob@example.com', { groups: ['A', 'B'] }));
      got.groups[0] = 'x';
      (await s.rosters.getItem('alice', 'bob@example.com'))!.groups.length = 0;
      (await s.rosters.watchers('alice')).push('x@x');
      assert.deepEqual(await s.rosters.getItem('alice', 'bob@example.com'), item('bob@example.com', { groups: ['A', 'B'] }));
      assert.deepEqual(await s.rosters.watchers('alice'), []);
    });
  });

  describe('block lists', function () {
    it('add returns only what was not blocked before; list is sorted; isBlocked matches exactly', async function () {
      assert.deepEqual(await s.blocks.list('alice'), []);
      assert.deepEqual(await s.blocks.add('alice', ['spam@example.net', 'bad.example', 'spam@example.net']), ['spam@example.net', 'bad.example']);
      assert.deepEqual(await s.blocks.add('alice', ['bad.example', 'éve@example.com', 'eve@example.com']), ['éve@example.com', 'eve@example.com']);
      assert.deepEqual(await s.blocks.add('alice', []), []);
      assert.deepEqual(await s.blocks.list('alice'), ['bad.example', 'eve@example.com', 'spam@example.net', 'éve@example.com']);
      assert.equal(await s.blocks.isBlocked('alice', 'bad.example'), true);
      assert.equal(await s.blocks.isBlocked('alice', 'éve@example.com'), true);
      assert.equal(await s.blocks.isBlocked('alice', 'x@bad.example'), false, 'exact match only: callers check the domain themselves');
      assert.equal(await s.blocks.isBlocked('alice', 'spam@example.net/res'), false);
      assert.equal(await s.blocks.isBlocked('alice', 'SPAM@example.net'), false);
      assert.equal(await s.blocks.isBlocked('bob', 'bad.example'), false);
    });

    it('remove returns what it removed; remove(null) empties the list and returns what was there', async function () {
      await s.blocks.add('alice', ['a@x', 'b@x', 'c@x', 'd.example']);
      await s.blocks.add('bob', ['a@x']);
      assert.deepEqual(await s.blocks.remove('alice', ['b@x', 'zzz@x', 'b@x']), ['b@x']);
      assert.deepEqual(await s.blocks.remove('alice', []), []);
      assert.deepEqual(await s.blocks.list('alice'), ['a@x', 'c@x', 'd.example']);
      assert.deepEqual(await s.blocks.remove('alice', null), ['a@x', 'c@x', 'd.example']);
      assert.deepEqual(await s.blocks.list('alice'), []);
      assert.equal(await s.blocks.isBlocked('alice', 'a@x'), false);
      assert.deepEqual(await s.blocks.remove('alice', null), []);
      assert.deepEqual(await s.blocks.list('bob'), ['a@x'], 'another user keeps their list');
      assert.deepEqual(await s.blocks.add('alice', ['a@x']), ['a@x']);
    });

    it('hands out copies', async function () {
      const given = ['a@x'];
      await s.blocks.add('alice', given);
      given.push('b@x');
      (await s.blocks.list('alice')).push('c@x');
      assert.deepEqual(await s.blocks.list('alice'), ['a@x']);
    });
  });

  describe('last presence', function () {
    it('is null until set, then the last one set, per user', async function () {
      assert.equal(await s.presence.getLast('alice'), null);
      const st = "<presence from='alice@example.com/laptop' type='unavailable'><status>Zürich, später 😀 &amp; out</status></presence>";
      await s.presence.setLast('alice', { stanza: st, at: T0 });
      assert.deepEqual(await s.presence.getLast('alice'), { stanza: st, at: T0 });
      await s.presence.setLast('alice', { stanza: null, at: 4102444800123 });
      assert.deepEqual(await s.presence.getLast('alice'), { stanza: null, at: 4102444800123 });
      assert.equal(await s.presence.getLast('bob'), null);
      const got = (await s.presence.getLast('alice'))!;
      got.at = 1;
      assert.equal((await s.presence.getLast('alice'))?.at, 4102444800123);
    });
  });

  describe('roster side after close', function () {
    it('rejects every call with IMP_STORE_UNAVAILABLE', async function () {
      await s.close();
      await rejectsWith(s.rosters.get('alice'), 'IMP_STORE_UNAVAILABLE');
      await rejectsWith(s.rosters.put('alice', item('b@x'), ROOMY), 'IMP_STORE_UNAVAILABLE');
      await rejectsWith(s.rosters.putPair(side('a', item('b@x')), side('b', item('a@x')), ROOMY), 'IMP_STORE_UNAVAILABLE');
      await rejectsWith(s.rosters.watchersOfMany(['alice', 'bob']), 'IMP_STORE_UNAVAILABLE');
      await rejectsWith(s.rosters.counts('alice'), 'IMP_STORE_UNAVAILABLE');
      await rejectsWith(s.rosters.clear('alice'), 'IMP_STORE_UNAVAILABLE');
      await rejectsWith(s.blocks.add('alice', ['x@y']), 'IMP_STORE_UNAVAILABLE');
      await rejectsWith(s.blocks.isBlocked('alice', 'x@y'), 'IMP_STORE_UNAVAILABLE');
      await rejectsWith(s.presence.setLast('alice', { stanza: null, at: T0 }), 'IMP_STORE_UNAVAILABLE');
      await rejectsWith(s.presence.getLast('alice'), 'IMP_STORE_UNAVAILABLE');
    });
  });
}
