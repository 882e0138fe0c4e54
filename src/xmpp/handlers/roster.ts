/**
 * Rosters over XMPP (RFC 6121 §2, XEP-0237 versioning) and subscription
 * presence (RFC 6121 §3): roster get/set/remove, roster pushes to every
 * interested resource, subscription stanzas turned into both users' roster
 * changes by src/roster/subscriptions.ts, and the deliveries and presence
 * effects that follow.
 */
import { Element } from 'ltx';
import type { RosterItem, RosterRefusal } from '../../store/roster-types.js';
import { processSubscription, type PresenceEffect, type SubType } from '../../roster/subscriptions.js';
import { JidError, parseJid } from '../../util/jid.js';
import { StanzaError } from '../errors.js';
import type { LocalSession, Router } from '../router.js';
import { elementChildren, withTo, type Envelope } from '../stanza.js';

export const NS_ROSTER = 'jabber:iq:roster';
type IqEnvelope = Extract<Envelope, { kind: 'iq' }>;
type PresenceEnvelope = Extract<Envelope, { kind: 'presence' }>;

const MAX_NAME = 1023;

export function itemElement(item: RosterItem | null, jid: string): Element {
  if (!item || item.hidden) return new Element('item', { jid, subscription: 'remove' });
  const attrs: Record<string, string> = { jid: item.jid, subscription: item.subscription };
  if (item.name) attrs.name = item.name;
  if (item.ask) attrs.ask = 'subscribe';
  if (item.approved) attrs.approved = 'true';
  const el = new Element('item', attrs);
  for (const g of item.groups) el.c('group').t(g);
  return el;
}

/** Roster get (RFC 6121 §2.1.3); with XEP-0237, an empty result when the client's version is current. */
export async function rosterGet(router: Router, session: LocalSession, iq: IqEnvelope): Promise<Element | null> {
  session.rosterRequested = true;
  const roster = await router.deps.store.rosters.get(session.userId);
  const ver = String(roster.version);
  if (iq.payload?.attrs.ver !== undefined && iq.payload.attrs.ver === ver) return null;
  const q = new Element('query', { xmlns: NS_ROSTER, ver });
  for (const item of roster.items) if (!item.hidden) q.cnode(itemElement(item, item.jid));
  return q;
}

/** Roster set (RFC 6121 §2.3, §2.5): add or update one item, or remove it (with the unsubscriptions removal implies). */
export async function rosterSet(router: Router, session: LocalSession, iq: IqEnvelope): Promise<Element | null> {
  const items = elementChildren(iq.payload!).filter((c) => c.name === 'item');
  if (items.length !== 1) throw new StanzaError('bad-request', 'a roster set carries exactly one <item/> (RFC 6121 §2.3.3)');
  const el = items[0];
  let contact;
  try { contact = parseJid(el.attrs.jid ?? ''); } catch (e) {
    throw new StanzaError('bad-request', `item jid: ${e instanceof JidError ? e.message : 'missing'}`);
  }
  if (contact.resource !== '') throw new StanzaError('bad-request', 'item jid: a roster item is a bare JID, without resource');
  const bare = contact.local ? `${contact.local}@${contact.domain}` : contact.domain;
  const user = { userId: session.userId, bare: `${session.userId}@${router.domain}` };

  if (el.attrs.subscription === 'remove') {
    const existing = await router.deps.store.rosters.getItem(session.userId, bare);
    if (!existing || existing.hidden) throw new StanzaError('item-not-found', `${bare} is not on the roster`);
    await subscriptionChange(router, session, bare, 'remove');
    return null;
  }
  const name = el.attrs.name ?? null;
  if (name !== null && Buffer.byteLength(name) > MAX_NAME) throw new StanzaError('not-acceptable', `item name: longer than ${MAX_NAME} bytes`);
  const groups: string[] = [];
  for (const g of el.getChildren('group')) {
    const text = g.getText();
    if (text.trim() === '') throw new StanzaError('not-acceptable', 'group: an empty group name (RFC 6121 §2.3.3)');
    if (Buffer.byteLength(text) > MAX_NAME) throw new StanzaError('not-acceptable', `group: longer than ${MAX_NAME} bytes`);
    if (groups.includes(text)) throw new StanzaError('bad-request', `group: "${text}" given twice (RFC 6121 §2.3.3)`);
    groups.push(text);
  }
  const existing = await router.deps.store.rosters.getItem(session.userId, bare);
  // Subscription and ask cannot be set by the client (RFC 6121 §2.1.2.5): only name and groups change.
  const item: RosterItem = existing
    ? { ...existing, name, groups, hidden: false }
    : { jid: bare, name, groups, subscription: 'none', ask: false, pendingIn: false, approved: false, hidden: false };
  const r = await router.deps.store.rosters.put(session.userId, item, router.deps.limits);
  if ('refused' in r) throw refusalError(r, user.bare);
  await pushRoster(router, session.userId, r.item, bare, r.version);
  return null;
}

