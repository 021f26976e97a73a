#!/usr/bin/python3
"""Drive an XMPP server with two slixmpp clients.

Both clients connect to HOST:PORT, negotiate STARTTLS (accepting any
certificate: test servers use self-signed ones), authenticate with the SASL
mechanism given by --mech, bind a resource and send initial presence. Then
each one queries the server's disco#info (XEP-0030), pings the server and the
other client (XEP-0199), and sends the other a chat message: the first client
to the other's bare JID, the second to the other's full JID. Each checks the
body, type, sender and recipient of the message it receives. Finally both
close their streams and check that the server closed its own.

SCRAM runs without channel binding (gs2 flag "n"): see Client.__init__ for
why slixmpp's own choice cannot work with a server offering -PLUS.

Passwords come from the environment (XMPPD_INTEROP_PASSWORD1 and
XMPPD_INTEROP_PASSWORD2), never from the command line.

Exit status: 0 when everything worked, 1 with the reason on stdout
otherwise, including when the whole run exceeds --timeout seconds. --trace
logs every stanza sent and received on stderr.
"""

import argparse
import asyncio
import faulthandler
import logging
import os
import ssl
import sys

try:
    import slixmpp
    from slixmpp.exceptions import IqError, IqTimeout
except ImportError as err:
    print(f"FAIL: cannot import slixmpp ({err}): apt-get install python3-slixmpp")
    sys.exit(1)

NS_DISCO_INFO = "http://jabber.org/protocol/disco#info"
NS_PING = "urn:xmpp:ping"

# Bodies with characters that must be escaped in XML, and non-ASCII ones.
BODY = "hello {to} from {sender}: <&> 'quoted' \"twice\" ünïcödé 🙂"


class Failure(Exception):
    """Failure is a check that did not pass; its message says which."""


class Client(slixmpp.ClientXMPP):
    """Client is one slixmpp connection that records what happens to it."""

    def __init__(self, name, jid, password, mech, failed):
        super().__init__(jid, password, sasl_mech=mech)
        self.name = name
        self.requested_mech = mech
        self.failed = failed  # future: set with the first failure of any client
        self.stage = "connecting"
        self.tls_version = None
        self.mechanism = None
        self.gs2_header = None
        self.server_closed = False
        self.closing = False  # set before this side ends the connection
        self.session = asyncio.Event()
        self.gone = asyncio.Event()
        self.received = asyncio.get_running_loop().create_future()

        self.register_plugin("xep_0030")
        self.register_plugin("xep_0199", {"keepalive": False})

        # Test servers have self-signed certificates.
        self.ssl_context.check_hostname = False
        self.ssl_context.verify_mode = ssl.CERT_NONE

        # slixmpp 1.8 knows only the tls-unique channel binding, which TLS 1.3
        # does not define (RFC 9266) and xmppd does not offer (it announces
        # tls-exporter and tls-server-end-point, XEP-0440). Whenever it has
        # binding data, that is on any TLS connection, it sends the gs2 flag
        # "y" with a SCRAM mechanism without -PLUS, which a server that
        # announces -PLUS must reject (RFC 5802 section 6). So hide the
        # binding data: slixmpp then sends "n", as a client without channel
        # binding does.
        mechanisms = self["feature_mechanisms"]
        credentials = mechanisms.sasl_callback

        def without_channel_binding(required, optional):
            values = credentials(required, optional)
            values.pop("channel_binding", None)
            return values

        mechanisms.sasl_callback = without_channel_binding

        self.add_event_handler("connected", self.on_connected)
        self.add_event_handler("connection_failed", self.on_connection_failed)
        self.add_event_handler("ssl_invalid_chain", self.on_invalid_chain)
        self.add_event_handler("tls_success", self.on_tls)
        self.add_event_handler("auth_success", self.on_auth)
        self.add_event_handler("failed_auth", self.on_failed_auth)
        self.add_event_handler("failed_all_auth", self.on_failed_all_auth)
        self.add_event_handler("no_auth", self.on_no_auth)
        self.add_event_handler("session_bind", self.on_bind)
        self.add_event_handler("session_start", self.on_session_start)
        self.add_event_handler("stream_error", self.on_stream_error)
        self.add_event_handler("message", self.on_message)
        self.add_event_handler("message_error", self.on_message_error)
        self.add_event_handler("disconnected", self.on_disconnected)

    def fail(self, reason):
        if not self.failed.done():
            self.failed.set_exception(Failure(f"{self.name}: {reason} (stage: {self.stage})"))

    def on_connected(self, _):
        self.stage = "TCP connected, negotiating STARTTLS"

    def on_connection_failed(self, err):
        self.fail(f"connection failed: {err}")

    def on_invalid_chain(self, err):
        self.fail(f"TLS handshake failed although verification is off: {err}")

    def on_tls(self, _):
        self.stage = "STARTTLS done, stream restarted"

    def on_auth(self, _):
        mech = self["feature_mechanisms"].mech
        self.mechanism = mech.name
        self.gs2_header = getattr(mech, "gs2_header", None)
        self.stage = f"authenticated with {self.mechanism}"

    def on_failed_auth(self, failure):
        self.fail(f"SASL {self['feature_mechanisms'].mech.name} failed: {failure}")

    def on_failed_all_auth(self, _):
        self.fail("no SASL mechanism left to try")

    def on_no_auth(self, _):
        self.fail(f"the server offers no usable SASL mechanism (wanted {self.requested_mech})")

    def on_bind(self, jid):
        self.stage = f"bound {jid}"

    def on_session_start(self, _):
        self.stage = "session started"
        obj = self.socket
        if not isinstance(obj, (ssl.SSLObject, ssl.SSLSocket)):
            self.fail(f"session started without TLS (transport {type(obj).__name__})")
            return
        self.tls_version = obj.version()
        self.session.set()

    def on_stream_error(self, err):
        self.fail(f"stream error from the server: {err}")

    def on_message(self, msg):
        if msg["type"] not in ("chat", "normal") or not msg["body"]:
            return
        if not self.received.done():
            self.received.set_result(msg)

    def on_message_error(self, msg):
        self.fail(f"message error: {msg}")

    def on_disconnected(self, reason):
        # slixmpp gives "End of stream" when it read the server's
        # </stream:stream>; anything else means the connection just dropped.
        self.server_closed = reason == "End of stream"
        if not self.closing:
            self.fail(f"disconnected unexpectedly: {reason}")
        self.gone.set()


