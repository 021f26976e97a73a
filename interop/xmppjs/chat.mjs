// Logs in to xmppd with xmpp.js (@xmpp/client), which uses SASL2 (XEP-0388)
// and Bind 2 (XEP-0386) with stream management enabled inline when the
// server offers them, then chats with a peer the Go test drives.
//
// Usage: node chat.mjs <port> <user> <peer JID>; the password is in
// XMPPD_INTEROP_PASSWORD, the server's certificate in NODE_EXTRA_CA_CERTS.
// Prints one JSON line with what it saw and exits 0, or prints the error
// and exits 1.
import { client, xml } from "@xmpp/client";

const [port, username, peer] = process.argv.slice(2);
const xmpp = client({
  service: `xmpp://127.0.0.1:${port}`,
  domain: "localhost",
  username,
  password: process.env.XMPPD_INTEROP_PASSWORD,
  resource: "xmppjs",
});
xmpp.reconnect.stop();

const fail = (err) => {
  console.log(`failed: ${err?.stack ?? err}`);
  process.exit(1);
};
xmpp.on("error", fail);
setTimeout(() => fail("timed out"), 20000).unref();

let mechanism = "";
xmpp.on("nonza", (el) => {
  if (el.is("success", "urn:xmpp:sasl:2")) mechanism = "SASL2";
});

xmpp.on("stanza", async (st) => {
  if (!st.is("message") || st.attrs.from?.split("/")[0] !== peer) return;
  const reply = st.getChildText("body");
  console.log(
    JSON.stringify({
      jid: xmpp.jid.toString(),
      sasl: mechanism,
      sm: xmpp.streamManagement.enabled,
      smID: xmpp.streamManagement.id,
      reply,
    }),
  );
  await xmpp.stop();
  process.exit(0);
});

xmpp.on("online", async () => {
  await xmpp.send(xml("presence"));
  await xmpp.send(
    xml("message", { to: peer, type: "chat", id: "x1" }, xml("body", {}, "hello from xmpp.js")),
  );
});

xmpp.start().catch(fail);
