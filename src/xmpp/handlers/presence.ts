/**
 * Presence from a client (RFC 6121 §4): availability and priority of a
 * resource (they also decide message routing, RFC 6121 §8.5), broadcast to
 * the user's watchers and own resources, probes of the contacts the user is
 * subscribed to on initial presence (answered from their current presence, or
 * their last unavailable with its delay stamp), stored subscription requests
 * and offline messages released to a session coming online, directed
 * presence (§4.6) with the unavailable it owes at logout, and subscription
 * stanzas handed to the roster module (§3).
 */
import { Element, parse } from 'ltx';
import type { LocalSession, Router } from '../router.js';
import { withTo, type Envelope } from '../stanza.js';
import { StanzaError } from '../errors.js';
import { fanOut, publish } from '../fanout.js';
import { deliverPendingRequests, subscriptionPresence } from './roster.js';
import type { RosterItem } from '../../store/roster-types.js';

type PresenceEnvelope = Extract<Envelope, { kind: 'presence' }>;

const MAX_DIRECTED = 1000;

/** The sessions that received directed presence from a session (RFC 6121 §4.6.3). */
const directed = new WeakMap<LocalSession, Set<string>>();

export async function routePresence(router: Router, session: LocalSession, p: PresenceEnvelope): Promise<void> {
  if (!p.to) {
    if (p.type === 'available') return selfAvailable(router, session, p);
    if (p.type === 'unavailable') return selfUnavailable(router, session, p.el);
    // Subscription requests without a target, probes to nobody: nothing to do.
    return;
  }
  switch (p.type) {
    case 'available': case 'unavailable': return directedPresence(router, session, p);
    case 'subscribe': case 'subscribed': case 'unsubscribe': case 'unsubscribed': return subscriptionPresence(router, session, p);
    // RFC 6121 §4.3: probes are the server's business; a client's probe is ignored.
    case 'probe': return;
    case 'error': return directedPresence(router, session, p);
  }
}

/** The stanza as broadcast: from the full JID, no 'to', in jabber:client. */
function broadcastForm(el: Element, from: string): string {
  const copy = parse(el.toString()) as Element;
  delete copy.attrs.to;
  copy.attrs.from = from;
  return copy.toString();
}

async function selfAvailable(router: Router, session: LocalSession, p: PresenceEnvelope): Promise<void> {
  const prioText = p.el.getChildText('priority');
  let priority = 0;
  if (prioText !== null) {
    const t = prioText.trim();
    priority = /^[+-]?\d{1,4}$/.test(t) ? Number(t) : NaN;
    // RFC 6121 §4.7.2.3: an integer from -128 to +127.
    if (!Number.isInteger(priority) || priority < -128 || priority > 127) {
      return router.replyError(session, p, new StanzaError('bad-request', 'priority must be an integer from -128 to 127'));
    }
  }
  const initial = !session.available;
  const xml = broadcastForm(p.el, session.fullJid);
  session.available = true;
  session.priority = priority;
  session.presenceXml = xml;
  const { watchers, contacts } = await publish(router, session, true, xml, initial);
  // RFC 6121 §4.2.2 / §4.4.2: to the watchers, and to the user's own available resources (itself included).
  fanOut(router, xml, watchers);
  await toOwnResources(router, session, xml, true);
  if (initial) {
    // RFC 6121 §4.2.3: the probes' answers, from the contacts' current presence, to this resource.
    for (const c of contacts) if (c.presence) session.send(withTo(c.presence, session.fullJid));
    const roster = await router.deps.store.rosters.get(session.userId);
    await answerProbesOfAbsentContacts(router, session, roster.items, new Set(contacts.map((c) => c.userId)));
    deliverPendingRequests(router, session, roster.items);
  }
  if (priority >= 0 && !session.offlineFlushed) {
    session.offlineFlushed = true;
    void router.deliverOffline(session, withDelay(router.domain));
  }
}

/**
 * Contacts with no available resource answer a probe with their last
 * unavailable presence, stamped with when it was (RFC 6121 §4.3.2) — only
 * when one is known, so a contact who never signed in sends nothing.
 */