async def step(client, what, awaitable, timeout):
    """Run awaitable, turning IQ errors and timeouts into failures."""
    client.stage = what
    try:
        return await asyncio.wait_for(awaitable, timeout)
    except IqError as err:
        raise Failure(f"{client.name}: {what}: error reply {err.iq}") from None
    except (IqTimeout, asyncio.TimeoutError):
        raise Failure(f"{client.name}: {what}: no answer within {timeout}s") from None


async def until(client, what, check, timeout):
    """Wait, checking every 20 ms, for check() to hold."""
    client.stage = what
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not check():
        if loop.time() > deadline:
            raise Failure(f"{client.name}: {what}: not within {timeout}s")
        await asyncio.sleep(0.02)


async def next_item(client, queue, what, timeout):
    """Return the next item of queue, failing after timeout."""
    client.stage = f"waiting for {what}"
    try:
        return await asyncio.wait_for(queue.get(), timeout)
    except asyncio.TimeoutError:
        raise Failure(f"{client.name}: no {what} within {timeout}s") from None


async def online(client, timeout):
    """Wait for the session, send presence, then query and ping the server."""
    await client.session.wait()
    domain = client.boundjid.domain
    client.send_presence()
    # The ping answer also proves the server processed the presence before it.
    await step(client, f"ping {domain}", client["xep_0199"].send_ping(domain, timeout=timeout), timeout)
    info = await step(
        client,
        f"disco#info {domain}",
        client["xep_0030"].get_info(jid=domain, local=False, cached=False, timeout=timeout),
        timeout,
    )
    identities = info["disco_info"]["identities"]
    if not any(cat == "server" and typ == "im" for cat, typ, _lang, _name in identities):
        raise Failure(f"{client.name}: disco#info of {domain}: no server/im identity in {info}")
    features = info["disco_info"]["features"]
    for want in (NS_DISCO_INFO, NS_PING):
        if want not in features:
            raise Failure(f"{client.name}: disco#info of {domain}: feature {want} missing from {features}")
    if client.mechanism != client.requested_mech:
        raise Failure(f"{client.name}: authenticated with {client.mechanism}, want {client.requested_mech}")
    if client.mechanism.startswith("SCRAM-") and client.gs2_header != b"n,,":
        raise Failure(f"{client.name}: SCRAM gs2 header {client.gs2_header!r}, want b'n,,'")


