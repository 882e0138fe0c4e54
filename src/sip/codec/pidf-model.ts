/**
 * The parsed form of a PIDF document (RFC 3863) with the presence data model
 * (RFC 4479) and RPID (RFC 4480). It records what the document says, with no
 * namespaces or prefixes left: an activity is `'on-the-phone'` whether it came
 * as `<rpid:on-the-phone/>`, `<e:on-the-phone/>` in the old status:rpid
 * namespace or `<ce:on-the-phone/>` in Cisco's. What it means for imp's
 * presence engine is decided in ../mapping.ts.
 */

/** `<note>` (RFC 3863) or `<dm:note>` (RFC 4479). */
export interface PidfNote {
  text: string;
  /** The effective xml:lang (own or inherited), or null. */
  lang: string | null;
}

/** `<contact>` (RFC 3863). */
export interface PidfContact {
  uri: string;
  /** 0..1 with at most three decimals, or null when absent. */
  priority: number | null;
}

/** An RPID list element (`activities`, `mood`, `place-type`; RFC 4480). */
export interface RpidList {
  /** The values, as the element names (`busy`, `on-the-phone`, `happy`…), in document order, without duplicates. */
  values: string[];
  /** The texts of `<other>` (free-text values). */
  other: string[];
  /** The `from` / `until` attributes as written (xs:dateTime), or null. */
  from: string | null;
  until: string | null;
}

/** `user-input` (RFC 4480): whether the user is using the device (idle/active). */
export interface RpidUserInput {
  value: 'idle' | 'active';
  /** `idle-threshold` in seconds, or null. */
  idleThreshold: number | null;
  /** `last-input` as written (xs:dateTime), or null. */
  lastInput: string | null;
}

/** The RPID facts found on one person, tuple or device. Null: the element was not there. */
export interface Rpid {
  activities: RpidList | null;
  mood: RpidList | null;
  placeType: RpidList | null;
  userInput: RpidUserInput | null;
  class: string | null;
  sphere: string | null;
}

/** `<tuple>` (RFC 3863): a service. */
export interface PidfTuple {
  id: string;
  /** `<status><basic>`: 'open' | 'closed', or null when the status has no basic. */
  basic: 'open' | 'closed' | null;
  contact: PidfContact | null;
  notes: PidfNote[];
  /** `<timestamp>` as written (RFC 3863, xs:dateTime), or null. */
  timestamp: string | null;
  /** `<dm:deviceID>` (RFC 4479): the device this service runs on, or null. */
  deviceId: string | null;
  /** RPID found in the tuple or in its `<status>` (where the old status:rpid namespace puts it). */
  rpid: Rpid;
}

/** `<dm:person>` (RFC 4479): the human behind the presentity. */
export interface PidfPerson {
  id: string | null;
  notes: PidfNote[];
  timestamp: string | null;
  rpid: Rpid;
}

/** `<dm:device>` (RFC 4479): a physical device. */
export interface PidfDevice {
  id: string | null;
  deviceId: string | null;
  notes: PidfNote[];
  timestamp: string | null;
  rpid: Rpid;
}

export interface PidfDocument {
  /** The `entity` attribute of `<presence>` (RFC 3863): the presentity's URI. */
  entity: string;
  tuples: PidfTuple[];
  persons: PidfPerson[];
  devices: PidfDevice[];
  /** Notes directly under `<presence>`. */
  notes: PidfNote[];
}

export const emptyRpid = (): Rpid => ({ activities: null, mood: null, placeType: null, userInput: null, class: null, sphere: null });
