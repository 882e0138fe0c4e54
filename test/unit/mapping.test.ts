/**
 * The PIDF ↔ presence-engine mapping (src/sip/mapping.ts). Every table of
 * docs/presence-mapping.md marked `<!-- mapping-table: … -->` is read here and
 * each row checked against the functions, so the page and the code cannot
 * drift; then the fixtures of real phones, and the configuration.
 */
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { aggregate } from '../../src/presence-engine/aggregate.js';
import type { Composed, PresenceTuple, Show, SourceKind } from '../../src/presence-engine/model.js';
import { parsePidf, renderPidf, type PidfDocument } from '../../src/sip/codec/pidf.js';
import { RPID_ACTIVITIES } from '../../src/sip/codec/rpid.js';
import {
  activitiesForShow, composedToPidf, DEFAULT_MAPPING, displayText, pidfToTuple, pidfToXmppPriority, primaryTuple,
  resourceOfTupleId, showForActivities, tupleIdForResource, xmppToPidfPriority,
  type MappingConfig, type PriorityScale,
} from '../../src/sip/mapping.js';

function repoRoot(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  while (!existsSync(join(dir, 'package.json'))) dir = dirname(dir);
  return dir;
}
const ROOT = repoRoot();
const DOC = readFileSync(join(ROOT, 'docs/presence-mapping.md'), 'utf8');

