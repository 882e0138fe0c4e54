#!/usr/bin/env python3
"""A second, independent Jabber client for imp's interop tests: slixmpp.

    slixmpp_chat.py HOST PORT JID PASSWORD PEER_JID send|receive TEXT [--mechanism NAME]

Connects to HOST:PORT over plain TCP, upgrades with STARTTLS (never direct
TLS; STARTTLS is required), signs in, binds (the resource of JID if it has
one), sends initial presence, then either sends one chat message with TEXT to
PEER_JID, or waits for one chat message from PEER_JID (bare-JID match).

Stdout carries one JSON object per line:
  {"event": "signed-in", "jid", "mechanism", "starttls": true, "tls", "sasl_failures": [...]}
  {"event": "ready"}      receive mode: the server echoed our initial presence
  {"event": "sent", "to", "body"}                          send mode
  {"event": "message", "from", "to", "type", "body"}       receive mode
  {"event": "error", "error"}                              on failure (also on stderr)
Exit status: 0 on success, 1 on a failure, 2 on bad arguments, 3 on a timeout
(IMP_SLIXMPP_TIMEOUT seconds, 12 by default).

--mechanism pins one SASL mechanism. slixmpp 1.8 knows only the "tls-unique"
channel binding, which is undefined on TLS 1.3 (RFC 9266), so a pinned
mechanism without -PLUS also tells the server "n" (no channel binding) rather
than slixmpp's default "y" (which a server offering -PLUS must refuse as a
possible downgrade, RFC 5802 §6). Without --mechanism, slixmpp picks as it
likes; the mechanism it ended up using is in the "signed-in" line.

The server's certificate is self-signed, so certificate verification is off:
this script is for loopback testing only. IMP_SLIXMPP_DEBUG=1 logs the whole
XML exchange (slixmpp's SEND:/RECV: debug lines) to stderr.
"""
import argparse
import asyncio
import json
import logging
import os
import ssl
import sys

TIMEOUT_S = float(os.environ.get('IMP_SLIXMPP_TIMEOUT', '12'))


def emit(obj):
    print(json.dumps(obj), flush=True)


def fail(msg, code=1):
    emit({'event': 'error', 'error': msg})
    print(f'slixmpp_chat: {msg}', file=sys.stderr, flush=True)
    sys.exit(code)


try:
    import slixmpp
    from slixmpp.jid import JID
except ImportError as e:  # the test checks this first, but say it plainly anyway
    fail(f'cannot import slixmpp ({e}); install the Debian package python3-slixmpp and run with /usr/bin/python3')


