/**
 * RedisStore: the Store shared by every node of a cluster (ioredis). Key names
 * come from redis-keys.ts, multi-key changes are the Lua scripts of
 * redis-scripts.ts; this file owns the connection behaviour and the mapping
 * between records and Redis values.
 *
 * Rosters, block lists and last presence are in redis-roster.ts.
 *
 * Connection policy: while Redis is away a call must fail at once with
 * IMP_STORE_UNAVAILABLE (the caller answers "try again later") instead of
 * queueing, so the offline queue is off and commands in flight when the
 * socket drops are rejected, not resent. Reconnection, though, never gives
 * up: the store comes back by itself when Redis does.
 */
import { ImpError } from '../errors.js';
import type { Logger } from '../util/log.js';
import {
  DEFAULT_DOMAIN, USER_FLAG_FIELDS, USER_TEXT_FIELDS, copyCredentials, newUserRecord, publishedSession, type NowSource, type PublishOutcome,
} from './memory.js';
import { connectOrFail, exec, newRedis, q, redactUrl, type ScriptedRedis } from './redis-client.js';
import { DEFAULT_PREFIX, RedisKeys, parseSessionRef, sessionRef } from './redis-keys.js';
import { RedisBlocks, RedisPresence, RedisRosters } from './redis-roster.js';
import { SCRIPTS } from './redis-scripts.js';
import type {
  BlockStore, Credentials, OfflineMessage, OfflineStore, PresenceStore, RosterStore, SessionRecord, SessionStore, Store,
  StoreStatus, UserFields, UserPage, UserRecord, UserStore,
} from './types.js';

export interface RedisStoreOptions {
  url: string;
  /** Key prefix; default `imp:`. */
  prefix?: string;
  log?: Logger;
  clock?: NowSource;
  /** How long open() waits for the first connection before giving up (default 3000 ms). */
  connectTimeoutMs?: number;
  /** A connection that answers nothing for this long while a command waits is treated as lost (default 5000 ms). */
  socketTimeoutMs?: number;
  /** The XMPP domain publish maps bare JIDs by (default 'localhost'). */
  domain?: string;
}

export { redactUrl };

class RedisUsers implements UserStore {
  constructor(private readonly r: ScriptedRedis, private readonly k: RedisKeys, private readonly clock: NowSource) {}

  async create(userId: string, fields: UserFields, credentials: Credentials): Promise<UserRecord> {
    const rec = newUserRecord(userId, fields, this.clock.now());
    const pairs: string[] = [];
    for (const [f, v] of Object.entries(rec)) {
      if (v !== null) pairs.push(f, typeof v === 'boolean' ? (v ? '1' : '0') : String(v));
    }
    const created = await q(this.r.impUserCreate(this.k.user(userId), this.k.credentials(userId), this.k.users(),
      userId, JSON.stringify(copyCredentials(credentials)), ...pairs));
    if (created !== 1) throw new ImpError('IMP_USER_EXISTS', `user ${userId} already exists`, { field: 'userId' });
    return rec;
  }

  async get(userId: string): Promise<UserRecord | null> {
    return fromHash(await q(this.r.hgetall(this.k.user(userId))));
  }

  async update(userId: string, fields: UserFields, credentials?: Credentials): Promise<UserRecord> {
    const set: string[] = ['updatedAt', new Date(this.clock.now()).toISOString()];
    const del: string[] = [];
    for (const f of USER_TEXT_FIELDS) {
      const v = fields[f];
      if (v === null) del.push(f); else if (v !== undefined) set.push(f, v);
    }
    for (const f of USER_FLAG_FIELDS) {
      const v = fields[f];
      if (typeof v === 'boolean') set.push(f, v ? '1' : '0');
    }
    const flat = await q(this.r.impUserUpdate(this.k.user(userId), this.k.credentials(userId),
      credentials ? JSON.stringify(copyCredentials(credentials)) : '', set.length / 2, ...set, ...del));
    const rec = Array.isArray(flat) ? fromHash(pairsToObject(flat as string[])) : null;
    if (!rec) throw new ImpError('IMP_USER_NOT_FOUND', `no user ${userId}`, { field: 'userId' });
    return rec;
  }

  async remove(userId: string): Promise<boolean> {
    const k = this.k;
    return (await q(this.r.impUserRemove(k.user(userId), k.credentials(userId), k.users(),
      k.offline(userId), k.offlineSeq(userId), ...k.rosterSide(userId), userId))) === 1;
  }

