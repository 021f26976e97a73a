package proxy65

import (
	"encoding/hex"
	"errors"
	"io"
	"slices"
)

// SOCKS5 (RFC 1928) as XEP-0065 uses it.
const (
	socksVersion = 5
	noAuth       = 0x00
	noMethod     = 0xff
	cmdConnect   = 1
	atypDomain   = 3
	replyOK      = 0
	replyFailure = 1
	replyCommand = 7  // command not supported
	replyAtyp    = 8  // address type not supported
	hashLen      = 40 // hex SHA-1, the bytestream's address
)

// handshake reads the client's greeting, answers it, and reads its
// CONNECT request (RFC 1928 §3, §4; XEP-0065 §5.3.2), and returns the
// address it names. A request it cannot take is answered with a failure.
func handshake(c *conn) (string, error) {
	var head [2]byte
	if _, err := io.ReadFull(c.r, head[:]); err != nil {
		return "", err
	}
	if head[0] != socksVersion {
		return "", errors.New("not SOCKS5")
	}
	methods := make([]byte, head[1])
	if _, err := io.ReadFull(c.r, methods); err != nil {
		return "", err
	}
	if !slices.Contains(methods, noAuth) {
		c.Write([]byte{socksVersion, noMethod})
		return "", errors.New("SOCKS5 with authentication")
	}
	if _, err := c.Write([]byte{socksVersion, noAuth}); err != nil {
		return "", err
	}
	var req [5]byte // VER CMD RSV ATYP LEN
	if _, err := io.ReadFull(c.r, req[:]); err != nil {
		return "", err
	}
	fail := func(code byte, why string) (string, error) {
		reply(c, code, "")
		return "", errors.New(why)
	}
	switch {
	case req[0] != socksVersion:
		return fail(replyFailure, "not SOCKS5")
	case req[1] != cmdConnect:
		return fail(replyCommand, "not a CONNECT")
	case req[3] != atypDomain || req[4] != hashLen:
		return fail(replyAtyp, "not a bytestream's address")
	}
	rest := make([]byte, hashLen+2) // the address and the port, 0
	if _, err := io.ReadFull(c.r, rest); err != nil {
		return "", err
	}
	addr := string(rest[:hashLen])
	if _, err := hex.DecodeString(addr); err != nil {
		return fail(replyAtyp, "the address is not a hex SHA-1")
	}
	return addr, nil
}

// reply answers a CONNECT request with code, and with the bytestream's
// address and port 0 as the bound address (RFC 1928 §6; XEP-0065 §5.3.2);
// without an address, with the IPv4 address 0.0.0.0.
func reply(c *conn, code byte, addr string) error {
	b := []byte{socksVersion, code, 0, 1, 0, 0, 0, 0, 0, 0}
	if addr != "" {
		b = append([]byte{socksVersion, code, 0, atypDomain, byte(len(addr))}, addr...)
		b = append(b, 0, 0)
	}
	_, err := c.Write(b)
	return err
}
