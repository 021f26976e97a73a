#!/usr/bin/python3
"""Drive xmppd's personal eventing (XEP-0163) with two slixmpp clients.

Both clients log in as slixmpp_chat.py's do, fetch their rosters and
subscribe to each other's presence. The second announces, in its entity
capabilities (XEP-0115), that it wants user mood notifications
(XEP-0107). Then the first publishes a mood, which the second must
receive from the first's bare JID; publishes a private item with publish
options (XEP-0223: whitelist, max_items=max) and reads it back; publishes
again with options the node does not have, which must fail with conflict
and precondition-not-met; and the second must be refused that node's
items with not-allowed. The first then stores bookmarks in private
storage (XEP-0048 over XEP-0049), finds them as items of the XEP-0402
node, publishes another item there and finds it among its bookmarks in
private storage (XEP-0402's compatibility). Then it publishes an avatar
(XEP-0084), which the second must find in the first's vCard (XEP-0054)
and whose hash must be in the first's next presence (XEP-0398). Finally
both close their streams.

Exit status: 0 when everything worked, 1 with the reason on stdout.
"""

import asyncio
import hashlib
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from slixmpp_chat import Client, Failure, close, drive, step, until  # noqa: E402
from slixmpp_run import main  # noqa: E402

from slixmpp.exceptions import IqError  # noqa: E402
from slixmpp.plugins.xep_0048.stanza import Bookmarks  # noqa: E402
from slixmpp.xmlstream import ET  # noqa: E402

NS_ERRORS = "http://jabber.org/protocol/pubsub#errors"
PRIVATE_NODE = "urn:example:interop:private"
NS_BOOKMARKS = "urn:xmpp:bookmarks:1"


def pep_client(name, jid, password, failed):
    c = Client(name, jid, password, "SCRAM-SHA-256", failed)
    for plugin in ("xep_0004", "xep_0060", "xep_0115", "xep_0163", "xep_0107", "xep_0048", "xep_0084", "xep_0054"):
        c.register_plugin(plugin)
    c.moods = asyncio.get_running_loop().create_future()
    c.add_event_handler("user_mood_publish", lambda msg: c.moods.done() or c.moods.set_result(msg))
    c.photos = asyncio.Queue()
    c.add_event_handler("presence_available", lambda p: c.photos.put_nowait(
        (p["from"], p.xml.findtext("{vcard-temp:x:update}x/{vcard-temp:x:update}photo"))))
    return c


def options(client, **fields):
    form = client["xep_0004"].make_form(ftype="submit")
    form.add_field(var="FORM_TYPE", ftype="hidden", value="http://jabber.org/protocol/pubsub#publish-options")
    for var, value in fields.items():
        form.add_field(var="pubsub#" + var, value=value)
    return form


async def refused(client, what, awaitable, condition, app, timeout):
    client.stage = what
    try:
        await asyncio.wait_for(awaitable, timeout)
    except IqError as err:
        error = err.iq["error"]
        if error["condition"] != condition:
            raise Failure(f"{client.name}: {what}: got {error['condition']}, want {condition}") from None
        if app and error.xml.find("{%s}%s" % (NS_ERRORS, app)) is None:
            raise Failure(f"{client.name}: {what}: error {err.iq} lacks {app}") from None
        return
    raise Failure(f"{client.name}: {what}: succeeded, want {condition}")


