#!/usr/bin/python3
"""Drive xmppd's external components (XEP-0114) with slixmpp's ComponentXMPP.

A slixmpp component connects to the component port given by
XMPPD_INTEROP_COMPONENT ("domain port", its secret in
XMPPD_INTEROP_COMPONENT_SECRET), completes the handshake and pings the
server from its domain. It answers disco#info as a gateway, echoes every
chat message sent to one of its JIDs, and approves presence
subscriptions. A slixmpp client logs in as slixmpp_chat.py's do, finds
the component in the server's disco#items and its identity in disco#info,
gets an echo of a chat message, and subscribes to the echoing JID's
presence, which the component approves. Then the component uses the
privileges the server granted it (XEP-0356, slixmpp's xep_0356): it reads
the client's roster, adds a contact to it, which the client must see
pushed, and sends a message in the client's name, which the client must
get. Then both close their streams.

Exit status: 0 when everything worked, 1 with the reason on stdout.
"""

import asyncio
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from slixmpp_chat import Client, Failure, close, drive, step, until  # noqa: E402
from slixmpp_run import main  # noqa: E402

from slixmpp.componentxmpp import ComponentXMPP  # noqa: E402


class Gateway(ComponentXMPP):
    """Gateway is the component: it echoes chat messages to any of its JIDs."""

    def __init__(self, domain, secret, host, port, failed):
        super().__init__(domain, secret, host, port)
        self.name = "component"
        self.stage = "connecting"
        self.failed = failed
        self.closing = False
        self.session = asyncio.Event()
        self.gone = asyncio.Event()
        self.register_plugin("xep_0030")
        self.register_plugin("xep_0199", {"keepalive": False})
        self.register_plugin("xep_0356")
        self["xep_0030"].add_identity(category="gateway", itype="smtp", name="Echo gateway", jid=self.boundjid)
        self.add_event_handler("session_start", lambda _: self.session.set())
        self.add_event_handler("stream_error", lambda err: self.fail(f"stream error from the server: {err}"))
        self.add_event_handler("disconnected", self.on_disconnected)
        self.add_event_handler("message", self.echo)
        self.add_event_handler("roster_subscription_request", self.approve)

    def fail(self, reason):
        if not self.failed.done():
            self.failed.set_exception(Failure(f"{self.name}: {reason} (stage: {self.stage})"))

    def on_disconnected(self, reason):
        if not self.closing:
            self.fail(f"disconnected unexpectedly: {reason}")
        self.gone.set()

    def approve(self, presence):
        """Approve every subscription request, and say the JID is there."""
        self.roster[presence["to"]][presence["from"]].authorize()
        self.send_presence(pto=presence["from"].bare, pfrom=presence["to"])

    def echo(self, msg):
        if msg["type"] == "chat" and msg["body"]:
            msg.reply("echo: " + msg["body"]).send()


