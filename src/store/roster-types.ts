/**
 * Rosters, subscriptions, watchers and blocking: the model (RFC 6121 §2, §3,
 * Appendix A; XEP-0191) and the store interface every backend implements.
 *
 * A user's roster holds one item per contact (a bare JID). The item carries
 * the subscription state of RFC 6121 Appendix A as three facts:
 *   subscription (none|to|from|both), ask (pending out), pendingIn,
 * plus `approved` (pre-approval, §3.4). Items with pendingIn but not
 * otherwise on the roster are kept too (RFC 6121 §3.1.3: the server stores
 * the inbound request) but flagged `hidden` — they are not shown in roster
 * results or pushes until the user acts on them.
 *
 * Watchers of A are the contacts whose item in A's roster has subscription
 * from/both: they receive A's presence. The store keeps them as a reverse
 * index (a set per user), so a fan-out reads one set and never scans rosters.
 */

export type Subscription = 'none' | 'to' | 'from' | 'both';

export interface RosterItem {
  /** The contact's bare JID, prepared (e.g. "bob@example.com"). */
  jid: string;
  name: string | null;
  /** Group names, unique, in the order given. A contact in several groups is still one item. */
  groups: string[];
  subscription: Subscription;
  /** Pending out: we asked the contact for a subscription (RFC 6121 "ask='subscribe'"). */
  ask: boolean;
  /** Pending in: the contact asked us; not yet answered. */
  pendingIn: boolean;
  /** Pre-approved (RFC 6121 §3.4): a future inbound subscribe is approved at once. */
  approved: boolean;
  /** Kept only for server state (a pending-in request from someone not on the roster); not shown to the client. */
  hidden: boolean;
}

export interface Roster {
  /** Increases on every change (XEP-0237 roster versioning); "0" before any. */
  version: number;
  items: RosterItem[];
}

export interface RosterLimits {
  /** Largest number of visible items a roster may hold. */
  maxContacts: number;
  /** Largest number of watchers (subscription from/both) a user may have. */
  maxWatchers: number;
}

/** Why a roster change was refused; the caller turns it into a protocol error naming the limit. */
export type RosterRefusal =
  | { refused: 'max-contacts'; limit: number }
  | { refused: 'max-watchers'; limit: number; userId: string };

export interface RosterChange {
  /** The roster's version after the change. */
  version: number;
  /** The item as it is now; null when it was removed. */
  item: RosterItem | null;
}

/**
 * One side of putPair: in userId's roster, the item for `jid` becomes `item`
 * (null removes it). `jid` is there because a removal has no item to read it
 * from; with an item, item.jid must equal it (a mismatch rejects with
 * IMP_INTERNAL, writing nothing).
 */
export interface RosterPairSide { userId: string; jid: string; item: RosterItem | null }

export interface RosterStore {
  get(userId: string): Promise<Roster>;
  getItem(userId: string, jid: string): Promise<RosterItem | null>;
  /**
   * Writes one item (replacing it) and bumps the version, keeping the watcher
   * index true (from/both ⇒ member), atomically. Refuses — writing nothing —
   * when a new visible item would pass maxContacts, or when the item gains
   * from/both and the user's watchers would pass maxWatchers.
   */
  put(userId: string, item: RosterItem, limits: RosterLimits): Promise<RosterChange | RosterRefusal>;
  /** Removes one item (and its watcher entry) and bumps the version; null when there was none. */
  remove(userId: string, jid: string): Promise<RosterChange | null>;
  /**
   * Applies changes to two users' rosters (both sides of a subscription
   * between local users) in one atomic step; either both apply or neither.
   * A null item removes the item for the side's jid (no version bump when
   * there was none). Limits are checked for both, a first; a max-watchers refusal
   * names the user whose watchers would pass the limit. Should both sides
   * name one roster, they apply in order a, b, each counting as one change.
   */
  putPair(a: RosterPairSide, b: RosterPairSide, limits: RosterLimits):
    Promise<[RosterChange, RosterChange] | RosterRefusal>;
  /** The bare JIDs watching this user (items with subscription from/both). */
  watchers(userId: string): Promise<string[]>;
  /** Watchers of many users in one round trip (the fan-out path). */
  watchersOfMany(userIds: string[]): Promise<Map<string, string[]>>;
  /** The number of visible items and of watchers (for limits and the presence viewer). */
  counts(userId: string): Promise<{ contacts: number; watchers: number }>;
  /** Everything of a user's roster goes (the user was removed). */
  clear(userId: string): Promise<void>;
  /**
   * Administrative bulk import (provisioning, benchmarks): replaces the
   * user's whole roster with `items` (the last of two items for one jid
   * wins), bumps the version once, and rebuilds the watcher index and hidden
   * set from the items — atomically per user, with no limit check. Block
   * list and last presence stay. Calls made together are batched by the
   * backend (one Redis pipeline, one SQLite transaction), so many users
   * import in one round trip.
   */
  importItems?(userId: string, items: RosterItem[]): Promise<void>;
}

/** XEP-0191 block lists: bare JIDs (or domains) a user blocks. */
export interface BlockStore {
  list(userId: string): Promise<string[]>;
  /** Adds JIDs; returns the ones that were not blocked before. */
  add(userId: string, jids: string[]): Promise<string[]>;
  /** Removes JIDs (all of them when `jids` is null); returns the ones removed. */
  remove(userId: string, jids: string[] | null): Promise<string[]>;
  isBlocked(userId: string, jid: string): Promise<boolean>;
}

/** The last presence a user's account showed, kept for probes (RFC 6121 §4.3.2: unavailable with a delay stamp). */
export interface LastPresence {
  /** The serialised <presence type='unavailable'/> (or null if none was ever sent). */
  stanza: string | null;
  /** ms since the epoch. */
  at: number;
}

export interface PresenceStore {
  setLast(userId: string, last: LastPresence): Promise<void>;
  getLast(userId: string): Promise<LastPresence | null>;
}

export const emptyItem = (jid: string): RosterItem => ({
  jid, name: null, groups: [], subscription: 'none', ask: false, pendingIn: false, approved: false, hidden: false,
});
