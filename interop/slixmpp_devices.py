#!/usr/bin/python3
"""Drive xmppd's message carbons (XEP-0280), stream management (XEP-0198)
and personal archives (XEP-0313 with XEP-0059 RSM) with slixmpp's own
plugins: one account on two devices, a phone and a laptop, and a contact.

All three log in as slixmpp_chat.py's do; the phone enables stream
management (resumable) and both devices enable carbons. The phone writes
to the contact's bare JID: the contact gets it, the laptop a sent carbon.
The contact answers the phone's full JID: the phone gets it, the laptop a
received carbon. The laptop writes to the contact: the phone gets a sent
carbon. Every message arrives with a stanza id (XEP-0359) by the
recipient's account. The phone asks for an ack: the server's h must come
to the number of stanzas the phone sent.

The contact writes to the phone again, and the phone's acks of it are
lost: the server can learn that the phone handled it only from the h of
<resume/>. Then the phone's TCP connection is cut, without a closing
stream. The contact writes to the phone meanwhile; the laptop's received
carbon shows that the server took it. The phone reconnects and slixmpp
resumes the session: <resumed/> must acknowledge all the phone sent, the
message must arrive, and nothing the phone had handled must come again.
The phone writes once more: the contact gets it, the laptop a sent
carbon, and the phone's acks go on from where they were.

Finally the contact pages forwards through its archive, two messages a
page, with xep_0313.retrieve's RSM iterator, and the laptop backwards
through the account's with xep_0313.iterate: both must hold the six
messages, once each, in order, under the stanza ids they had live. All
three close their streams.

Exit status: 0 when everything worked, 1 with the reason on stdout.
"""

import asyncio
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from slixmpp_chat import Client, Failure, close, drive, next_item, step  # noqa: E402
from slixmpp_run import main  # noqa: E402

from slixmpp import JID  # noqa: E402
from slixmpp.plugins.xep_0198 import Ack, Resumed  # noqa: E402
from slixmpp.xmlstream.handler import Callback  # noqa: E402
from slixmpp.xmlstream.matcher import MatchXPath  # noqa: E402


def device(name, jid, password, failed, plugins):
    c = Client(name, jid, password, "SCRAM-SHA-256", failed)
    for plugin in ("xep_0004", "xep_0059", "xep_0297", "xep_0313", "xep_0359") + plugins:
        c.register_plugin(plugin)
    c.chats = asyncio.Queue()  # chat messages with a body, carbons not
    c.carbons = asyncio.Queue()  # ("sent"|"received", carbon)
    c.add_event_handler("message", lambda msg: msg["type"] == "chat" and msg["body"] and c.chats.put_nowait(msg))
    c.add_event_handler("carbon_sent", lambda msg: c.carbons.put_nowait(("sent", msg)))
    c.add_event_handler("carbon_received", lambda msg: c.carbons.put_nowait(("received", msg)))
    return c


def phone_device(jid, password, failed):
    c = device("phone", jid, password, failed, ("xep_0198", "xep_0280"))
    c.sm_enabled = asyncio.get_running_loop().create_future()
    c.add_event_handler("sm_enabled", lambda st: c.sm_enabled.done() or c.sm_enabled.set_result(st))
    c.acks = asyncio.Queue()  # the h of every <a/> and <resumed/>
    c.resumed = asyncio.Queue()
    # slixmpp's own handlers consume these; ours see them too.
    c.register_handler(Callback("interop acks", MatchXPath(Ack.tag_name()), lambda a: c.acks.put_nowait(a["h"]),
                                instream=True))
    c.register_handler(Callback("interop resumed", MatchXPath(Resumed.tag_name()), c.resumed.put_nowait,
                                instream=True))
    return c


def nothing_more(*clients):
    for c in clients:
        for what, queue in (("chat message", c.chats), ("carbon", c.carbons)):
            if not queue.empty():
                raise Failure(f"{c.name}: an unexpected {what}: {queue.get_nowait()}")


async def chat(sender, to, receiver, body, timeout):
    """sender writes body to the JID to; receiver must get it next, with
    a stanza id by its account; returns that id."""
    sender.send_message(mto=to, mbody=body, mtype="chat")
    msg = await next_item(receiver, receiver.chats, f"{body!r} from {sender.boundjid}", timeout)
    if msg["from"] != sender.boundjid or msg["to"] != to or msg["body"] != body:
        raise Failure(f"{receiver.name}: got {msg}, want {body!r} from {sender.boundjid} to {to}")
    sid = msg["stanza_id"]
    if sid["by"] != receiver.boundjid.bare or not sid["id"]:
        raise Failure(f"{receiver.name}: {msg} has no stanza id by {receiver.boundjid.bare}")
    return sid["id"]


