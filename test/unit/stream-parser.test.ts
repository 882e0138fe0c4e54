/**
 * XMPP stream push parser (RFC 6120 §4, §11): wire fixtures split at every
 * byte offset and fed one byte at a time, plus every refusal the parser makes.
 */
import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parse } from 'ltx';
import { StreamParser, type StreamEvent, type StreamParserOptions } from '../../src/xmpp/codec/stream-parser.js';

/** The repository root, whether this runs from test/ or from dist/test/. */
function repoRoot(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  while (!existsSync(join(dir, 'package.json'))) dir = dirname(dir);
  return dir;
}
const FIXTURES = join(repoRoot(), 'test/fixtures/xml');

const HEADER = "<stream:stream xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams' to='example.com' version='1.0'>";

function show(e: StreamEvent): string {
  switch (e.type) {
    case 'stream-open': return `stream-open ${e.name} ${JSON.stringify(e.attrs)}`;
    case 'element': return `element ${e.ns} ${e.element.toString()}`;
    case 'stream-close': return 'stream-close';
    case 'error': return `error ${e.condition} ${e.text}`;
  }
}

/**
 * Feeds `chunks` in order and lists the events. Each chunk is a private copy
 * scribbled over after feed(), so a parser that kept a reference to the
 * caller's buffer would be caught; nothing may follow an error.
 */
function run(chunks: Buffer[], opts?: Partial<StreamParserOptions>): string[] {
  const parser = new StreamParser(opts);
  const out: string[] = [];
  let failed = false;
  for (const chunk of chunks) {
    const copy = Buffer.from(chunk);
    const events = parser.feed(copy);
    copy.fill(0x41);
    if (failed) assert.deepEqual(events, [], 'feed() after an error must return []');
    for (const e of events) {
      assert.ok(!failed, 'nothing may follow an error event');
      if (e.type === 'error') failed = true;
      out.push(show(e));
    }
  }
  return out;
}

function bytewise(input: Buffer): Buffer[] {
  const chunks: Buffer[] = [];
  for (let i = 0; i < input.length; i++) chunks.push(input.subarray(i, i + 1));
  return chunks;
}

/** The events for `input` fed whole, after checking every two-way split and byte-at-a-time agree with them. */
function splitInvariant(input: Buffer | string, opts?: Partial<StreamParserOptions>): string[] {
  const bytes = typeof input === 'string' ? Buffer.from(input) : input;
  const whole = run([bytes], opts);
  for (let i = 0; i <= bytes.length; i++) {
    assert.deepEqual(run([bytes.subarray(0, i), bytes.subarray(i)], opts), whole, `split at byte ${i}`);
  }
  assert.deepEqual(run(bytewise(bytes), opts), whole, 'one byte at a time');
  return whole;
}

function lastEvent(events: string[]): string {
  return events[events.length - 1] ?? '';
}

function assertRefused(input: Buffer | string, condition: string, opts?: Partial<StreamParserOptions>): string[] {
  const events = splitInvariant(input, opts);
  assert.match(lastEvent(events), new RegExp(`^error ${condition} `), `expected ${condition}, got ${events.join(' | ')}`);
  return events;
}

function elements(input: string | Buffer): StreamEvent[] {
  return new StreamParser().feed(typeof input === 'string' ? Buffer.from(input) : input).filter((e) => e.type === 'element');
}

function onlyElement(input: string): { element: import('ltx').Element; ns: string } {
  const els = elements(input);
  assert.equal(els.length, 1);
  const e = els[0];
  assert.ok(e.type === 'element');
  return e;
}

