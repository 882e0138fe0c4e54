/**
 * The bulk roster import (RosterStore.importItems), as every backend must
 * show it: it replaces a user's roster whole, bumps the version once,
 * rebuilds the watcher index and hidden set from the items, checks no limit,
 * leaves blocks and last presence alone, and many imports made at once (one
 * batch in the backend) each land as if made alone. import.test.ts runs it
 * against each store.
 */
import assert from 'node:assert/strict';
import { emptyItem, type RosterItem, type RosterLimits, type Subscription } from '../../src/store/roster-types.js';
import type { SessionRecord, Store } from '../../src/store/types.js';

/** Opens a fresh, empty store whose domain is `domain`; `close` closes it and removes what it left. */
export type ImportStoreFactory = (domain: string) => Promise<{ store: Store; close(): Promise<void> }>;

const DOMAIN = 'example.com';
const ROOMY: RosterLimits = { maxContacts: 1000, maxWatchers: 1000 };
const jid = (userId: string): string => `${userId}@${DOMAIN}`;
const item = (j: string, subscription: Subscription, extra: Partial<RosterItem> = {}): RosterItem => ({ ...emptyItem(j), subscription, ...extra });
const sorted = (xs: string[]): string[] => [...xs].sort();
const byJid = (a: RosterItem, b: RosterItem): number => (a.jid < b.jid ? -1 : a.jid > b.jid ? 1 : 0);

function rec(userId: string, extra: Partial<SessionRecord> = {}): SessionRecord {
  return { userId, resource: 'r', nodeId: 'n1', priority: 0, available: false, presence: null, since: 1712345678901, ...extra };
}

export function importConformance(name: string, factory: ImportStoreFactory): void {
  describe(`RosterStore.importItems: ${name}`, function () {
    let s: Store;
    let close: () => Promise<void>;
    beforeEach(async function () { ({ store: s, close } = await factory(DOMAIN)); });
    afterEach(async function () { await close(); });

    const importItems = (userId: string, items: RosterItem[]): Promise<void> => s.rosters.importItems!(userId, items);

    it('is implemented', function () {
      assert.equal(typeof s.rosters.importItems, 'function');
    });

    it('replaces the whole roster, bumps the version once and rebuilds watchers and counts', async function () {
      await s.rosters.put('alice', item(jid('old-from'), 'from'), ROOMY);
      await s.rosters.put('alice', item(jid('old-none'), 'none', { pendingIn: true, hidden: true }), ROOMY);
      const items = [
        item(jid('bob'), 'both', { name: 'Bob', groups: ['Team', 'Zürich'] }),
        item(jid('carol'), 'to', { ask: false }),
        item(jid('dave'), 'from', { approved: true }),
        item(jid('eve'), 'none', { ask: true }),
        item(jid('mallory'), 'none', { pendingIn: true, hidden: true }),
      ];
      await importItems('alice', items);
      assert.deepEqual(await s.rosters.get('alice'), { version: 3, items: [...items].sort(byJid) });
      assert.deepEqual(sorted(await s.rosters.watchers('alice')), [jid('bob'), jid('dave')]);
      assert.deepEqual(await s.rosters.counts('alice'), { contacts: 4, watchers: 2 });
      assert.deepEqual(await s.rosters.getItem('alice', jid('old-from')), null);
      assert.deepEqual(await s.rosters.getItem('alice', jid('bob')), items[0]);
    });

    it('starts an unknown user at version 1; an empty import empties the roster and still bumps the version', async function () {
      await importItems('alice', [item(jid('bob'), 'both')]);
      assert.equal((await s.rosters.get('alice')).version, 1);
      await importItems('alice', []);
      assert.deepEqual(await s.rosters.get('alice'), { version: 2, items: [] });
      assert.deepEqual(await s.rosters.watchers('alice'), []);
      assert.deepEqual(await s.rosters.counts('alice'), { contacts: 0, watchers: 0 });
    });

    it('checks no limit, and later changes are checked against what was imported', async function () {
      const many = Array.from({ length: 30 }, (_, i) => item(jid(`c${String(i).padStart(2, '0')}`), 'both'));
      await importItems('alice', many);
      assert.deepEqual(await s.rosters.counts('alice'), { contacts: 30, watchers: 30 });
      assert.deepEqual(await s.rosters.put('alice', item(jid('one-more'), 'none'), { maxContacts: 30, maxWatchers: 1000 }), { refused: 'max-contacts', limit: 30 });
      const moved = await s.rosters.put('alice', item(jid('c00'), 'to'), { maxContacts: 30, maxWatchers: 30 });
      assert.deepEqual(moved, { version: 2, item: item(jid('c00'), 'to') });
      assert.equal((await s.rosters.watchers('alice')).length, 29);
    });

    it('keeps the last of two items for one jid', async function () {
      await importItems('alice', [item(jid('bob'), 'from'), item(jid('bob'), 'to', { name: 'B' })]);
      assert.deepEqual((await s.rosters.get('alice')).items, [item(jid('bob'), 'to', { name: 'B' })]);
      assert.deepEqual(await s.rosters.watchers('alice'), []);
    });

    it('leaves block list and last presence alone, and copies the items it is given', async function () {
      await s.blocks.add('alice', [jid('spam')]);
      await s.presence.setLast('alice', { stanza: '<presence type="unavailable"/>', at: 5 });
      const bob = item(jid('bob'), 'both', { groups: ['G'] });
      await importItems('alice', [bob]);
      bob.groups.push('changed later');
      assert.deepEqual(await s.blocks.list('alice'), [jid('spam')]);
      assert.deepEqual(await s.presence.getLast('alice'), { stanza: '<presence type="unavailable"/>', at: 5 });
      assert.deepEqual((await s.rosters.get('alice')).items[0]!.groups, ['G']);
    });

    it('imports many users at once, each as if alone, and publish fans out along the imported index', async function () {
      const n = 120;
      const user = (i: number): string => `u${(i + n) % n}`;
      // A ring: each user has both-subscriptions with the two users beside it.
      await Promise.all(Array.from({ length: n }, (_, i) =>
        importItems(user(i), [item(jid(user(i - 1)), 'both'), item(jid(user(i + 1)), 'both')])));
      for (const i of [0, 1, 57, n - 1]) {
        assert.deepEqual((await s.rosters.get(user(i))).version, 1);
        assert.deepEqual(sorted(await s.rosters.watchers(user(i))), sorted([jid(user(i - 1)), jid(user(i + 1))]));
      }
      for (const u of [user(0), user(1), user(2)]) await s.sessions.register(rec(u));
      await s.sessions.publish!(user(0), 'r', 'n1', { available: true, priority: 0, presence: '<presence/>' }, true);
      await s.sessions.publish!(user(2), 'r', 'n1', { available: true, priority: 0, presence: '<presence/>' }, true);
      const out = await s.sessions.publish!(user(1), 'r', 'n1', { available: true, priority: 0, presence: '<presence/>' }, true);
      assert.deepEqual(sorted(out!.watchers.map((w) => w.userId)), [user(0), user(2)]);
      assert.deepEqual(sorted(out!.contacts.map((c) => c.userId)), [user(0), user(2)]);
    });
  });
}
