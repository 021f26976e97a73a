#!/usr/bin/python3
"""Drive xmppd's multi-user chat (XEP-0045) and room archive (XEP-0313)
with two slixmpp clients and slixmpp's own MUC, MAM and RSM plugins.

Both clients log in as slixmpp_chat.py's do. The first finds the MUC
service as a client does, among the server's disco#items the one whose
disco#info says conference/text, and joins a new room there with
xep_0045.join_muc_wait: it must be told that it created the room (status
201), that it is the owner and a moderator. It fetches the room's
configuration form, changes it (name, persistent, archived, real JIDs
shown to anyone) and submits it whole, as slixmpp does; the room's
disco#info must then show the new name and features. The second client
joins: it must see the first among the occupants, and the first must see
it arrive. They exchange groupchat messages: each must receive every one
of them, its own included, in the room's order, from room/nick, with a
stanza id (XEP-0359) by the room. The first sets the subject, which both
must receive from its nick; the second sends the first a private message
through the room, which must arrive from the second's occupant JID.
Then the second reads the room's archive with xep_0313 and RSM pages of
two (xep_0059): the groupchat messages in order, with the ids they had
live, and neither the subject nor the private message. Finally the
second leaves: it must get its own unavailable presence (status 110) and
the first must see it leave; both close their streams.

Exit status: 0 when everything worked, 1 with the reason on stdout.
"""

import asyncio
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from slixmpp_chat import Client, Failure, close, drive, next_item, step  # noqa: E402
from slixmpp_run import main  # noqa: E402

from slixmpp import JID  # noqa: E402
from slixmpp.exceptions import PresenceError  # noqa: E402
from slixmpp.xmlstream.handler import Callback  # noqa: E402
from slixmpp.xmlstream.matcher import StanzaPath  # noqa: E402

ROOM = "interop"
NS_MUC_USER = "http://jabber.org/protocol/muc#user"

# The room's configuration, as the owner submits it.
CONFIG = {
    "muc#roomconfig_roomname": "Interop",
    "muc#roomconfig_persistentroom": True,
    "muc#roomconfig_enablearchiving": True,
    "muc#roomconfig_whois": "anyone",
}


def muc_client(name, nick, jid, password, failed):
    c = Client(name, jid, password, "SCRAM-SHA-256", failed)
    for plugin in ("xep_0004", "xep_0045", "xep_0059", "xep_0297", "xep_0313", "xep_0359"):
        c.register_plugin(plugin)
    c.nick = nick
    c.groupchat = asyncio.Queue()  # groupchat messages with a body
    c.subjects = asyncio.Queue()
    c.occupants = asyncio.Queue()  # presences from rooms' occupants
    c.private = asyncio.Queue()  # chat messages from a room's occupant
    c.unavailable = asyncio.Queue()  # unavailable presences
    c.add_event_handler("groupchat_message", c.groupchat.put_nowait)
    c.add_event_handler("groupchat_subject", c.subjects.put_nowait)
    c.add_event_handler("groupchat_presence", c.occupants.put_nowait)
    # Not the presence_unavailable event: slixmpp raises none for a room,
    # whose roster entry the MUC plugin marks ignore_updates.
    c.register_handler(Callback("unavailable", StanzaPath("presence@type=unavailable"), c.unavailable.put_nowait))
    c.add_event_handler("message", lambda msg: msg["type"] == "chat" and msg.xml.find("{%s}x" % NS_MUC_USER) is not None
                        and c.private.put_nowait(msg))
    return c


async def find_service(client, timeout):
    """Return the JID of the server's MUC service, found by disco."""
    disco = client["xep_0030"]
    domain = client.boundjid.domain
    items = await step(client, f"disco#items {domain}", disco.get_items(jid=domain, local=False, timeout=timeout), timeout)
    services = []
    for jid, _node, _name in items["disco_items"]["items"]:
        info = await step(client, f"disco#info {jid}", disco.get_info(jid=jid, local=False, cached=False, timeout=timeout), timeout)
        if ("conference", "text") in {(cat, typ) for cat, typ, _lang, _name in info["disco_info"]["identities"]} \
                and "http://jabber.org/protocol/muc" in info["disco_info"]["features"]:
            services.append(JID(jid))
    if len(services) != 1:
        raise Failure(f"{client.name}: MUC services among {domain}'s items: {services}, want one")
    return services[0]