/** The rows of the table marked `<!-- mapping-table: name -->`, as header → cell records. */
function table(name: string): Record<string, string>[] {
  const lines = DOC.split('\n');
  const at = lines.findIndex((l) => l.trim() === `<!-- mapping-table: ${name} -->`);
  assert.ok(at >= 0, `docs/presence-mapping.md has no table '${name}'`);
  const rows: string[][] = [];
  for (const line of lines.slice(at + 1)) {
    if (!line.startsWith('|')) break;
    rows.push(line.split('|').slice(1, -1).map((c) => c.trim()));
  }
  const [header, separator, ...body] = rows;
  assert.ok(header && separator && body.length > 0, `table '${name}' has rows`);
  for (const r of body) assert.equal(r.length, header.length, `table '${name}': ${r.join(' | ')}`);
  return body.map((r) => Object.fromEntries(header.map((h, i) => [h.replace(/`/g, ''), r[i]!])));
}

/** '–' → null; "text" → text; `code` → code. */
function cell(v: string): string | null {
  const t = v.replace(/^`(.*)`$/, '$1');
  if (t === '–') return null;
  const q = /^"(.*)"$/.exec(t);
  return q ? q[1]! : t;
}
const yes = (v: string): boolean => {
  assert.ok(v === 'yes' || v === 'no', `yes/no cell: ${v}`);
  return v === 'yes';
};
const words = (v: string): string[] => cell(v)?.split(/\s+/) ?? [];
/** `show "status"` or `show` → [show, status]. */
function showAndStatus(v: string): [Show, string | null] {
  const m = /^(\w+)(?:\s+"(.*)")?$/.exec(v);
  assert.ok(m, `show cell: ${v}`);
  return [m[1] as Show, m[2] ?? null];
}

const tuple = (kind: SourceKind, id: string, o: Partial<Omit<PresenceTuple, 'source'>> = {}): PresenceTuple =>
  ({ source: { kind, id }, available: true, show: 'available', status: null, priority: 0, updatedAt: 1000, ...o });

function parsed(input: string | Buffer): PidfDocument {
  const r = parsePidf(input);
  if (!r.ok) assert.fail(r.reason);
  return r.doc;
}
const fixture = (name: string): PidfDocument => parsed(readFileSync(join(ROOT, 'test/fixtures/pidf', name)));

const esc = (s: string): string => s.replace(/&/g, '&amp;').replace(/</g, '&lt;');

/** A document as the inbound table describes it. */
function inboundDoc(basic: string, activities: string[], userInput: string | null, note: string | null): string {
  const acts = activities.length > 0 ? `<rpid:activities>${activities.map((a) => `<rpid:${a}/>`).join('')}</rpid:activities>` : '';
  const ui = userInput === null ? '' : `<rpid:user-input>${userInput}</rpid:user-input>`;
  const n = note === null ? '' : `<dm:note>${esc(note)}</dm:note>`;
  return '<?xml version="1.0" encoding="UTF-8"?>'
    + '<presence xmlns="urn:ietf:params:xml:ns:pidf" xmlns:dm="urn:ietf:params:xml:ns:pidf:data-model" xmlns:rpid="urn:ietf:params:xml:ns:pidf:rpid" entity="sip:u@example.com">'
    + `<tuple id="t1"><status><basic>${basic}</basic></status></tuple>`
    + `<dm:person id="p">${acts}${ui}${n}</dm:person></presence>`;
}

describe('PIDF mapping: docs/presence-mapping.md, row by row', () => {
  describe('inbound: PIDF → tuple → composed', () => {
    for (const row of table('inbound')) {
      const label = Object.values(row).join(' | ');
      it(label, () => {
        const kind = row.source as 'sip' | 'phone';
        assert.ok(kind === 'sip' || kind === 'phone', label);
        const d = parsed(inboundDoc(cell(row['<basic>']!)!, words(row.activities!), cell(row['user-input']!), cell(row['<note>']!)));
        const t = pidfToTuple(d, { kind, id: kind === 'sip' ? 'etag-1' : '1001' }, 1000);
        assert.equal(t.available, yes(row.available!), 'available');
        assert.equal(t.show, row.show, 'show');
        assert.equal(t.onThePhone, yes(row.onThePhone!), 'onThePhone');
        assert.equal(t.status, cell(row.status!), 'status');
        const tuples = [t];
        const xmpp = cell(row['with XMPP']!);
        if (xmpp !== null) {
          const [show, status] = showAndStatus(xmpp);
          tuples.push(tuple('xmpp', 'pc', { show, status, priority: 1 }));
        }
        const c = aggregate(tuples);
        assert.equal(c.state, row.composed, 'composed');
        assert.equal(c.text, cell(row.text!), 'text');
        assert.equal(c.onThePhone, t.onThePhone, 'the flag reaches the composed state');
      });
    }
  });

  describe('outbound: XMPP + phone + calendar → composed → PIDF', () => {
    for (const row of table('outbound')) {
      const label = Object.values(row).join(' | ');
      it(label, () => {
        const show = row['XMPP show']!;
        const tuples = [
          tuple('xmpp', 'pc', show === 'none' ? { available: false } : { show: show as Show, status: cell(row['XMPP status']!) }),
          tuple('phone', '1001', { onThePhone: yes(row['on the phone']!) }),
          tuple('calendar', 'cal', { inMeeting: yes(row['in a meeting']!) }),
        ];
        const c = aggregate(tuples);
        assert.equal(c.state, row.composed, 'composed');
        assert.equal(c.text, cell(row.text!), 'text');
        const d = parsed(renderPidf('sip:u@example.com', c));
        assert.deepEqual(d.tuples.map((t) => t.basic), [row['<basic>']], '<basic>');
        assert.deepEqual(d.persons[0]!.rpid.activities?.values ?? [], words(row['person activities']!), 'activities');
        const note = cell(row['<note>']!);
        assert.deepEqual(d.tuples[0]!.notes.map((n) => n.text), note === null ? [] : [note], 'tuple note');
        assert.deepEqual(d.persons[0]!.notes.map((n) => n.text), note === null ? [] : [note], 'person note');
      });
    }
  });

  describe('activities', () => {
    const rows = table('activities');
    const name = (r: Record<string, string>): string => r.activity!.split(' ')[0]!;
    for (const row of rows) {
      it(Object.values(row).join(' | '), () => {
        const a = name(row);
        const show = cell(row.show!) ?? 'available';
        assert.equal(showForActivities([a]), show);
        assert.equal(DEFAULT_MAPPING.meetingActivities.includes(a), row.also === 'in a meeting', 'meeting');
        assert.equal(DEFAULT_MAPPING.phoneActivities.includes(a), row.also === 'on the phone', 'phone');
      });
    }

    it('lists every RFC 4480 activity and every configured one', () => {
      const listed = rows.map(name);
      for (const a of [...RPID_ACTIVITIES, ...Object.keys(DEFAULT_MAPPING.activityShows), ...DEFAULT_MAPPING.meetingActivities, ...DEFAULT_MAPPING.phoneActivities]) {
        assert.ok(listed.includes(a), a);
      }
      assert.equal(new Set(listed).size, listed.length, 'no activity twice');
    });
  });

  describe('priority', () => {
    const docWith = (priority: string | null): PidfDocument => parsed(
      '<presence xmlns="urn:ietf:params:xml:ns:pidf" entity="sip:u@example.com"><tuple id="t"><status><basic>open</basic></status>'
      + `<contact${priority === null ? '' : ` priority="${priority}"`}>sip:u@192.0.2.1</contact></tuple></presence>`);
    for (const row of table('priority')) {
      it(Object.values(row).join(' | '), () => {
        const scale = row.scale as PriorityScale;
        const x = Number(row['XMPP priority']);
        const p = row['PIDF priority']!;
        const dir = row.direction;
        if (dir === '↔' || dir === '→') assert.equal(xmppToPidfPriority(x, scale), Number(p), 'XMPP → PIDF');
        if (dir === '↔' || dir === '←') {
          if (p === 'absent') assert.equal(pidfToTuple(docWith(null), { kind: 'sip', id: 'e' }, 0, { priorityScale: scale }).priority, x);
          else {
            assert.equal(pidfToXmppPriority(Number(p), scale), x, 'PIDF → XMPP');
            assert.equal(pidfToTuple(docWith(p), { kind: 'sip', id: 'e' }, 0, { priorityScale: scale }).priority, x, 'through a document');
          }
        }
      });
    }

    it('linear: every XMPP priority survives the round trip, in order', () => {
      let last = -1;
      for (let x = -128; x <= 127; x++) {
        const p = xmppToPidfPriority(x);
        assert.ok(p > last && p >= 0 && p <= 1 && Math.round(p * 1000) === p * 1000, `${x} → ${p}`);
        assert.equal(pidfToXmppPriority(p), x);
        last = p;
      }
    });

    it('non-negative: 0..127 survive the round trip, negatives become 0', () => {
      for (let x = 0; x <= 127; x++) assert.equal(pidfToXmppPriority(xmppToPidfPriority(x, 'non-negative'), 'non-negative'), x);
      assert.equal(xmppToPidfPriority(-128, 'non-negative'), 0);
    });

    it('clamps and tolerates non-finite input; never returns -0', () => {
      assert.equal(xmppToPidfPriority(Number.NaN), xmppToPidfPriority(0));
      assert.equal(xmppToPidfPriority(-1000), 0);
      assert.equal(pidfToXmppPriority(5), 127);
      assert.equal(pidfToXmppPriority(Number.NaN), -128);
      assert.ok(Object.is(pidfToXmppPriority(0.5), 0));
    });

    it('a phone line always has priority 0; a closed primary tuple gives the default', () => {
      assert.equal(pidfToTuple(fixture('cisco-cucm-on-the-phone.xml'), { kind: 'phone', id: '8001' }, 0).priority, 0);
      assert.equal(pidfToTuple(fixture('cisco-cucm-on-the-phone.xml'), { kind: 'sip', id: 'e' }, 0).priority, 76);
      assert.equal(pidfToTuple(fixture('rfc3863-closed.xml'), { kind: 'sip', id: 'e' }, 0, { defaultPriority: -3 }).priority, -3);
    });
  });

  describe('tuple ids', () => {
    for (const row of table('tuple-id')) {
      it(Object.values(row).join(' | '), () => {
        const resource = cell(row['XMPP resource']!)!;
        const id = cell(row['tuple id']!)!;
        assert.equal(tupleIdForResource(resource), id);
        assert.equal(resourceOfTupleId(id), resource);
      });
    }

    it('every resource gives a distinct NCName that leads back to it', () => {
      let seed = 11;
      const rand = (): number => (seed = (seed * 1103515245 + 12345) % 2147483648) / 2147483648;
      const alphabet = ['a', 'Z', '0', '-', '.', '_', '/', ' ', ':', '@', 'é', '☃', '📱', '\u0301', '_2f_'];
      const seen = new Map<string, string>();
      for (let i = 0; i < 2000; i++) {
        const r = Array.from({ length: 1 + Math.floor(rand() * 8) }, () => alphabet[Math.floor(rand() * alphabet.length)]).join('');
        const id = tupleIdForResource(r);
        assert.match(id, /^[A-Za-z_][A-Za-z0-9._-]*$/);
        assert.equal(resourceOfTupleId(id), r);
        assert.ok(!seen.has(id) || seen.get(id) === r, `${r} and ${seen.get(id)} share ${id}`);
        seen.set(id, r);
      }
    });

    it('other ids are not resources', () => {
      for (const id of ['presence', 'person', 'r-', 'r-a_zz_', 'r-a_2F_', 'r-a_41_', 'r-a_110000_', 'r-a b']) assert.equal(resourceOfTupleId(id), null, id);
    });
  });

  describe('configuration', () => {
    const rows = table('config');
    for (const row of rows) {
      it(`${row.key} defaults to ${row.default}`, () => {
        const key = cell(row.key!) as keyof MappingConfig;
        assert.ok(Object.hasOwn(DEFAULT_MAPPING, key), key);
        const d = row.default!;
        if (d === 'the activities table') return; // checked row by row above
        assert.deepEqual(JSON.parse(d.replace(/^`(.*)`$/, '$1')), DEFAULT_MAPPING[key]);
      });
    }

    it('lists every key', () => {
      assert.deepEqual(rows.map((r) => cell(r.key!)).sort(), Object.keys(DEFAULT_MAPPING).sort());
    });
  });
});

describe('PIDF mapping: real phones, composition and configuration', () => {
  const phone = (name: string, line = '8001'): PresenceTuple => pidfToTuple(fixture(name), { kind: 'phone', id: line }, 2000);
  const xmpp = (show: Show, status: string | null = null): PresenceTuple => tuple('xmpp', 'pc', { show, status });

  it('a CUCM line going off-hook shows "On the phone", and back on-hook restores the previous state', () => {
    const before = aggregate([xmpp('available')]);
    assert.equal(before.state, 'available');
    const during = aggregate([xmpp('available'), phone('cisco-cucm-on-the-phone.xml')]);
    assert.deepEqual(during, { state: 'dnd', text: 'On the phone', onThePhone: true, inMeeting: false, top: 'pc' });
    assert.deepEqual(aggregate([xmpp('available'), phone('cisco-cucm-idle.xml')]), before);
  });

  it('every way a phone says "on the phone" is read the same: standard, status:rpid, Cisco, either prefix', () => {
    for (const name of ['cisco-cucm-on-the-phone.xml', 'cisco-ce-on-the-phone.xml', 'cisco-ce-on-the-phone-prefixed.xml', 'rfc4479-data-model.xml']) {
      assert.equal(phone(name).onThePhone, true, name);
    }
    for (const name of ['cisco-cucm-idle.xml', 'cisco-ce-alerting-dnd.xml', 'rpid-wrong-namespace.xml', 'rfc3863-example.xml']) {
      assert.equal(phone(name).onThePhone, false, name);
    }
  });

  it('an explicit user DND is never downgraded by phone state, on or off the phone', () => {
    const line = phone('cisco-cucm-on-the-phone.xml');
    assert.deepEqual(aggregate([xmpp('dnd', 'Focus'), line]), { state: 'dnd', text: 'Focus', onThePhone: true, inMeeting: false, top: 'pc' });
    assert.deepEqual(aggregate([xmpp('dnd'), line]), { state: 'dnd', text: null, onThePhone: true, inMeeting: false, top: 'pc' });
    assert.deepEqual(aggregate([xmpp('dnd', 'Focus'), phone('cisco-cucm-idle.xml')]), { state: 'dnd', text: 'Focus', onThePhone: false, inMeeting: false, top: 'pc' });
  });

  it('several lines of one user: on the phone if any line is', () => {
    const idle = phone('cisco-cucm-idle.xml', '1001');
    const busy = phone('cisco-ce-on-the-phone.xml', '1002');
    assert.equal(aggregate([xmpp('away'), idle, busy]).state, 'dnd');
    assert.equal(aggregate([xmpp('away'), idle]).state, 'away');
  });

  it('Cisco DND, Asterisk busy, eyeBeam away, Cisco web service idle, as SIP publications', () => {
    const sip = (name: string): PresenceTuple => pidfToTuple(fixture(name), { kind: 'sip', id: 'etag' }, 1);
    assert.deepEqual([sip('cisco-ce-alerting-dnd.xml').show, sip('cisco-ce-alerting-dnd.xml').onThePhone], ['dnd', false]);
    const ast = sip('asterisk-chan-sip.xml');
    assert.deepEqual([ast.available, ast.show, ast.status, ast.priority], [true, 'dnd', 'On the phone', 127]);
    const eb = sip('eyebeam-activity-text.xml');
    assert.deepEqual([eb.show, eb.status], ['away', 'Out to lunch']);
    const pws = sip('cisco-pws-available.xml');
    assert.deepEqual([pws.available, pws.show, pws.status, pws.priority], [true, 'away', null, 25]);
    assert.deepEqual(aggregate([pws]), { state: 'away', text: null, onThePhone: false, inMeeting: false, top: null });
  });

  it('notes: person first, then the primary tuple, the document, a device; a preferred language', () => {
    const sip = (d: PidfDocument, cfg: Partial<MappingConfig> = {}): string | null => pidfToTuple(d, { kind: 'sip', id: 'e' }, 1, cfg).status;
    assert.equal(sip(fixture('rfc4480-rpid.xml')), 'Scoring 120');
    assert.equal(primaryTuple(fixture('rfc3863-example.xml'))?.id, 'eg92n8');
    assert.equal(sip(fixture('rfc3863-example.xml')), "I'll be in Tokyo next week");
    const twoLangs = fixture('status-rpid-old.xml');
    twoLangs.tuples[0]!.notes = [{ text: 'Hello', lang: 'en' }, { text: 'Bonjour', lang: 'fr-CA' }];
    assert.equal(sip(twoLangs), 'Hello');
    assert.equal(sip(twoLangs, { noteLanguage: 'fr' }), 'Bonjour');
    assert.equal(sip(twoLangs, { noteLanguage: 'de' }), 'Hello');
    const onlyDevice = fixture('rfc4480-rpid.xml');
    onlyDevice.persons = [];
    onlyDevice.tuples = [];
    onlyDevice.notes = [];
    assert.equal(sip(onlyDevice), 'PC');
  });

  it('a document without tuples is unavailable; the input document is not changed', () => {
    const d = parsed('<presence xmlns="urn:ietf:params:xml:ns:pidf" entity="sip:u@example.com"/>');
    const copy = structuredClone(d);
    const t = pidfToTuple(d, { kind: 'sip', id: 'e' }, 5);
    assert.deepEqual(t, { source: { kind: 'sip', id: 'e' }, available: false, show: 'available', status: null, priority: 0, onThePhone: false, updatedAt: 5 });
    assert.deepEqual(d, copy);
  });

  it('the "On the phone" and "In a meeting" texts are configurable; a user\'s own text is kept', () => {
    const cfg = { onThePhoneText: 'Am Telefon', inAMeetingText: 'In einer Besprechung' };
    const onPhone = aggregate([xmpp('available'), phone('cisco-ce-on-the-phone.xml')]);
    assert.equal(displayText(onPhone, cfg), 'Am Telefon');
    const xml = renderPidf('sip:u@example.com', onPhone, undefined, cfg);
    assert.ok(xml.includes('<note>Am Telefon</note>') && !xml.includes('On the phone'), xml);
    const meeting = aggregate([xmpp('available'), tuple('calendar', 'c', { inMeeting: true })]);
    assert.equal(displayText(meeting, cfg), 'In einer Besprechung');
    const own = aggregate([xmpp('available', 'On the phone'), tuple('calendar', 'c', { inMeeting: true })]);
    assert.equal(displayText(own, cfg), 'On the phone', 'not on the phone: the text is the user\'s');
    const t = pidfToTuple(parsed(inboundDoc('open', ['meeting'], null, null)), { kind: 'sip', id: 'e' }, 1, cfg);
    assert.equal(t.status, 'In einer Besprechung');
  });

  it('activity shows, phone and meeting activities, idle handling are configurable', () => {
    const d = parsed(inboundDoc('open', ['working', 'alerting'], 'idle', null));
    const sip = (cfg: Partial<MappingConfig>): PresenceTuple => pidfToTuple(d, { kind: 'sip', id: 'e' }, 1, cfg);
    assert.equal(sip({}).show, 'away');
    assert.equal(sip({ idleIsAway: false }).show, 'available');
    assert.equal(sip({ activityShows: { working: 'dnd' } }).show, 'dnd');
    assert.equal(sip({ phoneActivities: ['on-the-phone', 'alerting'] }).onThePhone, true);
    assert.deepEqual([sip({ meetingActivities: ['working'] }).show, sip({ meetingActivities: ['working'] }).status], ['dnd', 'In a meeting']);
  });

  it('XMPP show → RPID activity (outbound): away/xa → away, dnd → busy, available/chat → none', () => {
    assert.deepEqual((['available', 'chat', 'away', 'xa', 'dnd'] as Show[]).map(activitiesForShow), [[], [], ['away'], ['away'], ['busy']]);
  });

  it('renderLanguage, tupleId and personId reach the document', () => {
    const c: Composed = { state: 'custom', text: 'Hi', onThePhone: false, inMeeting: false, top: null };
    const d = composedToPidf('sip:u@example.com', c, undefined, { renderLanguage: 'en', tupleId: 'svc', personId: 'me' });
    assert.deepEqual([d.tuples[0]!.id, d.persons[0]!.id, d.tuples[0]!.notes], ['svc', 'me', [{ text: 'Hi', lang: 'en' }]]);
    assert.deepEqual(parsed(renderPidf('sip:u@example.com', c, undefined, { renderLanguage: 'en' })).persons[0]!.notes, [{ text: 'Hi', lang: 'en' }]);
  });
});
