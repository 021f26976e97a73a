#!/usr/bin/python3
"""Upload a file to xmppd with slixmpp's HTTP File Upload (XEP-0363).

One client logs in as slixmpp_chat.py's do, finds the upload service in
the server's disco#items by its store/file identity, reads the largest
file size from its disco#info form, has slixmpp upload a file of random bytes (slot
request, then an HTTP PUT with aiohttp), downloads it from the GET URL and
compares; a file one byte over the announced limit must be refused by
slixmpp itself (FileTooBig), which proves the limit was read. The client
then closes its stream.

Exit status: 0 when everything worked, 1 with the reason on stdout.
"""

import asyncio
import io
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from slixmpp_chat import Client, Failure, close, drive, step  # noqa: E402
from slixmpp_run import main  # noqa: E402

import aiohttp  # noqa: E402
from slixmpp.plugins.xep_0363.http_upload import FileTooBig  # noqa: E402


async def discover(c, timeout):
    """Find the upload service as slixmpp's find_upload_service would.

    slixmpp 1.8.3's own discovery passes coroutines to asyncio.wait, which
    Python 3.11 refuses, so the script looks through the server's
    disco#items itself and hands slixmpp the service and its limit.
    """
    disco = c["xep_0030"]
    domain = c.boundjid.domain
    items = await step(c, f"disco#items {domain}", disco.get_items(jid=domain, timeout=timeout), timeout)
    for jid, _node, _name in items["disco_items"]["items"]:
        info = await step(c, f"disco#info {jid}", disco.get_info(jid=jid, local=False, cached=False, timeout=timeout), timeout)
        identities = info["disco_info"]["identities"]
        if not any(cat == "store" and typ == "file" for cat, typ, _lang, _name in identities):
            continue
        if "urn:xmpp:http:upload:0" not in info["disco_info"]["features"]:
            raise Failure(f"{c.name}: {jid} is a store/file service without urn:xmpp:http:upload:0")
        for form in info["disco_info"].iterables:
            values = form["values"]
            if values.get("FORM_TYPE") == ["urn:xmpp:http:upload:0"]:
                c["xep_0363"].upload_service = jid
                c["xep_0363"].max_file_size = int(values["max-file-size"])
                return
        raise Failure(f"{c.name}: {jid} announces no max-file-size")
    raise Failure(f"{c.name}: no upload service among the items of {domain}")


async def scenario(c, host, port, timeout):
    c.connect((host, port), force_starttls=True)
    await c.session.wait()
    await discover(c, timeout)
    data = os.urandom(300_000)
    url = await step(c, "upload a file", c["xep_0363"].upload_file(
        "photo.jpg", size=len(data), input_file=io.BytesIO(data), domain=c.boundjid.domain, timeout=timeout), timeout)
    c.stage = f"download {url}"
    async with aiohttp.ClientSession() as session:
        async with session.get(url, timeout=aiohttp.ClientTimeout(total=timeout)) as resp:
            got = await resp.read()
            if resp.status != 200 or got != data:
                raise Failure(f"{c.name}: GET {url}: {resp.status} with {len(got)} bytes, want the {len(data)} put")
            if resp.headers.get("Content-Type") != "image/jpeg":
                raise Failure(f"{c.name}: GET {url}: Content-Type {resp.headers.get('Content-Type')}, want image/jpeg")
    limit = c["xep_0363"].max_file_size
    c.stage = f"upload {limit + 1} bytes"
    try:
        await c["xep_0363"].upload_file("big.bin", size=limit + 1, input_file=io.BytesIO(b""), timeout=timeout)
    except FileTooBig:
        pass
    else:
        raise Failure(f"{c.name}: a file over the announced limit of {limit} bytes was not refused")
    await close(c, timeout)
    return url, limit


async def run(host, port, jids, passwords, timeout):
    failed = asyncio.get_running_loop().create_future()
    c = Client("client", jids[0], passwords[0], "SCRAM-SHA-256", failed)
    c.register_plugin("xep_0363")
    url, limit = await drive((c,), failed, scenario(c, host, port, timeout / 3), timeout)
    print(f"ok: {c.boundjid} uploaded and downloaded {url}; the limit of {limit} bytes was announced")


if __name__ == "__main__":
    sys.exit(main(run))
