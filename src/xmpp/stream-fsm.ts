/**
 * The c2s stream negotiation as a pure state machine (RFC 6120 §4.3, §5, §6,
 * §7; RFC 3921 §3 for legacy session establishment).
 *
 *   header → [starttls → header] → sasl → (exchange)* → header → bind → established → closed
 *
 * `step(state, input)` decides what an input means in a state: the next state
 * and one action for the session to carry out, or a stream error naming the
 * rule. The session does the I/O and the store look-ups.
 */
import type { StreamErrorCondition } from './errors.js';

export type Phase =
  | 'header'          // waiting for <stream:stream>
  | 'negotiating'     // features sent, waiting for <starttls/> or <auth/>
  | 'tls-handshake'   // <proceed/> sent, TLS handshake under way
  | 'sasl-exchange'   // <auth/> accepted, challenges/responses going on
  | 'sasl-verifying'  // the final step is being checked (async): nothing else may arrive
  | 'bind'            // authenticated: waiting for resource binding
  | 'established'     // bound: stanzas flow
  | 'closed';

export interface StreamState {
  readonly phase: Phase;
  readonly secure: boolean;
  readonly authenticated: boolean;
  readonly saslFailures: number;
}

export interface StreamPolicy {
  /** Whether SASL is permitted before TLS (--allow-plaintext). */
  readonly allowPlaintext: boolean;
  /** Failed SASL attempts after which the connection is closed. */
  readonly maxAuthFailures: number;
}

export type Input =
  | { kind: 'header' }
  | { kind: 'element'; name: string; ns: string }
  | { kind: 'tls-established' }
  | { kind: 'sasl-continue' }
  | { kind: 'sasl-verify' }
  | { kind: 'sasl-success' }
  | { kind: 'sasl-failure' }
  | { kind: 'bound' }
  | { kind: 'close' };

export type Action =
  | 'send-header-and-features'
  | 'starttls'
  | 'sasl-auth'
  | 'sasl-response'
  | 'sasl-abort'
  | 'sasl-failure-limit'
  | 'bind'
  | 'stanza'
  | 'restart-stream'
  | 'none'
  | 'close';

export type StepResult =
  | { ok: true; state: StreamState; action: Action }
  | { ok: false; condition: StreamErrorCondition; text: string };

export const NS = {
  client: 'jabber:client',
  tls: 'urn:ietf:params:xml:ns:xmpp-tls',
  sasl: 'urn:ietf:params:xml:ns:xmpp-sasl',
  bind: 'urn:ietf:params:xml:ns:xmpp-bind',
  session: 'urn:ietf:params:xml:ns:xmpp-session',
} as const;

export const initialState = (secure: boolean): StreamState => ({ phase: 'header', secure, authenticated: false, saslFailures: 0 });

const STANZAS = new Set(['message', 'presence', 'iq']);

const ok = (state: StreamState, action: Action): StepResult => ({ ok: true, state, action });
const fail = (condition: StreamErrorCondition, text: string): StepResult => ({ ok: false, condition, text });
const to = (s: StreamState, phase: Phase, patch: Partial<StreamState> = {}): StreamState => ({ ...s, ...patch, phase });

