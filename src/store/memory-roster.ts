/**
 * Rosters, block lists and last presence kept in plain Maps (the memory
 * store's half of roster-types.ts). As memory.ts does for users, this file is
 * also the reference for the roster semantics, so the rules the other
 * backends share live here: the item order, what makes a contact a watcher,
 * how limits are read, and the limit check of a batch of writes (SQLite runs
 * the same check; Redis runs it again in Lua, where it must be atomic).
 *
 * Records go in and out as copies, exactly as with a real backend.
 */
import { ImpError } from '../errors.js';
import type {
  BlockStore, LastPresence, PresenceStore, Roster, RosterChange, RosterItem, RosterLimits, RosterPairSide,
  RosterRefusal, RosterStore, Subscription,
} from './roster-types.js';

/** One item to write (or, with item null, to remove) in one user's roster. */
export interface RosterWrite { userId: string; jid: string; item: RosterItem | null }

/** Roster and watcher counts of one user. */
export interface RosterCounts { contacts: number; watchers: number }

/**
 * The order of roster items and block lists: UTF-8 byte order, as for userIds
 * (compareUserIds in memory.ts), because that is what SQLite's BINARY
 * collation gives and what Redis results are sorted into.
 */
export function compareJids(a: string, b: string): number {
  return Buffer.compare(Buffer.from(a, 'utf8'), Buffer.from(b, 'utf8'));
}

/** RFC 6121 §3: a contact with subscription from/both receives the user's presence, so it is a watcher. */
export function grantsPresence(sub: Subscription): boolean {
  return sub === 'from' || sub === 'both';
}

/** RFC 6121 §3: with subscription to/both the user receives the contact's presence (and probes it at log-in). */
export function receivesPresence(sub: Subscription): boolean {
  return sub === 'to' || sub === 'both';
}

export function copyItem(i: RosterItem): RosterItem {
  return {
    jid: i.jid, name: i.name, groups: [...i.groups], subscription: i.subscription,
    ask: i.ask, pendingIn: i.pendingIn, approved: i.approved, hidden: i.hidden,
  };
}

/** A putPair side as a write; throws (IMP_INTERNAL) when its item belongs to another jid than the side names. */
export function pairWrite(side: RosterPairSide): RosterWrite {
  if (side.item !== null && side.item.jid !== side.jid) {
    throw new ImpError('IMP_INTERNAL', `putPair: the item for ${side.item.jid} was given as the item for ${side.jid} in ${side.userId}'s roster`);
  }
  return { userId: side.userId, jid: side.jid, item: side.item };
}

/**
 * Limits as whole numbers every backend compares alike: fractions round
 * down, Infinity becomes the largest safe integer (Lua numbers cannot carry
 * Infinity through ARGV), and NaN or -Infinity allow nothing new.
 */
export function normalizeLimits(l: RosterLimits): RosterLimits {
  const cap = (n: number): number => (Number.isFinite(n) ? Math.floor(n) : n === Infinity ? Number.MAX_SAFE_INTEGER : 0);
  return { maxContacts: cap(l.maxContacts), maxWatchers: cap(l.maxWatchers) };
}

/** What the limit check reads from a backend (synchronously: memory and SQLite run it inside their atomic step). */
export interface RosterView {
  item(userId: string, jid: string): RosterItem | null;
  counts(userId: string): RosterCounts;
}

const visible = (i: RosterItem | null): boolean => i !== null && !i.hidden;
const watched = (i: RosterItem | null): boolean => i !== null && grantsPresence(i.subscription);

/**
 * Checks a batch of writes against the limits as if applied in order (a later
 * write sees an earlier one on the same roster or item). Only growth is
 * checked: a write that does not add a visible item or a watcher always
 * passes, so a roster already above a lowered limit can still be edited.
 * Returns the first refusal, or null when the whole batch may apply.
 */
export function checkRosterWrites(writes: RosterWrite[], limits: RosterLimits, view: RosterView): RosterRefusal | null {
  const { maxContacts, maxWatchers } = normalizeLimits(limits);
  const tallies = new Map<string, RosterCounts>();
  const written = new Map<string, Map<string, RosterItem | null>>();
  for (const w of writes) {
    let t = tallies.get(w.userId);
    if (!t) tallies.set(w.userId, t = { ...view.counts(w.userId) });
    let mine = written.get(w.userId);
    if (!mine) written.set(w.userId, mine = new Map());
    const before = mine.has(w.jid) ? mine.get(w.jid)! : view.item(w.userId, w.jid);
    const gainsContact = visible(w.item) && !visible(before);
    const gainsWatcher = watched(w.item) && !watched(before);
    if (gainsContact && t.contacts + 1 > maxContacts) return { refused: 'max-contacts', limit: maxContacts };
    if (gainsWatcher && t.watchers + 1 > maxWatchers) return { refused: 'max-watchers', limit: maxWatchers, userId: w.userId };
    t.contacts += Number(visible(w.item)) - Number(visible(before));
    t.watchers += Number(watched(w.item)) - Number(watched(before));
    mine.set(w.jid, w.item);
  }
  return null;
}

/** Each JID once, in the order first given. */
export function uniqueJids(jids: readonly string[]): string[] {
  return [...new Set(jids)];
}

interface MemoryRoster { items: Map<string, RosterItem>; watchers: Set<string>; version: number }

/** Everything of the roster side of the memory store, shared with its user store (removal clears it). */
export class MemoryRosterState {
  readonly rosters = new Map<string, MemoryRoster>();
  readonly blocks = new Map<string, Set<string>>();
  readonly last = new Map<string, LastPresence>();

