/**
 * SqliteStore: the embedded, durable Store for a single node with no set-up,
 * one file `<dataDir>/imp.sqlite` (better-sqlite3). It owns the schema and its
 * migrations (PRAGMA user_version). Rosters, block lists and last presence are
 * in sqlite-roster.ts; what both files share, in sqlite-db.ts.
 *
 * WAL with synchronous=FULL: a write is on disk when the call resolves, so a
 * user added just before a crash or power loss is still there at restart.
 * better-sqlite3 is synchronous; the async methods only keep the Store shape
 * (and turn throws into rejections).
 */
import Database from 'better-sqlite3';
import path from 'node:path';
import { ImpError } from '../errors.js';
import type { Logger } from '../util/log.js';
import {
  DEFAULT_DOMAIN, copyCredentials, mergeUserFields, newUserRecord, publishedSession, type NowSource, type PublishOutcome,
} from './memory.js';
import { guard, mapError, sql } from './sqlite-db.js';
import { ROSTER_USER_TABLES, SqliteBlocks, SqlitePresence, SqliteRosters } from './sqlite-roster.js';
import type {
  BlockStore, Credentials, OfflineMessage, OfflineStore, PresenceStore, RosterStore, SessionRecord, SessionStore, Store,
  StoreStatus, UserFields, UserPage, UserRecord, UserStore,
} from './types.js';

export const SQLITE_FILE = 'imp.sqlite';

/** MIGRATIONS[i] takes the schema from user_version i to i + 1. Append only. */
export const MIGRATIONS: readonly string[] = [
  `CREATE TABLE users (
     user_id TEXT PRIMARY KEY,
     first_name TEXT, last_name TEXT, display_name TEXT, email TEXT, telephone_number TEXT,
     im_presence_enabled INTEGER NOT NULL, home_cluster INTEGER NOT NULL,
     created_at TEXT NOT NULL, updated_at TEXT NOT NULL
   ) WITHOUT ROWID;
   CREATE TABLE credentials (user_id TEXT PRIMARY KEY, scram TEXT NOT NULL) WITHOUT ROWID;
   CREATE TABLE sessions (
     user_id TEXT NOT NULL, resource TEXT NOT NULL, node_id TEXT NOT NULL,
     priority INTEGER NOT NULL, available INTEGER NOT NULL, since INTEGER NOT NULL,
     PRIMARY KEY (user_id, resource)
   ) WITHOUT ROWID;
   CREATE INDEX sessions_by_node ON sessions (node_id);
   CREATE TABLE offline_messages (
     user_id TEXT NOT NULL, id INTEGER NOT NULL, stanza TEXT NOT NULL, stored_at INTEGER NOT NULL,
     PRIMARY KEY (user_id, id)
   ) WITHOUT ROWID;
   CREATE TABLE offline_seq (user_id TEXT PRIMARY KEY, last_id INTEGER NOT NULL) WITHOUT ROWID;`,
  // 2: rosters, block lists, last presence. Watchers are not a table of their
  // own: roster_watchers, items by (user, subscription), finds a user's
  // from/both items with two seeks and never reads a row, and as an index it
  // can never disagree with the items. The visible-item count likewise reads
  // only the partial index roster_visible. (A partial index WHERE subscription
  // IN (...) is not chosen by the planner: it cannot cover that term.)
  `CREATE TABLE roster_items (
     user_id TEXT NOT NULL, jid TEXT NOT NULL, name TEXT, groups TEXT NOT NULL,
     subscription TEXT NOT NULL CHECK (subscription IN ('none', 'to', 'from', 'both')),
     ask INTEGER NOT NULL, pending_in INTEGER NOT NULL, approved INTEGER NOT NULL, hidden INTEGER NOT NULL,
     PRIMARY KEY (user_id, jid)
   ) WITHOUT ROWID;
   CREATE INDEX roster_watchers ON roster_items (user_id, subscription);
   CREATE INDEX roster_visible ON roster_items (user_id) WHERE hidden = 0;
   CREATE TABLE roster_versions (user_id TEXT PRIMARY KEY, version INTEGER NOT NULL) WITHOUT ROWID;
   CREATE TABLE blocks (user_id TEXT NOT NULL, jid TEXT NOT NULL, PRIMARY KEY (user_id, jid)) WITHOUT ROWID;
   CREATE TABLE last_presence (user_id TEXT PRIMARY KEY, stanza TEXT, at INTEGER NOT NULL) WITHOUT ROWID;`,
  // 3: a session's current available presence, so any node answers a probe
  // for it (SessionRecord.presence). NULL for rows from before.
  'ALTER TABLE sessions ADD COLUMN presence TEXT;',
];

