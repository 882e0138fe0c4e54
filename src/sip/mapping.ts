/**
 * The mapping between PIDF/RPID and imp's protocol-neutral presence
 * (src/presence-engine), both ways. docs/presence-mapping.md holds the same
 * rules as tables, and test/unit/mapping.test.ts checks every row of them
 * against these functions.
 *
 * Availability follows RFC 7248 (SIP-XMPP presence interworking): PIDF basic
 * open/closed ↔ available/unavailable, `<note/>` ↔ status text, tuple ↔
 * resource, and the contact priority (0..1) ↔ XMPP priority (-128..127) by
 * scaling. RFC 7248 leaves XMPP `<show/>` unmapped, so the rest is imp's own,
 * configurable mapping onto RPID activities (RFC 4480):
 *   - inbound (a PUBLISH from a SIP endpoint or a phone line → a PresenceTuple):
 *     activities pick the closest show (busy → dnd, away → away, vacation → xa…),
 *     on-the-phone sets the tuple's onThePhone flag, meeting/appointment make it
 *     dnd "In a meeting";
 *   - outbound (the composed state → the PIDF a SIP watcher gets):
 *     away → `away`, dnd → `busy`, on the phone → `on-the-phone`,
 *     in a meeting → `meeting`.
 * The composition itself (an explicit DND is never downgraded by the phone,
 * "On the phone" decoration, …) is aggregate()'s job, not this file's.
 */
import {
  compareTuples, IN_A_MEETING_TEXT, ON_THE_PHONE_TEXT,
  type Composed, type PresenceTuple, type Show,
} from '../presence-engine/index.js';
import {
  emptyRpid, type PidfDocument, type PidfNote, type PidfTuple, type Rpid,
} from './codec/pidf-model.js';

/** How XMPP priority and PIDF contact priority are scaled into each other. */
export type PriorityScale = 'linear' | 'non-negative';

export interface MappingConfig {
  /** The text shown for a user made busy by a phone call (the engine's own text is replaced by it on the way out). */
  onThePhoneText: string;
  /** The text shown for a user made busy by a meeting. */
  inAMeetingText: string;
  /** Inbound: the show an RPID activity stands for. Activities not listed leave the show alone. */
  activityShows: Readonly<Record<string, 'away' | 'xa' | 'dnd'>>;
  /** Inbound: activities that mean "on the phone" (the tuple's onThePhone flag). */
  phoneActivities: readonly string[];
  /** Inbound: activities that mean "in a meeting": show dnd, and the meeting text when the document has no note. */
  meetingActivities: readonly string[];
  /** Inbound: RPID `user-input` idle means away (RFC 4480's idle user). */
  idleIsAway: boolean;
  /** Both ways: 'linear' maps -128..127 onto 0..1 evenly; 'non-negative' maps 0..127 onto 0..1 and negatives to 0. */
  priorityScale: PriorityScale;
  /** Inbound: the XMPP priority of a SIP publication whose tuples carry no contact priority. */
  defaultPriority: number;
  /** Inbound: the preferred xml:lang when a document has notes in several languages (null: the first note). */
  noteLanguage: string | null;
  /** Outbound: the xml:lang written on notes (null: none). */
  renderLanguage: string | null;
  /** Outbound: the id of the tuple that stands for the composed state. */
  tupleId: string;
  /** Outbound: the id of the `<dm:person>` element. */
  personId: string;
}

/** The defaults; docs/presence-mapping.md ("Configuration") lists them, and a test keeps the two equal. */
export const DEFAULT_MAPPING: Readonly<MappingConfig> = Object.freeze({
  onThePhoneText: ON_THE_PHONE_TEXT,
  inAMeetingText: IN_A_MEETING_TEXT,
  activityShows: Object.freeze({
    busy: 'dnd', dnd: 'dnd', presentation: 'dnd', performance: 'dnd',
    away: 'away', meal: 'away', breakfast: 'away', dinner: 'away', 'in-transit': 'away', shopping: 'away',
    steering: 'away', playing: 'away', spectator: 'away', tv: 'away', worship: 'away',
    vacation: 'xa', holiday: 'xa', travel: 'xa', sleeping: 'xa', 'permanent-absence': 'xa',
  } as const),
  phoneActivities: Object.freeze(['on-the-phone']),
  meetingActivities: Object.freeze(['meeting', 'appointment']),
  idleIsAway: true,
  priorityScale: 'linear',
  defaultPriority: 0,
  noteLanguage: null,
  renderLanguage: null,
  tupleId: 'presence',
  personId: 'person',
});