async def carbon(client, kind, sender, to, body, timeout):
    """client must get a carbon of kind of body, from sender to to."""
    got, msg = await next_item(client, client.carbons, f"a {kind} carbon of {body!r}", timeout)
    fwd = msg[f"carbon_{got}"]
    if got != kind or fwd["from"] != sender or fwd["to"] != to or fwd["body"] != body:
        raise Failure(f"{client.name}: got {msg}, want a {kind} carbon of {body!r} from {sender} to {to}")


async def acked(phone, timeout):
    """Ask for an ack; the server's h must reach the count of stanzas the
    phone sent, and never pass it."""
    sm = phone["xep_0198"]
    want = sm.seq
    sm.request_ack()
    while True:
        h = await next_item(phone, phone.acks, f"an ack of {want} stanzas", timeout)
        if h > want:
            raise Failure(f"{phone.name}: the server acknowledged {h} stanzas, the phone sent {want}")
        if h == want:
            break
    if sm.unacked_queue:
        raise Failure(f"{phone.name}: slixmpp still counts {len(sm.unacked_queue)} unacknowledged stanzas")
    return want


async def archive_pages(client, timeout):
    """The client's archive, two messages a page, as slixmpp's RSM
    iterator pages it forwards: lists of (result id, from, to, body), and
    whether each page's <fin/> said complete. slixmpp stops at an empty
    page when the server gives no count, and on an error reply, which
    the caller's checks then notice."""
    pages, complete = [], []

    async def read():
        async for page in client["xep_0313"].retrieve(iterator=True, rsm={"max": 2}):
            pages.append([entry(m) for m in page["mam"]["results"]])
            complete.append(page["mam_fin"].xml.get("complete") in ("true", "1"))
    await step(client, "page through the archive", read(), timeout)
    return pages, complete


async def archive_backwards(client, with_jid, timeout):
    """The client's archive with with_jid, newest first, read backwards
    two messages a page with xep_0313.iterate."""
    got = []

    async def read():
        async for m in client["xep_0313"].iterate(with_jid=with_jid, reverse=True, rsm={"max": 2}):
            got.append(entry(m))
    await step(client, "page backwards through the archive", read(), timeout)
    return got


def entry(m):
    fwd = m["mam_result"]["forwarded"]["stanza"]
    return m["mam_result"]["id"], fwd["from"], fwd["to"], fwd["body"]


