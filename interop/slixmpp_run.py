"""The command line of the slixmpp scripts after slixmpp_chat.py.

A script's arguments are the server's host and port and the accounts'
JIDs; the passwords come from XMPPD_INTEROP_PASSWORD1, 2, ... and
XMPPD_INTEROP_TRACE=1 logs every stanza on stderr.
"""

import asyncio
import faulthandler
import logging
import os
import sys

from slixmpp_chat import Failure

# The limit of a whole run, seconds; each wait gets a third of it.
TIMEOUT = 30


def main(run):
    """Run run(host, port, jids, passwords, timeout) with the command
    line's arguments; exit status 0 when it worked, 1 with the reason on
    stdout when it failed."""
    host, port, jids = sys.argv[1], int(sys.argv[2]), sys.argv[3:]
    passwords = [os.environ.get(f"XMPPD_INTEROP_PASSWORD{i + 1}") for i in range(len(jids))]
    if not jids or None in passwords:
        print("FAIL: give host, port and JIDs, and set XMPPD_INTEROP_PASSWORD1, 2, ... for them")
        return 2
    trace = os.environ.get("XMPPD_INTEROP_TRACE") == "1"
    logging.basicConfig(stream=sys.stderr, level=logging.DEBUG if trace else logging.WARNING,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    # Last resort should the event loop itself hang: dump the stacks and exit.
    faulthandler.dump_traceback_later(TIMEOUT + 5, exit=True)
    try:
        asyncio.run(run(host, port, jids, passwords, TIMEOUT))
    except Failure as err:
        print(f"FAIL: {err}")
        return 1
    return 0
