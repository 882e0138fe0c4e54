/**
 * PIDF codec: RFC 3863 presence documents with the RFC 4479 data model and
 * RPID (RFC 4480), read by namespace (never by prefix) and written
 * deterministically. docs/presence-mapping.md describes what imp makes of
 * them; ../mapping.ts does it.
 *
 * Reading accepts, besides the standard namespaces, the older
 * `urn:ietf:params:xml:ns:pidf:status:rpid` (RPID inside `<status>` or a
 * person), Cisco's `urn:cisco:params:xml:ns:pidf:rpid` (and its `person`
 * element) and the pre-RFC namespaces of Asterisk chan_sip / eyeBeam
 * (rpid.ts lists them). Extensions it does not know are ignored, unless
 * marked `mustUnderstand` (RFC 3863), which makes the document unacceptable.
 * Writing uses only the standard namespaces.
 */
import { Element } from 'ltx';
import type { Composed, PresenceTuple } from '../../presence-engine/index.js';
import { composedToPidf, type MappingConfig } from '../mapping.js';
import {
  emptyRpid,
  type PidfContact, type PidfDevice, type PidfDocument, type PidfNote, type PidfPerson, type PidfTuple, type Rpid,
} from './pidf-model.js';
import { attr, childElements, readXmlDocument, textOf, XML_NS, type XmlElement, type XmlLimits } from './pidf-xml.js';
import {
  CISCO_RPID_NS, DATA_MODEL_NS, LEGACY_PERSON_NS, LOCATION_TYPE_NS, PIDF_NS, RPID_NS, readRpid, writeRpid,
} from './rpid.js';

export type * from './pidf-model.js';

export type PidfParseResult = { ok: true; doc: PidfDocument } | { ok: false; reason: string };

export interface PidfParseOptions {
  /** Limits of the XML reader (default: 64 KiB, depth 32, 4096 elements, 64 attributes per element). */
  limits?: Partial<XmlLimits>;
}

export const PIDF_CONTENT_TYPE = 'application/pidf+xml';

class PidfError extends Error {}

const refuse = (reason: string): never => {
  throw new PidfError(reason);
};

/** RFC 3986 scheme, then something: enough to tell a URI from garbage without judging its scheme. */
const URI_RE = /^[A-Za-z][A-Za-z0-9+.-]*:\S+$/;
/** A decimal from 0 to 1. RFC 3863's qvalue allows at most three decimals; longer ones are rounded, not refused. */
const PRIORITY_RE = /^(?:[01](?:\.[0-9]*)?|\.[0-9]+)$/;

const describe = (el: XmlElement): string => `<${el.prefix === '' ? '' : `${el.prefix}:`}${el.local}> in '${el.ns}'`;

/** Elements whose own namespace is one of `nss` and local name `local`. */
const children = (el: XmlElement, ns: string | readonly string[], local: string): XmlElement[] =>
  childElements(el).filter((c) => c.local === local && (typeof ns === 'string' ? c.ns === ns : ns.includes(c.ns)));

/** The effective xml:lang: the element's own, else the inherited one; '' resets it (XML 1.0 §2.12). */
function langOf(el: XmlElement, inherited: string | null): string | null {
  const own = attr(el, 'lang', XML_NS);
  if (own === undefined) return inherited;
  const t = own.trim();
  return t === '' ? null : t;
}

/** Non-empty notes, trimmed, with their language. */
function notesOf(els: XmlElement[], lang: string | null): PidfNote[] {
  const out: PidfNote[] = [];
  for (const n of els) {
    const text = textOf(n).trim();
    if (text !== '') out.push({ text, lang: langOf(n, lang) });
  }
  return out;
}

function atMostOne(els: XmlElement[], what: string, rule: string): XmlElement | null {
  if (els.length > 1) refuse(`${what} appears more than once (${rule})`);
  return els[0] ?? null;
}

const trimmedText = (el: XmlElement | null): string | null => {
  if (el === null) return null;
  const t = textOf(el).trim();
  return t === '' ? null : t;
};

/**
 * RFC 3863 lets an extension demand to be understood; a recipient that does
 * not must not use the document. Everything not consumed by this codec is an
 * extension it does not understand.
 */