async function answerProbesOfAbsentContacts(router: Router, session: LocalSession, items: RosterItem[], online: Set<string>): Promise<void> {
  const { store } = router.deps;
  const suffix = `@${router.domain}`;
  const absent = items
    .filter((i) => (i.subscription === 'to' || i.subscription === 'both') && i.jid.endsWith(suffix))
    .map((i) => i.jid.slice(0, -suffix.length))
    .filter((id) => !online.has(id));
  // All look-ups issued at once: one round trip's worth of waiting, not one per contact.
  const lasts = await Promise.all(absent.map((id) => store.presence.getLast(id)));
  const known = absent.map((id, k) => ({ id, last: lasts[k] })).filter((x) => x.last?.stanza);
  const blocked = await Promise.all(known.map((x) => store.blocks.isBlocked(x.id, `${session.userId}${suffix}`)));
  for (const [k, { last }] of known.entries()) {
    if (blocked[k] || !last?.stanza) continue;
    const el = parse(last.stanza) as Element;
    el.attrs.to = session.fullJid;
    el.c('delay', { xmlns: 'urn:xmpp:delay', from: router.domain, stamp: new Date(last.at).toISOString() });
    session.send(el.toString());
  }
}

/** Marks a session unavailable and tells those who saw it available. Also used when a session ends. */
export async function selfUnavailable(router: Router, session: LocalSession, el?: Element): Promise<void> {
  const wasAvailable = session.available;
  session.available = false;
  session.presenceXml = null;
  const xml = el ? broadcastForm(el, session.fullJid) : new Element('presence', { xmlns: 'jabber:client', from: session.fullJid, type: 'unavailable' }).toString();
  // A replaced session's resource lives on in its successor: its registration and its
  // contacts' view are the successor's now. Only those it sent directed presence to hear it leave
  // (RFC 6121 §4.6.3 — also when it never sent broadcast presence).
  if (wasAvailable && !session.replaced) {
    const { watchers } = await publish(router, session, false, null, false);
    fanOut(router, xml, watchers);
    await toOwnResources(router, session, xml, false);
    const others = (await router.sessionsOf(session.userId)).filter((r) => r.available && r.resource !== session.resource);
    if (others.length === 0) {
      await router.deps.store.presence.setLast(session.userId, { stanza: xml, at: router.deps.now() })
        .catch((e) => router.deps.log.warn({ err: e }, 'last presence not kept'));
    }
  }
  const seen = directed.get(session);
  if (seen) {
    directed.delete(session);
    for (const full of seen) await sendToFullOrBare(router, full, withTo(xml, full));
  }
}

/** RFC 6121 §4.2.2, §4.5.2: a resource's presence goes to the user's available resources (itself too when it comes online). */
async function toOwnResources(router: Router, session: LocalSession, xml: string, includeSelf: boolean): Promise<void> {
  const bare = `${session.userId}@${router.domain}`;
  for (const rec of await router.sessionsOf(session.userId)) {
    const self = rec.resource === session.resource;
    if (self ? includeSelf : rec.available) await router.deliver(rec, withTo(xml, bare));
  }
}

async function directedPresence(router: Router, session: LocalSession, p: PresenceEnvelope): Promise<void> {
  const to = p.to!;
  if (to.local === '') return; // presence to the server itself
  const full = to.resource ? `${to.local}@${to.domain}/${to.resource}` : `${to.local}@${to.domain}`;
  if (await router.deps.store.blocks.isBlocked(to.local, `${session.userId}@${router.domain}`)) return; // XEP-0191 §3.5: dropped
  let seen = directed.get(session);
  if (p.type === 'available') {
    if (!seen) directed.set(session, (seen = new Set()));
    // Bounded: a client cannot make the server remember without limit.
    if (seen.size < MAX_DIRECTED) seen.add(full);
  } else if (p.type === 'unavailable') {
    seen?.delete(full);
  }
  await sendToFullOrBare(router, full, p.el.toString());
}

async function sendToFullOrBare(router: Router, target: string, xml: string): Promise<void> {
  const slash = target.indexOf('/');
  const bare = slash < 0 ? target : target.slice(0, slash);
  const resource = slash < 0 ? '' : target.slice(slash + 1);
  const userId = bare.slice(0, bare.indexOf('@'));
  for (const rec of await router.sessionsOf(userId)) {
    if (resource ? rec.resource === resource : rec.available) await router.deliver(rec, xml);
  }
}

/** XEP-0203: an offline message carries when the server took it. */
function withDelay(domain: string): (xml: string, storedAt: number) => string {
  return (xml, storedAt) => {
    const el = parse(xml) as Element;
    el.c('delay', { xmlns: 'urn:xmpp:delay', from: domain, stamp: new Date(storedAt).toISOString() }).t('Offline storage');
    return el.toString();
  };
}
