package xmlstream

import (
	"encoding/xml"
	"strings"
	"testing"
)

func TestRoundTrip(t *testing.T) {
	tests := []string{
		`<a/>`,
		`<message xmlns='jabber:client' to='juliet@example.com' type='chat' xml:lang='en'><body>Hi &amp; bye</body></message>`,
		`<iq xmlns='jabber:client' type='result' id='x'><query xmlns='jabber:iq:roster' ver='1'><item jid='a@b' name='&lt;A&gt;'><group>G</group></item></query></iq>`,
		`<p xmlns='urn:x'>Hello <b>world</b>!</p>`,
		`<a xmlns:p='urn:p' xmlns:q='urn:q' p:x='1' q:x='2' x='3'><b p:y='4'/></a>`,
		`<a xmlns='urn:a'><b xmlns=''><c xmlns='urn:a'/></b></a>`,
		`<a b="'&quot;" c='&#9;&#10;&#13;'>` + "\ttab\nline\r\ncr" + `</a>`,
		`<a>&#xD;&#13;</a>`,
		`<a><![CDATA[<x>&]]></a>`,
		`<a> <b/> <c> </c> </a>`,
		"<a>\u00e9\u4e2d\U0001F600\ufffd\u007f</a>",
		`<a xml:space='preserve' xml:lang='de'/>`,
		`<stream:features xmlns:stream='http://etherx.jabber.org/streams'><mechanisms xmlns='urn:ietf:params:xml:ns:xmpp-sasl'><mechanism>PLAIN</mechanism></mechanisms></stream:features>`,
	}
	for _, in := range tests {
		t.Run(in, func(t *testing.T) {
			e, err := ParseElement([]byte(in), Limits{})
			if err != nil {
				t.Fatal(err)
			}
			out := e.String()
			e2, err := ParseElement([]byte(out), Limits{})
			if err != nil {
				t.Fatalf("reparse %s: %v", out, err)
			}
			if !e.Equal(e2) {
				t.Fatalf("round trip changed the tree:\n%#v\n%#v", e, e2)
			}
			if out2 := e2.String(); out2 != out {
				t.Errorf("serialisation not stable:\n%s\n%s", out, out2)
			}
		})
	}
}

func TestAppend(t *testing.T) {
	msg := NewElement("jabber:client", "message", "to", "a@b", "type", "chat").
		AddChild(NewElement("jabber:client", "body").AddText("hi")).
		AddChild(NewElement("http://jabber.org/protocol/chatstates", "active"))
	tests := []struct {
		name     string
		el       *Element
		parentNS string
		want     string
	}{
		{"namespace declared", msg, "", `<message xmlns='jabber:client' to='a@b' type='chat'><body>hi</body><active xmlns='http://jabber.org/protocol/chatstates'/></message>`},
		{"namespace inherited from stream", msg, "jabber:client", `<message to='a@b' type='chat'><body>hi</body><active xmlns='http://jabber.org/protocol/chatstates'/></message>`},
		{"no namespace under a default", NewElement("", "x"), "jabber:client", `<x xmlns=''/>`},
		{"no namespace", NewElement("", "x"), "", `<x/>`},
		{
			"attribute escaping",
			NewElement("", "x", "a", `<&>'"`+"\t\n\r"),
			"", `<x a='&lt;&amp;&gt;&apos;&quot;&#x9;&#xA;&#xD;'/>`,
		},
		{
			"text escaping",
			NewElement("", "x").AddText(`<&>'"` + "\t\n\r]]>"),
			"", "<x>&lt;&amp;&gt;'\"\t\n&#xD;]]&gt;</x>",
		},
		{
			"invalid characters dropped",
			NewElement("", "x", "a", "1\x002\x1b3\xff4\ufffe5\uffff6").AddText("a\x00b\x08c\xc3d\ufffee\uffff\ud7ff\ue000\U0010FFFF"),
			"", "<x a='123456'>abcde\ud7ff\ue000\U0010FFFF</x>",
		},
		{
			"namespaced attributes",
			&Element{
				Name: xml.Name{Space: "urn:e", Local: "e"},
				Attrs: []xml.Attr{
					{Name: xml.Name{Space: "urn:p", Local: "x"}, Value: "1"},
					{Name: xml.Name{Space: "xml", Local: "lang"}, Value: "en"},
					{Name: xml.Name{Space: "urn:q", Local: "x"}, Value: "2"},
					{Name: xml.Name{Space: "urn:p", Local: "y"}, Value: "3"},
					{Name: xml.Name{Space: NSXML, Local: "space"}, Value: "preserve"},
					{Name: xml.Name{Local: "xmlns"}, Value: "urn:ignored"},
					{Name: xml.Name{Space: "xmlns", Local: "p"}, Value: "urn:ignored"},
				},
			},
			"urn:e", `<e xmlns:a0='urn:p' a0:x='1' xml:lang='en' xmlns:a1='urn:q' a1:x='2' a0:y='3' xml:space='preserve'/>`,
		},
		{
			"empty text child",
			&Element{Name: xml.Name{Local: "x"}, Children: []Node{Text("")}},
			"", `<x></x>`,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := string(tt.el.Append([]byte("prefix:"), tt.parentNS))
			if got != "prefix:"+tt.want {
				t.Errorf("got  %s\nwant prefix:%s", got, tt.want)
			}
			// Whatever the input, the output parses.
			if _, err := ParseElement([]byte(got[len("prefix:"):]), Limits{}); err != nil {
				t.Errorf("output does not parse: %v", err)
			}
		})
	}
}