function checkIgnored(parent: XmlElement, used: ReadonlySet<XmlElement>): void {
  for (const c of childElements(parent)) {
    if (used.has(c)) continue;
    const mu = c.attrs.find((a) => a.local === 'mustUnderstand' && (a.ns === PIDF_NS || a.ns === ''));
    if (mu && /^\s*(?:true|1)\s*$/.test(mu.value)) {
      refuse(`the extension ${describe(c)} is marked mustUnderstand and imp does not understand it (RFC 3863, mustUnderstand)`);
    }
  }
}

function parseContact(el: XmlElement, where: string): PidfContact {
  const raw = attr(el, 'priority');
  let priority: number | null = null;
  if (raw !== undefined) {
    const t = raw.trim();
    const n = PRIORITY_RE.test(t) ? Number(t) : NaN;
    if (!(n >= 0 && n <= 1)) refuse(`the contact priority '${raw}' of ${where} must be a number from 0 to 1 (RFC 3863, qvalue)`);
    priority = Math.round(n * 1000) / 1000;
  }
  return { uri: textOf(el).trim(), priority };
}

function parseTuple(el: XmlElement, lang: string | null): PidfTuple {
  const id = attr(el, 'id')?.trim() ?? '';
  if (id === '') refuse('a <tuple> has no id attribute (RFC 3863)');
  const where = `tuple '${id}'`;
  const l = langOf(el, lang);
  const statuses = children(el, PIDF_NS, 'status');
  if (statuses.length === 0) refuse(`${where} has no <status> (RFC 3863: every tuple has exactly one)`);
  const status = atMostOne(statuses, `<status> of ${where}`, 'RFC 3863') as XmlElement;
  const basicEl = atMostOne(children(status, PIDF_NS, 'basic'), `<basic> of ${where}`, 'RFC 3863');
  let basic: PidfTuple['basic'] = null;
  if (basicEl) {
    const v = textOf(basicEl).trim();
    if (v !== 'open' && v !== 'closed') refuse(`<basic> of ${where} is '${v}', not 'open' or 'closed' (RFC 3863)`);
    basic = v as 'open' | 'closed';
  }
  const contactEl = atMostOne(children(el, PIDF_NS, 'contact'), `<contact> of ${where}`, 'RFC 3863');
  const noteEls = children(el, PIDF_NS, 'note');
  const tsEl = atMostOne(children(el, PIDF_NS, 'timestamp'), `<timestamp> of ${where}`, 'RFC 3863');
  const devEls = children(el, DATA_MODEL_NS, 'deviceID');
  const rpid = emptyRpid();
  const used = new Set<XmlElement>([...statuses, ...noteEls, ...devEls]);
  if (contactEl) used.add(contactEl);
  if (tsEl) used.add(tsEl);
  for (const u of readRpid(el, rpid)) used.add(u);
  // The RPID drafts (urn:ietf:params:xml:ns:pidf:status:rpid) put their elements inside <status>.
  const inStatus = readRpid(status, rpid);
  if (basicEl) inStatus.add(basicEl);
  checkIgnored(status, inStatus);
  checkIgnored(el, used);
  return {
    id,
    basic,
    contact: contactEl ? parseContact(contactEl, where) : null,
    notes: notesOf(noteEls, l),
    timestamp: trimmedText(tsEl),
    deviceId: trimmedText(devEls[0] ?? null),
    rpid,
  };
}

/** The parts a person and a device share: notes, timestamp, RPID (also inside a `<status>`, as CUCM and eyeBeam send). */
function parseCommon(el: XmlElement, lang: string | null, used: Set<XmlElement>): { notes: PidfNote[]; timestamp: string | null; rpid: Rpid } {
  const l = langOf(el, lang);
  const noteEls = children(el, [DATA_MODEL_NS, PIDF_NS, el.ns], 'note');
  const tsEls = children(el, [DATA_MODEL_NS, PIDF_NS, el.ns], 'timestamp');
  const rpid = emptyRpid();
  for (const n of [...noteEls, ...tsEls]) used.add(n);
  for (const u of readRpid(el, rpid)) used.add(u);
  for (const s of children(el, [PIDF_NS, el.ns], 'status')) {
    used.add(s);
    const inStatus = readRpid(s, rpid);
    for (const b of children(s, PIDF_NS, 'basic')) inStatus.add(b);
    checkIgnored(s, inStatus);
  }
  return { notes: notesOf(noteEls, l), timestamp: trimmedText(tsEls[0] ?? null), rpid };
}

const optionalId = (el: XmlElement): string | null => {
  const id = attr(el, 'id')?.trim();
  return id === undefined || id === '' ? null : id;
};

