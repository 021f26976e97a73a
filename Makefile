# xmppd — the two commands: `make run` and `make test`.
GO          ?= go
STATICCHECK ?= $(GO) run honnef.co/go/tools/cmd/staticcheck@v0.7.0
CONFIG      ?= $(wildcard xmppd.toml)
FUZZTIME    ?= 60s

.PHONY: build run test test-go fuzz-smoke bench-smoke lint fuzz bench mam-scale bench-compare clean

build:
	$(GO) build -o xmppd ./cmd/xmppd

# Runs xmppd with xmppd.toml if present, else the defaults (localhost,
# self-signed certificate, private PostgreSQL under ./data).
run: build
	./xmppd $(if $(CONFIG),-c $(CONFIG)) serve

# Every test, against real PostgreSQL (a private one the tests start
# themselves unless XMPPD_TEST_DATABASE_URL is set), plus brief fuzzing and
# one pass of each benchmark so they keep working.
test: lint test-go fuzz-smoke bench-smoke

test-go:
	$(GO) test -count=1 -timeout 15m ./...

# Counts, not durations: a -fuzztime duration can end with a spurious
# "context deadline exceeded" when a worker is busy at the deadline.
fuzz-smoke:
	$(GO) test -run '^$$' -fuzz '^FuzzDecoder$$' -fuzztime 200000x ./xmlstream/
	$(GO) test -run '^$$' -fuzz '^FuzzParseElement$$' -fuzztime 100000x ./xmlstream/
	$(GO) test -run '^$$' -fuzz '^FuzzStream$$' -fuzztime 10000x ./c2s/
	$(GO) test -run '^$$' -fuzz '^FuzzExchange$$' -fuzztime 50000x ./auth/
	$(GO) test -run '^$$' -fuzz '^FuzzPhraseMatchesTerms$$' -fuzztime 100000x ./mam/fulltext/
	$(GO) test -run '^$$' -fuzz '^FuzzQuickSID$$' -fuzztime 30000x ./httpd/
	$(GO) test -run '^$$' -fuzz '^FuzzIQ$$' -fuzztime 3000x ./server/
	$(GO) test -run '^$$' -fuzz '^FuzzStanza$$' -fuzztime 3000x ./server/

bench-smoke:
	$(GO) test -run '^$$' -bench . -benchtime 1x ./...

lint:
	@unformatted=$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go')); \
	if [ -n "$$unformatted" ]; then echo "gofmt needed: $$unformatted"; exit 1; fi
	$(GO) vet ./...
	$(STATICCHECK) ./...

fuzz:
	$(GO) test -run '^$$' -fuzz '^FuzzDecoder$$' -fuzztime $(FUZZTIME) ./xmlstream/
	$(GO) test -run '^$$' -fuzz '^FuzzParseElement$$' -fuzztime $(FUZZTIME) ./xmlstream/
	$(GO) test -run '^$$' -fuzz '^FuzzStream$$' -fuzztime $(FUZZTIME) ./c2s/
	$(GO) test -run '^$$' -fuzz '^FuzzExchange$$' -fuzztime $(FUZZTIME) ./auth/
	$(GO) test -run '^$$' -fuzz '^FuzzPhraseMatchesTerms$$' -fuzztime $(FUZZTIME) ./mam/fulltext/
	$(GO) test -run '^$$' -fuzz '^FuzzQuickSID$$' -fuzztime $(FUZZTIME) ./httpd/
	$(GO) test -run '^$$' -fuzz '^FuzzIQ$$' -fuzztime $(FUZZTIME) ./server/
	$(GO) test -run '^$$' -fuzz '^FuzzStanza$$' -fuzztime $(FUZZTIME) ./server/

bench:
	$(GO) test -run '^$$' -bench . -benchmem -count 5 ./...

# The archive at scale (docs/archive.md, "Measured at scale"): fills a
# dedicated database on the machine's PostgreSQL with MAM_TOTAL rows,
# MAM_TARGET of them one account's, measures pages, full-text searches and
# writes (fsync as configured there), writes mam-scale.json, and drops the
# database. About 15 minutes at the default size; bounded by -timeout.
# The figures in the docs need the settings listed there (shared_buffers,
# huge pages for shared memory); mam-scale.json records them.
# Quick check: make mam-scale MAM_TARGET=20000 MAM_TOTAL=200000
MAM_HOST   ?= 127.0.0.1
MAM_DB     ?= xmppd_mam
MAM_TARGET ?= 1000000
MAM_TOTAL  ?= 10000000

mam-scale:
	createdb -h $(MAM_HOST) -U postgres $(MAM_DB)
	$(GO) run ./cmd/mamfill -db 'postgres://postgres@$(MAM_HOST):5432/$(MAM_DB)?sslmode=disable' \
		-target $(MAM_TARGET) -total $(MAM_TOTAL) -budget 20s -timeout 40m > mam-scale.json; \
	status=$$?; dropdb -h $(MAM_HOST) -U postgres $(MAM_DB); exit $$status

# xmppd, Prosody and ejabberd side by side (installs the two from Debian if
# absent); settings via the environment, see bench/compare.sh.
bench-compare:
	bench/compare.sh

clean:
	rm -f xmppd