class ChatClient(slixmpp.ClientXMPP):
    def __init__(self, jid, password, peer, mode, text, mechanism, done):
        super().__init__(jid, password)
        self.peer = JID(peer)
        self.mode = mode
        self.text = text
        self.done = done
        self.sasl_failures = []
        self.mechanism = None
        self.ready = False
        # Self-signed certificate on loopback: no chain or host-name check.
        self.ssl_context.check_hostname = False
        self.ssl_context.verify_mode = ssl.CERT_NONE
        if mechanism:
            sasl = self['feature_mechanisms']
            sasl.use_mech = mechanism
            if not mechanism.endswith('-PLUS'):
                default_credentials = sasl.sasl_callback

                def no_channel_binding(required, optional):
                    creds = default_credentials(required, optional)
                    if 'channel_binding' in creds:
                        creds['channel_binding'] = None  # GS2 flag "n"
                    return creds
                sasl.sasl_callback = no_channel_binding
        self.add_event_handler('auth_success', self.on_auth_success)
        self.add_event_handler('failed_auth', self.on_failed_auth)
        self.add_event_handler('failed_all_auth', lambda _e: self.finish(f'every SASL mechanism failed: {self.sasl_failures}'))
        self.add_event_handler('ssl_invalid_chain', lambda e: self.finish(f'TLS handshake failed: {e}'))
        self.add_event_handler('connection_failed', lambda e: self.finish(f'connection failed: {e}'))
        self.add_event_handler('stream_error', lambda e: self.finish(f'stream error from the server: {e}; SASL failures: {self.sasl_failures}'))
        self.add_event_handler('disconnected', lambda e: self.finish(f'disconnected before finishing ({e}); SASL failures: {self.sasl_failures}'))
        self.add_event_handler('session_start', self.on_session_start)
        self.add_event_handler('presence_available', self.on_presence)
        self.add_event_handler('message', self.on_message)

    def finish(self, error=None):
        if not self.done.done():
            self.done.set_result(error)

    def on_auth_success(self, _stanza):
        mech = self['feature_mechanisms'].mech
        self.mechanism = mech.name if mech else None

    def on_failed_auth(self, stanza):
        mech = self['feature_mechanisms'].mech
        self.sasl_failures.append({'mechanism': mech.name if mech else None,
                                   'condition': stanza['condition'], 'text': stanza['text']})

    def on_session_start(self, _event):
        sock = self.socket
        tls_version = sock.version() if isinstance(sock, (ssl.SSLObject, ssl.SSLSocket)) else None
        starttls = 'starttls' in self.features
        emit({'event': 'signed-in', 'jid': str(self.boundjid), 'mechanism': self.mechanism,
              'starttls': starttls, 'tls': tls_version, 'sasl_failures': self.sasl_failures})
        if not starttls or tls_version is None:
            return self.finish(f'the stream is not protected by STARTTLS (starttls={starttls}, tls={tls_version})')
        self.send_presence()
        if self.mode == 'send':
            self.send_message(mto=self.peer, mbody=self.text, mtype='chat')
            emit({'event': 'sent', 'to': str(self.peer), 'body': self.text})
            self.finish()

    def on_presence(self, pres):
        # RFC 6121 §4.2.2: the server echoes initial presence to the user's own resources.
        if self.mode == 'receive' and not self.ready and pres['from'] == self.boundjid:
            self.ready = True
            emit({'event': 'ready'})

    def on_message(self, msg):
        if self.mode != 'receive' or msg['type'] not in ('chat', 'normal'):
            return
        if msg['from'].bare != self.peer.bare or not msg['body']:
            return
        emit({'event': 'message', 'from': str(msg['from']), 'to': str(msg['to']),
              'type': msg['type'], 'body': msg['body']})
        self.finish()


class Parser(argparse.ArgumentParser):
    def error(self, message):
        fail(f'{message}\n{self.format_usage()}', 2)


def main():
    p = Parser(prog='slixmpp_chat.py', description='sign in to an XMPP server with slixmpp over STARTTLS and chat once')
    p.add_argument('host')
    p.add_argument('port', type=int)
    p.add_argument('jid')
    p.add_argument('password')
    p.add_argument('peer')
    p.add_argument('mode', choices=['send', 'receive'])
    p.add_argument('text')
    p.add_argument('--mechanism', help='pin one SASL mechanism (e.g. SCRAM-SHA-256)')
    args = p.parse_args()
    logging.basicConfig(level=logging.DEBUG if os.environ.get('IMP_SLIXMPP_DEBUG') == '1' else logging.CRITICAL,
                        stream=sys.stderr, format='%(levelname)s %(name)s %(message)s')

    loop = asyncio.new_event_loop()
    asyncio.set_event_loop(loop)
    done = loop.create_future()
    xmpp = ChatClient(args.jid, args.password, args.peer, args.mode, args.text, args.mechanism, done)
    xmpp.whitespace_keepalive = False
    # Plain TCP first, then STARTTLS, which must be offered (force_starttls); never direct TLS (use_ssl).
    xmpp.connect((args.host, args.port), use_ssl=False, force_starttls=True, disable_starttls=False)
    code, error = 0, None
    try:
        error = loop.run_until_complete(asyncio.wait_for(asyncio.shield(done), TIMEOUT_S))
        if error:
            code = 1
    except asyncio.TimeoutError:
        what = f'no chat message from {args.peer}' if args.mode == 'receive' else 'sign-in did not complete'
        code, error = 3, f'timed out after {TIMEOUT_S:g} s: {what}; SASL failures: {xmpp.sasl_failures}'
    # Close politely (</stream:stream> once the send queue drained), then stop whatever is left.
    try:
        loop.run_until_complete(asyncio.wait_for(xmpp.disconnect(wait=2.0), 3))
    except Exception:  # noqa: BLE001 - closing is best effort; the outcome is already known
        pass
    pending = [t for t in asyncio.all_tasks(loop) if not t.done()]
    for t in pending:
        t.cancel()
    loop.run_until_complete(asyncio.gather(*pending, return_exceptions=True))
    loop.close()
    if error:
        fail(error, code)
    sys.exit(0)


if __name__ == '__main__':
    main()