function parsePerson(el: XmlElement, lang: string | null): PidfPerson {
  const used = new Set<XmlElement>();
  const common = parseCommon(el, lang, used);
  checkIgnored(el, used);
  return { id: optionalId(el), ...common };
}

function parseDevice(el: XmlElement, lang: string | null): PidfDevice {
  const used = new Set<XmlElement>();
  const common = parseCommon(el, lang, used);
  const devEls = children(el, DATA_MODEL_NS, 'deviceID');
  for (const d of devEls) used.add(d);
  checkIgnored(el, used);
  return { id: optionalId(el), deviceId: trimmedText(devEls[0] ?? null), ...common };
}

/** Where RFC 4479's person element may come from: the data model, the pre-RFC person namespace, Cisco's. */
const PERSON_NAMESPACES: readonly string[] = [DATA_MODEL_NS, LEGACY_PERSON_NS, CISCO_RPID_NS];

function parseDocument(root: XmlElement): PidfDocument {
  if (root.local !== 'presence' || root.ns !== PIDF_NS) {
    refuse(`the root element must be <presence> in '${PIDF_NS}' (RFC 3863), got ${describe(root)}`);
  }
  const entity = attr(root, 'entity')?.trim();
  if (entity === undefined || entity === '') refuse('<presence> has no entity attribute (RFC 3863)');
  if (!URI_RE.test(entity as string)) refuse(`the entity '${entity}' is not a URI (RFC 3863)`);
  const lang = langOf(root, null);
  const doc: PidfDocument = { entity: entity as string, tuples: [], persons: [], devices: [], notes: [] };
  const ids = new Map<string, string>();
  const claim = (id: string | null, what: string): void => {
    if (id === null) return;
    const prior = ids.get(id);
    if (prior !== undefined) {
      refuse(prior === 'tuple' && what === 'tuple'
        ? `duplicate tuple id '${id}' (RFC 3863: tuple ids are unique within the document)`
        : `the id '${id}' of a ${what} is already the id of a ${prior} (ids are XML IDs, unique within the document: RFC 4479)`);
    }
    ids.set(id, what);
  };
  const used = new Set<XmlElement>();
  for (const c of childElements(root)) {
    if (c.ns === PIDF_NS && c.local === 'tuple') {
      const t = parseTuple(c, lang);
      claim(t.id, 'tuple');
      doc.tuples.push(t);
    } else if (c.ns === PIDF_NS && c.local === 'note') {
      doc.notes.push(...notesOf([c], lang));
    } else if (PERSON_NAMESPACES.includes(c.ns) && c.local === 'person') {
      const p = parsePerson(c, lang);
      claim(p.id, 'person');
      doc.persons.push(p);
    } else if (c.ns === DATA_MODEL_NS && c.local === 'device') {
      const d = parseDevice(c, lang);
      claim(d.id, 'device');
      doc.devices.push(d);
    } else continue;
    used.add(c);
  }
  checkIgnored(root, used);
  return doc;
}

/**
 * Parses a PIDF document (the body of a PUBLISH or NOTIFY). Never throws: any
 * input gives either the document or the first rule it breaks.
 */
export function parsePidf(body: string | Buffer, options: PidfParseOptions = {}): PidfParseResult {
  const xml = readXmlDocument(body, options.limits);
  if (!xml.ok) return xml;
  try {
    return { ok: true, doc: parseDocument(xml.root) };
  } catch (err) {
    if (err instanceof PidfError) return { ok: false, reason: `not a valid PIDF document: ${err.message}` };
    return { ok: false, reason: `unreadable PIDF document: ${err instanceof Error ? err.message : String(err)}` };
  }
}

// ---------------------------------------------------------------- writing

/** Characters XML cannot carry are dropped; line ends become LF, as any parser would report them (XML 1.0 §2.11). */
const cleanText = (s: string): string =>
  s.replace(/\r\n?/g, '\n').replace(/[^\t\n\u{20}-\u{D7FF}\u{E000}-\u{FFFD}\u{10000}-\u{10FFFF}]/gu, '');
/** In attributes, tabs and line ends also become spaces (attribute-value normalisation, XML 1.0 §3.3.3). */
const cleanAttr = (s: string): string => cleanText(s).replace(/[\t\n]/g, ' ');