async def scenario(gw, client, host, port, timeout):
    gw.connect()
    gw.stage = "handshake"
    await asyncio.wait_for(gw.session.wait(), timeout)
    server = client.boundjid.domain
    await step(gw, "ping the server from the component's domain",
               gw["xep_0199"].ping(server, ifrom=gw.boundjid, timeout=timeout), timeout)

    client.connect((host, port), force_starttls=True)
    await asyncio.wait_for(client.session.wait(), timeout)
    await step(client, "roster", client.get_roster(timeout=timeout), timeout)
    client.send_presence()

    items = await step(client, "the server's disco#items",
                       client["xep_0030"].get_items(jid=server, timeout=timeout), timeout)
    if gw.boundjid.bare not in [item[0] for item in items["disco_items"]["items"]]:
        raise Failure(f"{client.name}: the server's disco#items {items} do not list {gw.boundjid.bare}")
    info = await step(client, "the component's disco#info",
                      client["xep_0030"].get_info(jid=gw.boundjid.bare, timeout=timeout), timeout)
    if ("gateway", "smtp", None, "Echo gateway") not in info["disco_info"]["identities"]:
        raise Failure(f"{client.name}: the component's disco#info {info} lacks its gateway identity")

    echo = "echo@" + gw.boundjid.bare
    client.send_message(mto=echo, mbody="hello ünïcode <&>", mtype="chat")
    client.stage = "waiting for the echo"
    try:
        msg = await asyncio.wait_for(asyncio.shield(client.received), timeout)
    except asyncio.TimeoutError:
        raise Failure(f"{client.name}: no echo from {echo} within {timeout}s") from None
    if msg["from"].bare != echo or msg["body"] != "echo: hello ünïcode <&>":
        raise Failure(f"{client.name}: got {msg}, want the echo from {echo}")

    client.send_presence_subscription(pto=echo)
    client.stage = f"subscribing to {echo}"
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while client.client_roster[echo]["subscription"] not in ("to", "both"):
        if loop.time() > deadline:
            raise Failure(f"{client.name}: the subscription to {echo} was not approved within {timeout}s")
        await asyncio.sleep(0.02)

    await privileged(gw, client, echo, timeout)

    await close(client, timeout)
    gw.closing = True
    await gw.disconnect(wait=timeout)


async def privileged(gw, client, echo, timeout):
    """The component reads and changes the client's roster and sends a
    message in its name, with the privileges the server advertised."""
    privileges = gw["xep_0356"].granted_privileges
    await until(gw, "the advertised privileges",
                lambda: privileges["roster"] == "both" and privileges["message"] == "outgoing", timeout)
    owner = client.boundjid.bare
    got = await step(gw, f"{owner}'s roster", gw["xep_0356"].get_roster(owner, timeout=timeout), timeout)
    if echo not in [str(j) for j in got["roster"]["items"]]:
        raise Failure(f"{gw.name}: {owner}'s roster {got} lacks {echo}")
    carol = "carol@" + gw.boundjid.bare
    await step(gw, f"add {carol} to {owner}'s roster", gw["xep_0356"].set_roster(
        owner, {carol: {"name": "Carol", "subscription": "both", "groups": ["Gateway"]}}, timeout=timeout), timeout)
    await until(client, f"the roster push of {carol}, subscribed both ways",
                lambda: carol in client.client_roster and client.client_roster[carol]["name"] == "Carol"
                and client.client_roster[carol]["subscription"] == "both", timeout)

    client.mine = asyncio.get_running_loop().create_future()
    client.add_event_handler("message", lambda msg: msg["body"] == "sent from elsewhere" and not client.mine.done()
                             and client.mine.set_result(msg))
    gw["xep_0356"].send_privileged_message(
        gw.make_message(mto=owner, mfrom=owner, mbody="sent from elsewhere", mtype="chat"))
    client.stage = "waiting for the message in its own name"
    try:
        msg = await asyncio.wait_for(client.mine, timeout)
    except asyncio.TimeoutError:
        raise Failure(f"{client.name}: no message in its own name within {timeout}s") from None
    if msg["from"] != owner:
        raise Failure(f"{client.name}: the privileged message came from {msg['from']}, want {owner}")


async def run(host, port, jids, passwords, timeout):
    domain, component_port = os.environ["XMPPD_INTEROP_COMPONENT"].split()
    secret = os.environ["XMPPD_INTEROP_COMPONENT_SECRET"]
    failed = asyncio.get_running_loop().create_future()
    gw = Gateway(domain, secret, host, int(component_port), failed)
    client = Client("client", jids[0], passwords[0], "SCRAM-SHA-256", failed)
    await drive((gw, client), failed, scenario(gw, client, host, port, timeout / 3), timeout)
    print(f"ok: component {domain} connected and pinged the server; {client.boundjid} found it, "
          "got its echo and its approval; the component read and changed its roster and sent in its name")


if __name__ == "__main__":
    sys.exit(main(run))
