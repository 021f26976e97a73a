package caps

import (
	"testing"

	"xmppd/xmlstream"
)

func parse(t *testing.T, s string) *xmlstream.Element {
	t.Helper()
	el, err := xmlstream.ParseElement([]byte(s), xmlstream.Limits{})
	if err != nil {
		t.Fatal(err)
	}
	return el
}

// The examples of XEP-0115 §5.2 and §5.3.
func TestVerificationOfTheSpecExamples(t *testing.T) {
	for _, tc := range []struct{ name, info, want string }{
		{"simple", `<query xmlns='http://jabber.org/protocol/disco#info'>
  <identity category='client' name='Exodus 0.9.1' type='pc'/>
  <feature var='http://jabber.org/protocol/caps'/>
  <feature var='http://jabber.org/protocol/disco#info'/>
  <feature var='http://jabber.org/protocol/disco#items'/>
  <feature var='http://jabber.org/protocol/muc'/>
</query>`, "QgayPKawpkPSDYmwT/WM94uAlu0="},
		{"complex", `<query xmlns='http://jabber.org/protocol/disco#info'>
  <identity xml:lang='en' category='client' name='Psi 0.11' type='pc'/>
  <identity xml:lang='el' category='client' name='Ψ 0.11' type='pc'/>
  <feature var='http://jabber.org/protocol/caps'/>
  <feature var='http://jabber.org/protocol/disco#info'/>
  <feature var='http://jabber.org/protocol/disco#items'/>
  <feature var='http://jabber.org/protocol/muc'/>
  <x xmlns='jabber:x:data' type='result'>
    <field var='FORM_TYPE' type='hidden'><value>urn:xmpp:dataforms:softwareinfo</value></field>
    <field var='ip_version'><value>ipv4</value><value>ipv6</value></field>
    <field var='os'><value>Mac</value></field>
    <field var='os_version'><value>10.5.1</value></field>
    <field var='software'><value>Psi</value></field>
    <field var='software_version'><value>0.11</value></field>
  </x>
</query>`, "q07IKJEyjvHSyhy//CH0CxmKi8w="},
	} {
		got, ok := verification(parse(t, tc.info))
		if !ok || got != tc.want {
			t.Errorf("%s: verification = %q, %v; want %q", tc.name, got, ok, tc.want)
		}
	}
}

// §5.4: an answer listing a feature twice, or two forms of one type, is
// not to be trusted.
func TestVerificationRefusesRepeats(t *testing.T) {
	for _, info := range []string{
		`<query xmlns='http://jabber.org/protocol/disco#info'><identity category='client' type='pc'/><feature var='a'/><feature var='a'/></query>`,
		`<query xmlns='http://jabber.org/protocol/disco#info'><identity category='client' type='pc'/>
		  <x xmlns='jabber:x:data' type='result'><field var='FORM_TYPE'><value>urn:x</value></field></x>
		  <x xmlns='jabber:x:data' type='result'><field var='FORM_TYPE'><value>urn:x</value></field></x></query>`,
	} {
		if ver, ok := verification(parse(t, info)); ok {
			t.Errorf("verification of %s = %q, want it refused", info, ver)
		}
	}
}

// §5.4: a form whose FORM_TYPE is not hidden is left out of the
// verification string, and one whose FORM_TYPE has differing values makes
// the answer untrustworthy.
func TestVerificationOfOddForms(t *testing.T) {
	const simple = `<identity category='client' name='Exodus 0.9.1' type='pc'/>
  <feature var='http://jabber.org/protocol/caps'/>
  <feature var='http://jabber.org/protocol/disco#info'/>
  <feature var='http://jabber.org/protocol/disco#items'/>
  <feature var='http://jabber.org/protocol/muc'/>`
	info := `<query xmlns='http://jabber.org/protocol/disco#info'>` + simple + `
  <x xmlns='jabber:x:data' type='result'>
    <field var='FORM_TYPE'><value>urn:xmpp:dataforms:softwareinfo</value></field>
    <field var='software'><value>Exodus</value></field>
  </x></query>`
	if got, ok := verification(parse(t, info)); !ok || got != "QgayPKawpkPSDYmwT/WM94uAlu0=" {
		t.Errorf("a form whose FORM_TYPE is not hidden: verification = %q, %v; want the string without the form", got, ok)
	}
	info = `<query xmlns='http://jabber.org/protocol/disco#info'>` + simple + `
  <x xmlns='jabber:x:data' type='result'>
    <field var='FORM_TYPE' type='hidden'><value>urn:x</value><value>urn:y</value></field>
  </x></query>`
	if ver, ok := verification(parse(t, info)); ok {
		t.Errorf("a FORM_TYPE with two values: verification = %q, want it refused", ver)
	}
}
