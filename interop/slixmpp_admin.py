#!/usr/bin/python3
"""Drive xmppd's service administration (XEP-0133) with slixmpp's ad-hoc
commands (XEP-0050).

The first client is the server's admin. It lists the server's commands
(slixmpp's xep_0133.get_commands), runs add-user with the form the
server returns, filled in and submitted with slixmpp's data forms, and
then get-registered-users-num and get-online-users-list, and reads their
results. The second client, not an admin, lists no commands. Then the
admin announces a message, which the second client must receive from
the server. Finally both close their streams.

Exit status: 0 when everything worked, 1 with the reason on stdout.
"""

import asyncio
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from slixmpp_chat import Client, Failure, close, drive, step  # noqa: E402
from slixmpp_run import main  # noqa: E402

ADMIN = "http://jabber.org/protocol/admin#"


def admin_client(name, jid, password, failed):
    c = Client(name, jid, password, "SCRAM-SHA-256", failed)
    for plugin in ("xep_0004", "xep_0050", "xep_0133"):
        c.register_plugin(plugin)
    c.headlines = asyncio.get_running_loop().create_future()
    c.add_event_handler("message", lambda msg: msg["type"] == "headline" and not c.headlines.done() and c.headlines.set_result(msg))
    return c


async def run_command(client, node, fields, timeout):
    """Execute the command at node; submit its form with fields, if it
    has one; return the completed <command/>."""
    adhoc = client["xep_0050"]
    domain = client.boundjid.domain
    res = await step(client, f"execute {node}", adhoc.send_command(domain, ADMIN + node, timeout=timeout), timeout)
    cmd = res["command"]
    if cmd["status"] == "executing":
        form = cmd["form"]
        if form["type"] != "form" or "FORM_TYPE" not in form.get_fields():
            raise Failure(f"{client.name}: {node}: got {res}, want a form")
        answer = client["xep_0004"].make_form(ftype="submit")
        answer.add_field(var="FORM_TYPE", ftype="hidden", value="http://jabber.org/protocol/admin")
        for var, value in fields.items():
            answer.add_field(var=var, value=value)
        res = await step(client, f"submit {node}", adhoc.send_command(
            domain, ADMIN + node, action="complete", payload=answer, sessionid=cmd["sessionid"], timeout=timeout), timeout)
        cmd = res["command"]
    if cmd["status"] != "completed":
        raise Failure(f"{client.name}: {node}: got {res}, want it completed")
    return cmd


async def scenario(admin, user, host, port, timeout):
    for c in (admin, user):
        c.connect((host, port), force_starttls=True)
    await asyncio.gather(admin.session.wait(), user.session.wait())
    for c in (admin, user):
        c.send_presence()

    listed = await step(admin, "list the commands", admin["xep_0133"].get_commands(timeout=timeout), timeout)
    nodes = {item[1] for item in listed["disco_items"]["items"]}
    for want in ("add-user", "get-registered-users-num", "announce"):
        if ADMIN + want not in nodes:
            raise Failure(f"{admin.name}: the commands {sorted(nodes)} lack {want}")
    theirs = await step(user, "list the commands", user["xep_0133"].get_commands(timeout=timeout), timeout)
    if theirs["disco_items"]["items"]:
        raise Failure(f"{user.name}: not an admin, but sees {theirs['disco_items']['items']}")

    domain = admin.boundjid.domain
    cmd = await run_command(admin, "add-user", {
        "accountjid": f"newcomer@{domain}", "password": "newcomer pw", "password-verify": "newcomer pw"}, timeout)
    if cmd["notes"][0][0] != "info":
        raise Failure(f"{admin.name}: add-user: notes {cmd['notes']}")
    cmd = await run_command(admin, "get-registered-users-num", {}, timeout)
    if cmd["form"]["values"].get("registeredusersnum") != "3":
        raise Failure(f"{admin.name}: registered users {cmd['form']['values']}, want 3")
    cmd = await run_command(admin, "get-online-users-list", {}, timeout)
    online = sorted(str(j) for j in cmd["form"]["values"].get("onlineuserjids", []))
    if online != sorted([admin.boundjid.bare, user.boundjid.bare]):
        raise Failure(f"{admin.name}: online users {online}")

    await run_command(admin, "announce", {"subject": "Maintenance", "announcement": "Back at noon."}, timeout)
    user.stage = "waiting for the announcement"
    try:
        msg = await asyncio.wait_for(asyncio.shield(user.headlines), timeout)
    except asyncio.TimeoutError:
        raise Failure(f"{user.name}: no announcement within {timeout}s") from None
    if msg["from"] != domain or msg["subject"] != "Maintenance" or msg["body"] != "Back at noon.":
        raise Failure(f"{user.name}: got {msg}, want the announcement from {domain}")

    await asyncio.gather(close(admin, timeout), close(user, timeout))


async def run(host, port, jids, passwords, timeout):
    failed = asyncio.get_running_loop().create_future()
    admin = admin_client("admin", jids[0], passwords[0], failed)
    user = admin_client("user", jids[1], passwords[1], failed)
    await drive((admin, user), failed, scenario(admin, user, host, port, timeout / 3), timeout)
    print(f"ok: {admin.boundjid.bare} added an account, counted and listed users and announced to {user.boundjid.bare}")


if __name__ == "__main__":
    sys.exit(main(run))
