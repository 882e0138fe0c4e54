/**
 * MemoryStore: the Store kept in plain Maps, for tests and a throw-away single
 * node. It is also the reference for the semantics the other backends copy,
 * so the record helpers they share (defaults on create, merge on update, the
 * userId order) live here too.
 *
 * Rosters, block lists and last presence live in memory-roster.ts.
 *
 * Records go in and out as copies: a caller mutating what it got back must
 * never change what the store holds, exactly as with a real backend.
 */
import { ImpError, storeUnavailable } from '../errors.js';
import { MemoryBlocks, MemoryPresence, MemoryRosterState, MemoryRosters, receivesPresence } from './memory-roster.js';
import type {
  BlockStore, Credentials, OfflineMessage, OfflineStore, PresenceStore, RosterStore, SessionRecord, SessionStore, Store,
  StoreStatus, UserFields, UserPage, UserRecord, UserStore,
} from './types.js';

/** Anything that tells the time in ms; src/util/clock.ts's clocks fit. */
export interface NowSource { now(): number }
const systemNow: NowSource = { now: () => Date.now() };

export const USER_TEXT_FIELDS = ['firstName', 'lastName', 'displayName', 'email', 'telephoneNumber'] as const;
export const USER_FLAG_FIELDS = ['imPresenceEnabled', 'homeCluster'] as const;

/**
 * Both flags default to off: a freshly provisioned user cannot sign in until
 * an administrator (or a feature group template) enables IM & P for them.
 */
export const USER_FLAG_DEFAULTS = { imPresenceEnabled: false, homeCluster: false } as const;

export function newUserRecord(userId: string, fields: UserFields, nowMs: number): UserRecord {
  const ts = new Date(nowMs).toISOString();
  const base: UserRecord = {
    userId, firstName: null, lastName: null, displayName: null, email: null, telephoneNumber: null,
    ...USER_FLAG_DEFAULTS, createdAt: ts, updatedAt: ts,
  };
  return mergeUserFields(base, fields, nowMs);
}

/** undefined keeps a field, null clears it; only the known fields are read. */
export function mergeUserFields(rec: UserRecord, fields: UserFields, nowMs: number): UserRecord {
  const out: UserRecord = { ...rec, updatedAt: new Date(nowMs).toISOString() };
  for (const f of USER_TEXT_FIELDS) {
    const v = fields[f];
    if (v !== undefined) out[f] = v;
  }
  for (const f of USER_FLAG_FIELDS) {
    const v = fields[f];
    if (v !== undefined && v !== null) out[f] = v;
  }
  return out;
}

/**
 * The order of `users.list`: UTF-8 byte order, which is what a Redis sorted
 * set (lex) and SQLite's BINARY collation give. JS's default string order
 * compares UTF-16 units and disagrees above U+FFFF.
 */
export function compareUserIds(a: string, b: string): number {
  return Buffer.compare(Buffer.from(a, 'utf8'), Buffer.from(b, 'utf8'));
}

/** The domain a store assumes when none is given (StoreOptions.domain). */
export const DEFAULT_DOMAIN = 'localhost';

/**
 * The userId behind a bare JID when the JID is on our domain (`suffix` is
 * `@<domain>`), else null. Byte-for-byte, as the Redis script compares.
 */
export function localUserId(jid: string, suffix: string): string | null {
  return jid.length > suffix.length && jid.endsWith(suffix) ? jid.slice(0, -suffix.length) : null;
}

/** What publish hands out for an available session (every backend alike). */
export interface PublishOutcome { watchers: SessionRecord[]; contacts: SessionRecord[] }

/**
 * A session as publish returns it: only what the fan-out reads. `available`
 * is true by construction; `since` is not carried (0), so the Redis script
 * can keep its reply small. Contacts carry `presence`, watchers do not.
 */
export function publishedSession(userId: string, resource: string, nodeId: string, priority: number, presence?: string | null): SessionRecord {
  const r: SessionRecord = { userId, resource, nodeId, priority, available: true, since: 0 };
  if (presence !== undefined) r.presence = presence;
  return r;
}

export function copyCredentials(c: Credentials): Credentials {
  return { 'SHA-1': { ...c['SHA-1'] }, 'SHA-256': { ...c['SHA-256'] } };
}

class MemoryUsers implements UserStore {
  readonly users = new Map<string, UserRecord>();
  readonly creds = new Map<string, Credentials>();
  constructor(private readonly s: MemoryStore) {}

  async create(userId: string, fields: UserFields, credentials: Credentials): Promise<UserRecord> {
    this.s.check();
    if (this.users.has(userId)) throw new ImpError('IMP_USER_EXISTS', `user ${userId} already exists`, { field: 'userId' });
    const rec = newUserRecord(userId, fields, this.s.clock.now());
    this.users.set(userId, rec);
    this.creds.set(userId, copyCredentials(credentials));
    return { ...rec };
  }