/** `xs:decimal` with at most three decimals, no exponent: 0, 0.5, 0.125, 1. */
const formatPriority = (p: number): string => String(Math.round(Math.min(1, Math.max(0, p)) * 1000) / 1000);

function noteElement(name: string, n: PidfNote): Element {
  const el = new Element(name);
  if (n.lang !== null) el.attrs['xml:lang'] = cleanAttr(n.lang);
  return el.t(cleanText(n.text));
}

function textElement(name: string, text: string): Element {
  return new Element(name).t(cleanText(text));
}

function withId(el: Element, id: string | null): Element {
  if (id !== null) el.attrs.id = cleanAttr(id);
  return el;
}

/** Cleans every string that reaches the output (writeRpid builds its own elements). */
function cleanTree(el: Element): Element {
  for (const [k, v] of Object.entries(el.attrs)) if (typeof v === 'string') el.attrs[k] = cleanAttr(v);
  el.children = el.children.map((c) => (typeof c === 'string' ? cleanText(c) : cleanTree(c as Element)));
  return el;
}

/**
 * Serialises a document: UTF-8, an XML declaration, the standard namespaces
 * only (`xmlns` = PIDF, `dm`, `rpid`, `lt` when place types are present), and
 * a fixed element order (RFC 3863's: tuples, then notes, then the data-model
 * persons and devices; inside a tuple: status, deviceID, RPID, contact, notes,
 * timestamp). Equal documents give identical bytes.
 */
export function serializePidf(doc: PidfDocument): string {
  const root = new Element('presence', { xmlns: PIDF_NS, 'xmlns:dm': DATA_MODEL_NS, 'xmlns:rpid': RPID_NS });
  const all = [...doc.tuples, ...doc.persons, ...doc.devices];
  if (all.some((x) => x.rpid.placeType !== null)) root.attrs['xmlns:lt'] = LOCATION_TYPE_NS;
  root.attrs.entity = cleanAttr(doc.entity);
  for (const t of doc.tuples) {
    const tuple = withId(new Element('tuple'), t.id);
    const status = tuple.c('status');
    if (t.basic !== null) status.c('basic').t(t.basic);
    if (t.deviceId !== null) tuple.cnode(textElement('dm:deviceID', t.deviceId));
    for (const r of writeRpid(t.rpid)) tuple.cnode(cleanTree(r));
    if (t.contact) {
      const c = textElement('contact', t.contact.uri);
      if (t.contact.priority !== null) c.attrs.priority = formatPriority(t.contact.priority);
      tuple.cnode(c);
    }
    for (const n of t.notes) tuple.cnode(noteElement('note', n));
    if (t.timestamp !== null) tuple.cnode(textElement('timestamp', t.timestamp));
    root.cnode(tuple);
  }
  for (const n of doc.notes) root.cnode(noteElement('note', n));
  for (const p of doc.persons) {
    const person = withId(new Element('dm:person'), p.id);
    for (const r of writeRpid(p.rpid)) person.cnode(cleanTree(r));
    for (const n of p.notes) person.cnode(noteElement('dm:note', n));
    if (p.timestamp !== null) person.cnode(textElement('dm:timestamp', p.timestamp));
    root.cnode(person);
  }
  for (const d of doc.devices) {
    const device = withId(new Element('dm:device'), d.id);
    for (const r of writeRpid(d.rpid)) device.cnode(cleanTree(r));
    if (d.deviceId !== null) device.cnode(textElement('dm:deviceID', d.deviceId));
    for (const n of d.notes) device.cnode(noteElement('dm:note', n));
    if (d.timestamp !== null) device.cnode(textElement('dm:timestamp', d.timestamp));
    root.cnode(device);
  }
  return `<?xml version="1.0" encoding="UTF-8"?>\n${root.toString()}\n`;
}

/**
 * The PIDF a SIP watcher is sent for a user's composed presence (see
 * composedToPidf in ../mapping.ts for what goes in, and
 * docs/presence-mapping.md). `tuples` are the user's live sources: when given,
 * each available XMPP resource becomes its own PIDF tuple (RFC 7248: tuple ↔
 * resource); otherwise one tuple stands for the composed state. Pass the
 * watcher's view (viewFor), never the owner's state to a watcher who may not see it.
 */
export function renderPidf(
  entity: string, composed: Composed, tuples?: readonly PresenceTuple[], config?: Partial<MappingConfig>,
): string {
  return serializePidf(composedToPidf(entity, composed, tuples, config));
}
