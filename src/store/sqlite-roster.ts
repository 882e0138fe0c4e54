/**
 * Rosters, block lists and last presence in the embedded store (tables of
 * schema version 2, created in sqlite.ts's MIGRATIONS). Every change runs in
 * one IMMEDIATE transaction, so the limit check reads what the write then
 * changes with no other writer in between; several-statement reads run in a
 * deferred one, so they see one snapshot.
 *
 * Watchers are derived: the items with subscription from/both, found through
 * the index roster_watchers (user, subscription), so neither a fan-out nor a
 * count reads anything but the index entries it counts.
 */
import type Database from 'better-sqlite3';
import {
  checkRosterWrites, copyItem, pairWrite, uniqueJids,
  type RosterCounts, type RosterView, type RosterWrite,
} from './memory-roster.js';
import type {
  BlockStore, LastPresence, PresenceStore, Roster, RosterChange, RosterItem, RosterLimits, RosterPairSide,
  RosterRefusal, RosterStore, Subscription,
} from './roster-types.js';
import { guard, sql } from './sqlite-db.js';

/** The tables holding one user's roster-side state, all keyed by user_id: a user's removal empties them. */
export const ROSTER_USER_TABLES = ['roster_items', 'roster_versions', 'blocks', 'last_presence'] as const;

interface ItemRow {
  jid: string; name: string | null; groups: string; subscription: Subscription;
  ask: number; pending_in: number; approved: number; hidden: number;
}

const ITEM_COLUMNS = 'jid, name, groups, subscription, ask, pending_in, approved, hidden';

/**
 * The reads the fan-out and the limit checks make on every change; each must
 * be answered from an index alone (roster_watchers, roster_visible), never by
 * reading rows. Exported so a test can hold them to that with EXPLAIN QUERY PLAN.
 */
export const WATCHERS_SQL = "SELECT jid FROM roster_items WHERE user_id = ? AND subscription IN ('from', 'both')";
export const WATCHER_COUNT_SQL = "SELECT count(*) FROM roster_items WHERE user_id = ? AND subscription IN ('from', 'both')";
export const CONTACT_COUNT_SQL = 'SELECT count(*) FROM roster_items WHERE user_id = ? AND hidden = 0';

const fromItemRow = (r: ItemRow): RosterItem => ({
  jid: r.jid, name: r.name, groups: JSON.parse(r.groups) as string[], subscription: r.subscription,
  ask: r.ask === 1, pendingIn: r.pending_in === 1, approved: r.approved === 1, hidden: r.hidden === 1,
});

interface PendingImport { userId: string; items: RosterItem[]; resolve: () => void; reject: (e: unknown) => void }

export class SqliteRosters implements RosterStore {
  /** importItems calls waiting for the next flush (one transaction for all of them). */
  private imports: PendingImport[] | null = null;

  constructor(private readonly db: Database.Database) {}

  private readonly view: RosterView = {
    item: (userId, jid) => this.item(userId, jid),
    counts: (userId) => this.tally(userId),
  };

  private item(userId: string, jid: string): RosterItem | null {
    const r = sql<[string, string], ItemRow>(this.db, `SELECT ${ITEM_COLUMNS} FROM roster_items WHERE user_id = ? AND jid = ?`).get(userId, jid);
    return r ? fromItemRow(r) : null;
  }

  private version(userId: string): number {
    return (sql(this.db, 'SELECT version FROM roster_versions WHERE user_id = ?').pluck().get(userId) as number | undefined) ?? 0;
  }

  private tally(userId: string): RosterCounts {
    const contacts = sql(this.db, CONTACT_COUNT_SQL).pluck().get(userId) as number;
    const watchers = sql(this.db, WATCHER_COUNT_SQL).pluck().get(userId) as number;
    return { contacts, watchers };
  }

  private bump(userId: string): number {
    return sql(this.db, `INSERT INTO roster_versions VALUES (?, 1)
                            ON CONFLICT (user_id) DO UPDATE SET version = version + 1 RETURNING version`).pluck().get(userId) as number;
  }

  /** Applies one write that has passed the limit check; the caller holds the transaction. */
  private apply(w: RosterWrite): RosterChange {
    if (w.item === null) {
      const gone = sql(this.db, 'DELETE FROM roster_items WHERE user_id = ? AND jid = ?').run(w.userId, w.jid).changes > 0;
      return { version: gone ? this.bump(w.userId) : this.version(w.userId), item: null };
    }
    this.writeItem(w.userId, w.item);
    return { version: this.bump(w.userId), item: copyItem(w.item) };
  }

  private writeItem(userId: string, i: RosterItem): void {
    sql(this.db, 'INSERT OR REPLACE INTO roster_items VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)').run(
      userId, i.jid, i.name, JSON.stringify(i.groups), i.subscription,
      i.ask ? 1 : 0, i.pendingIn ? 1 : 0, i.approved ? 1 : 0, i.hidden ? 1 : 0);
  }

  get(userId: string): Promise<Roster> {
    return guard(() => this.db.transaction(() => ({
      version: this.version(userId),
      // ORDER BY under the BINARY collation is UTF-8 byte order, the order compareJids gives.
      items: sql<[string], ItemRow>(this.db, `SELECT ${ITEM_COLUMNS} FROM roster_items WHERE user_id = ? ORDER BY jid`)
        .all(userId).map(fromItemRow),
    }))());
  }