async def expect_message(client, sender, to, timeout):
    """Check the message client received from sender, sent to the JID to."""
    client.stage = f"waiting for the message from {sender.boundjid}"
    try:
        msg = await asyncio.wait_for(asyncio.shield(client.received), timeout)
    except asyncio.TimeoutError:
        raise Failure(f"{client.name}: no message from {sender.boundjid} within {timeout}s") from None
    want = BODY.format(to=to.bare, sender=sender.boundjid.bare)
    if msg["body"] != want:
        raise Failure(f"{client.name}: got body {msg['body']!r}, want {want!r}")
    if msg["from"] != sender.boundjid:
        raise Failure(f"{client.name}: message from {msg['from']}, want {sender.boundjid}")
    if msg["type"] != "chat":
        raise Failure(f"{client.name}: message of type {msg['type']!r}, want 'chat'")
    if msg["to"] != to:
        raise Failure(f"{client.name}: message to {msg['to']}, want {to} as addressed")


async def close(client, timeout):
    client.stage = "closing"
    client.closing = True
    await client.disconnect(wait=timeout)
    if not client.gone.is_set():
        await asyncio.wait_for(client.gone.wait(), timeout)
    if not client.server_closed:
        raise Failure(f"{client.name}: the server did not close its stream after ours")


async def scenario(a, b, host, port, timeout):
    for c in (a, b):
        c.connect((host, port), force_starttls=True)
    await asyncio.gather(online(a, timeout), online(b, timeout))

    # Each pings the other client: IQ routing to a full JID and back.
    await asyncio.gather(
        step(a, f"ping {b.boundjid}", a["xep_0199"].send_ping(b.boundjid, timeout=timeout), timeout),
        step(b, f"ping {a.boundjid}", b["xep_0199"].send_ping(a.boundjid, timeout=timeout), timeout),
    )

    # a writes to b's bare JID, b to a's full JID.
    a.send_message(mto=b.boundjid.bare, mbody=BODY.format(to=b.boundjid.bare, sender=a.boundjid.bare), mtype="chat")
    b.send_message(mto=a.boundjid, mbody=BODY.format(to=a.boundjid.bare, sender=b.boundjid.bare), mtype="chat")
    await asyncio.gather(
        expect_message(b, a, slixmpp.JID(b.boundjid.bare), timeout),
        expect_message(a, b, slixmpp.JID(a.boundjid), timeout),
    )

    await asyncio.gather(close(a, timeout), close(b, timeout))


async def drive(clients, failed, work, timeout):
    """Await the coroutine work, failing with the first failure any client
    reported to the future failed, or when work takes over timeout; then
    abort every client's connection."""
    task = asyncio.ensure_future(work)
    try:
        done, _ = await asyncio.wait({task, failed}, timeout=timeout, return_when=asyncio.FIRST_COMPLETED)
        if not done:
            stages = "; ".join(f"{c.name}: {c.stage}" for c in clients)
            raise Failure(f"not finished within {timeout}s ({stages})")
        if failed.done():
            failed.result()  # raises the first failure reported by an event
        return task.result()
    finally:
        task.cancel()
        for c in clients:
            c.closing = True
            c.abort()
        if failed.done():
            failed.exception()  # retrieved: asyncio need not warn about it


async def run(args, passwords):
    failed = asyncio.get_running_loop().create_future()
    a = Client("client 1", args.jid1, passwords[0], args.mech, failed)
    b = Client("client 2", args.jid2, passwords[1], args.mech, failed)
    clients = (a, b)
    await drive(clients, failed, scenario(a, b, args.host, args.port, args.step_timeout), args.timeout)
    for c in clients:
        print(f"ok: {c.boundjid}: STARTTLS {c.tls_version}, SASL {c.mechanism}, "
              "disco#info, pings, chat message both ways, stream closed by both sides")


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True, help="STARTTLS client port")
    parser.add_argument("--mech", default="SCRAM-SHA-256", help="the only SASL mechanism to use")
    parser.add_argument("--timeout", type=float, default=30, help="limit for the whole run, seconds")
    parser.add_argument("--step-timeout", type=float, default=10, help="limit for each wait, seconds")
    parser.add_argument("--trace", action="store_true", help="log every stanza on stderr")
    parser.add_argument("jid1")
    parser.add_argument("jid2")
    args = parser.parse_args()
    passwords = [os.environ.get("XMPPD_INTEROP_PASSWORD1"), os.environ.get("XMPPD_INTEROP_PASSWORD2")]
    if None in passwords:
        print("FAIL: set XMPPD_INTEROP_PASSWORD1 and XMPPD_INTEROP_PASSWORD2")
        return 2

    logging.basicConfig(
        stream=sys.stderr,
        level=logging.DEBUG if args.trace else logging.WARNING,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    # Last resort should the event loop itself hang: dump the stacks and exit.
    faulthandler.dump_traceback_later(args.timeout + 5, exit=True)
    try:
        asyncio.run(run(args, passwords))
    except Failure as err:
        print(f"FAIL: {err}")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