interface UserRow {
  user_id: string; first_name: string | null; last_name: string | null; display_name: string | null;
  email: string | null; telephone_number: string | null; im_presence_enabled: number; home_cluster: number;
  created_at: string; updated_at: string;
}
interface SessionRow { user_id: string; resource: string; node_id: string; priority: number; available: number; since: number; presence: string | null }
/** A row of PUBLISH_WATCHERS_SQL / PUBLISH_CONTACTS_SQL (presence only in the latter). */
interface PublishedRow { user_id: string; resource: string; node_id: string; priority: number; presence?: string | null }
interface OfflineRow { id: number; stanza: string; stored_at: number }

const fromUserRow = (r: UserRow): UserRecord => ({
  userId: r.user_id, firstName: r.first_name, lastName: r.last_name, displayName: r.display_name,
  email: r.email, telephoneNumber: r.telephone_number, imPresenceEnabled: r.im_presence_enabled === 1,
  homeCluster: r.home_cluster === 1, createdAt: r.created_at, updatedAt: r.updated_at,
});
const toUserParams = (u: UserRecord): unknown[] => [
  u.userId, u.firstName, u.lastName, u.displayName, u.email, u.telephoneNumber,
  u.imPresenceEnabled ? 1 : 0, u.homeCluster ? 1 : 0, u.createdAt, u.updatedAt,
];
const fromSessionRow = (r: SessionRow): SessionRecord => ({
  userId: r.user_id, resource: r.resource, nodeId: r.node_id, priority: r.priority, available: r.available === 1,
  presence: r.presence ?? null, since: r.since,
});

const SESSION_COLUMNS = 'user_id, resource, node_id, priority, available, since, presence';

/*
 * The presence hot path (SqliteSessions.publish), two joins run in one
 * transaction right after the session's own row is written. Both walk the
 * user's roster through the index roster_watchers (user_id, subscription)
 * and find each local contact's sessions by the sessions primary key
 * (user_id = the JID's localpart); the block check is one primary-key probe
 * into blocks. Parameters: $user, $suffix ('@' + domain), $me
 * ($user + $suffix). A JID is local when it ends in $suffix and has a
 * localpart before it; substr/length count characters on both sides, so any
 * domain compares alike. Exported so a test can hold them to their plans.
 */
const LOCAL_USER = 'substr(r.jid, 1, length(r.jid) - length($suffix))';
const ON_DOMAIN = 'length(r.jid) > length($suffix) AND substr(r.jid, length(r.jid) - length($suffix) + 1) = $suffix';

/** The available sessions of $user's watchers (from/both) on our domain that $user does not block. */
export const PUBLISH_WATCHERS_SQL = `SELECT s.user_id, s.resource, s.node_id, s.priority
  FROM roster_items r JOIN sessions s ON s.user_id = ${LOCAL_USER}
  WHERE r.user_id = $user AND r.subscription IN ('from', 'both') AND ${ON_DOMAIN} AND s.available = 1
    AND NOT EXISTS (SELECT 1 FROM blocks b WHERE b.user_id = $user AND b.jid = r.jid)`;

/** The available sessions, with presence, of the contacts $user is subscribed to (to/both) on our domain that do not block $me. */
export const PUBLISH_CONTACTS_SQL = `SELECT s.user_id, s.resource, s.node_id, s.priority, s.presence
  FROM roster_items r JOIN sessions s ON s.user_id = ${LOCAL_USER}
  WHERE r.user_id = $user AND r.subscription IN ('to', 'both') AND ${ON_DOMAIN} AND s.available = 1
    AND NOT EXISTS (SELECT 1 FROM blocks b WHERE b.user_id = s.user_id AND b.jid = $me)`;

/** The sessions of many users: one statement, the ids as a JSON array, each found by the primary key. */
export const SESSIONS_OF_MANY_SQL = `SELECT ${SESSION_COLUMNS} FROM sessions WHERE user_id IN (SELECT value FROM json_each(?))`;

