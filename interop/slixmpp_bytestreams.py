#!/usr/bin/python3
"""Send a file through xmppd's SOCKS5 bytestreams proxy (XEP-0065) with
slixmpp.

Two clients log in as slixmpp_chat.py's do. The first, the initiator,
has slixmpp's xep_0065 find the proxy among the server's disco#items by
its proxy/bytestreams identity and ask it for its network address, offer
it to the second as the streamhost, connect to it once the second did,
and ask the proxy to activate the bytestream. It then sends 200 kB of
random bytes and closes its connection; the second must receive exactly
those bytes and then the end of the stream. Finally both close their
XMPP streams.

Exit status: 0 when everything worked, 1 with the reason on stdout.
"""

import asyncio
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from slixmpp_chat import Client, Failure, close, drive, step  # noqa: E402
from slixmpp_run import main  # noqa: E402


def bytestream_client(name, jid, password, failed):
    c = Client(name, jid, password, "SCRAM-SHA-256", failed)
    c.register_plugin("xep_0065", {"auto_accept": True})
    c.data = bytearray()
    c.stream_closed = asyncio.get_running_loop().create_future()
    c.add_event_handler("socks5_data", c.data.extend)
    c.add_event_handler("socks5_closed", lambda exc: c.stream_closed.done() or c.stream_closed.set_result(exc))
    return c


async def scenario(a, b, host, port, timeout):
    for c in (a, b):
        c.connect((host, port), force_starttls=True)
    for c in (a, b):
        await c.session.wait()
    sock = await step(a, f"bytestream to {b.boundjid}", a["xep_0065"].handshake(b.boundjid, timeout=timeout), timeout)
    if sock is None:
        raise Failure(f"{a.name}: no bytestream: the proxy was not found or could not be reached")
    proxies = list(a["xep_0065"]._proxies)
    if proxies != [f"proxy.{a.boundjid.domain}"]:
        raise Failure(f"{a.name}: proxies found {proxies}, want proxy.{a.boundjid.domain}")
    data = os.urandom(200_000)
    await sock.write(data)
    sock.transport.close()
    b.stage = "read the bytestream to its end"
    await asyncio.wait_for(b.stream_closed, timeout)
    if bytes(b.data) != data:
        raise Failure(f"{b.name}: received {len(b.data)} bytes, not the {len(data)} sent")
    for c in (a, b):
        await close(c, timeout)


async def run(host, port, jids, passwords, timeout):
    failed = asyncio.get_running_loop().create_future()
    a = bytestream_client("client 1", jids[0], passwords[0], failed)
    b = bytestream_client("client 2", jids[1], passwords[1], failed)
    await drive((a, b), failed, scenario(a, b, host, port, timeout / 3), timeout)
    print(f"ok: {b.boundjid} received {a.boundjid}'s bytes through proxy.{a.boundjid.domain}")


if __name__ == "__main__":
    sys.exit(main(run))