func TestElementHelpers(t *testing.T) {
	e := NewElement("jabber:client", "message", "to", "a@b", "from", "", "type", "chat")
	if len(e.Attrs) != 2 || e.Attr("to") != "a@b" || e.Attr("from") != "" {
		t.Errorf("NewElement attrs = %v", e.Attrs)
	}
	e.SetAttr("type", "normal")
	e.SetAttr("id", "1")
	e.SetAttr("to", "")
	e.SetAttrNS("xml", "lang", "en")
	if got := e.String(); got != `<message xmlns='jabber:client' type='normal' id='1' xml:lang='en'/>` {
		t.Errorf("after SetAttr: %s", got)
	}
	if e.Lang() != "en" {
		t.Errorf("Lang = %q", e.Lang())
	}

	body := NewElement("jabber:client", "body").AddText("a").AddText("").AddText("b")
	if len(body.Children) != 1 || body.Text() != "ab" {
		t.Errorf("AddText children = %#v", body.Children)
	}
	x := NewElement("urn:x", "x")
	e.AddChild(body).AddChild(x)
	e.AddText("tail")
	if e.Child("", "body") != body || e.Child("jabber:client", "body") != body || e.Child("urn:x", "body") != nil || e.Child("", "x") != x {
		t.Error("Child lookup wrong")
	}
	if e.FirstChildElement() != body {
		t.Error("FirstChildElement wrong")
	}
	if cs := e.ChildElements(); len(cs) != 2 || cs[0] != body || cs[1] != x {
		t.Errorf("ChildElements = %v", cs)
	}
	if e.Text() != "tail" {
		t.Errorf("Text = %q", e.Text())
	}
	mixed := &Element{Children: []Node{Text("a"), NewElement("", "b"), Text("c"), Text("d")}}
	if mixed.Text() != "acd" {
		t.Errorf("Text of mixed content = %q", mixed.Text())
	}

	c := e.Copy()
	if !c.Equal(e) || c.String() != e.String() {
		t.Fatal("Copy differs")
	}
	c.SetAttr("id", "2")
	c.Child("", "body").AddText("c")
	c.Child("", "x").SetAttr("y", "z")
	if e.Attr("id") != "1" || body.Text() != "ab" || x.Attr("y") != "" {
		t.Error("changing the copy changed the original")
	}

	defer func() {
		if recover() == nil {
			t.Error("NewElement with an odd attribute list did not panic")
		}
	}()
	//lint:ignore SA5012 the panic on an odd list is what is tested
	NewElement("", "x", "a")
}

func TestEqual(t *testing.T) {
	a := func() *Element {
		return &Element{
			Name:     xml.Name{Space: "u", Local: "a"},
			Attrs:    []xml.Attr{{Name: xml.Name{Local: "x"}, Value: "1"}, {Name: xml.Name{Local: "y"}, Value: "2"}},
			Children: []Node{Text("ab"), &Element{Name: xml.Name{Local: "b"}}},
		}
	}
	tests := []struct {
		name   string
		change func(*Element)
		equal  bool
	}{
		{"same", func(*Element) {}, true},
		{"attribute order", func(e *Element) { e.Attrs[0], e.Attrs[1] = e.Attrs[1], e.Attrs[0] }, true},
		{"split text", func(e *Element) { e.Children = append([]Node{Text("a"), Text(""), Text("b")}, e.Children[1:]...) }, true},
		{"attribute value", func(e *Element) { e.Attrs[0].Value = "3" }, false},
		{"attribute namespace", func(e *Element) { e.Attrs[0].Name.Space = "v" }, false},
		{"missing attribute", func(e *Element) { e.Attrs = e.Attrs[:1] }, false},
		{"name", func(e *Element) { e.Name.Space = "v" }, false},
		{"text", func(e *Element) { e.Children[0] = Text("ac") }, false},
		{"child", func(e *Element) { e.Children[1].(*Element).Name.Local = "c" }, false},
		{"extra child", func(e *Element) { e.AddText("x") }, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b := a()
			tt.change(b)
			if a().Equal(b) != tt.equal || b.Equal(a()) != tt.equal {
				t.Errorf("Equal = %v, want %v", !tt.equal, tt.equal)
			}
		})
	}
	var nilEl *Element
	if !nilEl.Equal(nil) || nilEl.Equal(a()) || a().Equal(nil) {
		t.Error("Equal with nil wrong")
	}
}