async def scenario(a, b, host, port, timeout):
    for c in (a, b):
        c.connect((host, port), force_starttls=True)
    await asyncio.gather(a.session.wait(), b.session.wait())
    for c in (a, b):
        await step(c, "roster", c.get_roster(timeout=timeout), timeout)
        c.send_presence()

    # slixmpp accepts and returns subscription requests by default.
    b.send_presence_subscription(pto=a.boundjid.bare)
    for x, y in ((a, b), (b, a)):
        await until(x, f"subscribed both ways with {y.boundjid.bare}",
                    lambda x=x, y=y: x.client_roster[y.boundjid.bare]["subscription"] == "both", timeout)

    await step(a, "publish a mood", a["xep_0107"].publish_mood("happy", text="interop", timeout=timeout), timeout)
    b.stage = "waiting for the mood notification"
    try:
        msg = await asyncio.wait_for(asyncio.shield(b.moods), timeout)
    except asyncio.TimeoutError:
        raise Failure(f"{b.name}: no mood notification from {a.boundjid.bare} within {timeout}s") from None
    if msg["from"] != a.boundjid.bare or msg["pubsub_event"]["items"]["item"]["mood"]["value"] != "happy":
        raise Failure(f"{b.name}: got {msg}, want the mood 'happy' from {a.boundjid.bare}")

    payload = ET.Element("{%s}secret" % PRIVATE_NODE)
    payload.text = "only mine"
    pubsub = a["xep_0060"]
    private = options(a, access_model="whitelist", max_items="max", persist_items="true")
    await step(a, "publish a private item", pubsub.publish(a.boundjid.bare, PRIVATE_NODE, id="one", payload=payload,
                                                           options=private, timeout=timeout), timeout)
    got = await step(a, "read it back", pubsub.get_items(a.boundjid.bare, PRIVATE_NODE, timeout=timeout), timeout)
    items = list(got["pubsub"]["items"])
    if len(items) != 1 or items[0]["id"] != "one" or items[0]["payload"].text != "only mine":
        raise Failure(f"{a.name}: read back {got}, want the item 'one'")
    await refused(a, "publish with options the node lacks",
                  pubsub.publish(a.boundjid.bare, PRIVATE_NODE, id="two", payload=payload,
                                 options=options(a, access_model="open"), timeout=timeout),
                  "conflict", "precondition-not-met", timeout)
    await refused(b, "read another account's private node",
                  b["xep_0060"].get_items(a.boundjid.bare, PRIVATE_NODE, timeout=timeout),
                  "not-allowed", "closed-node", timeout)

    await bookmarks(a, timeout)
    await avatar(a, b, timeout)
    await asyncio.gather(close(a, timeout), close(b, timeout))


async def bookmarks(a, timeout):
    stored = Bookmarks()
    stored.add_conference("hall@rooms.localhost", "alice", name="Hall", autojoin=True)
    await step(a, "store bookmarks in private storage", a["xep_0048"].set_bookmarks(stored, timeout=timeout), timeout)
    pubsub = a["xep_0060"]
    got = await step(a, "read the bookmarks node", pubsub.get_items(a.boundjid.bare, NS_BOOKMARKS, timeout=timeout), timeout)
    items = list(got["pubsub"]["items"])
    if len(items) != 1 or items[0]["id"] != "hall@rooms.localhost" or items[0]["payload"].get("name") != "Hall" \
            or items[0]["payload"].get("autojoin") != "true":
        raise Failure(f"{a.name}: bookmarks node holds {got}, want the hall")

    conference = ET.Element("{%s}conference" % NS_BOOKMARKS, name="Tomb")
    await step(a, "publish a bookmark", pubsub.publish(a.boundjid.bare, NS_BOOKMARKS, id="tomb@rooms.localhost",
                                                       payload=conference, timeout=timeout), timeout)
    got = await step(a, "read private storage", a["xep_0048"].get_bookmarks(timeout=timeout), timeout)
    rooms = {c["jid"]: c["name"] for c in got["private"]["bookmarks"]["conferences"]}
    if rooms != {"hall@rooms.localhost": "Hall", "tomb@rooms.localhost": "Tomb"}:
        raise Failure(f"{a.name}: private storage holds {got}, want the hall and the tomb")


async def avatar(a, b, timeout):
    image = b"\x89PNG an interop avatar"
    digest = hashlib.sha1(image).hexdigest()
    avatars = a["xep_0084"]
    await step(a, "publish avatar data", avatars.publish_avatar(image, timeout=timeout), timeout)
    await step(a, "publish avatar metadata", avatars.publish_avatar_metadata(
        {"id": digest, "type": "image/png", "bytes": len(image)}, timeout=timeout), timeout)
    vcard = await step(b, "read the vCard", b["xep_0054"].get_vcard(a.boundjid.bare, timeout=timeout), timeout)
    if vcard["vcard_temp"]["PHOTO"]["BINVAL"] != image:
        raise Failure(f"{b.name}: vCard {vcard} lacks the avatar")

    a.send_presence()
    b.stage = "waiting for presence with the avatar's hash"
    while True:
        try:
            sender, photo = await asyncio.wait_for(b.photos.get(), timeout)
        except asyncio.TimeoutError:
            raise Failure(f"{b.name}: no presence with the avatar's hash within {timeout}s") from None
        if sender == a.boundjid and photo == digest:
            return


async def run(host, port, jids, passwords, timeout):
    failed = asyncio.get_running_loop().create_future()
    a = pep_client("client 1", jids[0], passwords[0], failed)
    b = pep_client("client 2", jids[1], passwords[1], failed)
    await drive((a, b), failed, scenario(a, b, host, port, timeout / 3), timeout)
    print(f"ok: {b.boundjid} got {a.boundjid.bare}'s mood by +notify; publish options honoured and refused; whitelist node closed; bookmarks converted both ways; avatar in vCard and presence")


if __name__ == "__main__":
    sys.exit(main(run))
