/**
 * PIDF codec (RFC 3863 + RFC 4479 data model + RPID, RFC 4480): real-world
 * fixtures in every namespace imp reads, the same documents under other
 * prefixes, malformed and hostile documents, the XML reader's limits, and
 * render → parse round trips.
 */
import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { aggregate } from '../../src/presence-engine/aggregate.js';
import { COMPOSED_STATES, type Composed, type PresenceTuple } from '../../src/presence-engine/model.js';
import { parsePidf, renderPidf, serializePidf, type PidfDocument } from '../../src/sip/codec/pidf.js';
import { readXmlDocument, type XmlElement } from '../../src/sip/codec/pidf-xml.js';
import { RPID_NAMESPACES } from '../../src/sip/codec/rpid.js';
import { pidfToTuple, resourceOfTupleId } from '../../src/sip/mapping.js';

function repoRoot(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  while (!existsSync(join(dir, 'package.json'))) dir = dirname(dir);
  return dir;
}
const FIXTURES = join(repoRoot(), 'test/fixtures/pidf');
const BAD = join(FIXTURES, 'bad');
const goodNames = readdirSync(FIXTURES).filter((n) => n.endsWith('.xml')).sort();
const fixture = (name: string): Buffer => readFileSync(join(FIXTURES, name));

function parsed(input: string | Buffer): PidfDocument {
  const r = parsePidf(input);
  if (!r.ok) assert.fail(`expected a document, got: ${r.reason}`);
  return r.doc;
}
const doc = (name: string): PidfDocument => parsed(fixture(name));

function refused(input: string | Buffer): string {
  const r = parsePidf(input);
  if (r.ok) assert.fail(`expected a refusal, got ${JSON.stringify(r.doc)}`);
  return r.reason;
}

const PIDF = 'xmlns="urn:ietf:params:xml:ns:pidf"';
const wrap = (inner: string, extra = ''): string => `<presence ${PIDF} ${extra} entity="sip:a@example.com">${inner}</presence>`;
const openTuple = '<tuple id="t1"><status><basic>open</basic></status></tuple>';