  async list(offset: number, limit: number): Promise<UserPage> {
    const start = Math.max(0, Math.floor(offset));
    const count = Math.floor(limit);
    if (!(count > 0)) return { users: [], total: await q(this.r.zcard(this.k.users())) };
    const [ids, total] = await exec(this.r.multi().zrange(this.k.users(), String(start), String(start + count - 1)).zcard(this.k.users()));
    const idList = ids as string[];
    if (idList.length === 0) return { users: [], total: total as number };
    const p = this.r.pipeline();
    for (const id of idList) p.hgetall(this.k.user(id));
    // A user removed between the two round trips is left out rather than returned half-read.
    const users = (await exec(p)).map((h) => fromHash(h as Record<string, string>)).filter((u): u is UserRecord => u !== null);
    return { users, total: total as number };
  }

  async getCredentials(userId: string): Promise<Credentials | null> {
    const s = await q(this.r.get(this.k.credentials(userId)));
    return s === null ? null : JSON.parse(s) as Credentials;
  }
}

function pairsToObject(flat: string[]): Record<string, string> {
  const o: Record<string, string> = {};
  for (let i = 0; i + 1 < flat.length; i += 2) o[flat[i]!] = flat[i + 1]!;
  return o;
}

function fromHash(h: Record<string, string>): UserRecord | null {
  if (h.userId === undefined) return null;
  return {
    userId: h.userId,
    firstName: h.firstName ?? null, lastName: h.lastName ?? null, displayName: h.displayName ?? null,
    email: h.email ?? null, telephoneNumber: h.telephoneNumber ?? null,
    imPresenceEnabled: h.imPresenceEnabled === '1', homeCluster: h.homeCluster === '1',
    createdAt: h.createdAt ?? '', updatedAt: h.updatedAt ?? '',
  };
}

function encodeSession(r: SessionRecord): string {
  return JSON.stringify({
    userId: r.userId, resource: r.resource, nodeId: r.nodeId, priority: r.priority, available: r.available, since: r.since,
    presence: r.presence ?? null,
  });
}

function decodeSession(json: string): SessionRecord {
  const o = JSON.parse(json) as SessionRecord;
  return {
    userId: o.userId, resource: o.resource, nodeId: o.nodeId, priority: o.priority, available: o.available,
    presence: o.presence ?? null, since: o.since,
  };
}

/** impPresencePublish's flat reply: `width` values per session (4 for watchers, 5 with presence for contacts). */
function publishedSessions(flat: unknown[], width: 4 | 5): SessionRecord[] {
  const out: SessionRecord[] = [];
  for (let i = 0; i + width <= flat.length; i += width) {
    out.push(publishedSession(flat[i] as string, flat[i + 1] as string, flat[i + 2] as string, flat[i + 3] as number,
      width === 5 ? (flat[i + 4] as string | null) : undefined));
  }
  return out;
}

/** Refs handed to one purge script: bounds how long one script blocks Redis. */
const PURGE_BATCH = 500;

class RedisSessions implements SessionStore {
  private readonly suffix: string;
  constructor(private readonly r: ScriptedRedis, private readonly k: RedisKeys, domain: string) {
    this.suffix = `@${domain}`;
  }

  async register(rec: SessionRecord): Promise<SessionRecord | null> {
    const ref = sessionRef(rec.userId, rec.resource);
    const json = encodeSession(rec);
    // Guess "no current owner" (the usual case); a wrong guess costs one round trip and tells us the owner.
    let expected = '';
    for (let attempt = 0; attempt < 20; attempt++) {
      const [done, cur] = await q(this.r.impSessionRegister(this.k.sessions(rec.userId), this.k.nodeSessions(rec.nodeId),
        this.k.nodeSessions(expected === '' ? rec.nodeId : expected), rec.resource, ref, json, expected)) as [number, string | null];
      if (done === 1) return cur ? decodeSession(cur) : null;
      expected = cur ? decodeSession(cur).nodeId : '';
    }
    throw new ImpError('IMP_INTERNAL', `session ${rec.userId}/${rec.resource}: register kept losing races with other nodes`);
  }

