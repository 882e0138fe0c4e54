/**
 * XMPP stream push parser: bytes in, stream events out, no I/O.
 *
 * Implements RFC 6120 §4.1-§4.4 and §4.8 (the stream is one XML document:
 * the <stream:stream> header in 'http://etherx.jabber.org/streams', then
 * first-level elements, then </stream:stream>), §4.9.3 (which stream error
 * each refusal maps to) and §11 (restricted XML, via xml-tokenizer.ts), with
 * prefixes resolved per Namespaces in XML 1.0 (§3, §4, §5.3).
 *
 * Each first-level element is emitted as a detached ltx Element that carries
 * every namespace declaration it inherited from the stream header, so that
 * routing or storing it never depends on the header it arrived under.
 */
import { Element } from 'ltx';
import { XmlTokenizer, type TokenSink } from './xml-tokenizer.js';

export type StreamErrorCondition =
  | 'not-well-formed'
  | 'policy-violation'
  | 'restricted-xml'
  | 'unsupported-encoding'
  | 'invalid-namespace'
  | 'bad-format';

export type StreamEvent =
  | { type: 'stream-open'; name: string; attrs: Record<string, string> }
  | { type: 'element'; element: Element; ns: string }
  | { type: 'stream-close' }
  | { type: 'error'; condition: StreamErrorCondition; text: string };

export interface StreamParserOptions {
  /** Largest first-level element, in raw bytes from its '<' to its closing '>'. */
  maxStanzaBytes: number;
  /** Deepest element nesting inside one first-level element (which is depth 1). */
  maxDepth?: number;
}

const STREAMS_NS = 'http://etherx.jabber.org/streams';
const XML_NS = 'http://www.w3.org/XML/1998/namespace';
const XMLNS_NS = 'http://www.w3.org/2000/xmlns/';
/** The header is only a handful of attributes; anything longer is an attack, not a client. */
const MAX_HEADER_BYTES = 65536;
const DEFAULTS: Required<StreamParserOptions> = { maxStanzaBytes: 262144, maxDepth: 64 };

const PROLOG = 0;
const OPEN = 1;
const CLOSED = 2;

export class StreamParser {
  private readonly opts: Required<StreamParserOptions>;
  private builder: StreamBuilder;

  constructor(opts?: Partial<StreamParserOptions>) {
    const o = { ...DEFAULTS, ...opts };
    for (const k of ['maxStanzaBytes', 'maxDepth'] as const) {
      if (!Number.isSafeInteger(o[k]) || o[k] < 1) throw new RangeError(`StreamParser: ${k} must be a positive integer, got ${o[k]}`);
    }
    this.opts = o;
    this.builder = new StreamBuilder(o);
  }

  /** The events completed by `chunk`; after an 'error' event, always []. */
  feed(chunk: Buffer): StreamEvent[] {
    const b = this.builder;
    if (b.done) return [];
    b.tok.feed(chunk);
    const events = b.events;
    b.events = [];
    const f = b.tok.failure;
    if (f) {
      b.done = true;
      events.push({ type: 'error', condition: f.condition, text: f.text });
    }
    return events;
  }

  /** Forget all state: the next bytes start a new stream (restart after STARTTLS and after SASL success). */
  reset(): void {
    this.builder = new StreamBuilder(this.opts);
  }
}

/** Turns tokens into stream events: namespaces, element trees, limits. */
class StreamBuilder implements TokenSink {
  readonly tok = new XmlTokenizer<StreamErrorCondition>(this);
  events: StreamEvent[] = [];
  done = false;
  private phase = PROLOG;
  private header = '';
  // In-scope namespace bindings, innermost last; the first `streamBindings` come from the header.
  private readonly prefixes: string[] = [];
  private readonly uris: string[] = [];
  private readonly scopeMarks: number[] = [];
  private streamBindings = 0;
  /** Open elements of the current first-level element, outermost first. */
  private readonly stack: Element[] = [];
  private root: Element | null = null;
  private rootNs = '';

  constructor(private readonly opts: Required<StreamParserOptions>) {}

