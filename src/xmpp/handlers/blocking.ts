/**
 * Blocking command (XEP-0191): block lists kept in the store, pushes to the
 * user's interested resources, and the effects on presence — a blocked
 * contact sees the user go unavailable, and sees the right presence again
 * once unblocked. Stanzas between a user and a contact they block are
 * stopped in both directions (§3.5, §3.6) by `blockedBetween()`.
 */
import { Element } from 'ltx';
import { JidError, parseJid } from '../../util/jid.js';
import { StanzaError } from '../errors.js';
import type { LocalSession, Router } from '../router.js';
import { elementChildren, withTo, type Envelope } from '../stanza.js';

export const NS_BLOCKING = 'urn:xmpp:blocking';
export const NS_BLOCKING_ERRORS = 'urn:xmpp:blocking:errors';
type IqEnvelope = Extract<Envelope, { kind: 'iq' }>;

const MAX_ITEMS = 1000;

export async function blocklistGet(router: Router, session: LocalSession): Promise<Element> {
  session.blocklistRequested = true;
  const q = new Element('blocklist', { xmlns: NS_BLOCKING });
  for (const jid of (await router.deps.store.blocks.list(session.userId)).sort()) q.c('item', { jid });
  return q;
}

function itemJids(payload: Element, required: boolean): string[] {
  const items = elementChildren(payload).filter((c) => c.name === 'item');
  if (required && items.length === 0) throw new StanzaError('bad-request', 'a block request names at least one <item jid=.../> (XEP-0191 §3.3)');
  if (items.length > MAX_ITEMS) throw new StanzaError('not-acceptable', `at most ${MAX_ITEMS} items in one request`);
  return items.map((i) => {
    try {
      const j = parseJid(i.attrs.jid ?? '');
      return j.local ? `${j.local}@${j.domain}${j.resource ? '/' + j.resource : ''}` : j.domain + (j.resource ? '/' + j.resource : '');
    } catch (e) {
      throw new StanzaError('jid-malformed', `item jid: ${e instanceof JidError ? e.message : 'missing'}`);
    }
  });
}

export async function blockSet(router: Router, session: LocalSession, iq: IqEnvelope): Promise<null> {
  const jids = itemJids(iq.payload!, true);
  const added = await router.deps.store.blocks.add(session.userId, jids);
  await router.loadBlocks(session.userId);
  await push(router, session.userId, 'block', added);
  // The newly blocked see the user go unavailable (XEP-0191 §3.3: as if the user had logged out).
  for (const jid of added) await presenceToward(router, session.userId, jid, 'unavailable');
  return null;
}

export async function unblockSet(router: Router, session: LocalSession, iq: IqEnvelope): Promise<null> {
  const jids = itemJids(iq.payload!, false);
  const removed = await router.deps.store.blocks.remove(session.userId, jids.length ? jids : null);
  await router.loadBlocks(session.userId);
  await push(router, session.userId, 'unblock', jids.length ? removed : []);
  // Unblocked watchers see the user's current presence again (XEP-0191 §3.4).
  for (const jid of removed) await presenceToward(router, session.userId, jid, 'current');
  return null;
}

/** XEP-0191 §3.3/§3.4: the change goes to every resource that asked for the block list. */
async function push(router: Router, userId: string, kind: 'block' | 'unblock', jids: string[]): Promise<void> {
  if (kind === 'block' && jids.length === 0) return;
  const el = new Element(kind, { xmlns: NS_BLOCKING });
  for (const jid of jids) el.c('item', { jid });
  const iq = new Element('iq', { xmlns: 'jabber:client', type: 'set', id: `blk-${Math.random().toString(36).slice(2, 10)}` }).cnode(el).root().toString();
  for (const rec of await router.sessionsOf(userId)) {
    await router.deliver(rec, withTo(iq, `${userId}@${router.domain}/${rec.resource}`), 'blocklist');
  }
}

/** Sends a user's unavailable or current presence to one contact, if that contact is a local watcher. */
async function presenceToward(router: Router, userId: string, jid: string, what: 'unavailable' | 'current'): Promise<void> {
  const suffix = `@${router.domain}`;
  const bare = jid.split('/')[0];
  if (!bare.endsWith(suffix)) return;
  const contactId = bare.slice(0, -suffix.length);
  const item = await router.deps.store.rosters.getItem(userId, bare);
  if (!item || (item.subscription !== 'from' && item.subscription !== 'both')) return;
  if (what === 'current') return router.sendCurrentPresence(userId, contactId);
  const targets = (await router.sessionsOf(contactId)).filter((r) => r.available);
  for (const rec of await router.sessionsOf(userId)) {
    if (!rec.available) continue;
    const xml = new Element('presence', { xmlns: 'jabber:client', from: `${userId}${suffix}/${rec.resource}`, to: bare, type: 'unavailable' }).toString();
    for (const t of targets) await router.deliver(t, xml);
  }
}

/**
 * Whether a stanza from `fromUser` (bare/full JID) to the local user `toUserId`
 * must be stopped: 'inbound' when the recipient blocks the sender, 'outbound'
 * when the sender blocks the recipient; null when it may pass.
 */
export async function blockedBetween(router: Router, sender: LocalSession, toUserId: string): Promise<'inbound' | 'outbound' | null> {
  const senderBare = `${sender.userId}@${router.domain}`;
  const toBare = `${toUserId}@${router.domain}`;
  const mine = await router.blocksOf(sender.userId);
  if (mine?.has(toBare) || mine?.has(router.domain)) return 'outbound';
  // Unknown (store away, recipient elsewhere): let it pass; the bus is likely down with the store anyway.
  const theirs = await router.blocksOf(toUserId);
  if (theirs && (theirs.has(senderBare) || theirs.has(sender.fullJid) || theirs.has(router.domain))) return 'inbound';
  return null;
}

/** XEP-0191 §3.6: the error telling a user that they block the recipient. */
export function blockedByYouError(): StanzaError {
  return new StanzaError('not-acceptable', 'you block this contact; unblock them to communicate (XEP-0191 §3.6)', 'cancel', { name: 'blocked', xmlns: NS_BLOCKING_ERRORS });
}