  async update(userId: string, resource: string, nodeId: string, patch: { priority?: number; available?: boolean; presence?: string | null }): Promise<void> {
    if (patch.priority === undefined && patch.available === undefined && patch.presence === undefined) return;
    await q(this.r.impSessionUpdate(this.k.sessions(userId), resource, nodeId,
      patch.priority === undefined ? '' : String(patch.priority),
      patch.available === undefined ? '' : patch.available ? '1' : '0',
      patch.presence === undefined ? '' : patch.presence === null ? '0' : '1', patch.presence ?? ''));
  }

  /** One EVALSHA of impPresencePublish. */
  async publish(userId: string, resource: string, nodeId: string, p: { available: boolean; priority: number; presence: string | null }, probe: boolean):
    Promise<PublishOutcome | null> {
    const k = this.k;
    const reply = await q(this.r.impPresencePublish(
      k.sessions(userId), k.watchers(userId), k.blocks(userId), k.roster(userId),
      resource, nodeId, p.available ? '1' : '0', String(p.priority), p.presence === null ? '0' : '1', p.presence ?? '',
      probe ? '1' : '0', this.suffix, `${userId}${this.suffix}`, k.sessionsPrefix(), k.blocksPrefix())) as [unknown[], unknown[]] | null;
    if (reply === null) return null;
    return { watchers: publishedSessions(reply[0], 4), contacts: publishedSessions(reply[1], 5) };
  }

  /** One pipelined HVALS per distinct user: one round trip. */
  async listByUsers(userIds: string[]): Promise<Map<string, SessionRecord[]>> {
    const ids = [...new Set(userIds)];
    if (ids.length === 0) return new Map();
    const p = this.r.pipeline();
    for (const id of ids) p.hvals(this.k.sessions(id));
    const replies = await exec(p);
    return new Map(ids.map((id, i) => [id, (replies[i] as string[]).map(decodeSession)]));
  }

  async unregister(userId: string, resource: string, nodeId: string): Promise<void> {
    await q(this.r.impSessionUnregister(this.k.sessions(userId), this.k.nodeSessions(nodeId), resource, sessionRef(userId, resource), nodeId));
  }

  async get(userId: string, resource: string): Promise<SessionRecord | null> {
    const json = await q(this.r.hget(this.k.sessions(userId), resource));
    return json === null ? null : decodeSession(json);
  }

  async listByUser(userId: string): Promise<SessionRecord[]> {
    return (await q(this.r.hvals(this.k.sessions(userId)))).map(decodeSession);
  }

  async listByNode(nodeId: string): Promise<SessionRecord[]> {
    const refs = (await q(this.r.smembers(this.k.nodeSessions(nodeId)))).map(parseSessionRef).filter((x) => x !== null);
    if (refs.length === 0) return [];
    const p = this.r.pipeline();
    for (const { userId, resource } of refs) p.hget(this.k.sessions(userId), resource);
    return (await exec(p)).filter((j): j is string => typeof j === 'string').map(decodeSession).filter((s) => s.nodeId === nodeId);
  }

  async purgeNode(nodeId: string): Promise<number> {
    const index = this.k.nodeSessions(nodeId);
    let removed = 0;
    // Each pass empties what it saw; a second pass only finds sessions registered meanwhile.
    for (let pass = 0; pass < 10; pass++) {
      const refs = await q(this.r.smembers(index));
      if (refs.length === 0) break;
      for (let i = 0; i < refs.length; i += PURGE_BATCH) {
        const keys = [index];
        const args = [nodeId];
        const junk: string[] = [];
        for (const ref of refs.slice(i, i + PURGE_BATCH)) {
          const s = parseSessionRef(ref);
          if (!s) { junk.push(ref); continue; }
          keys.push(this.k.sessions(s.userId));
          args.push(ref, s.resource);
        }
        if (junk.length) await q(this.r.srem(index, ...junk));
        if (keys.length > 1) removed += await q(this.r.impSessionPurge(keys.length, ...keys, ...args)) as number;
      }
    }
    return removed;
  }
}

class RedisOffline implements OfflineStore {
  constructor(private readonly r: ScriptedRedis, private readonly k: RedisKeys) {}

  async push(userId: string, stanza: string, storedAt: number, max: number): Promise<boolean> {
    if (!(max > 0)) return false;
    const cap = Number.isFinite(max) ? Math.floor(max) : Number.MAX_SAFE_INTEGER;
    const id = await q(this.r.impOfflinePush(this.k.offline(userId), this.k.offlineSeq(userId), cap, JSON.stringify({ stanza, storedAt })));
    return (id as number) > 0;
  }