export interface SqliteStoreOptions {
  dataDir: string;
  log?: Logger;
  clock?: NowSource;
  /** The XMPP domain publish maps bare JIDs by (default 'localhost'). */
  domain?: string;
}

export class SqliteStore implements Store {
  readonly kind = 'embedded' as const;
  readonly users: UserStore;
  readonly sessions: SessionStore;
  readonly offline: OfflineStore;
  readonly rosters: RosterStore;
  readonly blocks: BlockStore;
  readonly presence: PresenceStore;
  readonly file: string;
  private readonly db: Database.Database;
  private readonly clock: NowSource;

  /** Opens (creating and migrating as needed) `<dataDir>/imp.sqlite`; the folder must exist. */
  constructor(opts: SqliteStoreOptions) {
    this.file = path.join(opts.dataDir, SQLITE_FILE);
    this.clock = opts.clock ?? { now: () => Date.now() };
    try {
      this.db = new Database(this.file);
    } catch (err) {
      throw new ImpError('IMP_STORE_UNAVAILABLE', `cannot open the embedded store ${this.file}: ${(err as Error).message}`, { cause: err });
    }
    try {
      this.db.pragma('journal_mode = WAL');
      this.db.pragma('synchronous = FULL');
      this.db.pragma('busy_timeout = 2000');
      this.migrate(opts.log);
    } catch (err) {
      this.db.close();
      throw err instanceof ImpError ? err : new ImpError('IMP_STORE_UNAVAILABLE', `cannot prepare the embedded store ${this.file}: ${(err as Error).message}`, { cause: err });
    }
    this.users = new SqliteUsers(this.db, this.clock);
    this.sessions = new SqliteSessions(this.db, opts.domain ?? DEFAULT_DOMAIN);
    this.offline = new SqliteOffline(this.db);
    this.rosters = new SqliteRosters(this.db);
    this.blocks = new SqliteBlocks(this.db);
    this.presence = new SqlitePresence(this.db);
  }

  private migrate(log?: Logger): void {
    const from = this.db.pragma('user_version', { simple: true }) as number;
    if (from > MIGRATIONS.length) {
      throw new ImpError('IMP_STORE_UNAVAILABLE',
        `${this.file} has schema version ${from}, newer than this build understands (${MIGRATIONS.length}); refusing to touch it`);
    }
    for (let v = from; v < MIGRATIONS.length; v++) {
      this.db.transaction(() => {
        this.db.exec(MIGRATIONS[v]!);
        this.db.pragma(`user_version = ${v + 1}`);
      }).immediate();
      log?.info({ file: this.file, version: v + 1 }, 'embedded store schema migrated');
    }
  }

  async ping(): Promise<void> {
    try { sql(this.db, 'SELECT 1').get(); } catch (err) { throw mapError(err); }
  }
  status(): StoreStatus { return 'up'; }
  onStatus(_listener: (status: StoreStatus) => void): () => void { return () => {}; }
  async close(): Promise<void> { if (this.db.open) this.db.close(); }
}

class SqliteUsers implements UserStore {
  constructor(private readonly db: Database.Database, private readonly clock: NowSource) {}

  private row(userId: string): UserRow | undefined {
    return sql<[string], UserRow>(this.db, 'SELECT * FROM users WHERE user_id = ?').get(userId);
  }

  private write(u: UserRecord, insert: boolean): void {
    const [userId, ...rest] = toUserParams(u);
    if (insert) sql(this.db, 'INSERT INTO users VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)').run(userId, ...rest);
    else {
      sql(this.db, `UPDATE users SET first_name = ?, last_name = ?, display_name = ?, email = ?, telephone_number = ?,
                      im_presence_enabled = ?, home_cluster = ?, created_at = ?, updated_at = ? WHERE user_id = ?`).run(...rest, userId);
    }
  }

  private writeCredentials(userId: string, c: Credentials): void {
    sql(this.db, 'INSERT OR REPLACE INTO credentials VALUES (?, ?)').run(userId, JSON.stringify(copyCredentials(c)));
  }

