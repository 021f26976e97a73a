package xmlstream

import (
	"io"
	"testing"
)

const benchMessage = `<message to='juliet@example.com' from='romeo@example.net/orchard' type='chat' id='5b7b5bc4-0d0b-4e4a-9d43-a1c2c0f5c5d1' xml:lang='en'><body>Art thou not Romeo, and a Montague? Neither, fair saint, if either thee dislike.</body><active xmlns='http://jabber.org/protocol/chatstates'/><origin-id xmlns='urn:xmpp:sid:0' id='5b7b5bc4-0d0b-4e4a-9d43-a1c2c0f5c5d1'/></message>`

// loopReader returns head once and then body over and over.
type loopReader struct {
	head, body string
	off        int
}

func (r *loopReader) Read(p []byte) (int, error) {
	if r.head != "" {
		n := copy(p, r.head)
		r.head = r.head[n:]
		return n, nil
	}
	n := 0
	for n < len(p) {
		k := copy(p[n:], r.body[r.off:])
		n += k
		r.off = (r.off + k) % len(r.body)
	}
	return n, nil
}

var _ io.Reader = (*loopReader)(nil)

func BenchmarkReadElement(b *testing.B) {
	d := NewDecoder(&loopReader{head: testHeader, body: benchMessage + "\n"}, Limits{})
	if _, err := d.ReadHeader(); err != nil {
		b.Fatal(err)
	}
	b.SetBytes(int64(len(benchMessage) + 1))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := d.ReadElement(); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkParseElement(b *testing.B) {
	data := []byte(`<message xmlns='jabber:client'` + benchMessage[len(`<message`):])
	b.SetBytes(int64(len(data)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := ParseElement(data, Limits{}); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkAppend(b *testing.B) {
	e, err := ParseElement([]byte(`<message xmlns='jabber:client'`+benchMessage[len(`<message`):]), Limits{})
	if err != nil {
		b.Fatal(err)
	}
	buf := e.Append(nil, "jabber:client")
	b.SetBytes(int64(len(buf)))
	b.ReportAllocs()
	for b.Loop() {
		buf = e.Append(buf[:0], "jabber:client")
	}
}
