// Minimal typings for the parts of @xmpp/client the tests use (the package ships none).
declare module '@xmpp/xml' {
  export class Element {
    name: string;
    attrs: Record<string, string>;
    children: Array<Element | string>;
    is(name: string, xmlns?: string): boolean;
    getChild(name: string, xmlns?: string): Element | undefined;
    getChildren(name: string, xmlns?: string): Element[];
    getChildText(name: string, xmlns?: string): string | null;
    text(): string;
    toString(): string;
  }
  export function xml(name: string, attrs?: Record<string, string> | null, ...children: Array<Element | string>): Element;
  export default xml;
}

declare module '@xmpp/client' {
  import type { Element } from '@xmpp/xml';
  export { xml } from '@xmpp/xml';
  export interface Jid { toString(): string; local: string; domain: string; resource: string }
  export interface Client {
    jid: Jid | null;
    status: string;
    start(): Promise<Jid>;
    stop(): Promise<void>;
    send(el: Element): Promise<void>;
    on(ev: 'stanza', cb: (s: Element) => void): void;
    on(ev: string, cb: (...args: never[]) => void): void;
    off(ev: string, cb: (...args: never[]) => void): void;
    iqCaller: { get(el: Element, to?: string): Promise<Element>; set(el: Element, to?: string): Promise<Element>; request(el: Element): Promise<Element> };
    iqCallee: { get(ns: string, name: string, h: (ctx: unknown) => Element | object): void; set(ns: string, name: string, h: (ctx: unknown) => Element | object): void };
    reconnect: { stop(): void };
  }
  export function client(opts: Record<string, unknown>): Client;
}