describe('StreamParser', () => {
  describe('wire fixtures', () => {
    const names = readdirSync(FIXTURES).filter((f) => f.endsWith('.xml')).sort();

    it('has fixtures to run', () => {
      assert.ok(names.length >= 4, `fixtures in ${FIXTURES}`);
    });

    for (const name of names) {
      it(`${name}: the expected events, whole, split at every byte and byte by byte`, () => {
        const input = readFileSync(join(FIXTURES, name));
        const expected = readFileSync(join(FIXTURES, name.replace(/\.xml$/, '.events')), 'utf8');
        const events = splitInvariant(input);
        assert.equal(events.join('\n') + '\n', expected);
      });
    }

    it('emits elements that serialise stand-alone with the namespaces they had in the stream', () => {
      const input = readFileSync(join(FIXTURES, 's2s-dialback.xml'));
      for (const e of new StreamParser().feed(input)) {
        if (e.type !== 'element') continue;
        const reparsed = parse(e.element.toString());
        assert.equal(reparsed.getNS(), e.ns);
        assert.equal(e.element.getNS(), e.ns);
      }
    });

    it('decodes multibyte UTF-8, entities and CDATA in message bodies', () => {
      const input = readFileSync(join(FIXTURES, 'c2s-session.xml'));
      const bodies = new StreamParser().feed(input)
        .flatMap((e) => (e.type === 'element' && e.element.is('message') ? [e.element.getChildText('body')] : []));
      assert.equal(bodies[0], '日本語のメッセージ 🎉👩‍👩‍👧 <3 & "quotes" \'apos\' 😀☃é');
      assert.equal(bodies[1], 'if (a < b && c > d) { return "<xml/>"; } and after, 1 > 0');
    });
  });

  describe('stream structure', () => {
    it('reports the header as written, with its namespace declarations', () => {
      const [open] = new StreamParser().feed(Buffer.from(HEADER));
      assert.deepEqual(open, {
        type: 'stream-open',
        name: 'stream:stream',
        attrs: { xmlns: 'jabber:client', 'xmlns:stream': 'http://etherx.jabber.org/streams', to: 'example.com', version: '1.0' },
      });
    });

    it('accepts a stream header with a default-namespace streams element', () => {
      const events = splitInvariant("<stream xmlns='http://etherx.jabber.org/streams'><a xmlns='urn:x'/></stream>");
      assert.deepEqual(events, [
        'stream-open stream {"xmlns":"http://etherx.jabber.org/streams"}',
        'element urn:x <a xmlns="urn:x"/>',
        'stream-close',
      ]);
    });

    it('treats whitespace keep-alives between stanzas as nothing', () => {
      const p = new StreamParser();
      assert.equal(p.feed(Buffer.from(HEADER)).length, 1);
      assert.deepEqual(p.feed(Buffer.from(' ')), []);
      assert.deepEqual(p.feed(Buffer.from('\r\n\t ')), []);
      assert.equal(p.feed(Buffer.from('<presence/> ')).length, 1);
    });

    it('emits nothing until a stanza is complete', () => {
      const p = new StreamParser();
      p.feed(Buffer.from(HEADER));
      assert.deepEqual(p.feed(Buffer.from('<message><body>hi</body>')), []);
      assert.equal(p.feed(Buffer.from('</message>'))[0].type, 'element');
    });

    it('accepts a UTF-8 byte order mark before the XML declaration', () => {
      const events = splitInvariant(Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), Buffer.from(`<?xml version='1.0'?>${HEADER}`)]));
      assert.match(events[0], /^stream-open /);
    });

    it('accepts a self-closing stream header as an open and a close', () => {
      assert.deepEqual(splitInvariant("<stream:stream xmlns:stream='http://etherx.jabber.org/streams'/>").slice(1), ['stream-close']);
    });

    it('sets the inherited default namespace on the emitted element but keeps children as written', () => {
      const { element, ns } = onlyElement(`${HEADER}<iq type='get' id='1'><query xmlns='jabber:iq:roster'><item jid='a@b'/></query></iq>`);
      assert.equal(ns, 'jabber:client');
      assert.equal(element.attrs.xmlns, 'jabber:client');
      assert.deepEqual(element.getChild('query')?.getChild('item')?.attrs, { jid: 'a@b' });
      assert.equal(element.parent, null);
    });

    it('leaves an element with its own xmlns alone', () => {
      const { element, ns } = onlyElement(`${HEADER}<r xmlns='urn:xmpp:sm:3'/>`);
      assert.equal(ns, 'urn:xmpp:sm:3');
      assert.deepEqual(element.attrs, { xmlns: 'urn:xmpp:sm:3' });
    });

    it('declares header prefixes used anywhere in the stanza on the emitted element', () => {
      const header = "<stream:stream xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams' xmlns:x='urn:x'>";
      const { element } = onlyElement(`${header}<message x:a='1'><x:y/></message>`);
      assert.equal(element.toString(), '<message x:a="1" xmlns="jabber:client" xmlns:x="urn:x"><x:y/></message>');
    });

    it('gives an unprefixed element the empty namespace when the header declares no default', () => {
      const { element, ns } = onlyElement("<stream:stream xmlns:stream='http://etherx.jabber.org/streams'><a/>");
      assert.equal(ns, '');
      assert.equal(element.attrs.xmlns, undefined);
    });

    it('resolves prefixes declared inside the stanza and xml:lang', () => {
      const { element } = onlyElement(`${HEADER}<message xml:lang='de'><p:x xmlns:p='urn:p'><p:y/></p:x></message>`);
      assert.equal(element.getChild('x')?.getChild('y')?.getNS(), 'urn:p');
      assert.equal(element.attrs['xml:lang'], 'de');
    });

    it('merges text split by entities, CDATA and chunk boundaries into one text node', () => {
      const { element } = onlyElement(`${HEADER}<body>a&amp;b<![CDATA[<c>]]>d</body>`);
      assert.deepEqual(element.children, ['a&b<c>d']);
    });

    it('normalises line ends in text and whitespace in attribute values (XML 1.0 §2.11, §3.3.3)', () => {
      const input = `${HEADER}<m a='x\ty\r\nz\rw&#10;v'><b>1\r\n2\r3\n4<![CDATA[5\r\n6]]></b></m>`;
      const [event] = splitInvariant(input).slice(1);
      const el = parse(event.replace(/^element \S+ /, ''));
      assert.equal(el.attrs.a, 'x y z w\nv');
      assert.equal(el.getChildText('b'), '1\n2\n3\n45\n6');
    });

    it('accepts > in character data', () => {
      assert.equal(onlyElement(`${HEADER}<b>a > b ]> c</b>`).element.getText(), 'a > b ]> c');
    });

    it('keeps names exact when thousands of distinct names contend for the shared name table', () => {
      const names = Array.from({ length: 3000 }, (_, k) => `n${k.toString(36)}x${(k * 7919).toString(36)}`);
      const { element } = onlyElement(`${HEADER}<r>${names.map((n) => `<${n} ${n}='1'></${n}>`).join('')}</r>`);
      assert.deepEqual(element.getChildElements().map((c) => c.name), names);
      assert.deepEqual(element.getChildElements().map((c) => Object.keys(c.attrs)[0]), names);
    });

    it('keeps an attribute named __proto__', () => {
      assert.equal(onlyElement(`${HEADER}<a __proto__='x'/>`).element.toString(), '<a __proto__="x" xmlns="jabber:client"/>');
    });

    it('reset() starts a fresh stream, as after STARTTLS and SASL success', () => {
      const p = new StreamParser();
      const first = p.feed(Buffer.from(`<?xml version='1.0'?>${HEADER}<starttls xmlns='urn:ietf:params:xml:ns:xmpp-tls'/>`));
      assert.deepEqual(first.map((e) => e.type), ['stream-open', 'element']);
      p.reset();
      const second = p.feed(Buffer.from(`<?xml version='1.0'?>${HEADER}<auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl' mechanism='PLAIN'>AGp1bGlldAByMG0zMG15cjBtMzA=</auth>`));
      assert.deepEqual(second.map((e) => e.type), ['stream-open', 'element']);
    });

    it('reset() after an error makes the parser usable again', () => {
      const p = new StreamParser();
      assert.equal(p.feed(Buffer.from('<!DOCTYPE x>'))[0].type, 'error');
      assert.deepEqual(p.feed(Buffer.from(HEADER)), []);
      p.reset();
      assert.equal(p.feed(Buffer.from(HEADER))[0].type, 'stream-open');
    });

    it('rejects nonsensical options', () => {
      assert.throws(() => new StreamParser({ maxStanzaBytes: 0 }), RangeError);
      assert.throws(() => new StreamParser({ maxDepth: 1.5 }), RangeError);
    });
  });

  describe('refusals (each split at every byte offset)', () => {
    const cases: [string, string | Buffer, string][] = [
      ['a DOCTYPE before the header', `<?xml version='1.0'?><!DOCTYPE stream:stream [<!ENTITY x 'y'>]>${HEADER}`, 'restricted-xml'],
      ['an entity declaration inside a stanza', `${HEADER}<a><!ENTITY xxe SYSTEM 'file:///etc/passwd'></a>`, 'restricted-xml'],
      ['an undefined entity reference', `${HEADER}<message><body>&xxe;</body></message>`, 'restricted-xml'],
      ['an undefined entity reference in an attribute', `${HEADER}<message to='&xxe;'/>`, 'restricted-xml'],
      ['a long undefined entity reference', `${HEADER}<a>&${'x'.repeat(100)};</a>`, 'restricted-xml'],
      ['a comment in a stanza', `${HEADER}<message><!-- hi --></message>`, 'restricted-xml'],
      ['a comment at stream level', `${HEADER}<!-- hi -->`, 'restricted-xml'],
      ['a comment before the header', `<!-- hi -->${HEADER}`, 'restricted-xml'],
      ['a processing instruction after the header', `${HEADER}<?php echo 1; ?>`, 'restricted-xml'],
      ['a processing instruction in a stanza', `${HEADER}<a><?pi?></a>`, 'restricted-xml'],
      ['a processing instruction before the header', `<?xml-stylesheet href='a'?>${HEADER}`, 'restricted-xml'],
      ['a second XML declaration', `<?xml version='1.0'?><?xml version='1.0'?>${HEADER}`, 'restricted-xml'],
      ['an XML declaration after the header', `${HEADER}<?xml version='1.0'?>`, 'restricted-xml'],
      ['a malformed XML declaration', "<?xml encoding='UTF-8'?>", 'not-well-formed'],
      ['an encoding other than UTF-8', `<?xml version='1.0' encoding='ISO-8859-1'?>${HEADER}`, 'unsupported-encoding'],
      ['a UTF-16 byte order mark', Buffer.from([0xfe, 0xff, 0x00, 0x3c]), 'unsupported-encoding'],
      ['UTF-16 without a byte order mark', Buffer.from([0x3c, 0x00, 0x3f, 0x00]), 'unsupported-encoding'],
      ['a header in the wrong namespace', "<stream:stream xmlns:stream='jabber:client'>", 'invalid-namespace'],
      ['a header in the default namespace jabber:client', "<stream xmlns='jabber:client'>", 'invalid-namespace'],
      ['a header that is not <stream>', "<stream:foo xmlns:stream='http://etherx.jabber.org/streams'>", 'invalid-namespace'],
      ['a header with an unbound prefix', "<stream:stream xmlns='jabber:client'>", 'not-well-formed'],
      ['an element with an unbound prefix', `${HEADER}<foo:bar/>`, 'not-well-formed'],
      ['an attribute with an unbound prefix', `${HEADER}<a foo:b='1'/>`, 'not-well-formed'],
      ['a prefix declared empty', `${HEADER}<a xmlns:p=''/>`, 'not-well-formed'],
      ['the xmlns prefix declared', `${HEADER}<a xmlns:xmlns='urn:x'/>`, 'not-well-formed'],
      ['the xml prefix rebound', `${HEADER}<a xmlns:xml='urn:x'/>`, 'not-well-formed'],
      ['a name with two colons', `${HEADER}<a:b:c xmlns:a='urn:a'/>`, 'not-well-formed'],
      ['a name ending in a colon', `${HEADER}<a: xmlns:a='urn:a'/>`, 'not-well-formed'],
      ['a local name starting with a digit', `${HEADER}<a:1 xmlns:a='urn:a'/>`, 'not-well-formed'],
      ['a name starting with a digit', `${HEADER}<1a/>`, 'not-well-formed'],
      ['a non-ASCII character that cannot start a name', `${HEADER}<\u00d7a/>`, 'not-well-formed'],
      ['mismatched end tags', `${HEADER}<message><body>hi</message></body>`, 'not-well-formed'],
      ['an end tag at stream level that is not the header\'s', `${HEADER}</stream>`, 'not-well-formed'],
      ['an end tag before the header', '</stream:stream>', 'not-well-formed'],
      ['a duplicate attribute', `${HEADER}<message to='a' to='b'/>`, 'not-well-formed'],
      ['a duplicate xmlns declaration', `${HEADER}<a xmlns='urn:a' xmlns='urn:b'/>`, 'not-well-formed'],
      ['two attributes with the same expanded name', `${HEADER}<a xmlns:p='urn:x' xmlns:q='urn:x' p:z='1' q:z='2'/>`, 'not-well-formed'],
      ['an unquoted attribute value', `${HEADER}<message to=a/>`, 'not-well-formed'],
      ['an attribute without a value', `${HEADER}<option selected/>`, 'not-well-formed'],
      ['attributes without whitespace between them', `${HEADER}<a x='1'y='2'/>`, 'not-well-formed'],
      ['an attribute value missing its closing quote', `${HEADER}<a x='1></a><b/>`, 'not-well-formed'],
      ['< in an attribute value', `${HEADER}<a x='<'/>`, 'not-well-formed'],
      ['a bare & in text', `${HEADER}<body>fish & chips</body>`, 'not-well-formed'],
      ['a bare & in an attribute', `${HEADER}<a x='fish & chips'/>`, 'not-well-formed'],
      ['an entity reference without ;', `${HEADER}<body>&amp</body>`, 'not-well-formed'],
      ['an empty character reference', `${HEADER}<body>&#;</body>`, 'not-well-formed'],
      ['a character reference to NUL', `${HEADER}<body>&#0;</body>`, 'not-well-formed'],
      ['a character reference to a surrogate', `${HEADER}<body>&#xD800;</body>`, 'not-well-formed'],
      ['a character reference beyond Unicode', `${HEADER}<body>&#x110000;</body>`, 'not-well-formed'],
      ['a bare < in text', `${HEADER}<body>1 < 2</body>`, 'not-well-formed'],
      [']]> in text', `${HEADER}<body>a ]]> b</body>`, 'not-well-formed'],
      ['text at stream level', `${HEADER}hello`, 'not-well-formed'],
      ['a > without a tag at stream level', `${HEADER}<presence/>>`, 'not-well-formed'],
      ['an entity at stream level', `${HEADER}&amp;`, 'not-well-formed'],
      ['CDATA at stream level', `${HEADER}<![CDATA[ ]]>`, 'not-well-formed'],
      ['text before the header', `hello${HEADER}`, 'not-well-formed'],
      ['a control character in text', `${HEADER}<body>\u0007</body>`, 'not-well-formed'],
      ['a control character in an attribute', `${HEADER}<a x='\u001b'/>`, 'not-well-formed'],
      ['a NUL at stream level', `${HEADER}\u0000`, 'not-well-formed'],
      ['markup after the stream close', `${HEADER}</stream:stream><presence/>`, 'not-well-formed'],
      ['junk after <!', `${HEADER}<a><!x></a>`, 'not-well-formed'],
      ['a malformed CDATA opener', `${HEADER}<a><![CDAT[x]]></a>`, 'not-well-formed'],
      ['< followed by whitespace', `${HEADER}< a/>`, 'not-well-formed'],
      ['a / in a start tag not before >', `${HEADER}<a / >`, 'not-well-formed'],
    ];
    for (const [what, input, condition] of cases) {
      it(`${condition}: ${what}`, () => {
        assertRefused(input, condition);
      });
    }

    it('keeps the events completed before a refusal', () => {
      const events = assertRefused(`${HEADER}<presence/><!-- x -->`, 'restricted-xml');
      assert.deepEqual(events.map((e) => e.split(' ')[0]), ['stream-open', 'element', 'error']);
    });
  });

  describe('invalid UTF-8 and non-characters (split at every byte offset)', () => {
    const bad: [string, number[]][] = [
      ['a lone continuation byte', [0x80]],
      ['a truncated two-byte sequence', [0xc3, 0x41]],
      ['a truncated four-byte sequence', [0xf0, 0x9f, 0x98]],
      ['an overlong encoding of /', [0xc0, 0xaf]],
      ['an overlong three-byte encoding', [0xe0, 0x80, 0xaf]],
      ['an encoded surrogate', [0xed, 0xa0, 0x80]],
      ['a code point beyond U+10FFFF', [0xf4, 0x90, 0x80, 0x80]],
      ['the byte 0xFF', [0xff]],
      ['U+FFFE', [0xef, 0xbf, 0xbe]],
      ['U+FFFF', [0xef, 0xbf, 0xbf]],
    ];
    for (const [what, bytes] of bad) {
      it(`refuses ${what} in text`, () => {
        assertRefused(Buffer.concat([Buffer.from(`${HEADER}<body>`), Buffer.from(bytes), Buffer.from('</body>')]), 'not-well-formed');
      });
    }

    it('refuses invalid UTF-8 in a name and in an attribute value', () => {
      assertRefused(Buffer.concat([Buffer.from(`${HEADER}<a`), Buffer.from([0xc3]), Buffer.from('/>')]), 'not-well-formed');
      assertRefused(Buffer.concat([Buffer.from(`${HEADER}<a x='`), Buffer.from([0xe6, 0x97]), Buffer.from("'/>")]), 'not-well-formed');
    });

    it('accepts the largest valid sequences of each length and U+FFFD', () => {
      const { element } = onlyElement(`${HEADER}<b x='\u07ff\ud7ff'>\u007f\u07ff\uffef\ufffd\u{10ffff}</b>`);
      assert.equal(element.getText(), '\u007f\u07ff\uffef\ufffd\u{10ffff}');
      assert.equal(element.attrs.x, '\u07ff\ud7ff');
    });
  });

  describe('limits', () => {
    it('accepts a stanza of exactly maxStanzaBytes and refuses one byte more', () => {
      const stanza = (n: number) => `<a>${'x'.repeat(n - 7)}</a>`;
      assert.equal(stanza(40).length, 40);
      const ok = splitInvariant(`${HEADER}${stanza(40)}`, { maxStanzaBytes: 40 });
      assert.equal(ok.length, 2);
      assertRefused(`${HEADER}${stanza(41)}`, 'policy-violation', { maxStanzaBytes: 40 });
    });

    it('counts multibyte characters as bytes', () => {
      const body = '日'.repeat(10); // 30 bytes
      assert.equal(splitInvariant(`${HEADER}<a>${body}</a>`, { maxStanzaBytes: 37 }).length, 2);
      assertRefused(`${HEADER}<a>${body}</a>`, 'policy-violation', { maxStanzaBytes: 36 });
    });

    it('refuses an oversized stanza as soon as it passes the limit, without reading the rest', () => {
      const limit = 262144;
      const p = new StreamParser();
      p.feed(Buffer.from(HEADER));
      const chunk = Buffer.alloc(65536, 'a');
      const start = Buffer.from('<message><body>');
      let fed = start.length;
      let events = p.feed(start);
      while (events.length === 0 && fed < 10 * 1024 * 1024) {
        events = p.feed(chunk);
        fed += chunk.length;
      }
      assert.equal(events.length, 1);
      assert.ok(events[0].type === 'error' && events[0].condition === 'policy-violation');
      assert.ok(fed > limit && fed <= limit + chunk.length, `error after ${fed} bytes`);
      assert.deepEqual(p.feed(chunk), []);
    });

    it('refuses an oversized start tag (one huge attribute) the same way', () => {
      const p = new StreamParser({ maxStanzaBytes: 1000 });
      p.feed(Buffer.from(`${HEADER}<message to='`));
      const events = p.feed(Buffer.alloc(2000, 'a'));
      assert.ok(events[0]?.type === 'error' && events[0].condition === 'policy-violation');
    });

    it('refuses an oversized stream header', () => {
      const events = new StreamParser().feed(Buffer.from(`<stream:stream xmlns:stream='http://etherx.jabber.org/streams' x='${'a'.repeat(70000)}'>`));
      assert.ok(events[0]?.type === 'error' && events[0].condition === 'policy-violation');
    });

    it('refuses an oversized end tag at stream level', () => {
      const events = new StreamParser({ maxStanzaBytes: 100 }).feed(Buffer.from(`${HEADER}</${'a'.repeat(200)}`));
      assert.ok(events[1]?.type === 'error' && events[1].condition === 'policy-violation');
    });

    it('does not count whitespace between stanzas against the limit', () => {
      const events = splitInvariant(`${HEADER}<a/>${' '.repeat(100)}<b/>`, { maxStanzaBytes: 10 });
      assert.equal(events.length, 3);
    });

    it('refuses nesting deeper than maxDepth', () => {
      const nest = (n: number) => '<a>'.repeat(n) + '</a>'.repeat(n);
      assert.equal(run([Buffer.from(HEADER + nest(64))]).length, 2);
      assert.match(lastEvent(run([Buffer.from(HEADER + nest(65))])), /^error policy-violation /);
      assert.equal(splitInvariant(HEADER + nest(3), { maxDepth: 3 }).length, 2);
      assertRefused(HEADER + nest(4), 'policy-violation', { maxDepth: 3 });
    });
  });
});