  markup(at: number): void {
    if (this.phase === CLOSED) return this.tok.fail('not-well-formed', 'no markup may follow </stream:stream> (RFC 6120 §4.4)');
    if (this.stack.length > 0) return;
    if (this.phase === PROLOG) {
      this.tok.limit = at + MAX_HEADER_BYTES;
      this.tok.limitText = `the stream header exceeds ${MAX_HEADER_BYTES} bytes (RFC 6120 §13.12)`;
    } else {
      this.tok.limit = at + this.opts.maxStanzaBytes;
      this.tok.limitText = `a stanza exceeds the limit of ${this.opts.maxStanzaBytes} bytes (RFC 6120 §13.12)`;
    }
  }

  startTag(name: string, rawAttrs: string[], selfClosing: boolean): void {
    if (this.phase === PROLOG) return this.openStream(name, rawAttrs, selfClosing);
    const depth = this.stack.length;
    if (depth >= this.opts.maxDepth) {
      return this.tok.fail('policy-violation', `elements nest deeper than ${this.opts.maxDepth} levels in one stanza`);
    }
    const scope = this.prefixes.length;
    const attrs = this.declare(rawAttrs);
    if (!attrs) return;
    const el = new Element(name);
    el.attrs = attrs;
    if (depth === 0) this.root = el;
    const ns = this.resolveName(name);
    if (ns === undefined || !this.resolveAttrs(rawAttrs)) return;
    if (depth === 0) {
      this.rootNs = ns;
    } else {
      const parent = this.stack[depth - 1];
      parent.children.push(el);
      el.parent = parent;
    }
    if (selfClosing) {
      this.closeScope(scope);
      if (depth === 0) this.emitRoot();
      return;
    }
    this.stack.push(el);
    this.scopeMarks.push(scope);
    this.tok.content = true;
  }

  endTag(name: string): void {
    const top = this.stack.pop();
    if (top) {
      if (name !== top.name) return this.tok.fail('not-well-formed', `</${name}> does not close <${top.name}> (XML 1.0 §3 element type match)`);
      this.closeScope(this.scopeMarks.pop() ?? 0);
      if (this.stack.length === 0) this.emitRoot();
      return;
    }
    if (this.phase !== OPEN) return this.tok.fail('not-well-formed', `</${name}> before the stream header (RFC 6120 §4.2)`);
    if (name !== this.header) return this.tok.fail('not-well-formed', `</${name}> does not close <${this.header}> (XML 1.0 §3 element type match)`);
    this.phase = CLOSED;
    this.tok.limit = Infinity;
    this.events.push({ type: 'stream-close' });
  }

  text(value: string): void {
    const children = this.stack[this.stack.length - 1].children;
    const last = children.length - 1;
    if (last >= 0 && typeof children[last] === 'string') children[last] += value;
    else children.push(value);
  }

  private openStream(name: string, rawAttrs: string[], selfClosing: boolean): void {
    const attrs = this.declare(rawAttrs);
    if (!attrs) return;
    const ns = this.resolveName(name);
    if (ns === undefined || !this.resolveAttrs(rawAttrs)) return;
    if (name.slice(name.indexOf(':') + 1) !== 'stream' || ns !== STREAMS_NS) {
      return this.tok.fail('invalid-namespace', `the stream header must be <stream> in the '${STREAMS_NS}' namespace, got <${name}> in '${ns}' (RFC 6120 §4.8.1)`);
    }
    this.header = name;
    this.streamBindings = this.prefixes.length;
    this.phase = OPEN;
    this.tok.declAllowed = false;
    this.tok.limit = Infinity;
    this.events.push({ type: 'stream-open', name, attrs });
    if (selfClosing) {
      this.phase = CLOSED;
      this.events.push({ type: 'stream-close' });
    }
  }

  private emitRoot(): void {
    const root = this.root as Element;
    this.root = null;
    this.tok.content = false;
    this.tok.limit = Infinity;
    this.events.push({ type: 'element', element: root, ns: this.rootNs });
  }

