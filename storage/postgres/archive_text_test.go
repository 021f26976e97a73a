package postgres_test

import (
	"testing"

	"xmppd/storage/postgres"
)

// BenchmarkArchiveTerms measures the Go side of archiving a body: its
// words, tagged with the owner, as a tsvector.
func BenchmarkArchiveTerms(b *testing.B) {
	for _, bc := range []struct{ name, body string }{
		{"ascii", "Wherefore art thou Romeo? Deny thy father and refuse thy name; or, if thou wilt not, be but sworn my love"},
		{"latin", "Die Straße ist nass, aber das Café hat geöffnet: wir sehen uns um halb neun vor der Tür"},
		{"cyrillic", "Привет, как дела? Увидимся завтра в кафе на углу, если не будет дождя"},
		{"cjk", "明天见，今日はいい天気ですね、天気予報を見た"},
	} {
		b.Run(bc.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				postgres.ArchiveTerms("example.org", "juliet", bc.body)
			}
		})
	}
}
