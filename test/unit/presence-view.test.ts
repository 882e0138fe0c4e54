/** viewFor()/canSee(): what a watcher may see, for every roster state the owner can hold for them × blocked. */
import assert from 'node:assert/strict';
import { canSee, viewFor } from '../../src/presence-engine/view.js';
import { UNAVAILABLE, type Composed } from '../../src/presence-engine/model.js';
import { emptyItem, type RosterItem, type Subscription } from '../../src/store/roster-types.js';

const SUBSCRIPTIONS: Subscription[] = ['none', 'to', 'from', 'both'];
const BUSY: Composed = { state: 'dnd', text: 'On the phone', onThePhone: true, inMeeting: true, top: 'laptop' };
const HIDDEN: Composed = { state: 'unavailable', text: null, onThePhone: false, inMeeting: false, top: null };

/** Every combination of the item's flags with one subscription (the flags must not matter). */
function itemsWith(subscription: Subscription): RosterItem[] {
  const out: RosterItem[] = [];
  for (const ask of [false, true]) for (const pendingIn of [false, true]) for (const approved of [false, true]) for (const hidden of [false, true]) {
    out.push({ ...emptyItem('bob@example.com'), subscription, ask, pendingIn, approved, hidden, name: 'Bob', groups: ['Team'] });
  }
  return out;
}

describe('presence view', function () {
  describe('every subscription × blocked × item flags', function () {
    for (const subscription of SUBSCRIPTIONS) {
      for (const blocked of [false, true]) {
        const subscribed = subscription === 'from' || subscription === 'both';
        const visible = subscribed && !blocked;
        const reason = blocked ? 'blocked' : subscribed ? 'subscribed' : 'not-subscribed';
        it(`subscription ${subscription}, ${blocked ? 'blocked' : 'not blocked'}: ${visible ? 'sees' : 'does not see'} (${reason})`, function () {
          for (const item of itemsWith(subscription)) {
            const label = JSON.stringify(item);
            assert.equal(canSee(item, blocked), visible, label);
            const v = viewFor({ owner: 'alice', watcher: 'bob', item, blockedByOwner: blocked, composed: BUSY });
            assert.deepEqual(v, { visible, reason, composed: visible ? BUSY : HIDDEN }, label);
          }
        });
      }
    }
  });

  it('no roster item: not subscribed, or blocked', function () {
    assert.equal(canSee(null, false), false);
    assert.equal(canSee(null, true), false);
    assert.deepEqual(viewFor({ owner: 'alice', watcher: 'bob', item: null, blockedByOwner: false, composed: BUSY }),
      { visible: false, reason: 'not-subscribed', composed: HIDDEN });
    assert.deepEqual(viewFor({ owner: 'alice', watcher: 'bob', item: null, blockedByOwner: true, composed: BUSY }),
      { visible: false, reason: 'blocked', composed: HIDDEN });
  });

  it('the owner sees themself, whatever item or block is passed', function () {
    for (const blockedByOwner of [false, true]) {
      for (const item of [null, { ...emptyItem('alice@example.com'), subscription: 'none' as const }]) {
        assert.deepEqual(viewFor({ owner: 'alice', watcher: 'alice', item, blockedByOwner, composed: BUSY }),
          { visible: true, reason: 'self', composed: BUSY });
      }
    }
  });

  it('nobody in particular (anonymous) sees nothing, even with a from item', function () {
    const item = { ...emptyItem('bob@example.com'), subscription: 'both' as const };
    assert.deepEqual(viewFor({ owner: 'alice', watcher: null, item, blockedByOwner: false, composed: BUSY }),
      { visible: false, reason: 'anonymous', composed: HIDDEN });
  });

  it('a hidden view looks exactly like an offline user', function () {
    const v = viewFor({ owner: 'alice', watcher: 'bob', item: null, blockedByOwner: false, composed: BUSY });
    assert.deepEqual(v.composed, UNAVAILABLE);
  });

  it('answers copies: changing one never changes the input or the shared UNAVAILABLE', function () {
    const composed: Composed = { ...BUSY };
    const seen = viewFor({ owner: 'alice', watcher: 'alice', item: null, blockedByOwner: false, composed });
    seen.composed.text = 'changed';
    assert.equal(composed.text, 'On the phone');
    const hidden = viewFor({ owner: 'alice', watcher: 'bob', item: null, blockedByOwner: false, composed });
    assert.throws(() => { (UNAVAILABLE as Composed).text = 'x'; });
    hidden.composed.text = 'changed';
    assert.equal(UNAVAILABLE.text, null);
  });
});
