/**
 * The presence subscription state of one user's roster item for one contact,
 * as a pure transition function (RFC 6121 §3 and Appendix A; §3.4
 * pre-approval; §2.5.2 roster removal).
 *
 * The state is the four facts RosterItem keeps (src/store/roster-types.ts):
 * subscription none|to|from|both, ask (pending out), pendingIn, approved.
 * Together they are the nine states of Appendix A.1 plus pre-approval, which
 * §3.4 allows only where the contact has no subscription and no request is
 * pending in: None, None + Pending Out, To. That is twelve states (STATES).
 *
 * `transition(state, event)` says what the server does: the next state and
 * what to send the contact, deliver to the user, and send as presence. The
 * caller does the I/O, in this order: `send-unavailable` before the `send`
 * stanzas (§3.2.2: while the contact is still subscribed), then the `send`
 * stanzas, then `send-current` and `probe` (§3.1.5).
 *
 * An inbound request from someone not on the roster is kept as a hidden item
 * (§3.1.3; RosterItem.hidden). Pass `{ hidden: true }` for such an item, and
 * for a contact with no item at all (with the state NONE): the result then
 * says whether an item should exist, and whether the user's clients see it.
 */
import { ImpError } from '../errors.js';

export type SubscriptionStanza = 'subscribe' | 'subscribed' | 'unsubscribe' | 'unsubscribed';

export interface SubState {
  subscription: 'none' | 'to' | 'from' | 'both';
  /** Pending out: the user asked the contact (ask='subscribe'). */
  ask: boolean;
  /** Pending in: the contact asked the user, not yet answered. */
  pendingIn: boolean;
  /** The user pre-approved a subscription from the contact (§3.4). */
  approved: boolean;
}

export type SubEvent =
  /** The user sends it about the contact. */
  | { dir: 'out'; type: SubscriptionStanza }
  /** The contact's server delivers it to the user. */
  | { dir: 'in'; type: SubscriptionStanza }
  /** The user removes the contact from the roster (§2.5.2). */
  | { dir: 'out'; type: 'remove' }
  /** The contact removed the user: inbound unsubscribe then unsubscribed (§2.5.2), at once. */
  | { dir: 'in'; type: 'remove' };

export type PresenceEffect = 'send-current' | 'send-unavailable' | 'probe';

export interface SubEffects {
  /**
   * The state after the event; null when no item remains: the user removed it,
   * or a hidden item (or no item) ends with nothing to remember (none, nothing
   * pending, no pre-approval).
   */
  state: SubState | null;
  /** Whether the stored item changed (it appeared, went, or its state differs): write it. */
  changed: boolean;
  /**
   * Whether the user's interested resources get a roster push (§2.1.6). Narrower
   * than `changed`: nothing is pushed about a hidden item (§3.1.3), and pendingIn
   * alone is not part of the item clients see (§2.1.2), so changing only it
   * pushes nothing. A push after removal carries subscription='remove'.
   */
  push: boolean;
  /** Whether the item (when one remains) is still server-side only. An outbound stanza that changes it makes it visible (§3.1.2, §3.1.5, §3.4). */
  hidden: boolean;
  /** Stanzas to the contact, in order: for out events what the server routes, for in events its automatic replies. */
  send: SubscriptionStanza[];
  /**
   * Whether the inbound stanza goes on to the user's clients: Appendix A.3's
   * DELIVER? column. For 'in remove' true when either of its two stanzas would
   * be. Always false for out events.
   */
  deliverToUser: boolean;
  /** Presence the caller sends or asks for (see the order above). */
  presence: PresenceEffect[];
}

export interface ItemContext {
  /** The item is hidden (kept only for an inbound request), or there is no item at all. */
  hidden?: boolean;
}

const st = (subscription: SubState['subscription'], ask = false, pendingIn = false, approved = false): SubState =>
  ({ subscription, ask, pendingIn, approved });

/** The twelve reachable states: Appendix A.1's nine, then the three that may carry a pre-approval (§3.4). */
export const STATES: SubState[] = [
  st('none'), st('none', true), st('none', false, true), st('none', true, true),
  st('to'), st('to', false, true),
  st('from'), st('from', true),
  st('both'),
  st('none', false, false, true), st('none', true, false, true), st('to', false, false, true),
];

export const NONE: SubState = st('none');