  async get(userId: string): Promise<UserRecord | null> {
    this.s.check();
    const rec = this.users.get(userId);
    return rec ? { ...rec } : null;
  }

  async update(userId: string, fields: UserFields, credentials?: Credentials): Promise<UserRecord> {
    this.s.check();
    const rec = this.users.get(userId);
    if (!rec) throw new ImpError('IMP_USER_NOT_FOUND', `no user ${userId}`, { field: 'userId' });
    const next = mergeUserFields(rec, fields, this.s.clock.now());
    this.users.set(userId, next);
    if (credentials) this.creds.set(userId, copyCredentials(credentials));
    return { ...next };
  }

  async remove(userId: string): Promise<boolean> {
    this.s.check();
    if (!this.users.delete(userId)) return false;
    this.creds.delete(userId);
    this.s.offlineStore.queues.delete(userId);
    this.s.rosterState.clearUser(userId);
    return true;
  }

  async list(offset: number, limit: number): Promise<UserPage> {
    this.s.check();
    const ids = [...this.users.keys()].sort(compareUserIds);
    const start = Math.max(0, Math.floor(offset));
    const page = limit > 0 ? ids.slice(start, start + Math.floor(limit)) : [];
    return { users: page.map((id) => ({ ...this.users.get(id)! })), total: ids.length };
  }

  async getCredentials(userId: string): Promise<Credentials | null> {
    this.s.check();
    const c = this.creds.get(userId);
    return c ? copyCredentials(c) : null;
  }
}

class MemorySessions implements SessionStore {
  private readonly byUser = new Map<string, Map<string, SessionRecord>>();
  /** nodeId → userId → resources: the per-node index, as in Redis. */
  private readonly byNode = new Map<string, Map<string, Set<string>>>();
  constructor(private readonly s: MemoryStore) {}

  private index(nodeId: string, userId: string, resource: string, add: boolean): void {
    let users = this.byNode.get(nodeId);
    if (add) {
      if (!users) this.byNode.set(nodeId, users = new Map());
      let res = users.get(userId);
      if (!res) users.set(userId, res = new Set());
      res.add(resource);
      return;
    }
    const res = users?.get(userId);
    res?.delete(resource);
    if (res && res.size === 0) users!.delete(userId);
    if (users && users.size === 0) this.byNode.delete(nodeId);
  }

  async register(rec: SessionRecord): Promise<SessionRecord | null> {
    this.s.check();
    let res = this.byUser.get(rec.userId);
    if (!res) this.byUser.set(rec.userId, res = new Map());
    const old = res.get(rec.resource) ?? null;
    if (old) this.index(old.nodeId, old.userId, old.resource, false);
    const stored: SessionRecord = {
      userId: rec.userId, resource: rec.resource, nodeId: rec.nodeId,
      priority: rec.priority, available: rec.available, presence: rec.presence ?? null, since: rec.since,
    };
    res.set(rec.resource, stored);
    this.index(rec.nodeId, rec.userId, rec.resource, true);
    return old ? { ...old } : null;
  }

  async update(userId: string, resource: string, nodeId: string, patch: { priority?: number; available?: boolean; presence?: string | null }): Promise<void> {
    this.s.check();
    const cur = this.byUser.get(userId)?.get(resource);
    if (!cur || cur.nodeId !== nodeId) return;
    if (patch.priority !== undefined) cur.priority = patch.priority;
    if (patch.available !== undefined) cur.available = patch.available;
    if (patch.presence !== undefined) cur.presence = patch.presence;
  }

  /** Synchronous from the ownership check to the answer: nothing can interleave, which is the atomicity. */
  async publish(userId: string, resource: string, nodeId: string, p: { available: boolean; priority: number; presence: string | null }, probe: boolean):
    Promise<PublishOutcome | null> {
    this.s.check();
    const cur = this.byUser.get(userId)?.get(resource);
    if (!cur || cur.nodeId !== nodeId) return null;
    cur.available = p.available;
    cur.priority = p.priority;
    cur.presence = p.presence;
    const st = this.s.rosterState;
    const suffix = `@${this.s.domain}`;
    const blocked = st.blocks.get(userId);
    const watchers: SessionRecord[] = [];
    for (const jid of st.rosters.get(userId)?.watchers ?? []) {
      const id = localUserId(jid, suffix);
      if (id === null || blocked?.has(jid)) continue;
      for (const r of this.byUser.get(id)?.values() ?? []) {
        if (r.available) watchers.push(publishedSession(r.userId, r.resource, r.nodeId, r.priority));
      }
    }
    const contacts: SessionRecord[] = [];
    if (probe) {
      const me = `${userId}${suffix}`;
      for (const item of st.rosters.get(userId)?.items.values() ?? []) {
        const id = receivesPresence(item.subscription) ? localUserId(item.jid, suffix) : null;
        if (id === null || st.blocks.get(id)?.has(me)) continue;
        for (const r of this.byUser.get(id)?.values() ?? []) {
          if (r.available) contacts.push(publishedSession(r.userId, r.resource, r.nodeId, r.priority, r.presence ?? null));
        }
      }
    }
    return { watchers, contacts };
  }