export function mappingConfig(partial: Partial<MappingConfig> = {}): MappingConfig {
  return { ...DEFAULT_MAPPING, ...partial };
}

// ---------------------------------------------------------------- priority

const clampInt = (n: number, lo: number, hi: number): number => (Number.isFinite(n) ? Math.min(hi, Math.max(lo, Math.round(n))) : 0);
const round3 = (n: number): number => Math.round(n * 1000) / 1000;

/**
 * XMPP priority (-128..127, RFC 6121 §4.7.2.3) → PIDF contact priority (0..1,
 * at most three decimals, RFC 3863), keeping the order. 'linear':
 * (p + 128) / 255, so -128 → 0, 0 → 0.502, 127 → 1. 'non-negative': p / 127
 * with negatives at 0. Out-of-range input is clamped first.
 */
export function xmppToPidfPriority(priority: number, scale: PriorityScale = DEFAULT_MAPPING.priorityScale): number {
  const p = clampInt(priority, -128, 127);
  return scale === 'linear' ? round3((p + 128) / 255) : round3(Math.max(0, p) / 127);
}

/**
 * PIDF contact priority (0..1) → XMPP priority, the inverse of
 * xmppToPidfPriority: for every XMPP priority p (every p ≥ 0 for
 * 'non-negative'), pidfToXmppPriority(xmppToPidfPriority(p)) === p.
 */
export function pidfToXmppPriority(priority: number, scale: PriorityScale = DEFAULT_MAPPING.priorityScale): number {
  const q = Number.isFinite(priority) ? Math.min(1, Math.max(0, priority)) : 0;
  const p = scale === 'linear' ? Math.round(q * 255 - 128) : Math.round(q * 127);
  return p === 0 ? 0 : p; // no -0
}

// ---------------------------------------------------------------- tuple id ↔ resource

/**
 * A tuple id for an XMPP resource (RFC 7248: tuple ↔ resource). A tuple id is
 * an XML ID (an NCName), a resource can be almost any text, so: `r-` then the
 * resource with every character other than A-Z a-z 0-9 '.' '-' written as
 * `_<hex code point>_`. Injective and reversible (resourceOfTupleId).
 */
export function tupleIdForResource(resource: string): string {
  let out = 'r-';
  for (const ch of resource) out += /^[A-Za-z0-9.-]$/.test(ch) ? ch : `_${(ch.codePointAt(0) ?? 0).toString(16)}_`;
  return out;
}

/** The resource (never empty) a tupleIdForResource id stands for; null for any other id. */
export function resourceOfTupleId(id: string): string | null {
  if (!id.startsWith('r-')) return null;
  let out = '';
  const re = /([A-Za-z0-9.-]+)|_([0-9a-f]{1,6})_/gy;
  re.lastIndex = 2;
  while (re.lastIndex < id.length) {
    const m = re.exec(id);
    if (!m) return null;
    if (m[1] !== undefined) out += m[1];
    else {
      const cp = parseInt(m[2] ?? '', 16);
      if (cp > 0x10ffff) return null;
      out += String.fromCodePoint(cp);
    }
  }
  return out !== '' && tupleIdForResource(out) === id ? out : null;
}

// ---------------------------------------------------------------- show ↔ activities

/** Outbound, per show (RFC 7248 leaves <show/> unmapped; this is imp's choice): away/xa → away, dnd → busy. */
export function activitiesForShow(show: Show): string[] {
  switch (show) {
    case 'available':
    case 'chat':
      return [];
    case 'away':
    case 'xa':
      return ['away'];
    case 'dnd':
      return ['busy'];
  }
}

const SHOW_RANK: Readonly<Record<Show, number>> = { available: 0, chat: 0, away: 1, xa: 2, dnd: 3 };

/** The strongest show the activities stand for (dnd > xa > away > available). */
export function showForActivities(activities: readonly string[], config: Partial<MappingConfig> = {}): Show {
  const c = mappingConfig(config);
  let show: Show = 'available';
  for (const a of activities) {
    const s: Show | undefined = c.meetingActivities.includes(a) ? 'dnd' : Object.hasOwn(c.activityShows, a) ? c.activityShows[a] : undefined;
    if (s !== undefined && SHOW_RANK[s] > SHOW_RANK[show]) show = s;
  }
  return show;
}