  async list(userId: string): Promise<OfflineMessage[]> {
    return (await q(this.r.zrange(this.k.offline(userId), '0', '-1'))).map((m) => {
      const colon = m.indexOf(':');
      const body = JSON.parse(m.slice(colon + 1)) as { stanza: string; storedAt: number };
      return { id: Number(m.slice(0, colon)), stanza: body.stanza, storedAt: body.storedAt };
    });
  }

  async ack(userId: string, upToId: number): Promise<void> {
    await q(this.r.zremrangebyscore(this.k.offline(userId), '-inf', String(upToId)));
  }

  async count(userId: string): Promise<number> {
    return q(this.r.zcard(this.k.offline(userId)));
  }
}

export class RedisStore implements Store {
  readonly kind = 'redis' as const;
  readonly users: UserStore;
  readonly sessions: SessionStore;
  readonly offline: OfflineStore;
  readonly rosters: RosterStore;
  readonly blocks: BlockStore;
  readonly presence: PresenceStore;
  readonly keys: RedisKeys;
  private current: StoreStatus = 'down';
  private readonly listeners = new Set<(s: StoreStatus) => void>();
  private closed = false;
  private errorLogged = false;

  /**
   * Connects and resolves once Redis answers. Unreachable within
   * connectTimeoutMs → rejects with IMP_STORE_UNAVAILABLE naming the URL, and
   * stops trying: at start a wrong URL should be reported, not retried forever.
   */
  static async open(opts: RedisStoreOptions): Promise<RedisStore> {
    const where = redactUrl(opts.url);
    const client = newRedis(opts.url, opts) as ScriptedRedis;
    for (const [name, def] of Object.entries(SCRIPTS)) client.defineCommand(name, def);
    const store = new RedisStore(client, new RedisKeys(opts.prefix ?? DEFAULT_PREFIX), opts.domain ?? DEFAULT_DOMAIN, opts.log, opts.clock);
    try {
      await connectOrFail([client], opts.url, '', opts.connectTimeoutMs);
    } catch (err) {
      store.closed = true;
      throw err;
    }
    store.current = 'up';
    opts.log?.info({ redis: where, prefix: store.keys.prefix }, 'redis store connected');
    return store;
  }

  private constructor(private readonly client: ScriptedRedis, keys: RedisKeys, domain: string, private readonly log?: Logger, clock?: NowSource) {
    this.keys = keys;
    this.users = new RedisUsers(client, keys, clock ?? { now: () => Date.now() });
    this.sessions = new RedisSessions(client, keys, domain);
    this.offline = new RedisOffline(client, keys);
    this.rosters = new RedisRosters(client, keys);
    this.blocks = new RedisBlocks(client, keys);
    this.presence = new RedisPresence(client, keys);
    client.on('ready', () => this.setStatus('up'));
    client.on('close', () => this.setStatus('down'));
    client.on('end', () => this.setStatus('down'));
    client.on('error', (err: Error) => {
      // ioredis reports every failed reconnect; one line per outage is enough.
      if (this.closed || this.errorLogged) return;
      this.errorLogged = true;
      this.log?.warn({ err: err.message }, 'redis connection error');
    });
  }

  private setStatus(s: StoreStatus): void {
    if (this.closed || s === this.current) return;
    this.current = s;
    if (s === 'up') this.errorLogged = false;
    if (s === 'down') this.log?.warn('redis store down: calls fail with IMP_STORE_UNAVAILABLE until it is back');
    else this.log?.info('redis store back up');
    for (const l of [...this.listeners]) {
      try { l(s); } catch (err) { this.log?.error({ err }, 'store status listener threw'); }
    }
  }

  async ping(): Promise<void> { await q(this.client.ping()); }
  status(): StoreStatus { return this.current; }
  onStatus(listener: (status: StoreStatus) => void): () => void {
    this.listeners.add(listener);
    return () => { this.listeners.delete(listener); };
  }

  /** Closes the connection; no status callback fires for a close we asked for. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.current = 'down';
    this.listeners.clear();
    if (this.client.status === 'ready') {
      try { await this.client.quit(); return; } catch { /* fall through to a hard disconnect */ }
    }
    this.client.disconnect();
  }
}