  clearUser(userId: string): void {
    this.rosters.delete(userId);
    this.blocks.delete(userId);
    this.last.delete(userId);
  }
}

type Check = () => void;

export class MemoryRosters implements RosterStore {
  constructor(private readonly check: Check, private readonly st: MemoryRosterState) {}

  private readonly view: RosterView = {
    item: (userId, jid) => this.st.rosters.get(userId)?.items.get(jid) ?? null,
    counts: (userId) => this.tally(userId),
  };

  private tally(userId: string): RosterCounts {
    const r = this.st.rosters.get(userId);
    if (!r) return { contacts: 0, watchers: 0 };
    let contacts = 0;
    for (const i of r.items.values()) if (!i.hidden) contacts++;
    return { contacts, watchers: r.watchers.size };
  }

  /** Applies one write that has passed the limit check. The roster (and its version) outlives its last item, as in Redis. */
  private apply(w: RosterWrite): RosterChange {
    let r = this.st.rosters.get(w.userId);
    if (w.item === null) {
      if (!r?.items.delete(w.jid)) return { version: r?.version ?? 0, item: null };
      r.watchers.delete(w.jid);
      return { version: ++r.version, item: null };
    }
    if (!r) this.st.rosters.set(w.userId, r = { items: new Map(), watchers: new Set(), version: 0 });
    r.items.set(w.jid, copyItem(w.item));
    if (grantsPresence(w.item.subscription)) r.watchers.add(w.jid); else r.watchers.delete(w.jid);
    return { version: ++r.version, item: copyItem(w.item) };
  }

  async get(userId: string): Promise<Roster> {
    this.check();
    const r = this.st.rosters.get(userId);
    if (!r) return { version: 0, items: [] };
    return { version: r.version, items: [...r.items.values()].sort((a, b) => compareJids(a.jid, b.jid)).map(copyItem) };
  }

  async getItem(userId: string, jid: string): Promise<RosterItem | null> {
    this.check();
    const i = this.st.rosters.get(userId)?.items.get(jid);
    return i ? copyItem(i) : null;
  }

  async put(userId: string, item: RosterItem, limits: RosterLimits): Promise<RosterChange | RosterRefusal> {
    this.check();
    const w: RosterWrite = { userId, jid: item.jid, item };
    return checkRosterWrites([w], limits, this.view) ?? this.apply(w);
  }

  async remove(userId: string, jid: string): Promise<RosterChange | null> {
    this.check();
    if (!this.st.rosters.get(userId)?.items.has(jid)) return null;
    return this.apply({ userId, jid, item: null });
  }

  async putPair(a: RosterPairSide, b: RosterPairSide, limits: RosterLimits): Promise<[RosterChange, RosterChange] | RosterRefusal> {
    this.check();
    const writes = [pairWrite(a), pairWrite(b)];
    const refused = checkRosterWrites(writes, limits, this.view);
    if (refused) return refused;
    return [this.apply(writes[0]!), this.apply(writes[1]!)];
  }

  async watchers(userId: string): Promise<string[]> {
    this.check();
    return [...(this.st.rosters.get(userId)?.watchers ?? [])];
  }

  async watchersOfMany(userIds: string[]): Promise<Map<string, string[]>> {
    this.check();
    return new Map(userIds.map((id) => [id, [...(this.st.rosters.get(id)?.watchers ?? [])]]));
  }

  async counts(userId: string): Promise<RosterCounts> {
    this.check();
    return this.tally(userId);
  }

  async clear(userId: string): Promise<void> {
    this.check();
    this.st.clearUser(userId);
  }

  async importItems(userId: string, items: RosterItem[]): Promise<void> {
    this.check();
    const version = (this.st.rosters.get(userId)?.version ?? 0) + 1;
    const r: MemoryRoster = { items: new Map(), watchers: new Set(), version };
    for (const i of items) {
      r.items.set(i.jid, copyItem(i));
      if (grantsPresence(i.subscription)) r.watchers.add(i.jid); else r.watchers.delete(i.jid);
    }
    this.st.rosters.set(userId, r);
  }
}

export class MemoryBlocks implements BlockStore {
  constructor(private readonly check: Check, private readonly st: MemoryRosterState) {}

  async list(userId: string): Promise<string[]> {
    this.check();
    return [...(this.st.blocks.get(userId) ?? [])].sort(compareJids);
  }

  async add(userId: string, jids: string[]): Promise<string[]> {
    this.check();
    let set = this.st.blocks.get(userId);
    if (!set) this.st.blocks.set(userId, set = new Set());
    const added = uniqueJids(jids).filter((j) => !set.has(j));
    for (const j of added) set.add(j);
    if (set.size === 0) this.st.blocks.delete(userId);
    return added;
  }

  async remove(userId: string, jids: string[] | null): Promise<string[]> {
    this.check();
    const set = this.st.blocks.get(userId);
    if (!set) return [];
    const removed = jids === null ? [...set].sort(compareJids) : uniqueJids(jids).filter((j) => set.delete(j));
    if (jids === null || set.size === 0) this.st.blocks.delete(userId);
    return removed;
  }

  async isBlocked(userId: string, jid: string): Promise<boolean> {
    this.check();
    return this.st.blocks.get(userId)?.has(jid) ?? false;
  }
}

export class MemoryPresence implements PresenceStore {
  constructor(private readonly check: Check, private readonly st: MemoryRosterState) {}

  async setLast(userId: string, last: LastPresence): Promise<void> {
    this.check();
    this.st.last.set(userId, { stanza: last.stanza, at: last.at });
  }

  async getLast(userId: string): Promise<LastPresence | null> {
    this.check();
    const l = this.st.last.get(userId);
    return l ? { ...l } : null;
  }
}