  async listByUsers(userIds: string[]): Promise<Map<string, SessionRecord[]>> {
    this.s.check();
    return new Map(userIds.map((id) => [id, [...(this.byUser.get(id)?.values() ?? [])].map((r) => ({ ...r }))]));
  }

  async unregister(userId: string, resource: string, nodeId: string): Promise<void> {
    this.s.check();
    const res = this.byUser.get(userId);
    const cur = res?.get(resource);
    if (!res || !cur || cur.nodeId !== nodeId) return;
    res.delete(resource);
    if (res.size === 0) this.byUser.delete(userId);
    this.index(nodeId, userId, resource, false);
  }

  async get(userId: string, resource: string): Promise<SessionRecord | null> {
    this.s.check();
    const cur = this.byUser.get(userId)?.get(resource);
    return cur ? { ...cur } : null;
  }

  async listByUser(userId: string): Promise<SessionRecord[]> {
    this.s.check();
    return [...(this.byUser.get(userId)?.values() ?? [])].map((r) => ({ ...r }));
  }

  async listByNode(nodeId: string): Promise<SessionRecord[]> {
    this.s.check();
    const out: SessionRecord[] = [];
    for (const [userId, resources] of this.byNode.get(nodeId) ?? []) {
      for (const r of resources) out.push({ ...this.byUser.get(userId)!.get(r)! });
    }
    return out;
  }

  async purgeNode(nodeId: string): Promise<number> {
    this.s.check();
    let n = 0;
    for (const [userId, resources] of this.byNode.get(nodeId) ?? []) {
      const res = this.byUser.get(userId)!;
      for (const r of resources) { res.delete(r); n++; }
      if (res.size === 0) this.byUser.delete(userId);
    }
    this.byNode.delete(nodeId);
    return n;
  }
}

class MemoryOffline implements OfflineStore {
  readonly queues = new Map<string, { lastId: number; msgs: OfflineMessage[] }>();
  constructor(private readonly s: MemoryStore) {}

  async push(userId: string, stanza: string, storedAt: number, max: number): Promise<boolean> {
    this.s.check();
    let q = this.queues.get(userId);
    if (!q) this.queues.set(userId, q = { lastId: 0, msgs: [] });
    if (q.msgs.length >= max) return false;
    q.msgs.push({ id: ++q.lastId, stanza, storedAt });
    return true;
  }

  async list(userId: string): Promise<OfflineMessage[]> {
    this.s.check();
    return (this.queues.get(userId)?.msgs ?? []).map((m) => ({ ...m }));
  }

  async ack(userId: string, upToId: number): Promise<void> {
    this.s.check();
    const q = this.queues.get(userId);
    if (q) q.msgs = q.msgs.filter((m) => m.id > upToId);
  }

  async count(userId: string): Promise<number> {
    this.s.check();
    return this.queues.get(userId)?.msgs.length ?? 0;
  }
}

export class MemoryStore implements Store {
  readonly kind = 'memory' as const;
  readonly users: UserStore;
  readonly sessions: SessionStore;
  readonly offline: OfflineStore;
  readonly rosters: RosterStore;
  readonly blocks: BlockStore;
  readonly presence: PresenceStore;
  /** @internal shared with the user store, which removes a user's queue. */
  readonly offlineStore: MemoryOffline;
  /** @internal shared with the user store, which removes a user's roster, blocks and last presence. */
  readonly rosterState = new MemoryRosterState();
  private closed = false;

  /** The XMPP domain: publish maps bare JIDs `<userId>@<domain>` to userIds. */
  readonly domain: string;

  constructor(readonly clock: NowSource = systemNow, opts: { domain?: string } = {}) {
    this.domain = opts.domain ?? DEFAULT_DOMAIN;
    this.users = new MemoryUsers(this);
    this.sessions = new MemorySessions(this);
    this.offline = this.offlineStore = new MemoryOffline(this);
    const check = (): void => this.check();
    this.rosters = new MemoryRosters(check, this.rosterState);
    this.blocks = new MemoryBlocks(check, this.rosterState);
    this.presence = new MemoryPresence(check, this.rosterState);
  }

  /** @internal a closed store refuses calls, as the other backends do. */
  check(): void {
    if (this.closed) throw storeUnavailable('the memory store is closed');
  }

  async ping(): Promise<void> { this.check(); }
  status(): StoreStatus { return 'up'; }
  onStatus(_listener: (status: StoreStatus) => void): () => void { return () => {}; }
  async close(): Promise<void> { this.closed = true; }
}
