/**
 * Subscription handling between users of this server (RFC 6121 §3): one
 * outbound subscription stanza from a user becomes the transitions of both
 * roster items (the user's item for the contact, and the contact's item for
 * the user), the stanzas to deliver to each side's clients, the automatic
 * replies the contact's server owes (pre-approval, already subscribed), and
 * the presence side effects — all computed first, then written with one
 * atomic two-roster change. Knows neither XMPP nor SIP.
 */
import type { RosterItem, RosterLimits, RosterRefusal, RosterStore } from '../store/roster-types.js';
import { emptyItem } from '../store/roster-types.js';
import { transition, type SubEvent, type SubState } from './subscription-fsm.js';

export type SubType = 'subscribe' | 'subscribed' | 'unsubscribe' | 'unsubscribed';

/** A subscription stanza to hand to a user's clients: `from` (bare JID) → `toUserId`'s available resources. */
export interface SubDelivery { toUserId: string; from: string; type: SubType }

/** A presence effect: `owner`'s presence toward `contact` (both bare JIDs). */
export interface PresenceEffect { kind: 'send-current' | 'send-unavailable' | 'probe'; owner: string; contact: string }

export interface RosterUpdate {
  userId: string;
  item: RosterItem | null;
  version: number;
  /** Whether the client could see the item before (a hidden item's changes are not pushed until it shows). */
  visibleBefore: boolean;
}

export type SubscriptionResult =
  | { ok: true; updates: RosterUpdate[]; deliveries: SubDelivery[]; presence: PresenceEffect[] }
  | { ok: false; refusal: RosterRefusal };

export interface Party { userId: string; bare: string }

const toState = (i: RosterItem): SubState => ({ subscription: i.subscription, ask: i.ask, pendingIn: i.pendingIn, approved: i.approved });

/** One transition of one item; an absent item is a hidden one in state None (RFC 6121 §3.1.3). */
function apply(item: RosterItem | null, jid: string, e: SubEvent): { item: RosterItem | null; fx: ReturnType<typeof transition> } {
  const before = item ?? { ...emptyItem(jid), hidden: true };
  const fx = transition(toState(before), e, { hidden: before.hidden });
  if (!fx.state) return { item: null, fx };
  return { item: { ...before, ...fx.state, hidden: fx.hidden }, fx };
}

const same = (a: RosterItem | null, b: RosterItem | null): boolean => JSON.stringify(a) === JSON.stringify(b);

/**
 * Processes `type` sent by `user` to `contact` (both local). `contactExists`
 * false: only the user's side changes (the caller answers with an error).
 */
export async function processSubscription(
  rosters: RosterStore, limits: RosterLimits, user: Party, contact: Party, type: SubType | 'remove', contactExists: boolean,
): Promise<SubscriptionResult> {
  const mine0 = await rosters.getItem(user.userId, contact.bare);
  const theirs0 = contactExists ? await rosters.getItem(contact.userId, user.bare) : null;
  let mine = mine0;
  let theirs = theirs0;
  const deliveries: SubDelivery[] = [];
  const presence: PresenceEffect[] = [];

  // The user's side: an outbound event (RFC 6121 Appendix A.2, §2.5.2 for removal).
  const out = apply(mine, contact.bare, type === 'remove' ? { dir: 'out', type: 'remove' } : { dir: 'out', type });
  mine = out.item;
  for (const k of out.fx.presence) presence.push({ kind: k, owner: user.bare, contact: contact.bare });

  // What the user's server forwards reaches the contact's server as inbound events (Appendix A.3).
  if (contactExists) {
    const replies: SubType[] = [];
    for (const s of out.fx.send) {
      const inn = apply(theirs, user.bare, { dir: 'in', type: s });
      theirs = inn.item;
      if (inn.fx.deliverToUser) deliveries.push({ toUserId: contact.userId, from: user.bare, type: s });
      for (const k of inn.fx.presence) presence.push({ kind: k, owner: contact.bare, contact: user.bare });
      replies.push(...inn.fx.send);
    }
    // Automatic replies of the contact's server come back to the user as inbound events.
    for (const r of replies) {
      const back = apply(mine, contact.bare, { dir: 'in', type: r });
      mine = back.item;
      if (back.fx.deliverToUser) deliveries.push({ toUserId: user.userId, from: contact.bare, type: r });
      for (const k of back.fx.presence) presence.push({ kind: k, owner: user.bare, contact: contact.bare });
    }
  }
  const mineChanged = !same(mine0, mine);
  const theirsChanged = contactExists && !same(theirs0, theirs);

  const updates: RosterUpdate[] = [];
  if (theirsChanged) {
    const r = await rosters.putPair({ userId: user.userId, jid: contact.bare, item: mine }, { userId: contact.userId, jid: user.bare, item: theirs }, limits);
    if ('refused' in r) return { ok: false, refusal: r };
    updates.push(
      { userId: user.userId, item: r[0].item, version: r[0].version, visibleBefore: !!mine0 && !mine0.hidden },
      { userId: contact.userId, item: r[1].item, version: r[1].version, visibleBefore: !!theirs0 && !theirs0.hidden },
    );
  } else if (mineChanged) {
    const r = mine ? await rosters.put(user.userId, mine, limits) : await rosters.remove(user.userId, contact.bare);
    if (r && 'refused' in r) return { ok: false, refusal: r };
    if (r) updates.push({ userId: user.userId, item: r.item, version: r.version, visibleBefore: !!mine0 && !mine0.hidden });
  }
  return { ok: true, updates, deliveries, presence };
}