async def join(client, room, timeout):
    """Join room with slixmpp's join_muc_wait; return its result."""
    client.stage = f"joining {room} as {client.nick}"
    try:
        joined = await client["xep_0045"].join_muc_wait(room, client.nick, maxstanzas=0, timeout=timeout)
    except PresenceError as err:
        raise Failure(f"{client.name}: joining {room}: error presence {err.presence}") from None
    except asyncio.TimeoutError:
        raise Failure(f"{client.name}: joining {room}: no self-presence and subject within {timeout}s") from None
    # The subject that ends the join went to the queue as well.
    subjects = [client.subjects.get_nowait() for _ in range(client.subjects.qsize())]
    if subjects != [joined[1]] or joined[1]["subject"] != "" or joined[1]["from"] != room:
        raise Failure(f"{client.name}: joining {room}: subjects {subjects}, want one empty subject from the room")
    return joined


def check_self(client, pres, room, codes, affiliation, role):
    muc = pres["muc"]
    if pres["from"] != JID(f"{room}/{client.nick}") or not codes <= muc["status_codes"] \
            or muc["affiliation"] != affiliation or muc["role"] != role:
        raise Failure(f"{client.name}: self-presence {pres}, want from {room}/{client.nick}, status {sorted(codes)}, "
                      f"{affiliation} and {role}")


async def configure(owner, room, timeout):
    """Fetch, fill in and submit the room's configuration form, then check
    that the room's disco#info reflects it."""
    muc = owner["xep_0045"]
    form = await step(owner, "fetch the room's configuration", muc.get_room_config(room, timeout=timeout), timeout)
    fields = form.get_fields()
    missing = [var for var in CONFIG if var not in fields]
    if form["type"] != "form" or missing:
        raise Failure(f"{owner.name}: configuration form {form} lacks {missing}")
    form.set_values(CONFIG)
    await step(owner, "submit the room's configuration", muc.set_room_config(room, form, timeout=timeout), timeout)
    info = await step(owner, f"disco#info {room}", owner["xep_0030"].get_info(
        jid=room, local=False, cached=False, timeout=timeout), timeout)
    names = [name for cat, typ, _lang, name in info["disco_info"]["identities"] if (cat, typ) == ("conference", "text")]
    features = info["disco_info"]["features"]
    if names != ["Interop"] or not {"muc_persistent", "muc_nonanonymous", "urn:xmpp:mam:2"} <= set(features):
        raise Failure(f"{owner.name}: the configured room's disco#info is {info}")


async def groupchat(sender, receivers, room, body, timeout):
    """sender says body in room; every receiver, sender included, must get
    it next, from sender's nick; returns the stanza id each one saw."""
    sender.send_message(mto=room, mbody=body, mtype="groupchat")
    ids = set()
    for c in receivers:
        msg = await next_item(c, c.groupchat, f"{sender.nick}'s {body!r}", timeout)
        sid = msg["stanza_id"]
        if msg["from"] != JID(f"{room}/{sender.nick}") or msg["body"] != body or msg["to"] != c.boundjid:
            raise Failure(f"{c.name}: got {msg}, want {body!r} from {room}/{sender.nick} to {c.boundjid}")
        if sid["by"] != room or not sid["id"]:
            raise Failure(f"{c.name}: {msg} has no stanza id by {room}")
        ids.add(sid["id"])
    if len(ids) != 1:
        raise Failure(f"occupants saw {body!r} with different stanza ids {ids}")
    return ids.pop()


async def archive(client, room, timeout):
    """Read the room's whole archive, two messages a page, as slixmpp's
    RSM iterator pages it; return the pages, each a list of (result id,
    from, body), and whether each page's <fin/> said complete."""
    pages, complete = [], []

    async def read():
        # xep_0313.iterate flattens the pages; retrieve(iterator=True)
        # shows them. slixmpp stops by RSM count and first index, or at
        # an empty page, and swallows an error reply: the checks below see
        # what came.
        async for page in client["xep_0313"].retrieve(jid=room, iterator=True, rsm={"max": 2}):
            pages.append([(m["mam_result"]["id"], m["mam_result"]["forwarded"]["stanza"]["from"],
                           m["mam_result"]["forwarded"]["stanza"]["body"]) for m in page["mam"]["results"]])
            complete.append(page["mam_fin"].xml.get("complete") in ("true", "1"))
    await step(client, f"page through {room}'s archive", read(), timeout)
    return pages, complete


