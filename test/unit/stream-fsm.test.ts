import assert from 'node:assert/strict';
import { NS, initialState, step, type Input, type StepResult, type StreamPolicy, type StreamState } from '../../src/xmpp/stream-fsm.js';

const strict: StreamPolicy = { allowPlaintext: false, maxAuthFailures: 3 };
const el = (name: string, ns: string): Input => ({ kind: 'element', name, ns });

function run(state: StreamState, inputs: Input[], policy = strict): StepResult {
  let r: StepResult = { ok: true, state, action: 'none' };
  for (const i of inputs) {
    if (!r.ok) return r;
    r = step(r.state, i, policy);
  }
  return r;
}
const okState = (r: StepResult): StreamState => { assert.ok(r.ok, r.ok ? '' : `${r.condition}: ${r.text}`); return r.state; };

describe('the c2s stream state machine', () => {
  it('walks the whole negotiation: header, STARTTLS, SASL, restart, bind, stanzas', () => {
    let s = initialState(false);
    const expect = (input: Input, phase: string, action: string): void => {
      const r = step(s, input, strict);
      assert.ok(r.ok, JSON.stringify(r));
      assert.equal(r.state.phase, phase);
      assert.equal(r.action, action);
      s = r.state;
    };
    expect({ kind: 'header' }, 'negotiating', 'send-header-and-features');
    expect(el('starttls', NS.tls), 'tls-handshake', 'starttls');
    expect({ kind: 'tls-established' }, 'header', 'restart-stream');
    assert.equal(s.secure, true);
    expect({ kind: 'header' }, 'negotiating', 'send-header-and-features');
    expect(el('auth', NS.sasl), 'sasl-exchange', 'sasl-auth');
    expect({ kind: 'sasl-continue' }, 'sasl-exchange', 'none');
    expect(el('response', NS.sasl), 'sasl-exchange', 'sasl-response');
    expect({ kind: 'sasl-verify' }, 'sasl-verifying', 'none');
    expect({ kind: 'sasl-success' }, 'header', 'restart-stream');
    expect({ kind: 'header' }, 'bind', 'send-header-and-features');
    expect(el('iq', NS.client), 'bind', 'bind');
    expect({ kind: 'bound' }, 'established', 'none');
    expect(el('message', NS.client), 'established', 'stanza');
    expect({ kind: 'close' }, 'closed', 'close');
  });

  it('refuses SASL before TLS unless plaintext is allowed', () => {
    const r = run(initialState(false), [{ kind: 'header' }, el('auth', NS.sasl)]);
    assert.equal(r.ok, false);
    assert.equal(!r.ok && r.condition, 'policy-violation');
    okState(run(initialState(false), [{ kind: 'header' }, el('auth', NS.sasl)], { ...strict, allowPlaintext: true }));
  });

  it('refuses STARTTLS twice, stanzas before authentication, and elements before the header', () => {
    const cases: Array<[StreamState, Input[], string]> = [
      [initialState(true), [{ kind: 'header' }, el('starttls', NS.tls)], 'policy-violation'],
      [initialState(true), [{ kind: 'header' }, el('message', NS.client)], 'not-authorized'],
      [initialState(true), [el('message', NS.client)], 'not-well-formed'],
      [initialState(true), [{ kind: 'header' }, { kind: 'header' }], 'not-well-formed'],
      [initialState(true), [{ kind: 'header' }, el('foo', NS.client)], 'unsupported-stanza-type'],
      [initialState(true), [{ kind: 'header' }, el('auth', NS.sasl), el('message', NS.client)], 'policy-violation'],
    ];
    for (const [s, inputs, condition] of cases) {
      const r = run(s, inputs);
      assert.equal(r.ok, false, JSON.stringify(inputs));
      assert.equal(!r.ok && r.condition, condition, JSON.stringify(inputs));
    }
  });

  it('after authentication: foreign namespaces, non-stanzas and SASL elements end the stream', () => {
    const bound = okState(run(initialState(true), [{ kind: 'header' }, el('auth', NS.sasl), { kind: 'sasl-success' }, { kind: 'header' }, { kind: 'bound' }]));
    const expectFail = (i: Input, condition: string): void => {
      const r = step(bound, i, strict);
      assert.equal(!r.ok && r.condition, condition);
    };
    expectFail(el('message', 'jabber:server'), 'invalid-namespace');
    expectFail(el('foo', NS.client), 'unsupported-stanza-type');
    expectFail(el('auth', NS.sasl), 'policy-violation');
  });

  it('counts SASL failures and closes at the limit', () => {
    let s = okState(run(initialState(true), [{ kind: 'header' }]));
    for (let i = 1; i <= 3; i++) {
      s = okState(step(s, el('auth', NS.sasl), strict));
      const r = step(s, { kind: 'sasl-failure' }, strict);
      assert.ok(r.ok);
      assert.equal(r.action, i < 3 ? 'none' : 'sasl-failure-limit');
      assert.equal(r.state.saslFailures, i);
      s = r.state;
    }
    assert.equal(s.phase, 'closed');
  });

  it('names both the input and the phase when an internal event comes at the wrong time', () => {
    const r = step(initialState(true), { kind: 'bound' }, strict);
    assert.equal(r.ok, false);
    assert.match(!r.ok ? r.text : '', /bound in phase header/);
  });
});