  create(userId: string, fields: UserFields, credentials: Credentials): Promise<UserRecord> {
    return guard(() => this.db.transaction(() => {
      if (this.row(userId)) throw new ImpError('IMP_USER_EXISTS', `user ${userId} already exists`, { field: 'userId' });
      const rec = newUserRecord(userId, fields, this.clock.now());
      this.write(rec, true);
      this.writeCredentials(userId, credentials);
      return rec;
    }).immediate());
  }

  get(userId: string): Promise<UserRecord | null> {
    return guard(() => { const r = this.row(userId); return r ? fromUserRow(r) : null; });
  }

  update(userId: string, fields: UserFields, credentials?: Credentials): Promise<UserRecord> {
    return guard(() => this.db.transaction(() => {
      const r = this.row(userId);
      if (!r) throw new ImpError('IMP_USER_NOT_FOUND', `no user ${userId}`, { field: 'userId' });
      const next = mergeUserFields(fromUserRow(r), fields, this.clock.now());
      this.write(next, false);
      if (credentials) this.writeCredentials(userId, credentials);
      return next;
    }).immediate());
  }

  remove(userId: string): Promise<boolean> {
    return guard(() => this.db.transaction(() => {
      const gone = sql(this.db, 'DELETE FROM users WHERE user_id = ?').run(userId).changes > 0;
      if (!gone) return false;
      for (const t of ['credentials', 'offline_messages', 'offline_seq', ...ROSTER_USER_TABLES]) {
        sql(this.db, `DELETE FROM ${t} WHERE user_id = ?`).run(userId);
      }
      return true;
    }).immediate());
  }

  list(offset: number, limit: number): Promise<UserPage> {
    return guard(() => this.db.transaction(() => {
      const total = sql(this.db, 'SELECT count(*) FROM users').pluck().get() as number;
      const rows = limit > 0
        ? sql<[number, number], UserRow>(this.db, 'SELECT * FROM users ORDER BY user_id LIMIT ? OFFSET ?')
          .all(Math.floor(limit), Math.max(0, Math.floor(offset)))
        : [];
      return { users: rows.map(fromUserRow), total };
    })());
  }

  getCredentials(userId: string): Promise<Credentials | null> {
    return guard(() => {
      const s = sql<[string], string>(this.db, 'SELECT scram FROM credentials WHERE user_id = ?').pluck().get(userId);
      return s === undefined ? null : JSON.parse(s) as Credentials;
    });
  }
}

class SqliteSessions implements SessionStore {
  private readonly suffix: string;
  constructor(private readonly db: Database.Database, domain: string) {
    this.suffix = `@${domain}`;
  }

  private row(userId: string, resource: string): SessionRow | undefined {
    return sql<[string, string], SessionRow>(this.db, `SELECT ${SESSION_COLUMNS} FROM sessions WHERE user_id = ? AND resource = ?`).get(userId, resource);
  }

  register(rec: SessionRecord): Promise<SessionRecord | null> {
    return guard(() => this.db.transaction(() => {
      const old = this.row(rec.userId, rec.resource);
      sql(this.db, `INSERT OR REPLACE INTO sessions (${SESSION_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?)`)
        .run(rec.userId, rec.resource, rec.nodeId, rec.priority, rec.available ? 1 : 0, rec.since, rec.presence ?? null);
      return old ? fromSessionRow(old) : null;
    }).immediate());
  }

  update(userId: string, resource: string, nodeId: string, patch: { priority?: number; available?: boolean; presence?: string | null }): Promise<void> {
    return guard(() => {
      // presence may be set to NULL, so it cannot use coalesce: a flag says whether to touch it.
      sql(this.db, `UPDATE sessions SET priority = coalesce(?, priority), available = coalesce(?, available),
                       presence = CASE WHEN ? THEN ? ELSE presence END
                       WHERE user_id = ? AND resource = ? AND node_id = ?`)
        .run(patch.priority ?? null, patch.available === undefined ? null : patch.available ? 1 : 0,
          patch.presence === undefined ? 0 : 1, patch.presence ?? null, userId, resource, nodeId);
    });
  }

