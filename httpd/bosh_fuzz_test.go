package httpd

import (
	"testing"

	"xmppd/xmlstream"
)

// FuzzQuickSID checks that the sid found without parsing is never another
// than the parsed <body/>'s, and that no input makes it panic.
func FuzzQuickSID(f *testing.F) {
	for _, s := range []string{
		"<body xmlns='http://jabber.org/protocol/httpbind' rid='1' sid='abc'/>",
		`<body sid = "x y" rid="2"/>`,
		"<body xsid='no' sid='yes'/>",
		"<body rid='1'>sid='inside'</body>",
		"<body sid='unterminated",
		"<body sid='a&amp;b'/>",
		"<body sid='\r'/>",
		"<body sid='a\tb'/>",
		"sid='x'",
		"sid='",
		"",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		got := quickSID(data)
		body, err := xmlstream.ParseElement(data, xmlstream.Limits{})
		if err != nil || got == "" {
			return
		}
		if want := body.Attr("sid"); got != want {
			t.Fatalf("quickSID(%q) = %q, the parsed body's sid is %q", data, got, want)
		}
	})
}
