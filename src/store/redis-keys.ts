/**
 * Every Redis key name imp uses, built here and nowhere else, under one
 * prefix (default `imp:`), so that several deployments or test runs can share
 * a Redis and so that docs/redis-keys.md has one place to agree with.
 *
 * The variable part (userId, nodeId) always comes last: a userId containing
 * ':' can then never make one kind of key collide with another.
 */

export const DEFAULT_PREFIX = 'imp:';

export class RedisKeys {
  constructor(readonly prefix: string = DEFAULT_PREFIX) {}

  /** ZSET, every member scored 0: all userIds, so `list` pages in byte order without scanning. */
  users(): string { return `${this.prefix}users`; }
  /** HASH: one user's record fields (absent field = null). */
  user(userId: string): string { return `${this.prefix}user:${userId}`; }
  /** STRING: the user's SCRAM credentials as JSON. */
  credentials(userId: string): string { return `${this.prefix}cred:${userId}`; }
  /** ZSET: offline messages, score = id, member = `<id>:<json>` (the id keeps members unique). */
  offline(userId: string): string { return `${this.prefix}offline:${userId}`; }
  /** STRING counter: the last offline message id handed out for the user. */
  offlineSeq(userId: string): string { return `${this.prefix}offline-seq:${userId}`; }
  /** HASH: resource → session record JSON, every bound resource of the user on any node. */
  sessions(userId: string): string { return `${this.sessionsPrefix()}${userId}`; }
  /**
   * What sessions(userId) puts before the userId. impPresencePublish gets it
   * in ARGV and appends the userIds it finds in a watcher set or roster: the
   * one place where a script builds key names (see docs/redis-keys.md).
   */
  sessionsPrefix(): string { return `${this.prefix}sessions:`; }
  /** SET: sessionRef()s of the sessions a node owns (the per-node index). */
  nodeSessions(nodeId: string): string { return `${this.prefix}node-sessions:${nodeId}`; }

  /** HASH: contact bare JID → roster item JSON (the full RosterItem), hidden items included. */
  roster(userId: string): string { return `${this.prefix}roster:${userId}`; }
  /** STRING counter: the roster version (XEP-0237), bumped once per change; absent = 0. */
  rosterVersion(userId: string): string { return `${this.prefix}roster-ver:${userId}`; }
  /** SET: the bare JIDs whose item in the user's roster has subscription from/both (the watcher index). */
  watchers(userId: string): string { return `${this.prefix}watchers:${userId}`; }
  /** SET: the JIDs of the user's hidden items, so visible = HLEN roster - SCARD this, without reading items. */
  rosterHidden(userId: string): string { return `${this.prefix}roster-hidden:${userId}`; }
  /** SET: the JIDs (or domains) the user blocks (XEP-0191). */
  blocks(userId: string): string { return `${this.blocksPrefix()}${userId}`; }
  /** What blocks(userId) puts before the userId (ARGV of impPresencePublish, as sessionsPrefix). */
  blocksPrefix(): string { return `${this.prefix}blocks:`; }
  /** STRING: the user's last presence as JSON `{stanza, at}`. */
  lastPresence(userId: string): string { return `${this.prefix}last:${userId}`; }

  /** The four keys of one roster, in the order impRosterApply takes them. */
  rosterKeys(userId: string): [string, string, string, string] {
    return [this.roster(userId), this.rosterVersion(userId), this.watchers(userId), this.rosterHidden(userId)];
  }
  /** Every roster-side key of a user (roster, version, watchers, hidden, blocks, last presence): what rosters.clear and impUserRemove delete. */
  rosterSide(userId: string): string[] {
    return [...this.rosterKeys(userId), this.blocks(userId), this.lastPresence(userId)];
  }

  /** A SCAN MATCH pattern for every key under the prefix (tests and admin clean-up). */
  pattern(): string { return `${this.prefix.replace(/[*?[\]\\]/g, '\\$&')}*`; }
}

/**
 * How a session is named inside a node index. JSON keeps it unambiguous
 * whatever characters userId and resource hold. Only JS builds refs (the
 * scripts receive them as ARGV and never build one), so the bytes always
 * match between SADD and SREM.
 */
export function sessionRef(userId: string, resource: string): string {
  return JSON.stringify([userId, resource]);
}

export function parseSessionRef(ref: string): { userId: string; resource: string } | null {
  try {
    const v: unknown = JSON.parse(ref);
    if (Array.isArray(v) && v.length === 2 && typeof v[0] === 'string' && typeof v[1] === 'string') {
      return { userId: v[0], resource: v[1] };
    }
  } catch { /* fall through: a foreign member is skipped, not fatal */ }
  return null;
}