  /** Builds the attribute record and pushes the element's namespace declarations (Namespaces in XML §3). */
  private declare(raw: string[]): Record<string, string> | null {
    const attrs: Record<string, string> = {};
    for (let j = 0; j < raw.length; j += 2) {
      const name = raw[j];
      const value = raw[j + 1];
      if (Object.hasOwn(attrs, name)) return this.refuse(`duplicate attribute '${name}' (XML 1.0 §3.1 unique attribute spec)`);
      // An attribute may legitimately be called __proto__; assignment would not create it.
      if (name === '__proto__') Object.defineProperty(attrs, name, { value, enumerable: true, writable: true, configurable: true });
      else attrs[name] = value;
      if (name === 'xmlns') {
        if (value === XML_NS || value === XMLNS_NS) return this.refuse(`'${value}' cannot be the default namespace (Namespaces in XML §3)`);
        this.bind('', value);
      } else if (name.startsWith('xmlns:')) {
        const prefix = name.slice(6);
        if (!isNcName(prefix) || prefix === 'xmlns' || value === '' || value === XMLNS_NS || (prefix === 'xml') !== (value === XML_NS)) {
          return this.refuse(`invalid namespace declaration ${name}='${value}' (Namespaces in XML §3)`);
        }
        this.bind(prefix, value);
      }
    }
    return attrs;
  }

  /** The namespace of a qualified name; undefined (after failing) when its prefix is unbound. */
  private resolveName(qname: string): string | undefined {
    const colon = qname.indexOf(':');
    if (colon >= 0 && (!isNcName(qname.slice(0, colon)) || !isNcName(qname.slice(colon + 1)))) {
      this.refuse(`'${qname}' is not a qualified name (Namespaces in XML §4)`);
      return undefined;
    }
    const prefix = colon < 0 ? '' : qname.slice(0, colon);
    for (let k = this.prefixes.length - 1; k >= 0; k--) {
      if (this.prefixes[k] !== prefix) continue;
      const uri = this.uris[k];
      // Inherited from the header: copy the declaration so the stanza stands alone.
      if (k < this.streamBindings && this.root) {
        const decl = prefix === '' ? 'xmlns' : `xmlns:${prefix}`;
        if (this.root.attrs[decl] === undefined) this.root.attrs[decl] = uri;
      }
      return uri;
    }
    if (prefix === '') return '';
    if (prefix === 'xml') return XML_NS;
    this.refuse(`prefix '${prefix}' of '${qname}' is not bound to a namespace (Namespaces in XML §5)`);
    return undefined;
  }

  /** Resolves prefixed attributes and refuses two with the same expanded name (Namespaces in XML §6.3). */
  private resolveAttrs(raw: string[]): boolean {
    let expanded: string[] | null = null;
    for (let j = 0; j < raw.length; j += 2) {
      const name = raw[j];
      const colon = name.indexOf(':');
      if (colon < 0 || name.startsWith('xmlns:')) continue;
      const uri = this.resolveName(name);
      if (uri === undefined) return false;
      const key = `${uri} ${name.slice(colon + 1)}`;
      if (expanded?.includes(key)) {
        this.refuse(`attribute '${name}' duplicates another with the same namespace and local name (Namespaces in XML §6.3)`);
        return false;
      }
      (expanded ??= []).push(key);
    }
    return true;
  }

  private bind(prefix: string, uri: string): void {
    this.prefixes.push(prefix);
    this.uris.push(uri);
  }

  private closeScope(mark: number): void {
    if (this.prefixes.length === mark) return;
    this.prefixes.length = mark;
    this.uris.length = mark;
  }

  private refuse(text: string): null {
    this.tok.fail('not-well-formed', text);
    return null;
  }
}

/** A name without a colon whose first character can start a name (the tokenizer checked the rest). */
function isNcName(s: string): boolean {
  if (s === '' || s.includes(':')) return false;
  const c = s.charCodeAt(0);
  return !(c === 0x2d || c === 0x2e || (c >= 0x30 && c <= 0x39) || c === 0xb7 || (c >= 0x300 && c <= 0x36f) || c === 0x203f || c === 0x2040);
}