async def scenario(a, b, host, port, timeout):
    for c in (a, b):
        c.connect((host, port), force_starttls=True)
    await asyncio.gather(a.session.wait(), b.session.wait())
    for c in (a, b):
        c.send_presence()

    service = await find_service(a, timeout)
    room = JID(f"{ROOM}@{service}")
    pres, _subject, others, _history = await join(a, room, timeout)
    check_self(a, pres, room, {110, 201}, "owner", "moderator")
    if [p["from"] for p in others] != [pres["from"]]:  # slixmpp lists its own presence too
        raise Failure(f"{a.name}: a new room with occupants {others}")
    await configure(a, room, timeout)

    pres, _subject, others, _history = await join(b, room, timeout)
    check_self(b, pres, room, {110}, "none", "participant")
    others = [p for p in others if p["from"] != pres["from"]]
    if [p["from"] for p in others] != [JID(f"{room}/{a.nick}")] or others[0]["muc"]["jid"] != a.boundjid:
        raise Failure(f"{b.name}: occupants {[str(p) for p in others]}, want {a.nick} with {a.boundjid}")
    while True:
        p = await next_item(a, a.occupants, f"{b.nick} entering", timeout)
        if p["type"] != "unavailable" and p["from"] == JID(f"{room}/{b.nick}"):
            break
    if p["muc"]["jid"] != b.boundjid or p["muc"]["role"] != "participant":
        raise Failure(f"{a.name}: {b.nick} entered with {p}, want {b.boundjid} as a participant")

    said = []
    for sender, body in ((a, "hello from Alice <&>"), (b, "hello from Bob 🙂"), (a, "and goodbye")):
        said.append((await groupchat(sender, (a, b), room, body, timeout), JID(f"{room}/{sender.nick}"), body))

    a["xep_0045"].set_subject(room, "Interop subject")
    for c in (a, b):
        msg = await next_item(c, c.subjects, "the new subject", timeout)
        if msg["subject"] != "Interop subject" or msg["from"] != JID(f"{room}/{a.nick}"):
            raise Failure(f"{c.name}: got subject {msg}, want 'Interop subject' from {a.nick}")

    pm = b.make_message(mto=JID(f"{room}/{a.nick}"), mbody="psst, Alice", mtype="chat")
    pm.append(b["xep_0045"].stanza.MUCMessage())  # <x xmlns='…muc#user'/>, as XEP-0045 §7.5 asks
    pm.send()
    msg = await next_item(a, a.private, "the private message", timeout)
    if msg["from"] != JID(f"{room}/{b.nick}") or msg["body"] != "psst, Alice" or msg["to"] != a.boundjid:
        raise Failure(f"{a.name}: got {msg}, want 'psst, Alice' from {room}/{b.nick}")

    pages, complete = await archive(b, room, timeout)
    if [len(p) for p in pages] != [2, 1] or [m for p in pages for m in p] != said or complete != [False, True]:
        raise Failure(f"{b.name}: the room's archive in pages of two is {pages} (complete: {complete}), "
                      f"want {said}, complete on the last page only")

    b["xep_0045"].leave_muc(room, b.nick)
    p = await next_item(b, b.unavailable, "its own unavailable presence", timeout)
    if p["from"] != JID(f"{room}/{b.nick}") or 110 not in p["muc"]["status_codes"]:
        raise Failure(f"{b.name}: got {p}, want its own unavailable presence with status 110")
    while True:
        p = await next_item(a, a.occupants, f"{b.nick} leaving", timeout)
        if p["from"] == JID(f"{room}/{b.nick}"):
            break
    if p["type"] != "unavailable" or p["muc"]["jid"] != b.boundjid:
        raise Failure(f"{a.name}: got {p}, want {b.nick}'s unavailable presence")
    if b.nick in a["xep_0045"].get_roster(room):
        raise Failure(f"{a.name}: slixmpp still lists {b.nick} in {a['xep_0045'].get_roster(room)}")

    await asyncio.gather(close(a, timeout), close(b, timeout))
    return room


async def run(host, port, jids, passwords, timeout):
    failed = asyncio.get_running_loop().create_future()
    a = muc_client("client 1", "Alice", jids[0], passwords[0], failed)
    b = muc_client("client 2", "Bob", jids[1], passwords[1], failed)
    room = await drive((a, b), failed, scenario(a, b, host, port, timeout / 3), timeout)
    print(f"ok: {room} found by disco, created, configured, joined; groupchat, subject, private message; "
          "archive paged; left")


if __name__ == "__main__":
    sys.exit(main(run))