// ---------------------------------------------------------------- inbound: PIDF → PresenceTuple

const rpidsOf = (doc: PidfDocument): Rpid[] => [...doc.persons.map((p) => p.rpid), ...doc.tuples.map((t) => t.rpid), ...doc.devices.map((d) => d.rpid)];

/** Every activity anywhere in the document (persons, tuples, devices), without duplicates, in document order. */
export function activitiesOf(doc: PidfDocument): string[] {
  const out: string[] = [];
  for (const r of rpidsOf(doc)) for (const v of r.activities?.values ?? []) if (!out.includes(v)) out.push(v);
  return out;
}

const primaryLang = (tag: string): string => tag.toLowerCase().split('-')[0] ?? '';

function pickNote(notes: readonly PidfNote[], lang: string | null): string | null {
  if (notes.length === 0) return null;
  if (lang !== null) {
    const exact = notes.find((n) => n.lang !== null && n.lang.toLowerCase() === lang.toLowerCase());
    const primary = notes.find((n) => n.lang !== null && primaryLang(n.lang) === primaryLang(lang));
    return (exact ?? primary ?? notes[0])?.text ?? null;
  }
  return notes[0]?.text ?? null;
}

/**
 * The tuple that speaks for the document: the open tuple with the highest
 * contact priority (no priority counts as lowest), the first one on a tie;
 * with no open tuple, the first tuple.
 */
export function primaryTuple(doc: PidfDocument): PidfTuple | null {
  let best: PidfTuple | null = null;
  for (const t of doc.tuples) {
    if (t.basic !== 'open') continue;
    if (best === null || (t.contact?.priority ?? -1) > (best.contact?.priority ?? -1)) best = t;
  }
  return best ?? doc.tuples[0] ?? null;
}

/**
 * A PIDF document as a presence-engine tuple, for a SIP publication
 * (`kind: 'sip'`, id = the publication's ETag) or a phone line (`kind:
 * 'phone'`, id = the directory number). See docs/presence-mapping.md,
 * "Inbound".
 *   - available: some tuple's basic is open (RFC 7248, RFC 3863). A
 *     document without tuples, or with only closed ones, is unavailable.
 *     (The engine ignores `available` for phone tuples: a line says nothing
 *     about whether its owner is signed in.)
 *   - show: the strongest show of all activities (activityShows,
 *     meetingActivities), or away when idleIsAway and some user-input is idle.
 *   - onThePhone: some activity is in phoneActivities (on any person, tuple or
 *     device, whatever the tuple's basic).
 *   - status: the first note of the first person that has one, else of the
 *     primary tuple, else of the document, else of a device; else the first
 *     `<other>` activity text; else the meeting text when a meeting is what
 *     makes the user dnd (not with an explicit busy); else null.
 *   - priority: sip: the primary tuple's contact priority scaled to XMPP's
 *     range (defaultPriority without one); phone: 0.
 *   - inMeeting: some activity is in meetingActivities (informational: the
 *     engine only takes meetings from calendar sources).
 *   - updatedAt: `now` (the document's own timestamps come from other clocks).
 */
export function pidfToTuple(
  doc: PidfDocument, source: { kind: 'sip' | 'phone'; id: string }, now: number, config: Partial<MappingConfig> = {},
): PresenceTuple {
  const c = mappingConfig(config);
  const activities = activitiesOf(doc);
  const rpids = rpidsOf(doc);
  let show = showForActivities(activities, c);
  if (c.idleIsAway && show === 'available' && rpids.some((r) => r.userInput?.value === 'idle')) show = 'away';
  const onThePhone = activities.some((a) => c.phoneActivities.includes(a));
  const inMeeting = activities.some((a) => c.meetingActivities.includes(a));
  const primary = primaryTuple(doc);
  const note = [...doc.persons.map((p) => p.notes), primary?.notes ?? [], doc.notes, ...doc.devices.map((d) => d.notes)]
    .map((notes) => pickNote(notes, c.noteLanguage))
    .find((n) => n !== null) ?? null;
  const other = rpids.flatMap((r) => r.activities?.other ?? [])[0] ?? null;
  // The meeting text decorates only a user whom the meeting makes busy: an explicit busy keeps its own (absent) text.
  const meetingDecorates = inMeeting && showForActivities(activities.filter((a) => !c.meetingActivities.includes(a)), c) !== 'dnd';
  const status = note ?? other ?? (meetingDecorates ? c.inAMeetingText : null);
  const contactPriority = primary?.basic === 'open' ? primary.contact?.priority ?? null : null;
  const priority = source.kind === 'phone'
    ? 0
    : contactPriority === null ? clampInt(c.defaultPriority, -128, 127) : pidfToXmppPriority(contactPriority, c.priorityScale);
  const tuple: PresenceTuple = {
    source: { kind: source.kind, id: source.id },
    available: doc.tuples.some((t) => t.basic === 'open'),
    show,
    status,
    priority,
    onThePhone,
    updatedAt: now,
  };
  if (inMeeting) tuple.inMeeting = true;
  return tuple;
}