/** mulberry32: a seeded generator, so a failure is reproducible. */
function rng(seed: number): () => number {
  let a = seed;
  return () => {
    a = (a + 0x6d2b79f5) | 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

describe('PIDF codec', () => {
  describe('fixtures', () => {
    it('has the fixtures', () => {
      assert.ok(goodNames.length >= 15, `fixtures in ${FIXTURES}`);
    });

    for (const name of goodNames) {
      it(`${name} parses, from a Buffer and from a string alike`, () => {
        const a = doc(name);
        assert.deepEqual(parsed(fixture(name).toString('utf8')), a);
      });
    }

    it('RFC 3863 example: tuples, contact priorities, notes with xml:lang, timestamp; unknown status extensions ignored', () => {
      const d = doc('rfc3863-example.xml');
      assert.equal(d.entity, 'pres:someone@example.com');
      assert.deepEqual(d.tuples.map((t) => [t.id, t.basic, t.contact?.priority]), [['bs35r9', 'open', 0.8], ['eg92n8', 'open', 1]]);
      assert.deepEqual(d.tuples[0]!.notes, [
        { text: "Don't Disturb Please!", lang: 'en' },
        { text: "Ne dérangez pas, s'il vous plaît", lang: 'fr' },
      ]);
      assert.equal(d.tuples[0]!.contact?.uri, 'im:someone@mobilecarrier.net');
      assert.equal(d.tuples[0]!.timestamp, '2001-10-27T16:49:29Z');
      assert.deepEqual(d.notes, [{ text: "I'll be in Tokyo next week", lang: null }]);
      assert.equal(d.tuples[0]!.rpid.activities, null);
      assert.deepEqual([d.persons, d.devices], [[], []]);
    });

    it('RFC 3863 closed tuple with a contact and no priority', () => {
      const d = doc('rfc3863-closed.xml');
      assert.deepEqual(d.tuples.map((t) => [t.id, t.basic, t.contact]), [['t1', 'closed', { uri: 'sip:bob@192.0.2.7:5060', priority: null }]]);
    });

    it('RFC 4479 data model: person and device with their ids, deviceID linking tuple and device', () => {
      const d = doc('rfc4479-data-model.xml');
      assert.equal(d.tuples[0]!.deviceId, 'mac:8asd7d7d70');
      assert.deepEqual(d.persons.map((p) => [p.id, p.rpid.activities?.values, p.notes]), [
        ['p1', ['on-the-phone'], [{ text: 'In a call with the boss', lang: 'en' }]],
      ]);
      assert.deepEqual(d.devices.map((x) => [x.id, x.deviceId, x.rpid.userInput?.value]), [['pc122', 'mac:8asd7d7d70', 'idle']]);
    });

    it('RFC 4480 RPID: activities with from/until, mood with other, place-type, sphere, class, user-input; the rest skipped', () => {
      const d = doc('rfc4480-rpid.xml');
      const p = d.persons[0]!;
      assert.equal(p.id, 'p1');
      assert.deepEqual(p.rpid.activities, { values: ['away'], other: [], from: '2005-05-30T12:00:00+05:00', until: '2005-05-30T17:00:00+05:00' });
      assert.deepEqual(p.rpid.mood, { values: ['angry'], other: ['brooding'], from: null, until: null });
      assert.deepEqual(p.rpid.placeType?.values, ['residence']);
      assert.equal(p.rpid.class, 'calendar');
      assert.equal(p.rpid.sphere, 'bowling league');
      assert.deepEqual(p.notes, [{ text: 'Scoring 120', lang: null }]);
      assert.equal(p.timestamp, '2005-05-30T16:09:44+05:00');
      assert.deepEqual(d.devices[0]!.rpid.userInput, { value: 'idle', idleThreshold: 600, lastInput: '2004-10-21T13:20:00.000-05:00' });
      assert.deepEqual(d.devices[0]!.notes, [{ text: 'PC', lang: null }]);
      assert.equal(d.tuples[2]!.rpid.class, 'email');
      assert.deepEqual(d.tuples.map((t) => t.id), ['bs35r9', 'ty4658', 'eg92n8']);
    });

    it('the same documents under other prefixes (or default namespaces) parse identically: by namespace, never by prefix', () => {
      const base = doc('rfc4480-rpid.xml');
      assert.deepEqual(doc('rfc4480-rpid-prefixes-a.xml'), base);
      assert.deepEqual(doc('rfc4480-rpid-prefixes-b.xml'), base);
      assert.deepEqual(doc('cisco-ce-on-the-phone-prefixed.xml'), doc('cisco-ce-on-the-phone.xml'));
    });

    it('a prefix called rpid bound to another namespace is not RPID', () => {
      const d = doc('rpid-wrong-namespace.xml');
      assert.equal(d.persons[0]!.rpid.activities, null);
      assert.equal(pidfToTuple(d, { kind: 'phone', id: '1' }, 0).onThePhone, false);
    });

    it('the old urn:ietf:params:xml:ns:pidf:status:rpid namespace inside <status>', () => {
      const t = doc('status-rpid-old.xml').tuples[0]!;
      assert.deepEqual(t.rpid.activities?.values, ['busy']);
      assert.equal(t.rpid.userInput?.value, 'active');
      assert.deepEqual(t.notes, [{ text: 'Writing the report', lang: null }]);
    });

    it('CUCM on the phone: status:rpid activities in the person and in the tuple <status>; servcaps ignored', () => {
      const d = doc('cisco-cucm-on-the-phone.xml');
      assert.deepEqual(d.persons.map((p) => [p.id, p.rpid.activities?.values]), [[null, ['on-the-phone']]]);
      assert.deepEqual(d.tuples.map((t) => [t.id, t.basic, t.contact?.priority, t.rpid.activities?.values]), [
        ['cmp-8001-162', 'open', 0.8, ['on-the-phone']],
      ]);
      const idle = doc('cisco-cucm-idle.xml');
      assert.deepEqual(idle.persons[0]!.rpid.activities?.values, []);
    });

    it("Cisco's vendor namespace: <ce:activities><ce:on-the-phone/></ce:activities>, and Cisco-only activities", () => {
      assert.deepEqual(doc('cisco-ce-on-the-phone.xml').persons[0]!.rpid.activities?.values, ['on-the-phone']);
      assert.deepEqual(doc('cisco-ce-alerting-dnd.xml').persons[0]!.rpid.activities?.values, ['alerting', 'dnd']);
    });

    it("Cisco presence web service: a person in Cisco's namespace, whitespace around values, a non-PIDF tuple ignored", () => {
      const d = doc('cisco-pws-available.xml');
      assert.deepEqual(d.persons.map((p) => [p.id, p.rpid.activities?.values, p.rpid.userInput?.value]), [
        ['jdoe', ['available', 'phone-status', 'im-status'], 'idle'],
      ]);
      assert.deepEqual(d.tuples.map((t) => [t.id, t.basic, t.contact, t.notes, t.rpid.userInput]), [
        ['cisco-upc', 'open', { uri: 'sip:jdoe@example.com', priority: 0.6 }, [], null],
      ]);
    });

    it('Asterisk chan_sip (pre-RFC pp/ep namespaces, CRLF line ends): busy in <pp:person><status>', () => {
      const d = doc('asterisk-chan-sip.xml');
      assert.deepEqual(d.persons.map((p) => [p.id, p.rpid.activities?.values]), [[null, ['busy']]]);
      assert.deepEqual(d.notes, [{ text: 'On the phone', lang: null }]);
      assert.deepEqual(d.tuples.map((t) => [t.id, t.basic, t.contact]), [['6001', 'open', { uri: 'sip:6001@pbx.example.com', priority: 1 }]]);
    });

    it('eyeBeam text form <activity>away</activity>; text that is not a name becomes free text', () => {
      const d = doc('eyebeam-activity-text.xml');
      assert.deepEqual(d.tuples[0]!.rpid.activities?.values, ['away']);
      assert.deepEqual(d.persons[0]!.rpid.activities, { values: ['away'], other: ['Out to lunch'], from: null, until: null });
    });

    it('unknown extensions anywhere are ignored without error', () => {
      const d = doc('unknown-extensions.xml');
      assert.deepEqual(d.tuples.map((t) => [t.id, t.basic, t.notes]), [['t1', 'open', [{ text: 'Around', lang: null }]]]);
      assert.deepEqual(d.persons[0]!.rpid.activities?.values, ['working']);
    });

    it('every RPID namespace is read the same way', () => {
      for (const ns of RPID_NAMESPACES) {
        const d = parsed(wrap(`${openTuple}<dm:person id="p"><q:activities><q:meeting/></q:activities></dm:person>`,
          `xmlns:dm="urn:ietf:params:xml:ns:pidf:data-model" xmlns:q="${ns}"`));
        assert.deepEqual(d.persons[0]!.rpid.activities?.values, ['meeting'], ns);
      }
    });
  });

  describe('refusals', () => {
    const expected = JSON.parse(readFileSync(join(BAD, 'expected.json'), 'utf8')) as Record<string, string>;
    const badNames = readdirSync(BAD).filter((n) => n !== 'expected.json').sort();

    it('every malformed fixture has an expected reason, and every reason a fixture', () => {
      assert.deepEqual(badNames, Object.keys(expected).sort());
    });

    for (const name of badNames) {
      it(`${name} is refused, naming the rule`, () => {
        const reason = refused(readFileSync(join(BAD, name)));
        assert.ok(reason.includes(expected[name]!), `${name}: ${reason}`);
      });
    }

    const cases: [string, string | Buffer, string][] = [
      ['empty body', '', 'no root element'],
      ['whitespace only', '  \n', 'no root element'],
      ['invalid UTF-8', Buffer.concat([Buffer.from(`<presence ${PIDF} entity="sip:a@example.com"><note>`), Buffer.from([0xc3, 0x28]), Buffer.from('</note></presence>')]), 'not valid UTF-8'],
      ['overlong UTF-8', Buffer.concat([Buffer.from('<presence '), Buffer.from([0xc0, 0xbc]), Buffer.from('/>')]), 'not valid UTF-8'],
      ['UTF-16 with BOM', Buffer.from(`\ufeff<presence ${PIDF} entity="sip:a@example.com"/>`, 'utf16le'), 'only UTF-8'],
      ['a control character', wrap(`${openTuple}<note>bell\u0007</note>`), 'U+0007'],
      ['a lone surrogate', wrap(`${openTuple}<note>\ud800</note>`), 'U+D800'],
      ['U+FFFE', wrap(`${openTuple}<note>\ufffe</note>`), 'U+FFFE'],
      ['a reference to a control character', wrap(`${openTuple}<note>&#1;</note>`), "'&#1;' names a character not allowed"],
      ['a bare ampersand', wrap(`${openTuple}<note>Tom & Jerry</note>`), "'&' must start an entity or character reference"],
      ['an unterminated reference', wrap(`${openTuple}<note>&amp</note>`), "'&' must start an entity or character reference"],
      [']]> in text', wrap(`${openTuple}<note>a ]]> b</note>`), "']]>' is not allowed"],
      ['< in an attribute', wrap('<tuple id="a<b"><status/></tuple>'), "'<' is not allowed in the value"],
      ['duplicate attribute', wrap('<tuple id="a" id="b"><status/></tuple>'), "duplicate attribute 'id'"],
      ['duplicate expanded attribute', wrap('<tuple id="a" p:x="1" q:x="2"><status/></tuple>', 'xmlns:p="urn:x" xmlns:q="urn:x"'), 'same namespace and local name'],
      ['unquoted attribute', wrap('<tuple id=a><status/></tuple>'), 'must be quoted'],
      ['attribute without value', wrap('<tuple id><status/></tuple>'), 'has no value'],
      ['attributes not separated', wrap('<tuple id="a"x="1"><status/></tuple>'), 'separated by whitespace'],
      ['xmlns:p=""', wrap(openTuple, 'xmlns:p=""'), 'invalid namespace declaration'],
      ['rebinding xml', wrap(openTuple, 'xmlns:xml="urn:x"'), 'invalid namespace declaration'],
      ['a bad QName', wrap('<a:b:c/>', 'xmlns:a="urn:x"'), 'is not a qualified name'],
      ['an XML declaration later on', `<presence ${PIDF} entity="sip:a@example.com"><?xml version="1.0"?></presence>`, 'only appear at the very start'],
      ['a PI inside', wrap(`${openTuple}<?php echo 1; ?>`), 'processing instructions are not allowed'],
      ['<!ENTITY> inside', wrap('<!ENTITY x "y">'), 'markup declarations'],
      ['a malformed declaration', '<?xml version="2.0"?><presence/>', 'malformed XML declaration'],
      ['an unterminated comment', wrap('<!-- never ends'), 'unterminated comment'],
      ['-- in a comment', wrap('<!-- a -- b -->'), "'--' is not allowed inside a comment"],
      ['text after the root', `${wrap(openTuple)} trailing`, 'text is not allowed after the root element'],
      ['an empty tuple id', wrap('<tuple id="  "><status/></tuple>'), 'a <tuple> has no id attribute'],
      ['an empty entity', `<presence ${PIDF} entity=""/>`, 'has no entity attribute'],
      ['two <basic>', wrap('<tuple id="t"><status><basic>open</basic><basic>open</basic></status></tuple>'), '<basic> of tuple \'t\' appears more than once'],
      ['two contacts', wrap('<tuple id="t"><status/><contact>sip:a@b</contact><contact>sip:c@d</contact></tuple>'), '<contact> of tuple \'t\' appears more than once'],
      ['a negative priority', wrap('<tuple id="t"><status/><contact priority="-0.1">sip:a@b</contact></tuple>'), 'must be a number from 0 to 1'],
      ['an exponent priority', wrap('<tuple id="t"><status/><contact priority="1e-1">sip:a@b</contact></tuple>'), 'must be a number from 0 to 1'],
      ['a device sharing a person id', wrap('<dm:person id="d"/><dm:device id="d"/>', 'xmlns:dm="urn:ietf:params:xml:ns:pidf:data-model"'), "the id 'd' of a device is already the id of a person"],
      ['mustUnderstand="1" in the PIDF namespace', wrap('<tuple id="t"><status><x:y p:mustUnderstand="1"/></status></tuple>', 'xmlns:x="urn:x" xmlns:p="urn:ietf:params:xml:ns:pidf"'), 'is marked mustUnderstand'],
      ['mustUnderstand on a person extension', wrap('<dm:person id="p"><x:y mustUnderstand="true"/></dm:person>', 'xmlns:x="urn:x" xmlns:dm="urn:ietf:params:xml:ns:pidf:data-model"'), 'is marked mustUnderstand'],
    ];
    for (const [what, input, reason] of cases) {
      it(`refuses ${what}`, () => {
        const got = refused(input);
        assert.ok(got.includes(reason), `${what}: ${got}`);
      });
    }
  });

  describe('XML reader', () => {
    const read = (s: string | Buffer, limits = {}): XmlElement => {
      const r = readXmlDocument(s, limits);
      if (!r.ok) assert.fail(r.reason);
      return r.root;
    };

    it('accepts a UTF-8 BOM, leading whitespace, comments anywhere, CDATA and character references', () => {
      const body = Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), Buffer.from(
        `\r\n<?xml version="1.0"?>\n<!-- c --><presence ${PIDF} entity="sip:a@example.com"><!-- in -->${openTuple}`
        + '<note>a<![CDATA[<b>&amp;]]>&#x263A;&#9731;&lt;&gt;&amp;&quot;&apos;</note></presence><!-- after -->\n')]);
      assert.deepEqual(parsed(body).notes, [{ text: 'a<b>&amp;☺☃<>&"\'', lang: null }]);
    });

    it('applies end-of-line handling and attribute-value normalisation', () => {
      const d = parsed(wrap(`<tuple id="t"><status/><contact priority="\t0.5\r\n">sip:a@b</contact><note>line1\r\nline2\rline3</note></tuple>`));
      assert.equal(d.tuples[0]!.contact?.priority, 0.5);
      assert.deepEqual(d.tuples[0]!.notes, [{ text: 'line1\nline2\nline3', lang: null }]);
      const root = read('<a b="x&#10;y\tz"/>');
      assert.equal(root.attrs[0]!.value, 'x\ny z');
    });

    it('inherits xml:lang, and xml:lang="" resets it', () => {
      const d = parsed(`<presence ${PIDF} xml:lang="de" entity="sip:a@example.com"><tuple id="t" xml:lang="fr"><status/><note>un</note><note xml:lang="">none</note></tuple><note>eins</note></presence>`);
      assert.deepEqual(d.tuples[0]!.notes, [{ text: 'un', lang: 'fr' }, { text: 'none', lang: null }]);
      assert.deepEqual(d.notes, [{ text: 'eins', lang: 'de' }]);
    });

    it('resolves namespaces per element and scope', () => {
      const root = read('<a xmlns="urn:1" xmlns:p="urn:2"><p:b><c xmlns="urn:3"/><d/></p:b><p:e xmlns:p="urn:4"/></a>');
      const b = root.children[0] as XmlElement;
      assert.deepEqual([root.ns, b.ns, (b.children[0] as XmlElement).ns, (b.children[1] as XmlElement).ns, (root.children[1] as XmlElement).ns],
        ['urn:1', 'urn:2', 'urn:3', 'urn:1', 'urn:4']);
    });

    it('enforces its limits: bytes, depth, elements, attributes', () => {
      const big = wrap(`${openTuple}<note>${'x'.repeat(70000)}</note>`);
      assert.match(refused(big), /larger than 65536 bytes/);
      assert.ok(parsePidf(big, { limits: { maxBytes: 100000 } }).ok);
      assert.match(refused(Buffer.from(big)), /larger than 65536 bytes/);
      const deep = wrap(`${openTuple}${'<x:a>'.repeat(40)}${'</x:a>'.repeat(40)}`, 'xmlns:x="urn:x"');
      assert.match(refused(deep), /deeper than 32 levels/);
      const wide = wrap(`${openTuple}${'<x:a/>'.repeat(5000)}`, 'xmlns:x="urn:x"');
      assert.match(refused(wide), /more than 4096 elements/);
      const attrs = Array.from({ length: 70 }, (_, i) => `a${i}="1"`).join(' ');
      assert.match(refused(wrap(`<tuple id="t" ${attrs}><status/></tuple>`)), /more than 64 attributes/);
    });

    it('never throws, whatever the input: every prefix of every fixture, and seeded random corruptions', () => {
      const rand = rng(7);
      for (const name of goodNames) {
        const bytes = fixture(name);
        for (let i = 0; i < bytes.length; i++) {
          const r = parsePidf(bytes.subarray(0, i));
          assert.ok(r.ok || typeof r.reason === 'string');
        }
        for (let k = 0; k < 200; k++) {
          const copy = Buffer.from(bytes);
          for (let j = 0; j < 3; j++) copy[Math.floor(rand() * copy.length)] = Math.floor(rand() * 256);
          const r = parsePidf(copy);
          assert.ok(r.ok || (typeof r.reason === 'string' && r.reason.length > 0));
        }
      }
    });
  });

  describe('writing', () => {
    it('serialize → parse gives the same document for every fixture, and the bytes are stable', () => {
      for (const name of goodNames) {
        const d = doc(name);
        const xml = serializePidf(d);
        assert.deepEqual(parsed(xml), d, name);
        assert.equal(serializePidf(parsed(xml)), xml, name);
        assert.ok(xml.startsWith('<?xml version="1.0" encoding="UTF-8"?>\n<presence xmlns="urn:ietf:params:xml:ns:pidf"'), name);
      }
    });

    it('writes only the standard namespaces, whatever was read', () => {
      const xml = serializePidf(doc('cisco-cucm-on-the-phone.xml'));
      assert.ok(!xml.includes('cisco') && !xml.includes('status:rpid'), xml);
      assert.ok(xml.includes('<rpid:activities><rpid:on-the-phone/></rpid:activities>'), xml);
    });

    it('renders a composed state exactly (the golden document)', () => {
      const c: Composed = { state: 'dnd', text: 'On the phone', onThePhone: true, inMeeting: false, top: null };
      assert.equal(renderPidf('sip:alice@example.com', c), '<?xml version="1.0" encoding="UTF-8"?>\n'
        + '<presence xmlns="urn:ietf:params:xml:ns:pidf" xmlns:dm="urn:ietf:params:xml:ns:pidf:data-model" xmlns:rpid="urn:ietf:params:xml:ns:pidf:rpid" entity="sip:alice@example.com">'
        + '<tuple id="presence"><status><basic>open</basic></status><note>On the phone</note></tuple>'
        + '<dm:person id="person"><rpid:activities><rpid:on-the-phone/><rpid:busy/></rpid:activities><dm:note>On the phone</dm:note></dm:person>'
        + '</presence>\n');
    });

    it('escapes markup, drops characters XML cannot carry, keeps UTF-8 text', () => {
      const text = 'a<b>&"c\' \u0001\u0008 Café ☕ 𝄞 \r\nnext';
      const c: Composed = { state: 'custom', text, onThePhone: false, inMeeting: false, top: null };
      const xml = renderPidf('sip:o\'brien&co@example.com', c);
      assert.ok(xml.includes('<note>a&lt;b&gt;&amp;"c\'  Café ☕ 𝄞 \nnext</note>'), xml);
      assert.ok(xml.includes('entity="sip:o&apos;brien&amp;co@example.com"'), xml);
      const d = parsed(Buffer.from(xml, 'utf8'));
      assert.equal(d.entity, "sip:o'brien&co@example.com");
      assert.equal(d.persons[0]!.notes[0]!.text, 'a<b>&"c\'  Café ☕ 𝄞 \nnext');
    });

    it('is deterministic: the same input gives the same bytes', () => {
      const c: Composed = { state: 'away', text: 'Back soon', onThePhone: false, inMeeting: true, top: 'pc' };
      const tuples: PresenceTuple[] = [
        { source: { kind: 'xmpp', id: 'phone' }, available: true, show: 'away', status: 'Back soon', priority: 5, updatedAt: 2 },
        { source: { kind: 'xmpp', id: 'pc' }, available: true, show: 'away', status: null, priority: 10, updatedAt: 1 },
      ];
      const a = renderPidf('sip:a@example.com', c, tuples);
      assert.equal(renderPidf('sip:a@example.com', { ...c }, [...tuples].reverse()), a);
    });

    it('one tuple per available XMPP resource, best first, with the resource in the id and the priority scaled', () => {
      const c: Composed = { state: 'custom', text: 'Hi', onThePhone: false, inMeeting: false, top: 'pc/1' };
      const tuples: PresenceTuple[] = [
        { source: { kind: 'xmpp', id: 'mobile' }, available: true, show: 'away', status: 'on the go', priority: -5, updatedAt: 3 },
        { source: { kind: 'xmpp', id: 'pc/1' }, available: true, show: 'available', status: 'Hi', priority: 10, updatedAt: 1 },
        { source: { kind: 'xmpp', id: 'gone' }, available: false, show: 'available', status: null, priority: 50, updatedAt: 1 },
        { source: { kind: 'sip', id: 'etag-1' }, available: true, show: 'available', status: null, priority: 0, updatedAt: 1 },
        { source: { kind: 'phone', id: '1001' }, available: true, show: 'available', status: null, priority: 0, onThePhone: false, updatedAt: 1 },
      ];
      const d = parsed(renderPidf('sip:a@example.com', c, tuples));
      assert.deepEqual(d.tuples.map((t) => [resourceOfTupleId(t.id), t.basic, t.contact, t.notes.map((n) => n.text)]), [
        ['pc/1', 'open', { uri: 'sip:a@example.com', priority: 0.541 }, ['Hi']],
        ['mobile', 'open', { uri: 'sip:a@example.com', priority: 0.482 }, ['on the go']],
      ]);
      assert.deepEqual(d.persons[0]!.notes.map((n) => n.text), ['Hi']);
      assert.ok(!JSON.stringify(d).includes('etag-1'));
    });

    it('an unavailable composed state never shows resources, even when they are passed', () => {
      const tuples: PresenceTuple[] = [{ source: { kind: 'xmpp', id: 'secret-laptop' }, available: true, show: 'dnd', status: 'private', priority: 1, updatedAt: 1 }];
      const xml = renderPidf('sip:a@example.com', { state: 'unavailable', text: null, onThePhone: false, inMeeting: false, top: null }, tuples);
      assert.ok(!xml.includes('secret') && !xml.includes('private'), xml);
      assert.deepEqual(parsed(xml).tuples.map((t) => [t.id, t.basic]), [['presence', 'closed']]);
    });

    describe('render → parse → same meaning, for every composed state the engine can produce', () => {
      /** What aggregate() can give: flags turn an available/custom/away user into dnd, and unavailable has no text. */
      const possible = (c: Composed): boolean => {
        const flags = c.onThePhone || c.inMeeting;
        switch (c.state) {
          case 'unavailable': return c.text === null;
          case 'available': return c.text === null && !flags;
          case 'custom': return c.text !== null && !flags;
          case 'away': return !flags;
          case 'dnd': return true;
        }
      };
      for (const state of COMPOSED_STATES) {
        for (const text of [null, 'On the phone', 'In a meeting', 'My own text']) {
          for (const onThePhone of [false, true]) {
            for (const inMeeting of [false, true]) {
              const c: Composed = { state, text, onThePhone, inMeeting, top: null };
              if (!possible(c)) continue;
              it(`${state}, text ${JSON.stringify(text)}, phone ${onThePhone}, meeting ${inMeeting}`, () => {
                const d = parsed(renderPidf('sip:a@example.com', c));
                const t = pidfToTuple(d, { kind: 'sip', id: 'etag' }, 1);
                assert.equal(t.inMeeting === true, inMeeting);
                // A SIP tuple carries a meeting as dnd (+ text), not as the calendar flag, so that flag is compared above.
                assert.deepEqual({ ...aggregate([t]), inMeeting }, c);
              });
            }
          }
        }
      }
    });
  });
});