func TestAppendDoesNotEscapeMore(t *testing.T) {
	s := strings.Repeat("plain text ", 10)
	got := string(appendEscaped(nil, s, true))
	if got != s {
		t.Errorf("appendEscaped changed plain text: %q", got)
	}
}

// An element whose children were encoded once serialises exactly as
// before, also as a readdressed copy, and forgets the bytes when a child
// is added.
func TestEncodeChildren(t *testing.T) {
	msg := NewElement("jabber:client", "message", "from", "room@muc/nick", "type", "groupchat").
		AddChild(NewElement("jabber:client", "body").AddText("a < b & 'c'")).
		AddChild(NewElement("urn:xmpp:sid:0", "stanza-id", "id", "7"))
	want := string(msg.Append(nil, "jabber:client"))
	msg.EncodeChildren()
	if got := string(msg.Append(nil, "jabber:client")); got != want {
		t.Fatalf("with encoded children:\n%s\nwant\n%s", got, want)
	}
	c := msg.Readdressed("to", "juliet@localhost/r")
	wantCopy := string(NewElement("jabber:client", "message", "from", "room@muc/nick", "type", "groupchat", "to", "juliet@localhost/r").
		AddChild(NewElement("jabber:client", "body").AddText("a < b & 'c'")).
		AddChild(NewElement("urn:xmpp:sid:0", "stanza-id", "id", "7")).Append(nil, "jabber:client"))
	if got := string(c.Append(nil, "jabber:client")); got != wantCopy || msg.Attr("to") != "" {
		t.Fatalf("readdressed:\n%s\nwant\n%s", got, wantCopy)
	}
	if c.Child("jabber:client", "body") == nil {
		t.Fatal("the children of a readdressed copy are not readable")
	}
	c.AddChild(NewElement("urn:xmpp:delay", "delay"))
	if got := string(c.Append(nil, "jabber:client")); !strings.Contains(got, "<delay xmlns='urn:xmpp:delay'/>") {
		t.Fatalf("a child added after EncodeChildren is missing: %s", got)
	}
}

// BenchmarkBroadcastEncode serialises one room message for 100
// recipients, with and without EncodeChildren.
func BenchmarkBroadcastEncode(b *testing.B) {
	msg := NewElement("jabber:client", "message", "from", "room@conference.localhost/nick", "type", "groupchat", "id", "abc").
		AddChild(NewElement("jabber:client", "body").AddText(strings.Repeat("hello world ", 10))).
		AddChild(NewElement("urn:xmpp:sid:0", "stanza-id", "by", "room@conference.localhost", "id", "123456")).
		AddChild(NewElement("urn:xmpp:occupant-id:0", "occupant-id", "id", "CNdUMd1HZcXtVnxi5uolYNM5bP6DtjneRxTfIH7jeW0"))
	for _, encoded := range []bool{false, true} {
		b.Run(map[bool]string{false: "each", true: "once"}[encoded], func(b *testing.B) {
			buf := make([]byte, 0, 1024)
			for b.Loop() {
				m := msg.Copy()
				if encoded {
					m.EncodeChildren()
				}
				for range 100 {
					buf = m.Readdressed("to", "user@localhost/resource").Append(buf[:0], "jabber:client")
				}
			}
		})
	}
}

func TestWithout(t *testing.T) {
	const in = `<message xmlns='jabber:client' to='a@b'><body>hi</body><private xmlns='urn:xmpp:carbons:2'/><x xmlns='urn:x'><private xmlns='urn:xmpp:carbons:2'/></x></message>`
	el, err := ParseElement([]byte(in), Limits{})
	if err != nil {
		t.Fatal(err)
	}
	if got := el.Without("urn:other", "private"); got != el {
		t.Errorf("Without a name e lacks returned a copy")
	}
	got := el.Without("urn:xmpp:carbons:2", "private")
	// Only direct children go; e itself is unchanged.
	if want := `<message xmlns='jabber:client' to='a@b'><body>hi</body><x xmlns='urn:x'><private xmlns='urn:xmpp:carbons:2'/></x></message>`; string(got.Append(nil, "")) != want {
		t.Errorf("Without = %s; want %s", got.Append(nil, ""), want)
	}
	if string(el.Append(nil, "")) != in {
		t.Errorf("Without changed e to %s", el.Append(nil, ""))
	}
}