async def scenario(phone, laptop, contact, host, port, timeout):
    for c in (phone, laptop, contact):
        c.connect((host, port), force_starttls=True)
    await asyncio.gather(phone.session.wait(), laptop.session.wait(), contact.session.wait())
    enabled = await step(phone, "enable stream management", asyncio.shield(phone.sm_enabled), timeout)
    if not enabled["id"] or not enabled["resume"]:
        raise Failure(f"{phone.name}: got {enabled}, want resumable stream management")
    for c in (phone, laptop, contact):
        c.send_presence()
    for c in (phone, laptop):
        await step(c, "enable carbons", c["xep_0280"].enable(timeout=timeout), timeout)

    account, buddy = JID(phone.boundjid.bare), JID(contact.boundjid.bare)
    ids = {}  # body: the stanza id its recipient saw
    body = "from the phone"
    ids[body] = await chat(phone, buddy, contact, body, timeout)
    await carbon(laptop, "sent", phone.boundjid, buddy, body, timeout)
    body = "to the phone <&> 🙂"
    ids[body] = await chat(contact, phone.boundjid, phone, body, timeout)
    await carbon(laptop, "received", contact.boundjid, phone.boundjid, body, timeout)
    body = "from the laptop"
    ids[body] = await chat(laptop, buddy, contact, body, timeout)
    await carbon(phone, "sent", laptop.boundjid, buddy, body, timeout)
    sent = await acked(phone, timeout)

    # The phone's acks of the next message are lost with the connection:
    # the server learns that the phone handled it only from <resume/>.
    sm = phone["xep_0198"]
    send_ack, sm.send_ack = sm.send_ack, lambda: None
    body = "just before the cut"
    ids[body] = await chat(contact, phone.boundjid, phone, body, timeout)
    await carbon(laptop, "received", contact.boundjid, phone.boundjid, body, timeout)

    # Cut the phone's connection: no </stream:stream>, no SM <a/>.
    previd, handled = sm.sm_id, sm.handled
    phone.stage = "cutting the connection"
    phone.closing = True
    phone.abort()
    await asyncio.wait_for(phone.gone.wait(), timeout)
    phone.gone.clear()
    sm.send_ack = send_ack
    body = "while you were away"
    contact.send_message(mto=phone.boundjid, mbody=body, mtype="chat")
    await carbon(laptop, "received", contact.boundjid, phone.boundjid, body, timeout)

    phone.closing = False
    phone.stage = "reconnecting to resume"
    phone.connect((host, port), force_starttls=True)
    resumed = await next_item(phone, phone.resumed, "<resumed/>", timeout)
    if resumed["previd"] != previd or resumed["h"] != sent:
        raise Failure(f"{phone.name}: got {resumed} (resuming with h {handled}), want previd {previd} and h {sent}, "
                      "the stanzas the phone sent")
    msg = await next_item(phone, phone.chats, f"{body!r} after resuming", timeout)
    if msg["from"] != contact.boundjid or msg["body"] != body:
        raise Failure(f"{phone.name}: after resuming got {msg}, want {body!r} from {contact.boundjid}")
    ids[body] = msg["stanza_id"]["id"]
    # The ping's answer comes after anything the server resent.
    await step(phone, "ping after resuming", phone["xep_0199"].send_ping(phone.boundjid.domain, timeout=timeout), timeout)
    nothing_more(phone)

    body = "back again"
    ids[body] = await chat(phone, buddy, contact, body, timeout)
    await carbon(laptop, "sent", phone.boundjid, buddy, body, timeout)
    await acked(phone, timeout)

    # The archives: both sides', six messages each, once each.
    said = [
        (phone.boundjid, buddy, "from the phone"),
        (contact.boundjid, phone.boundjid, "to the phone <&> 🙂"),
        (laptop.boundjid, buddy, "from the laptop"),
        (contact.boundjid, phone.boundjid, "just before the cut"),
        (contact.boundjid, phone.boundjid, "while you were away"),
        (phone.boundjid, buddy, "back again"),
    ]
    pages, complete = await archive_pages(contact, timeout)
    got = [m[1:] for p in pages for m in p]
    if got != said or [len(p) for p in pages] != [2, 2, 2] or complete != [False, False, True]:
        raise Failure(f"{contact.name}: its archive in pages of two is {pages} (complete: {complete}), "
                      f"want {said}, complete on the last page only")
    theirs = {m[3]: m[0] for p in pages for m in p}
    for body in ("from the phone", "from the laptop", "back again"):
        if theirs[body] != ids[body]:
            raise Failure(f"{contact.name}: {body!r} archived as {theirs[body]}, live stanza id {ids[body]}")

    got = await archive_backwards(laptop, buddy, timeout)
    if [m[1:] for m in got] != said[::-1]:
        raise Failure(f"{laptop.name}: the account's archive, backwards, is {got}, want {said[::-1]}")
    mine = {m[3]: m[0] for m in got}
    for body in ("to the phone <&> 🙂", "just before the cut", "while you were away"):
        if mine[body] != ids[body]:
            raise Failure(f"{laptop.name}: {body!r} archived as {mine[body]}, live stanza id {ids[body]}")

    nothing_more(phone, laptop, contact)
    await asyncio.gather(close(phone, timeout), close(laptop, timeout), close(contact, timeout))
    return account, sent


async def run(host, port, jids, passwords, timeout):
    failed = asyncio.get_running_loop().create_future()
    account = JID(jids[0]).bare
    phone = phone_device(account + "/phone", passwords[0], failed)
    laptop = device("laptop", account + "/laptop", passwords[0], failed, ("xep_0280",))
    contact = device("contact", jids[1], passwords[1], failed, ())
    account, sent = await drive((phone, laptop, contact), failed,
                                scenario(phone, laptop, contact, host, port, timeout / 3), timeout)
    print(f"ok: {account}'s phone and laptop got sent and received carbons; the phone's {sent} stanzas acked, "
          "its session resumed after a cut with the message sent meanwhile; both archives paged")


if __name__ == "__main__":
    sys.exit(main(run))
