// Logs in to xmppd twice with xmpp.js (@xmpp/client) as one client (one
// SASL2 user agent id): first with the password, when xmpp.js asks for a
// FAST token (XEP-0484), then with a wrong password, so that only the
// token (HT-SHA-256-NONE) can log it in; then it chats with a peer the Go
// test drives.
//
// Usage: node fast.mjs <port> <user> <peer JID>; the password is in
// XMPPD_INTEROP_PASSWORD, the server's certificate in NODE_EXTRA_CA_CERTS.
// Prints one JSON line with what it saw and exits 0, or prints the error
// and exits 1.
import { client, xml } from "@xmpp/client";

const [port, username, peer] = process.argv.slice(2);
const userAgent = xml("user-agent", { id: "0b9c7a52-6d1e-4f1a-9a4e-6a0d3c2f8e11" }, xml("software", {}, "xmppd interop"));

const fail = (err) => {
  console.log(`failed: ${err?.stack ?? err}`);
  process.exit(1);
};
setTimeout(() => fail("timed out"), 20000).unref();

// The token xmpp.js keeps between the two logins.
let saved = null;

function connect(password) {
  const xmpp = client({
    service: `xmpp://127.0.0.1:${port}`,
    domain: "localhost",
    username,
    password,
    resource: "fast",
    userAgent,
  });
  xmpp.reconnect.stop();
  xmpp.fast.saveToken = async (token) => {
    saved = token;
  };
  xmpp.fast.fetchToken = async () => saved;
  xmpp.on("error", fail);
  return xmpp;
}

const first = connect(process.env.XMPPD_INTEROP_PASSWORD);
await first.start().catch(fail);
const token = saved;
if (!token?.token) fail("no FAST token after the password login");
await first.stop();

const second = connect("not the password");
second.on("stanza", async (st) => {
  if (!st.is("message") || st.attrs.from?.split("/")[0] !== peer) return;
  console.log(
    JSON.stringify({
      mechanism: token.mechanism,
      expiry: token.expiry,
      jid: second.jid.toString(),
      reply: st.getChildText("body"),
    }),
  );
  await second.stop();
  process.exit(0);
});
await second.start().catch(fail);
await second.send(xml("presence"));
await second.send(xml("message", { to: peer, type: "chat", id: "f1" }, xml("body", {}, "hello over FAST")));