  /** One IMMEDIATE transaction: the write, then the two joins, with no other writer in between (another process included). */
  publish(userId: string, resource: string, nodeId: string, p: { available: boolean; priority: number; presence: string | null }, probe: boolean):
    Promise<PublishOutcome | null> {
    return guard(() => this.db.transaction((): PublishOutcome | null => {
      const changed = sql(this.db, `UPDATE sessions SET available = ?, priority = ?, presence = ?
                                       WHERE user_id = ? AND resource = ? AND node_id = ?`)
        .run(p.available ? 1 : 0, p.priority, p.presence, userId, resource, nodeId).changes;
      if (changed === 0) return null;
      const params = { user: userId, suffix: this.suffix, me: `${userId}${this.suffix}` };
      const watchers = sql<[typeof params], PublishedRow>(this.db, PUBLISH_WATCHERS_SQL).all(params)
        .map((r) => publishedSession(r.user_id, r.resource, r.node_id, r.priority));
      const contacts = probe
        ? sql<[typeof params], PublishedRow>(this.db, PUBLISH_CONTACTS_SQL).all(params)
          .map((r) => publishedSession(r.user_id, r.resource, r.node_id, r.priority, r.presence ?? null))
        : [];
      return { watchers, contacts };
    }).immediate());
  }

  listByUsers(userIds: string[]): Promise<Map<string, SessionRecord[]>> {
    return guard(() => {
      const out = new Map<string, SessionRecord[]>(userIds.map((id) => [id, []]));
      if (out.size === 0) return out;
      for (const r of sql<[string], SessionRow>(this.db, SESSIONS_OF_MANY_SQL).all(JSON.stringify([...out.keys()]))) {
        out.get(r.user_id)?.push(fromSessionRow(r));
      }
      return out;
    });
  }

  unregister(userId: string, resource: string, nodeId: string): Promise<void> {
    return guard(() => {
      sql(this.db, 'DELETE FROM sessions WHERE user_id = ? AND resource = ? AND node_id = ?').run(userId, resource, nodeId);
    });
  }

  get(userId: string, resource: string): Promise<SessionRecord | null> {
    return guard(() => { const r = this.row(userId, resource); return r ? fromSessionRow(r) : null; });
  }

  listByUser(userId: string): Promise<SessionRecord[]> {
    return guard(() => sql<[string], SessionRow>(this.db, `SELECT ${SESSION_COLUMNS} FROM sessions WHERE user_id = ?`).all(userId).map(fromSessionRow));
  }

  listByNode(nodeId: string): Promise<SessionRecord[]> {
    return guard(() => sql<[string], SessionRow>(this.db, `SELECT ${SESSION_COLUMNS} FROM sessions WHERE node_id = ?`).all(nodeId).map(fromSessionRow));
  }

  purgeNode(nodeId: string): Promise<number> {
    return guard(() => sql(this.db, 'DELETE FROM sessions WHERE node_id = ?').run(nodeId).changes);
  }
}

class SqliteOffline implements OfflineStore {
  constructor(private readonly db: Database.Database) {}

  push(userId: string, stanza: string, storedAt: number, max: number): Promise<boolean> {
    return guard(() => this.db.transaction(() => {
      const n = sql(this.db, 'SELECT count(*) FROM offline_messages WHERE user_id = ?').pluck().get(userId) as number;
      if (n >= max) return false;
      const id = sql(this.db, `INSERT INTO offline_seq VALUES (?, 1)
                                  ON CONFLICT (user_id) DO UPDATE SET last_id = last_id + 1 RETURNING last_id`)
        .pluck().get(userId) as number;
      sql(this.db, 'INSERT INTO offline_messages VALUES (?, ?, ?, ?)').run(userId, id, stanza, storedAt);
      return true;
    }).immediate());
  }

  list(userId: string): Promise<OfflineMessage[]> {
    return guard(() => sql<[string], OfflineRow>(this.db, 'SELECT id, stanza, stored_at FROM offline_messages WHERE user_id = ? ORDER BY id')
      .all(userId).map((r) => ({ id: r.id, stanza: r.stanza, storedAt: r.stored_at })));
  }

  ack(userId: string, upToId: number): Promise<void> {
    return guard(() => { sql(this.db, 'DELETE FROM offline_messages WHERE user_id = ? AND id <= ?').run(userId, upToId); });
  }

  count(userId: string): Promise<number> {
    return guard(() => sql(this.db, 'SELECT count(*) FROM offline_messages WHERE user_id = ?').pluck().get(userId) as number);
  }
}