const hasTo = (s: SubState): boolean => s.subscription === 'to' || s.subscription === 'both';
const hasFrom = (s: SubState): boolean => s.subscription === 'from' || s.subscription === 'both';
const sub = (to: boolean, from: boolean): SubState['subscription'] =>
  to ? (from ? 'both' : 'to') : from ? 'from' : 'none';

/** Appendix A.1's name for a state, e.g. "None + Pending Out+In", with " + Pre-approved" when approved. */
export function stateName(s: SubState): string {
  const base = s.subscription === 'none' ? 'None' : s.subscription[0].toUpperCase() + s.subscription.slice(1);
  const pending = s.ask && s.pendingIn ? ' + Pending Out+In' : s.ask ? ' + Pending Out' : s.pendingIn ? ' + Pending In' : '';
  return base + pending + (s.approved ? ' + Pre-approved' : '');
}

export const eventName = (e: SubEvent): string => `${e.dir} ${e.type}`;

export const sameState = (a: SubState, b: SubState): boolean =>
  a.subscription === b.subscription && a.ask === b.ask && a.pendingIn === b.pendingIn && a.approved === b.approved;

/** Why a state cannot occur, or null when it can. */
export function invalidReason(s: SubState): string | null {
  if (!['none', 'to', 'from', 'both'].includes(s.subscription)) return `unknown subscription '${String(s.subscription)}'`;
  if (typeof s.ask !== 'boolean' || typeof s.pendingIn !== 'boolean' || typeof s.approved !== 'boolean') return 'ask, pendingIn and approved must be booleans';
  if (s.ask && hasTo(s)) return 'ask (pending out) with a subscription to the contact';
  if (s.pendingIn && hasFrom(s)) return 'pending in with a subscription from the contact';
  if (s.approved && (hasFrom(s) || s.pendingIn)) return 'a pre-approval where §3.4 allows none (from/both or pending in)';
  return null;
}

interface Step { state: SubState | null; send: SubscriptionStanza[]; deliver: boolean; presence: PresenceEffect[] }
const step0 = (state: SubState | null, send: SubscriptionStanza[] = [], deliver = false, presence: PresenceEffect[] = []): Step =>
  ({ state, send, deliver, presence });

/** Appendix A for one event, ignoring whether the item is hidden. */
function step(s: SubState, e: SubEvent): Step {
  const to = hasTo(s);
  const from = hasFrom(s);
  if (e.dir === 'out') {
    switch (e.type) {
      case 'subscribe':
        // §3.1.2, A.2.1: routed in every state (the contact's server may be out
        // of sync); ask is set unless the user already has to/both.
        return step0(to ? s : { ...s, ask: true }, ['subscribe']);
      case 'unsubscribe':
        // §3.3.2, A.2.2: routed in every state; to and ask go, from stays.
        return step0({ ...s, subscription: sub(false, from), ask: false }, ['unsubscribe']);
      case 'subscribed':
        // A.2.3: from/both: MUST NOT route, no state change.
        if (from) return step0(s);
        // §3.1.5: a pending-in request is approved: route, gain from, send current presence.
        if (s.pendingIn) return step0({ ...s, subscription: sub(to, true), pendingIn: false }, ['subscribed'], false, ['send-current']);
        // §3.4.2: None, None + Pending Out, To: note a pre-approval, MUST NOT route.
        return step0({ ...s, approved: true });
      case 'unsubscribed':
        // §3.2.2, A.2.4: with from/both or pending in: route (after unavailable
        // presence if the contact was subscribed); from and pendingIn go.
        if (from || s.pendingIn) {
          return step0({ ...s, subscription: sub(to, false), pendingIn: false, approved: false }, ['unsubscribed'], false, from ? ['send-unavailable'] : []);
        }
        // A.2.4 note / §3.4: otherwise not routed, but it cancels a pre-approval.
        return step0({ ...s, approved: false });
      case 'remove': {
        // §2.5.2: unsubscribe if the user is subscribed to the contact, unsubscribed
        // if the contact is subscribed to the user. Also for a request still
        // pending either way (see docs/subscriptions.md, "Beyond the letter").
        const send: SubscriptionStanza[] = [];
        if (to || s.ask) send.push('unsubscribe');
        if (from || s.pendingIn) send.push('unsubscribed');
        return step0(null, send, false, from ? ['send-unavailable'] : []);
      }
    }
  }
  switch (e.type) {
    case 'subscribe':
      // §3.1.3, A.3.1: from/both: MUST NOT deliver, auto-reply subscribed, no state change.
      if (from) return step0(s, ['subscribed']);
      // §3.4.2: pre-approved: MUST NOT deliver; approve at once as if the user sent subscribed.
      if (s.approved) return step0({ ...s, subscription: sub(to, true), approved: false }, ['subscribed'], false, ['send-current']);
      // A.3.1: already pending in: MUST NOT deliver again, no state change.
      if (s.pendingIn) return step0(s);
      return step0({ ...s, pendingIn: true }, [], true);
    case 'subscribed':
      // §3.1.6, A.3.3: only answers a pending out request; otherwise silently ignored.
      if (s.ask) return step0({ ...s, subscription: sub(true, from), ask: false }, [], true, ['probe']);
      return step0(s);
    case 'unsubscribe':
      // §3.3.3, A.3.2: with from/both or pending in: deliver; from and pendingIn go;
      // unavailable presence to the contact if it was subscribed.
      if (from || s.pendingIn) return step0({ ...s, subscription: sub(to, false), pendingIn: false }, [], true, from ? ['send-unavailable'] : []);
      return step0(s);
    case 'unsubscribed':
      // §3.2.3, A.3.4: with to/both or pending out: deliver; to and ask go.
      if (to || s.ask) return step0({ ...s, subscription: sub(false, from), ask: false }, [], true);
      return step0(s);
    case 'remove': {
      const a = step(s, { dir: 'in', type: 'unsubscribe' });
      const b = step(a.state ?? s, { dir: 'in', type: 'unsubscribed' });
      return step0(b.state, [...a.send, ...b.send], a.deliver || b.deliver, [...a.presence, ...b.presence]);
    }
  }
}

