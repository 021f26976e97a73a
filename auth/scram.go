package auth

import (
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"slices"
	"strconv"
	"strings"
)

// The server side of SCRAM (RFC 5802) is written here rather than taken
// from a library so that the server-first message can carry the XEP-0474
// downgrade-protection attribute "h", which the client's proof then
// covers.

// clientFirst is a parsed client-first message (RFC 5802 §7).
type clientFirst struct {
	gs2Header string // "n,,", "y,a=bob,", "p=tls-exporter,," ...
	flag      string // "n", "y" or "p"
	cbType    string // the channel-binding type named by "p="
	authzid   string
	username  string
	nonce     string // the client's nonce
	bare      string // client-first-message-bare
}

// parseClientFirst parses msg. A mandatory extension ("m=") is not
// supported and makes the message malformed, as do any other deviations
// from the grammar; extensions after the nonce are ignored.
func parseClientFirst(msg string) (clientFirst, bool) {
	var c clientFirst
	flag, rest, ok := strings.Cut(msg, ",")
	if !ok {
		return c, false
	}
	switch {
	case flag == "n" || flag == "y":
		c.flag = flag
	case strings.HasPrefix(flag, "p=") && isCBName(flag[2:]):
		c.flag, c.cbType = "p", flag[2:]
	default:
		return c, false
	}
	authzid, bare, ok := strings.Cut(rest, ",")
	if !ok {
		return c, false
	}
	if authzid != "" {
		name, ok := strings.CutPrefix(authzid, "a=")
		if !ok {
			return c, false
		}
		if c.authzid, ok = decodeSASLName(name); !ok {
			return c, false
		}
	}
	c.gs2Header, c.bare = msg[:len(msg)-len(bare)], bare
	fields := strings.SplitN(bare, ",", 3)
	if len(fields) < 2 {
		return c, false
	}
	name, ok := strings.CutPrefix(fields[0], "n=")
	if !ok {
		return c, false
	}
	if c.username, ok = decodeSASLName(name); !ok {
		return c, false
	}
	c.nonce, ok = strings.CutPrefix(fields[1], "r=")
	return c, ok && isPrintable(c.nonce)
}

// clientFinal is a parsed client-final message.
type clientFinal struct {
	binding      []byte // c=, decoded
	nonce        string
	withoutProof string // client-final-message-without-proof
	proof        []byte
}

// parseClientFinal parses msg; extensions between the nonce and the
// proof are ignored.
func parseClientFinal(msg string) (clientFinal, bool) {
	var c clientFinal
	i := strings.LastIndex(msg, ",p=")
	if i < 0 {
		return c, false
	}
	var err error
	if c.proof, err = base64.StdEncoding.DecodeString(msg[i+3:]); err != nil {
		return c, false
	}
	c.withoutProof = msg[:i]
	fields := strings.SplitN(c.withoutProof, ",", 3)
	if len(fields) < 2 {
		return c, false
	}
	b, ok := strings.CutPrefix(fields[0], "c=")
	if !ok {
		return c, false
	}
	if c.binding, err = base64.StdEncoding.DecodeString(b); err != nil {
		return c, false
	}
	c.nonce, ok = strings.CutPrefix(fields[1], "r=")
	return c, ok
}

// decodeSASLName decodes a saslname, which has no ",": "=2C" is "," and
// "=3D" is "=", and no other "=" may appear.
func decodeSASLName(s string) (string, bool) {
	if s == "" {
		return "", false
	}
	if !strings.Contains(s, "=") {
		return s, true
	}
	var b strings.Builder
	for s != "" {
		before, after, found := strings.Cut(s, "=")
		b.WriteString(before)
		if !found {
			break
		}
		switch {
		case strings.HasPrefix(after, "2C"):
			b.WriteByte(',')
		case strings.HasPrefix(after, "3D"):
			b.WriteByte('=')
		default:
			return "", false
		}
		s = after[2:]
	}
	return b.String(), true
}

// isPrintable reports whether s is a non-empty run of printable ASCII
// without ",", the alphabet of a SCRAM nonce.
func isPrintable(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < 0x21 || s[i] > 0x7e || s[i] == ',' {
			return false
		}
	}
	return s != ""
}

// isCBName reports whether s is a channel-binding type name (RFC 5056:
// letters, digits, "." and "-").
func isCBName(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '.' || c == '-') {
			return false
		}
	}
	return s != ""
}

// serverFirst returns the server-first message for the client's nonce,
// with a fresh server nonce appended, and the combined nonce. ssdp, when
// set, is sent as the XEP-0474 attribute h.
func serverFirst(clientNonce string, c Credential, ssdp string) (msg, nonce string) {
	var b [18]byte
	rand.Read(b[:])
	nonce = clientNonce + base64.StdEncoding.EncodeToString(b[:])
	msg = "r=" + nonce + ",s=" + base64.StdEncoding.EncodeToString(c.Salt) + ",i=" + strconv.Itoa(c.Iterations)
	if ssdp != "" {
		msg += ",h=" + ssdp
	}
	return msg, nonce
}

// verifyProof checks the client's proof over authMessage against the
// stored key (RFC 5802 §3) and returns the server's signature for the
// server-final message.
func verifyProof(h *hashInfo, c Credential, authMessage string, proof []byte) (serverSignature []byte, ok bool) {
	if len(proof) != h.size {
		return nil, false
	}
	clientKey := hmacSum(h.new, c.StoredKey, []byte(authMessage))
	subtle.XORBytes(clientKey, clientKey, proof)
	sum := h.new()
	sum.Write(clientKey)
	if subtle.ConstantTimeCompare(sum.Sum(nil), c.StoredKey) != 1 {
		return nil, false
	}
	return hmacSum(h.new, c.ServerKey, []byte(authMessage)), true
}

// ssdpHash is the XEP-0474 hash, base64-encoded, of the offered
// mechanisms and of the channel-binding types announced with XEP-0440
// (none when bindings is empty), with the hash of h.
func ssdpHash(h *hashInfo, mechs, bindings []string) string {
	s := strings.Join(slices.Sorted(slices.Values(mechs)), "\x1e")
	if len(bindings) > 0 {
		s += "\x1f" + strings.Join(slices.Sorted(slices.Values(bindings)), "\x1e")
	}
	sum := h.new()
	sum.Write([]byte(s))
	return base64.StdEncoding.EncodeToString(sum.Sum(nil))
}