// ---------------------------------------------------------------- outbound: Composed → PIDF

/**
 * The composed text as the configuration wants it shown: the engine's own
 * "On the phone" / "In a meeting" (set only together with the flag) become
 * onThePhoneText / inAMeetingText. A user's own text is kept.
 */
export function displayText(composed: Composed, config: Partial<MappingConfig> = {}): string | null {
  const c = mappingConfig(config);
  if (composed.onThePhone && composed.text === ON_THE_PHONE_TEXT) return c.onThePhoneText;
  if (composed.inMeeting && composed.text === IN_A_MEETING_TEXT) return c.inAMeetingText;
  return composed.text;
}

/** The person's activities for a composed state, in this order: on-the-phone, meeting, then busy (dnd) or away (away). */
export function activitiesForComposed(composed: Composed): string[] {
  const out: string[] = [];
  if (composed.onThePhone) out.push('on-the-phone');
  if (composed.inMeeting) out.push('meeting');
  if (composed.state === 'dnd') out.push('busy');
  else if (composed.state === 'away') out.push('away');
  return out;
}

const blank = (s: string | null): boolean => s === null || s.trim() === '';

/**
 * The PIDF document for a composed presence (docs/presence-mapping.md, "Outbound").
 *   - One `<dm:person>` (id personId) with the composed state as RPID
 *     activities (activitiesForComposed) and the text as `<dm:note>`.
 *   - Without `tuples`, or when no XMPP resource is available, one tuple (id
 *     tupleId): basic open unless unavailable, the text as `<note>`.
 *   - With `tuples`: one tuple per available XMPP resource, best first
 *     (compareTuples), id tupleIdForResource(resource), basic open, the
 *     resource's status as `<note>`, and a `<contact>` (the entity) with the
 *     scaled XMPP priority (RFC 7248). Other sources (SIP publications, lines,
 *     calendars) are not services a watcher can reach, so they are not tuples;
 *     they show through the person's activities.
 *   - When the composed state is unavailable, `tuples` are ignored: that is
 *     also what a watcher who may not see the user is given, and a resource
 *     must not leak through.
 */
export function composedToPidf(
  entity: string, composed: Composed, tuples?: readonly PresenceTuple[], config: Partial<MappingConfig> = {},
): PidfDocument {
  const c = mappingConfig(config);
  const text = displayText(composed, c);
  const note = (t: string | null): PidfNote[] => (blank(t) ? [] : [{ text: t as string, lang: c.renderLanguage }]);
  const available = composed.state !== 'unavailable';
  const resources = available
    ? [...(tuples ?? [])].filter((t) => t.source.kind === 'xmpp' && t.available).sort(compareTuples)
    : [];
  const pidfTuples: PidfTuple[] = resources.length > 0
    ? resources.map((t) => ({
      id: tupleIdForResource(t.source.id),
      basic: 'open',
      contact: { uri: entity, priority: xmppToPidfPriority(t.priority, c.priorityScale) },
      notes: note(t.status),
      timestamp: null,
      deviceId: null,
      rpid: emptyRpid(),
    }))
    : [{
      id: c.tupleId, basic: available ? 'open' : 'closed', contact: null, notes: note(text), timestamp: null, deviceId: null, rpid: emptyRpid(),
    }];
  const activities = activitiesForComposed(composed);
  const rpid = emptyRpid();
  if (activities.length > 0) rpid.activities = { values: activities, other: [], from: null, until: null };
  return {
    entity,
    tuples: pidfTuples,
    persons: [{ id: c.personId, notes: note(text), timestamp: null, rpid }],
    devices: [],
    notes: [],
  };
}