const isBlank = (s: SubState): boolean => sameState(s, NONE);
/** What a client sees of an item (§2.1.2): pendingIn is not among it. */
const sameVisible = (a: SubState, b: SubState): boolean =>
  a.subscription === b.subscription && a.ask === b.ask && a.approved === b.approved;

const EVENT_TYPES = ['subscribe', 'subscribed', 'unsubscribe', 'unsubscribed', 'remove'];

export function transition(s: SubState, e: SubEvent, item: ItemContext = {}): SubEffects {
  const bad = invalidReason(s)
    ?? ((e.dir !== 'in' && e.dir !== 'out') || !EVENT_TYPES.includes(e.type) ? `unknown event '${String(e.dir)} ${String(e.type)}'` : null);
  if (bad !== null) {
    throw new ImpError('IMP_INTERNAL', `subscription-fsm: ${eventName(e)} in state ${JSON.stringify(s)}: ${bad}`);
  }
  const wasHidden = item.hidden ?? false;
  const r = step(s, e);

  // A hidden item, or none at all, exists only while it has something to
  // remember: a denied or withdrawn request leaves no record (§3.2.2, §3.3.3).
  const existedBefore = !(wasHidden && isBlank(s));
  const state = r.state === null || (wasHidden && isBlank(r.state)) ? null : r.state;
  // An outbound stanza that gives it more to remember puts it on the roster (§3.1.2, §3.1.5, §3.4.2).
  const hiddenAfter = wasHidden && !(e.dir === 'out' && state !== null && !sameState(s, state));

  const existsAfter = state !== null;
  const changed = existedBefore !== existsAfter || (existsAfter && !sameState(s, state));
  const visibleBefore = existedBefore && !wasHidden;
  const visibleAfter = existsAfter && !hiddenAfter;
  const push = visibleBefore !== visibleAfter || (visibleAfter && state !== null && !sameVisible(s, state));

  return {
    state: state === null ? null : { ...state },
    changed,
    push,
    hidden: existsAfter && hiddenAfter,
    send: r.send,
    deliverToUser: r.deliver,
    presence: r.presence,
  };
}

/** The ten events: out then in, each subscribe, subscribed, unsubscribe, unsubscribed, remove. */
export const EVENTS: SubEvent[] = (['out', 'in'] as const).flatMap((dir) =>
  (['subscribe', 'subscribed', 'unsubscribe', 'unsubscribed', 'remove'] as const).map((type) => ({ dir, type }) as SubEvent));
