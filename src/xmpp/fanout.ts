/**
 * Presence fan-out (RFC 6121 §4.2–§4.5): one presence change reaches every
 * authorised watcher's available sessions. The store answers who they are in
 * one atomic step (SessionStore.publish); the stanza is serialised once and
 * only its 'to' differs per recipient; recipients are grouped by node, so
 * this node writes to its own sockets directly (each socket batches its
 * writes per tick) and hands each other node one batch over the bus. Nothing
 * awaits per watcher.
 */
import { isImpError } from '../errors.js';
import type { SessionRecord } from '../store/types.js';
import type { LocalSession, Router } from './router.js';
import { withTo } from './stanza.js';

export interface PublishResult { watchers: SessionRecord[]; contacts: SessionRecord[] }

/** Records a session's presence and learns its watchers (and contacts to probe) in one store step. */
export async function publish(router: Router, session: LocalSession, available: boolean, presence: string | null, probe: boolean): Promise<PublishResult> {
  const { store } = router.deps;
  const p = { available, priority: session.priority, presence };
  try {
    if (store.sessions.publish) {
      return (await store.sessions.publish(session.userId, session.resource, router.nodeId, p, probe)) ?? { watchers: [], contacts: [] };
    }
    return await publishFallback(router, session, p, probe);
  } catch (e) {
    if (!isImpError(e, 'IMP_STORE_UNAVAILABLE')) throw e;
    // Store away: this node's own sessions of the user still learn of it (the rest when it returns).
    return { watchers: [], contacts: [] };
  }
}

/** The same answer built from the plain store calls, for stores without the atomic step. */
async function publishFallback(router: Router, session: LocalSession, p: { available: boolean; priority: number; presence: string | null }, probe: boolean): Promise<PublishResult> {
  const { store } = router.deps;
  await store.sessions.update(session.userId, session.resource, router.nodeId, { priority: p.priority, available: p.available });
  const suffix = `@${router.domain}`;
  const blocked = new Set(await store.blocks.list(session.userId));
  const watcherIds = (await store.rosters.watchers(session.userId)).filter((j) => j.endsWith(suffix) && !blocked.has(j)).map((j) => j.slice(0, -suffix.length));
  const watchers: SessionRecord[] = [];
  for (const id of watcherIds) for (const r of await store.sessions.listByUser(id)) if (r.available) watchers.push(r);
  const contacts: SessionRecord[] = [];
  if (probe) {
    const roster = await store.rosters.get(session.userId);
    const me = `${session.userId}${suffix}`;
    for (const item of roster.items) {
      if ((item.subscription !== 'to' && item.subscription !== 'both') || !item.jid.endsWith(suffix)) continue;
      const id = item.jid.slice(0, -suffix.length);
      if (await store.blocks.isBlocked(id, me)) continue;
      for (const r of await store.sessions.listByUser(id)) if (r.available) contacts.push({ ...r, presence: r.presence ?? router.local(`${id}${suffix}/${r.resource}`)?.presenceXml ?? null });
    }
  }
  return { watchers, contacts };
}

/**
 * Sends one serialised stanza (without 'to') to many sessions; each gets
 * `to` = the recipient's bare JID (`full` false) or full JID.
 */
export function fanOut(router: Router, xml: string, recipients: SessionRecord[], full = false): void {
  const remote = new Map<string, Array<{ to: string; xml: string }>>();
  const domain = router.domain;
  let bareCache = '';
  let bareXml = '';
  for (const rec of recipients) {
    const bare = `${rec.userId}@${domain}`;
    const to = full ? `${bare}/${rec.resource}` : bare;
    // Consecutive sessions of one watcher share one rendering.
    if (full || bare !== bareCache) { bareCache = bare; bareXml = withTo(xml, to); }
    const fullJid = `${bare}/${rec.resource}`;
    if (rec.nodeId === router.nodeId) router.deliverLocalStanza(fullJid, bareXml);
    else {
      let list = remote.get(rec.nodeId);
      if (!list) remote.set(rec.nodeId, (list = []));
      list.push({ to: fullJid, xml: bareXml });
    }
  }
  for (const [nodeId, list] of remote) {
    router.sendRemote(nodeId, list).catch((e) => router.deps.log.warn({ err: e, nodeId }, 'presence not handed to another node'));
  }
}
