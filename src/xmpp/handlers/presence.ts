/**
 * Presence from a client (RFC 6121 §4), the part this node needs before
 * rosters arrive: a resource's availability and priority (which decide
 * message routing, RFC 6121 §8.5), initial presence releasing offline
 * messages (XEP-0160), broadcast to the user's own resources (RFC 6121
 * §4.2.2), and directed presence (§4.6) with the unavailable it owes at
 * logout. Subscriptions and roster broadcast come with the roster module.
 */
import { Element, parse } from 'ltx';
import type { LocalSession, Router } from '../router.js';
import type { Envelope } from '../stanza.js';
import { StanzaError } from '../errors.js';

type PresenceEnvelope = Extract<Envelope, { kind: 'presence' }>;

const MAX_DIRECTED = 1000;

/** The sessions that received directed presence from a session (RFC 6121 §4.6.3). */
const directed = new WeakMap<LocalSession, Set<string>>();

export async function routePresence(router: Router, session: LocalSession, p: PresenceEnvelope): Promise<void> {
  if (!p.to) {
    if (p.type === 'available') return selfAvailable(router, session, p);
    if (p.type === 'unavailable') return selfUnavailable(router, session, p.el.toString());
    // Subscription requests without a target, probes to nobody: nothing to do.
    return;
  }
  if (p.type === 'available' || p.type === 'unavailable') return directedPresence(router, session, p);
  // Subscription management (subscribe, subscribed, ...) and probes need the roster: not served yet.
  if (p.type !== 'error') router.replyError(session, p, new StanzaError('feature-not-implemented', 'presence subscriptions are not available on this server yet'));
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
  session.available = true;
  session.priority = priority;
  await router.updatePresence(session);
  await broadcastToOwnResources(router, session, p.el.toString(), true);
  if (priority >= 0 && !session.offlineFlushed) {
    session.offlineFlushed = true;
    void router.deliverOffline(session, withDelay(router.domain));
  }
}

/** Marks a session unavailable and tells those who saw it available. Also used when a session ends. */
export async function selfUnavailable(router: Router, session: LocalSession, xml?: string): Promise<void> {
  if (!session.available) return;
  session.available = false;
  // A replaced session's resource lives on in its successor: its registration and its
  // contacts' view are the successor's now. Only those it sent directed presence to hear it leave.
  if (session.replaced) return sendDirectedUnavailable(router, session, xml);
  const stanza = xml ?? new Element('presence', { xmlns: 'jabber:client', from: session.fullJid, type: 'unavailable' }).toString();
  await router.updatePresence(session);
  await broadcastToOwnResources(router, session, stanza, false);
  await sendDirectedUnavailable(router, session, stanza);
}

async function sendDirectedUnavailable(router: Router, session: LocalSession, xml?: string): Promise<void> {
  const stanza = xml ?? new Element('presence', { xmlns: 'jabber:client', from: session.fullJid, type: 'unavailable' }).toString();
  const seen = directed.get(session);
  if (seen) {
    directed.delete(session);
    for (const full of seen) {
      const el = parse(stanza) as Element;
      el.attrs.to = full;
      await sendToFullOrBare(router, full, el.toString());
    }
  }
}

/** RFC 6121 §4.2.2, §4.5.2: a resource's presence goes to the user's available resources (itself too when it comes online). */
async function broadcastToOwnResources(router: Router, session: LocalSession, xml: string, includeSelf: boolean): Promise<void> {
  for (const rec of await router.sessionsOf(session.userId)) {
    const self = rec.resource === session.resource;
    if (self ? includeSelf && !session.replaced : rec.available) await router.deliver(rec, xml);
  }
}

async function directedPresence(router: Router, session: LocalSession, p: PresenceEnvelope): Promise<void> {
  const to = p.to!;
  if (to.local === '') return; // presence to the server itself
  const full = to.resource ? `${to.local}@${to.domain}/${to.resource}` : `${to.local}@${to.domain}`;
  let seen = directed.get(session);
  if (p.type === 'available') {
    if (!seen) directed.set(session, (seen = new Set()));
    // Bounded: a client cannot make the server remember without limit.
    if (seen.size < MAX_DIRECTED) seen.add(full);
  } else {
    seen?.delete(full);
  }
  await sendToFullOrBare(router, full, p.el.toString());
}

async function sendToFullOrBare(router: Router, target: string, xml: string): Promise<void> {
  const [bare, resource] = splitResource(target);
  const userId = bare.slice(0, bare.indexOf('@'));
  for (const rec of await router.sessionsOf(userId)) {
    if (resource ? rec.resource === resource : rec.available) await router.deliver(rec, xml);
  }
}

function splitResource(j: string): [string, string] {
  const i = j.indexOf('/');
  return i < 0 ? [j, ''] : [j.slice(0, i), j.slice(i + 1)];
}

/** XEP-0203: an offline message carries when the server took it. */
function withDelay(domain: string): (xml: string, storedAt: number) => string {
  return (xml, storedAt) => {
    const el = parse(xml) as Element;
    el.c('delay', { xmlns: 'urn:xmpp:delay', from: domain, stamp: new Date(storedAt).toISOString() }).t('Offline storage');
    return el.toString();
  };
}