  getItem(userId: string, jid: string): Promise<RosterItem | null> {
    return guard(() => this.item(userId, jid));
  }

  put(userId: string, item: RosterItem, limits: RosterLimits): Promise<RosterChange | RosterRefusal> {
    const w: RosterWrite = { userId, jid: item.jid, item };
    return guard(() => this.db.transaction(() => checkRosterWrites([w], limits, this.view) ?? this.apply(w)).immediate());
  }

  remove(userId: string, jid: string): Promise<RosterChange | null> {
    return guard(() => this.db.transaction(() => {
      const gone = sql(this.db, 'DELETE FROM roster_items WHERE user_id = ? AND jid = ?').run(userId, jid).changes > 0;
      return gone ? { version: this.bump(userId), item: null } : null;
    }).immediate());
  }

  putPair(a: RosterPairSide, b: RosterPairSide, limits: RosterLimits): Promise<[RosterChange, RosterChange] | RosterRefusal> {
    return guard(() => {
      const writes = [pairWrite(a), pairWrite(b)];
      return this.db.transaction((): [RosterChange, RosterChange] | RosterRefusal =>
        checkRosterWrites(writes, limits, this.view) ?? [this.apply(writes[0]!), this.apply(writes[1]!)]).immediate();
    });
  }

  private watcherJids(userId: string): string[] {
    return sql<[string], string>(this.db, WATCHERS_SQL).pluck().all(userId);
  }

  watchers(userId: string): Promise<string[]> {
    return guard(() => this.watcherJids(userId));
  }

  watchersOfMany(userIds: string[]): Promise<Map<string, string[]>> {
    return guard(() => this.db.transaction(() => new Map(userIds.map((id) => [id, this.watcherJids(id)])))());
  }

  counts(userId: string): Promise<RosterCounts> {
    return guard(() => this.db.transaction(() => this.tally(userId))());
  }

  clear(userId: string): Promise<void> {
    return guard(() => this.db.transaction(() => {
      for (const t of ROSTER_USER_TABLES) sql(this.db, `DELETE FROM ${t} WHERE user_id = ?`).run(userId);
    }).immediate());
  }

  /** Queued until the event loop turns, so that every import made meanwhile is one transaction. */
  importItems(userId: string, items: RosterItem[]): Promise<void> {
    return new Promise((resolve, reject) => {
      if (!this.imports) {
        this.imports = [];
        setImmediate(() => this.flushImports());
      }
      this.imports.push({ userId, items: items.map(copyItem), resolve, reject });
    });
  }

  /** Each user's items are replaced and the version bumped; watchers follow from the items (roster_watchers). */
  private flushImports(): void {
    const batch = this.imports ?? [];
    this.imports = null;
    guard(() => this.db.transaction(() => {
      for (const { userId, items } of batch) {
        sql(this.db, 'DELETE FROM roster_items WHERE user_id = ?').run(userId);
        for (const i of items) this.writeItem(userId, i);
        this.bump(userId);
      }
    }).immediate()).then(() => { for (const b of batch) b.resolve(); }, (e: unknown) => { for (const b of batch) b.reject(e); });
  }
}

export class SqliteBlocks implements BlockStore {
  constructor(private readonly db: Database.Database) {}

  private all(userId: string): string[] {
    return sql<[string], string>(this.db, 'SELECT jid FROM blocks WHERE user_id = ? ORDER BY jid').pluck().all(userId);
  }

  list(userId: string): Promise<string[]> {
    return guard(() => this.all(userId));
  }

  add(userId: string, jids: string[]): Promise<string[]> {
    return guard(() => this.db.transaction(() => uniqueJids(jids).filter((j) =>
      sql(this.db, 'INSERT OR IGNORE INTO blocks VALUES (?, ?)').run(userId, j).changes > 0)).immediate());
  }

  remove(userId: string, jids: string[] | null): Promise<string[]> {
    return guard(() => this.db.transaction(() => {
      if (jids === null) {
        const was = this.all(userId);
        sql(this.db, 'DELETE FROM blocks WHERE user_id = ?').run(userId);
        return was;
      }
      return uniqueJids(jids).filter((j) => sql(this.db, 'DELETE FROM blocks WHERE user_id = ? AND jid = ?').run(userId, j).changes > 0);
    }).immediate());
  }

  isBlocked(userId: string, jid: string): Promise<boolean> {
    return guard(() => sql(this.db, 'SELECT 1 FROM blocks WHERE user_id = ? AND jid = ?').get(userId, jid) !== undefined);
  }
}

export class SqlitePresence implements PresenceStore {
  constructor(private readonly db: Database.Database) {}

  setLast(userId: string, last: LastPresence): Promise<void> {
    return guard(() => { sql(this.db, 'INSERT OR REPLACE INTO last_presence VALUES (?, ?, ?)').run(userId, last.stanza, last.at); });
  }

  getLast(userId: string): Promise<LastPresence | null> {
    return guard(() => {
      const r = sql<[string], { stanza: string | null; at: number }>(this.db, 'SELECT stanza, at FROM last_presence WHERE user_id = ?').get(userId);
      return r ? { stanza: r.stanza, at: r.at } : null;
    });
  }
}