export function refusalError(r: RosterRefusal, self: string): StanzaError {
  if (r.refused === 'max-contacts') return new StanzaError('resource-constraint', `the contact list is full: at most ${r.limit} contacts (max-contacts)`);
  const who = r.userId && `${r.userId}` !== self.split('@')[0] ? `${r.userId}'s` : 'your';
  return new StanzaError('resource-constraint', `${who} watcher list is full: at most ${r.limit} watchers (max-watchers)`);
}

/** A roster push (RFC 6121 §2.1.6) to every interested resource of the user, on any node. */
export async function pushRoster(router: Router, userId: string, item: RosterItem | null, jid: string, version: number): Promise<void> {
  const q = new Element('query', { xmlns: NS_ROSTER, ver: String(version) });
  q.cnode(itemElement(item, jid));
  const iq = new Element('iq', { xmlns: 'jabber:client', type: 'set', id: `push-${version}-${Math.random().toString(36).slice(2, 8)}` }).cnode(q).root();
  const xml = iq.toString();
  for (const rec of await router.sessionsOf(userId)) {
    await router.deliver(rec, withTo(xml, `${userId}@${router.domain}/${rec.resource}`), 'roster');
  }
}


/** Subscription presence from a client (RFC 6121 §3): subscribe, subscribed, unsubscribe, unsubscribed. */
export async function subscriptionPresence(router: Router, session: LocalSession, p: PresenceEnvelope): Promise<void> {
  const to = p.to!;
  // RFC 6121 §3.1.1: subscriptions are between bare JIDs; a full JID counts as its bare JID.
  if (to.local === '' || (to.local === session.userId && to.domain === router.domain)) return;
  const bare = `${to.local}@${to.domain}`;
  try {
    await subscriptionChange(router, session, bare, p.type as SubType);
  } catch (e) {
    if (e instanceof StanzaError) return router.replyError(session, p, e);
    throw e;
  }
}

async function subscriptionChange(router: Router, session: LocalSession, contactBare: string, type: SubType | 'remove'): Promise<void> {
  const userBare = `${session.userId}@${router.domain}`;
  const contactId = contactBare.split('@')[0];
  const contactExists = contactBare.endsWith(`@${router.domain}`) && (await router.deps.store.users.get(contactId)) !== null;
  const result = await router.serialized(pairKey(session.userId, contactId), () => processSubscription(
    router.deps.store.rosters, router.deps.limits,
    { userId: session.userId, bare: userBare }, { userId: contactId, bare: contactBare }, type, contactExists,
  ));
  if (!result.ok) throw refusalError(result.refusal, userBare);
  for (const u of result.updates) {
    const jid = u.userId === session.userId ? contactBare : userBare;
    // A hidden item is server state only: pushed when it shows or when a shown one goes.
    if (!u.visibleBefore && (!u.item || u.item.hidden)) continue;
    await pushRoster(router, u.userId, u.item, jid, u.version);
  }
  for (const d of result.deliveries) {
    const xml = new Element('presence', { xmlns: 'jabber:client', from: d.from, to: `${d.toUserId}@${router.domain}`, type: d.type }).toString();
    for (const rec of await router.sessionsOf(d.toUserId)) if (rec.available) await router.deliver(rec, xml);
  }
  for (const fx of result.presence) await presenceEffect(router, fx);
  if (!contactExists && type === 'subscribe') {
    throw new StanzaError('service-unavailable', `no user ${contactBare}: the request is kept on your roster but cannot be delivered`);
  }
}

const pairKey = (a: string, b: string): string => (a < b ? `${a}\u0000${b}` : `${b}\u0000${a}`);

/** Carries out a presence effect of a subscription change (RFC 6121 §3.1.5, §3.2.2, §3.3.3, §4.3). */
export async function presenceEffect(router: Router, fx: PresenceEffect): Promise<void> {
  const ownerId = fx.owner.split('@')[0];
  const contactId = fx.contact.split('@')[0];
  if (fx.kind === 'probe') {
    // The owner gained a subscription to the contact: the contact's presence goes to the owner.
    return router.sendCurrentPresence(contactId, ownerId);
  }
  if (fx.kind === 'send-current') return router.sendCurrentPresence(ownerId, contactId);
  // send-unavailable: the contact lost its subscription to the owner.
  for (const rec of await router.sessionsOf(ownerId)) {
    const xml = new Element('presence', { xmlns: 'jabber:client', from: `${ownerId}@${router.domain}/${rec.resource}`, to: fx.contact, type: 'unavailable' }).toString();
    for (const w of await router.sessionsOf(contactId)) if (w.available) await router.deliver(w, xml);
  }
}

/** Inbound subscription requests kept while the user was away go to a session that comes online (RFC 6121 §3.1.3). */
export function deliverPendingRequests(router: Router, session: LocalSession, items: RosterItem[]): void {
  for (const item of items) {
    if (!item.pendingIn) continue;
    session.send(new Element('presence', { xmlns: 'jabber:client', from: item.jid, to: `${session.userId}@${router.domain}`, type: 'subscribe' }).toString());
  }
}

export type { PresenceEffect };
