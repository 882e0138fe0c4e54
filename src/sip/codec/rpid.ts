/**
 * RPID (RFC 4480) by namespace: which namespaces count as RPID, reading the
 * RPID elements of a person/tuple/device into the namespace-free `Rpid`, and
 * writing an `Rpid` back out in the standard namespace.
 *
 * Matching is on (namespace URI, local name) only; the prefix never matters.
 */
import { Element } from 'ltx';
import type { Rpid, RpidList, RpidUserInput } from './pidf-model.js';
import { attr, childElements, textOf, type XmlElement } from './pidf-xml.js';

export const PIDF_NS = 'urn:ietf:params:xml:ns:pidf';
/** RFC 4479, the presence data model: person, device, deviceID, and their note/timestamp. */
export const DATA_MODEL_NS = 'urn:ietf:params:xml:ns:pidf:data-model';
/** RFC 4480. */
export const RPID_NS = 'urn:ietf:params:xml:ns:pidf:rpid';
/** The RPID drafts' namespace, still sent by CUCM and others, typically inside `<status>` or `<dm:person>`. */
export const RPID_STATUS_NS = 'urn:ietf:params:xml:ns:pidf:status:rpid';
/** Cisco's vendor RPID namespace (desk phones, CUCM/CUPS): the RFC 4480 activities plus e.g. `alerting`, `dnd`, `available`. */
export const CISCO_RPID_NS = 'urn:cisco:params:xml:ns:pidf:rpid';
/** Pre-RFC namespaces of Asterisk chan_sip and CounterPath eyeBeam/X-Lite (`<pp:person><status><ep:activities>`). */
export const LEGACY_RPID_STATUS_NS = 'urn:ietf:params:xml:ns:pidf:rpid:status:rpid-status';
export const LEGACY_RPID_PERSON_NS = 'urn:ietf:params:xml:ns:pidf:rpid:rpid-person';
/** The pre-RFC 4479 person element (`<pp:person>`), sent together with the legacy RPID namespaces. */
export const LEGACY_PERSON_NS = 'urn:ietf:params:xml:ns:pidf:person';
/** RFC 4589 location types, the values of `place-type`. */
export const LOCATION_TYPE_NS = 'urn:ietf:params:xml:ns:location-type';

/** Every namespace whose `activities`, `mood`, `place-type`, `user-input`, `class` and `sphere` are read as RPID. */
export const RPID_NAMESPACES: readonly string[] = [RPID_NS, RPID_STATUS_NS, CISCO_RPID_NS, LEGACY_RPID_STATUS_NS, LEGACY_RPID_PERSON_NS];
const RPID_FAMILY: ReadonlySet<string> = new Set(RPID_NAMESPACES);

export const isRpidNamespace = (ns: string): boolean => RPID_FAMILY.has(ns);

/** The activities RFC 4480 defines (besides `<other>`, which carries free text). */
export const RPID_ACTIVITIES: readonly string[] = [
  'appointment', 'away', 'breakfast', 'busy', 'dinner', 'holiday', 'in-transit', 'looking-for-work', 'meal', 'meeting',
  'on-the-phone', 'performance', 'permanent-absence', 'playing', 'presentation', 'shopping', 'sleeping', 'spectator',
  'steering', 'travel', 'tv', 'unknown', 'vacation', 'working', 'worship',
];

/** The RPID elements this codec reads; others in these namespaces (privacy, relationship, …) are ignored. */
export const RPID_ELEMENTS: readonly string[] = ['activities', 'mood', 'place-type', 'user-input', 'class', 'sphere'];

/** XML NCName, ASCII subset: what a value must look like to be written as an element name. */
export const isSimpleName = (s: string): boolean => /^[A-Za-z_][A-Za-z0-9._-]*$/.test(s);

const mergeList = (into: RpidList | null, add: RpidList): RpidList => {
  if (into === null) return add;
  for (const v of add.values) if (!into.values.includes(v)) into.values.push(v);
  into.other.push(...add.other);
  into.from ??= add.from;
  into.until ??= add.until;
  return into;
};

/**
 * An RPID list. Values are the child elements in an RPID namespace (for
 * place-type, in any namespace: its values come from RFC 4589's registry);
 * `<other>` carries free text; the pre-RFC text form `<activity>busy</activity>`
 * gives the value `busy` (or free text when it is not a simple name).
 * A `user-input` inside `activities` (as Cisco's presence web service puts it)
 * is reported through `onUserInput`.
 */
