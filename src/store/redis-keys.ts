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
  sessions(userId: string): string { return `${this.prefix}sessions:${userId}`; }
  /** SET: sessionRef()s of the sessions a node owns (the per-node index). */
  nodeSessions(nodeId: string): string { return `${this.prefix}node-sessions:${nodeId}`; }

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
