/**
 * Message routing for local users: RFC 6121 §8.5 (bare and full JIDs, by
 * type), offline storage (XEP-0160) and message carbons (XEP-0280).
 *
 * To a bare JID: chat and headline go to every available resource with a
 * non-negative priority, normal to the highest-priority ones; with none,
 * chat and normal are stored offline. To a full JID that is not online,
 * chat and normal fall back to the bare JID, headline is dropped. To a user
 * who does not exist: service-unavailable. An error is never answered with
 * an error.
 */
import { Element } from 'ltx';
import { isImpError } from '../../errors.js';
import type { SessionRecord } from '../../store/types.js';
import { StanzaError } from '../errors.js';
import type { LocalSession, Router } from '../router.js';
import { elementChildren, type Envelope } from '../stanza.js';
import { NS_CARBONS } from './iq.js';
import { blockedBetween, blockedByYouError } from './blocking.js';

type MessageEnvelope = Extract<Envelope, { kind: 'message' }>;

const NS_FORWARD = 'urn:xmpp:forward:0';
const NS_HINTS = 'urn:xmpp:hints';

export async function routeMessage(router: Router, session: LocalSession, msg: MessageEnvelope): Promise<void> {
  // RFC 6120 §10.3.1: a message without 'to' is addressed to the sender's own bare JID.
  const to = msg.to ?? { local: session.userId, domain: router.domain, resource: '' };
  if (to.local === '') {
    // Messages to the server itself: nothing here consumes them (RFC 6121 §8.5.1 lets us ignore them).
    if (msg.type !== 'error' && msg.type !== 'groupchat' && msg.type !== 'headline') {
      router.replyError(session, msg, new StanzaError('service-unavailable', 'the server does not accept messages'));
    }
    return;
  }
  if (to.local !== session.userId) {
    const blocked = await blockedBetween(router, session, to.local);
    if (blocked === 'outbound') return router.replyError(session, msg, blockedByYouError());
    // XEP-0191 §3.5: the recipient blocks the sender; answered as if nobody were there.
    if (blocked === 'inbound') {
      if (msg.type !== 'error' && msg.type !== 'groupchat' && msg.type !== 'headline') router.replyError(session, msg, new StanzaError('service-unavailable', `${to.local}@${to.domain} is not reachable`));
      return;
    }
  }
  const xml = msg.el.toString();
  // The recipient's sessions and, for carbons, the sender's own: one look-up.
  const copies = carbonEligible(msg) && to.local !== session.userId;
  const found = await router.sessionsOfMany(copies ? [to.local, session.userId] : [to.local]);
  const recs = found.get(to.local) ?? [];
  const own = copies ? found.get(session.userId) ?? [] : [];
  let delivered: SessionRecord[] = [];

  if (to.resource !== '') {
    const rec = recs.find((r) => r.resource === to.resource);
    if (rec && (await router.deliver(rec, xml))) delivered = [rec];
    else if (msg.type === 'headline' || msg.type === 'error') return;
    else if (msg.type === 'groupchat') return router.replyError(session, msg, new StanzaError('service-unavailable', 'no such resource'));
  }
  if (delivered.length === 0) {
    if (msg.type === 'groupchat') return router.replyError(session, msg, new StanzaError('service-unavailable', 'groupchat messages go to a room, not to a user'));
    const targets = pickResources(recs, msg.type);
    for (const rec of targets) if (await router.deliver(rec, xml)) delivered.push(rec);
    if (delivered.length === 0) {
      await storeOffline(router, session, msg, to.local, xml);
      sentCarbons(router, session, msg, own);
      return;
    }
  }
  sentCarbons(router, session, msg, own);
  receivedCarbons(router, recs, delivered, msg);
}

/** RFC 6121 §8.5.2.1: which of a user's resources get a message sent to the bare JID. */
export function pickResources(recs: SessionRecord[], type: MessageEnvelope['type']): SessionRecord[] {
  const eligible = recs.filter((r) => r.available && r.priority >= 0);
  if (type === 'error') return [];
  if (type !== 'normal') return eligible;
  const top = Math.max(...eligible.map((r) => r.priority));
  return eligible.filter((r) => r.priority === top);
}

async function storeOffline(router: Router, session: LocalSession, msg: MessageEnvelope, userId: string, xml: string): Promise<void> {
  if (msg.type === 'error' || msg.type === 'headline') return;
  try {
    const user = await router.deps.store.users.get(userId);
    if (!user) return router.replyError(session, msg, new StanzaError('service-unavailable', `no user ${userId}@${router.domain}`));
    // XEP-0160 §3: only messages with content worth keeping (a body, or a subject) are stored.
    if (!msg.el.getChild('body') && !msg.el.getChild('subject')) return;
    const stored = await router.deps.store.offline.push(userId, xml, router.deps.now(), router.deps.offlineMax);
    if (!stored) router.replyError(session, msg, new StanzaError('service-unavailable', `${userId}@${router.domain} is offline and their message store is full`));
  } catch (e) {
    if (!isImpError(e, 'IMP_STORE_UNAVAILABLE')) throw e;
    // Nothing is acknowledged that was not kept: the sender learns the message did not go.
    router.replyError(session, msg, new StanzaError('internal-server-error', 'the message could not be stored for the offline user; try again shortly', 'wait'));
  }
}

/** XEP-0280 §6: which messages are copied. */
function carbonEligible(msg: MessageEnvelope): boolean {
  if (msg.type !== 'chat' && !(msg.type === 'normal' && msg.el.getChild('body'))) return false;
  for (const c of elementChildren(msg.el)) {
    if (c.attrs.xmlns === NS_CARBONS) return false; // private, or already a carbon
    if (c.attrs.xmlns === NS_HINTS && c.name === 'no-copy') return false;
  }
  return true;
}

function wrap(kind: 'sent' | 'received', msg: MessageEnvelope, bare: string, to: string): string {
  const outer = new Element('message', { xmlns: 'jabber:client', from: bare, to, type: msg.type });
  outer.c(kind, { xmlns: NS_CARBONS }).c('forwarded', { xmlns: NS_FORWARD }).cnode(msg.el);
  return outer.toString();
}

/** Copies what a user sent to the user's other carbons-enabled resources (`own`: the user's sessions). */
function sentCarbons(router: Router, session: LocalSession, msg: MessageEnvelope, own: SessionRecord[]): void {
  if (own.length < 2) return;
  const bare = `${session.userId}@${router.domain}`;
  for (const rec of own) {
    if (rec.resource === session.resource) continue;
    void router.deliver(rec, wrap('sent', msg, bare, `${bare}/${rec.resource}`), 'carbon')
      .catch((e) => router.deps.log.warn({ err: e }, 'sent carbon not delivered'));
  }
}

/** Copies what a user received to the user's resources that did not get it themselves. */
function receivedCarbons(router: Router, recs: SessionRecord[], delivered: SessionRecord[], msg: MessageEnvelope): void {
  if (!carbonEligible(msg) || recs.length < 2) return;
  const got = new Set(delivered.map((r) => r.resource));
  const bare = `${recs[0].userId}@${router.domain}`;
  for (const rec of recs) {
    if (got.has(rec.resource)) continue;
    void router.deliver(rec, wrap('received', msg, bare, `${bare}/${rec.resource}`), 'carbon')
      .catch((e) => router.deps.log.warn({ err: e }, 'received carbon not delivered'));
  }
}
