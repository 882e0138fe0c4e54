#!/usr/bin/env python3
"""A second, independent Jabber client for imp's interop tests: slixmpp.

    slixmpp_chat.py HOST PORT JID PASSWORD PEER_JID send|receive TEXT

Connects to HOST:PORT over plain TCP, upgrades with STARTTLS (never direct
TLS), signs in, binds (the resource of JID if it has one), sends initial
presence, then either sends one chat message with TEXT to PEER_JID or waits
for one chat message from PEER_JID (bare JID match) and prints it.

Stdout carries one JSON object per line:
  {"event": "signed-in", "jid": ..., "mechanism": ..., "starttls": true, "tls": ..., "sasl_failures": [...]}
  {"event": "sent", "to": ..., "body": ...}                       (send mode)
  {"event": "message", "from": ..., "to": ..., "type": ..., "body": ...}   (receive mode)
  {"event": "error", "error": ...}                                 (on failure)
Exit status: 0 on success, 1 on a failure, 2 on bad arguments, 3 on a timeout.

The server's certificate is self-signed, so verification is turned off: this
script is for loopback testing only. IMP_SLIXMPP_DEBUG=1 logs the whole XML
exchange (slixmpp's SEND/RECV debug lines) to stderr.
"""
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
    def __init__(self, jid, password, peer, mode, text, done):
        super().__init__(jid, password)
        self.peer = JID(peer)
        self.mode = mode
        self.text = text
        self.done = done
        self.sasl_failures = []
        self.mechanism = None
        # Self-signed certificate on loopback: no chain or host-name check.
        self.ssl_context.check_hostname = False
        self.ssl_context.verify_mode = ssl.CERT_NONE
        self.add_event_handler('auth_success', self.on_auth_success)
        self.add_event_handler('failed_auth', self.on_failed_auth)
        self.add_event_handler('failed_all_auth', lambda _e: self.finish(f'all SASL mechanisms failed: {self.sasl_failures}'))
        self.add_event_handler('ssl_invalid_chain', lambda e: self.finish(f'TLS handshake failed: {e}'))
        self.add_event_handler('connection_failed', lambda e: self.finish(f'connection failed: {e}'))
        self.add_event_handler('stream_error', lambda e: self.finish(f'stream error from the server: {e}'))
        self.add_event_handler('disconnected', lambda e: self.finish(f'disconnected before finishing: {e}'))
        self.add_event_handler('session_start', self.on_session_start)
        self.add_event_handler('message', self.on_message)

    def finish(self, error=None):
        if not self.done.done():
            self.done.set_result(error)

    def on_auth_success(self, _stanza):
        mech = self['feature_mechanisms'].mech
        self.mechanism = mech.name if mech else None

    def on_failed_auth(self, stanza):
        mech = self['feature_mechanisms'].mech
        self.sasl_failures.append({
            'mechanism': mech.name if mech else None,
            'condition': stanza['condition'],
            'text': stanza['text'],
        })

    async def on_session_start(self, _event):
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

    def on_message(self, msg):
        if self.mode != 'receive' or msg['type'] not in ('chat', 'normal'):
            return
        if msg['from'].bare != self.peer.bare or not msg['body']:
            return
        emit({'event': 'message', 'from': str(msg['from']), 'to': str(msg['to']),
              'type': msg['type'], 'body': msg['body']})
        self.finish()


def main(argv):
    if len(argv) != 8 or argv[6] not in ('send', 'receive'):
        fail('usage: slixmpp_chat.py HOST PORT JID PASSWORD PEER_JID send|receive TEXT', 2)
    host, port, jid, password, peer, mode, text = argv[1:]
    if os.environ.get('IMP_SLIXMPP_DEBUG') == '1':
        logging.basicConfig(level=logging.DEBUG, stream=sys.stderr, format='%(levelname)s %(name)s %(message)s')
    else:
        logging.basicConfig(level=logging.ERROR, stream=sys.stderr, format='%(levelname)s %(name)s %(message)s')

    loop = asyncio.new_event_loop()
    asyncio.set_event_loop(loop)
    done = loop.create_future()
    xmpp = ChatClient(jid, password, peer, mode, text, done)
    xmpp.whitespace_keepalive = False
    xmpp.reconnect_max_attempts = 0
    # Plain TCP first, then STARTTLS, which must be offered (force_starttls).
    xmpp.connect((host, int(port)), use_ssl=False, force_starttls=True)
    try:
        error = loop.run_until_complete(asyncio.wait_for(asyncio.shield(done), TIMEOUT_S))
    except asyncio.TimeoutError:
        what = 'no chat message from ' + peer if mode == 'receive' else 'sign-in did not complete'
        if xmpp.sasl_failures:
            what += f' (SASL failures: {xmpp.sasl_failures})'
        fail(f'timed out after {TIMEOUT_S:g} s: {what}', 3)
    if error:
        fail(error)
    # Close politely: </stream:stream>, after the send queue drained.
    closing = xmpp.disconnect(wait=2.0)
    try:
        loop.run_until_complete(asyncio.wait_for(closing, 3))
    except (asyncio.TimeoutError, Exception):  # noqa: BLE001 - the work is done; closing is best effort
        pass
    sys.exit(0)


if __name__ == '__main__':
    main(sys.argv)