export function step(s: StreamState, input: Input, policy: StreamPolicy): StepResult {
  if (input.kind === 'close') return ok(to(s, 'closed'), 'close');
  if (s.phase === 'closed') return fail('internal-server-error', 'the stream is closed');

  switch (input.kind) {
    case 'header':
      if (s.phase !== 'header') return fail('not-well-formed', 'a second stream header without a restart');
      return ok(to(s, s.authenticated ? 'bind' : 'negotiating'), 'send-header-and-features');
    case 'tls-established':
      if (s.phase !== 'tls-handshake') return fail('internal-server-error', `TLS established in phase ${s.phase}`);
      return ok(to(s, 'header', { secure: true }), 'restart-stream');
    case 'sasl-continue':
      if (s.phase !== 'sasl-exchange' && s.phase !== 'sasl-verifying') return fail('internal-server-error', `SASL challenge in phase ${s.phase}`);
      return ok(to(s, 'sasl-exchange'), 'none');
    case 'sasl-verify':
      if (s.phase !== 'sasl-exchange') return fail('internal-server-error', `SASL verification in phase ${s.phase}`);
      return ok(to(s, 'sasl-verifying'), 'none');
    case 'sasl-success':
      if (s.phase !== 'sasl-exchange' && s.phase !== 'sasl-verifying') return fail('internal-server-error', `SASL success in phase ${s.phase}`);
      return ok(to(s, 'header', { authenticated: true }), 'restart-stream');
    case 'sasl-failure': {
      if (s.phase !== 'sasl-exchange' && s.phase !== 'sasl-verifying' && s.phase !== 'negotiating') return fail('internal-server-error', `SASL failure in phase ${s.phase}`);
      const failures = s.saslFailures + 1;
      // RFC 6120 §6.4.5: the server SHOULD allow a configurable but reasonable number of retries (at least 2 and no more than 5).
      if (failures >= policy.maxAuthFailures) return ok(to(s, 'closed', { saslFailures: failures }), 'sasl-failure-limit');
      return ok(to(s, 'negotiating', { saslFailures: failures }), 'none');
    }
    case 'bound':
      if (s.phase !== 'bind') return fail('internal-server-error', `bound in phase ${s.phase}`);
      return ok(to(s, 'established'), 'none');
    case 'element':
      return element(s, input.name, input.ns, policy);
  }
}

function element(s: StreamState, name: string, ns: string, policy: StreamPolicy): StepResult {
  switch (s.phase) {
    case 'header':
      return fail('not-well-formed', 'an element before the stream header');
    case 'tls-handshake':
    case 'sasl-verifying':
      return fail('policy-violation', `<${name}/> sent while the server is still answering the last step`);
    case 'negotiating':
      if (ns === NS.tls && name === 'starttls') {
        if (s.secure) return fail('policy-violation', 'TLS is already established');
        return ok(to(s, 'tls-handshake'), 'starttls');
      }
      if (ns === NS.sasl && name === 'auth') {
        if (!s.secure && !policy.allowPlaintext) return fail('policy-violation', 'STARTTLS is required before authentication (RFC 6120 §5.3.1)');
        return ok(to(s, 'sasl-exchange'), 'sasl-auth');
      }
      if (ns === NS.sasl && (name === 'response' || name === 'abort')) return ok(s, name === 'abort' ? 'sasl-abort' : 'none');
      return notAuthorizedYet(s, name, ns);
    case 'sasl-exchange':
      if (ns === NS.sasl && name === 'response') return ok(s, 'sasl-response');
      if (ns === NS.sasl && name === 'abort') return ok(s, 'sasl-abort');
      return fail('policy-violation', `<${name}/> in the middle of a SASL exchange`);
    case 'bind':
      if (ns !== NS.client) return stanzaNamespace(name, ns);
      if (!STANZAS.has(name)) return fail('unsupported-stanza-type', `<${name}/> is not a stanza`);
      // Binding (and legacy session) requests arrive as iqs; the session picks the bind iq out of them.
      return ok(s, 'bind');
    case 'established':
      if (ns !== NS.client) return stanzaNamespace(name, ns);
      if (!STANZAS.has(name)) return fail('unsupported-stanza-type', `<${name}/> is not a stanza`);
      return ok(s, 'stanza');
    case 'closed':
      return fail('internal-server-error', 'the stream is closed');
  }
}

function notAuthorizedYet(s: StreamState, name: string, ns: string): StepResult {
  if (ns === NS.client && STANZAS.has(name)) return fail('not-authorized', 'stanzas are accepted only after authentication');
  if (ns === NS.client) return fail('unsupported-stanza-type', `<${name}/> is not a stanza`);
  return fail(s.secure ? 'unsupported-feature' : 'policy-violation', `<${name} xmlns='${ns}'/> is not a feature offered here`);
}

function stanzaNamespace(name: string, ns: string): StepResult {
  if (ns === NS.tls || ns === NS.sasl) return fail('policy-violation', `<${name}/> after authentication`);
  return fail('invalid-namespace', `stanzas must be in the jabber:client namespace, not ${ns}`);
}