function readList(el: XmlElement, anyNamespace: boolean, onUserInput: (u: RpidUserInput) => void): RpidList {
  const list: RpidList = { values: [], other: [], from: attr(el, 'from') ?? null, until: attr(el, 'until') ?? null };
  for (const c of childElements(el)) {
    const rpid = isRpidNamespace(c.ns);
    if (rpid && c.local === 'other') {
      const t = textOf(c).trim();
      if (t !== '') list.other.push(t);
    } else if (rpid && c.local === 'activity') {
      const t = textOf(c).trim();
      if (t === '') continue;
      if (isSimpleName(t)) {
        if (!list.values.includes(t)) list.values.push(t);
      } else list.other.push(t);
    } else if (rpid && c.local === 'user-input') {
      const u = readUserInput(c);
      if (u) onUserInput(u);
    } else if (rpid && c.local === 'note') {
      // RFC 4480 lets a list carry a note; imp takes notes from person/tuple/device.
    } else if (rpid || anyNamespace) {
      if (!list.values.includes(c.local)) list.values.push(c.local);
    }
  }
  return list;
}

function readUserInput(el: XmlElement): RpidUserInput | null {
  const v = textOf(el).trim().toLowerCase();
  if (v !== 'idle' && v !== 'active') return null;
  const t = attr(el, 'idle-threshold');
  const threshold = t !== undefined && /^\s*[0-9]{1,9}\s*$/.test(t) ? Number(t) : null;
  return { value: v, idleThreshold: threshold, lastInput: attr(el, 'last-input')?.trim() ?? null };
}

/**
 * Adds the RPID elements among `el`'s children to `into`. Several elements of
 * one kind (say standard and Cisco activities side by side) are merged: the
 * values are united, the first `from`/`until`/single value wins.
 * Returns the elements it consumed, so that the caller can tell them from unknown extensions.
 */
export function readRpid(el: XmlElement, into: Rpid): Set<XmlElement> {
  const used = new Set<XmlElement>();
  const setUserInput = (u: RpidUserInput): void => {
    into.userInput ??= u;
  };
  for (const c of childElements(el)) {
    if (!isRpidNamespace(c.ns)) continue;
    switch (c.local) {
      case 'activities':
        into.activities = mergeList(into.activities, readList(c, false, setUserInput));
        break;
      case 'mood':
        into.mood = mergeList(into.mood, readList(c, false, setUserInput));
        break;
      case 'place-type':
        into.placeType = mergeList(into.placeType, readList(c, true, setUserInput));
        break;
      case 'user-input': {
        const u = readUserInput(c);
        if (u) setUserInput(u);
        break;
      }
      case 'class': {
        const t = textOf(c).trim();
        if (t !== '') into.class ??= t;
        break;
      }
      case 'sphere': {
        const first = childElements(c)[0];
        const t = first ? first.local : textOf(c).trim();
        if (t !== '') into.sphere ??= t;
        break;
      }
      default:
        continue;
    }
    used.add(c);
  }
  return used;
}

export const hasRpid = (r: Rpid): boolean =>
  r.activities !== null || r.mood !== null || r.placeType !== null || r.userInput !== null || r.class !== null || r.sphere !== null;

function writeList(name: string, list: RpidList, valuePrefix: string): Element {
  const el = new Element(`rpid:${name}`);
  if (list.from !== null) el.attrs.from = list.from;
  if (list.until !== null) el.attrs.until = list.until;
  for (const v of list.values) {
    if (isSimpleName(v)) el.cnode(new Element(`${valuePrefix}:${v}`));
    else el.cnode(new Element('rpid:other').t(v));
  }
  for (const o of list.other) el.cnode(new Element('rpid:other').t(o));
  return el;
}

/**
 * The RPID elements for `r`, in the standard namespace (prefix `rpid`, which
 * the caller declares, and `lt` for place types), in a fixed order:
 * activities, mood, place-type, sphere, class, user-input.
 */
export function writeRpid(r: Rpid): Element[] {
  const out: Element[] = [];
  if (r.activities) out.push(writeList('activities', r.activities, 'rpid'));
  if (r.mood) out.push(writeList('mood', r.mood, 'rpid'));
  if (r.placeType) out.push(writeList('place-type', r.placeType, 'lt'));
  if (r.sphere !== null) {
    const el = new Element('rpid:sphere');
    if (r.sphere === 'work' || r.sphere === 'home') el.cnode(new Element(`rpid:${r.sphere}`));
    else el.t(r.sphere);
    out.push(el);
  }
  if (r.class !== null) out.push(new Element('rpid:class').t(r.class));
  if (r.userInput) {
    const el = new Element('rpid:user-input');
    if (r.userInput.idleThreshold !== null) el.attrs['idle-threshold'] = String(r.userInput.idleThreshold);
    if (r.userInput.lastInput !== null) el.attrs['last-input'] = r.userInput.lastInput;
    out.push(el.t(r.userInput.value));
  }
  return out;
}
