package upload_test

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	"mellium.im/xmpp/jid"

	"xmppd/config"
	"xmppd/internal/xmpptest"
	"xmppd/storage/pgtest"
	"xmppd/storage/postgres"
	"xmppd/upload"
	"xmppd/xmlstream"
)

func TestMain(m *testing.M) { pgtest.Main(m) }

const (
	ns      = "urn:xmpp:http:upload:0"
	service = "upload.localhost"
	maxSize = 1 << 20
)

// start returns a server with the account juliet logged in, taking files
// of up to maxSize bytes and 3 × maxSize per account, configured further
// by each of configure.
func start(t *testing.T, configure ...func(*config.Config)) (*xmpptest.Server, *xmpptest.Client) {
	s := xmpptest.Start(t, func(c *config.Config) {
		c.Upload.MaxFileBytes, c.Upload.QuotaBytes = maxSize, 3*maxSize
		for _, f := range configure {
			f(c)
		}
	})
	s.AddUser(t, "juliet", xmpptest.Domain, "secret")
	return s, xmpptest.Login(t, s, "juliet", "secret", "balcony")
}

// request asks for a slot and returns the answer.
func request(c *xmpptest.Client, filename string, size int, ctype string) *xmlstream.Element {
	c.T.Helper()
	c.Send("<iq type='get' id='slot' to='" + service + "'><request xmlns='" + ns + "' filename='" + filename +
		"' size='" + strconv.Itoa(size) + "' content-type='" + ctype + "'/></iq>")
	return c.NextNamed("iq")
}

// slot asks for a slot and returns its PUT and GET URLs.
func slot(t *testing.T, c *xmpptest.Client, filename string, size int, ctype string) (put, get string) {
	t.Helper()
	res := request(c, filename, size, ctype)
	sl := res.Child(ns, "slot")
	if res.Attr("type") != "result" || sl == nil {
		t.Fatalf("got %s, want a slot", res)
	}
	return sl.Child(ns, "put").Attr("url"), sl.Child(ns, "get").Attr("url")
}

// do sends a request with web and returns the answer and its body.
func do(t *testing.T, web *http.Client, method, url string, body []byte, ctype string) (*http.Response, []byte) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, method, url, bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if ctype != "" {
		req.Header.Set("Content-Type", ctype)
	}
	resp, err := web.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	got, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp, got
}

func TestUploadAndDownload(t *testing.T) {
	s, juliet := start(t)
	file := bytes.Repeat([]byte("wherefore art thou "), 50000) // 950,000 bytes, several large object writes
	put, get := slot(t, juliet, "balcony scene.txt", len(file), "text/plain; charset=utf-8")
	// The links are https, to the host's name, which its certificate
	// names: what Conversations and Monal require.
	web := xmpptest.HTTPSClient(t, s)
	if !strings.HasPrefix(put, "https://"+xmpptest.HTTPSHost(t, s)+"/upload/") || put != get || !strings.HasSuffix(put, "/balcony%20scene.txt") {
		t.Fatalf("put URL %s, get URL %s", put, get)
	}

	if resp, _ := do(t, web, http.MethodGet, get, nil, ""); resp.StatusCode != http.StatusNotFound {
		t.Fatalf("GET before the upload: %s, want 404", resp.Status)
	}
	// Browsers ask first whether they may put from another origin.
	if resp, _ := do(t, web, http.MethodOptions, put, nil, ""); resp.StatusCode != http.StatusNoContent ||
		!strings.Contains(resp.Header.Get("Access-Control-Allow-Methods"), "PUT") || resp.Header.Get("Access-Control-Allow-Origin") != "*" {
		t.Fatalf("OPTIONS: %s %v, want a CORS preflight answer", resp.Status, resp.Header)
	}
	if resp, _ := do(t, web, http.MethodPut, put, file[:1000], "text/plain; charset=utf-8"); resp.StatusCode != http.StatusBadRequest {
		t.Fatalf("PUT of the wrong size: %s, want 400", resp.Status)
	}
	if resp, _ := do(t, web, http.MethodPut, put, file, "image/png"); resp.StatusCode != http.StatusUnsupportedMediaType {
		t.Fatalf("PUT of another type: %s, want 415", resp.Status)
	}
	var claimed int
	s.DB.QueryRow(context.Background(), "SELECT count(*) FROM uploads WHERE content IS NOT NULL").Scan(&claimed)
	if claimed != 0 {
		t.Fatal("a failed PUT left its large object in the slot")
	}
	if resp, body := do(t, web, http.MethodPut, put, file, "Text/Plain;charset=UTF-8"); resp.StatusCode != http.StatusCreated {
		t.Fatalf("PUT: %s %s", resp.Status, body)
	}
	if resp, _ := do(t, web, http.MethodPut, put, file, "text/plain; charset=utf-8"); resp.StatusCode != http.StatusConflict {
		t.Fatalf("second PUT: %s, want 409", resp.Status)
	}
	resp, body := do(t, web, http.MethodGet, get, nil, "")
	if resp.StatusCode != http.StatusOK || !bytes.Equal(body, file) {
		t.Fatalf("GET: %s with %d bytes, want the %d bytes put", resp.Status, len(body), len(file))
	}
	for header, want := range map[string]string{
		"Content-Type":                "text/plain; charset=utf-8",
		"X-Content-Type-Options":      "nosniff",
		"Content-Security-Policy":     "default-src 'none'; sandbox",
		"Access-Control-Allow-Origin": "*",
	} {
		if got := resp.Header.Get(header); got != want {
			t.Errorf("%s: %q, want %q", header, got, want)
		}
	}
	// A part, as browsers ask for audio and video.
	req, _ := http.NewRequest(http.MethodGet, get, nil)
	req.Header.Set("Range", "bytes=300000-300018")
	part, err := web.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	got, _ := io.ReadAll(part.Body)
	part.Body.Close()
	if part.StatusCode != http.StatusPartialContent || !bytes.Equal(got, file[300000:300019]) || part.Header.Get("Content-Range") != "bytes 300000-300018/950000" {
		t.Fatalf("GET of a range: %s %q %v, want 206 with those bytes", part.Status, got, part.Header)
	}
	if resp.Header.Get("Accept-Ranges") != "bytes" {
		t.Errorf("GET: Accept-Ranges %q, want bytes", resp.Header.Get("Accept-Ranges"))
	}
	if resp, _ := do(t, web, http.MethodGet, strings.Replace(get, "balcony%20scene", "other", 1), nil, ""); resp.StatusCode != http.StatusNotFound {
		t.Fatalf("GET with another name: %s, want 404", resp.Status)
	}

	// The file outlives the server, and goes with its account.
	oldBase := xmpptest.HTTPSHost(t, s)
	s = xmpptest.Restart(t, s)
	get = strings.Replace(get, oldBase, xmpptest.HTTPSHost(t, s), 1)
	web = xmpptest.HTTPSClient(t, s)
	if resp, body := do(t, web, http.MethodGet, get, nil, ""); resp.StatusCode != http.StatusOK || !bytes.Equal(body, file) {
		t.Fatalf("GET after a restart: %s with %d bytes", resp.Status, len(body))
	}
	// Large objects belong to the whole database, which other tests share:
	// look at this file's own.
	ctx := context.Background()
	var oid uint32
	if err := s.DB.QueryRow(ctx, "SELECT content FROM uploads WHERE uploaded IS NOT NULL").Scan(&oid); err != nil {
		t.Fatal(err)
	}
	if err := s.Accounts.Delete(ctx, xmpptest.Domain, "juliet"); err != nil {
		t.Fatal(err)
	}
	var left int
	s.DB.QueryRow(ctx, "SELECT count(*) FROM pg_largeobject_metadata WHERE oid = $1", oid).Scan(&left)
	if left != 0 {
		t.Fatalf("the file's large object %d outlived its account", oid)
	}
}

func TestRefusedRequests(t *testing.T) {
	_, juliet := start(t)
	for _, tc := range []struct {
		name      string
		size      int
		condition string
	}{
		{"a.txt", 0, "bad-request"},
		{"a/b.txt", 10, "bad-request"},
		{"..", 10, "bad-request"},
		{strings.Repeat("n", 256), 10, "bad-request"},
		{"big.bin", maxSize + 1, "not-acceptable"},
	} {
		res := request(juliet, tc.name, tc.size, "application/octet-stream")
		e := xmpptest.ExpectError(t, res, tc.condition)
		if tc.condition == "not-acceptable" && e.Child(ns, "file-too-large").Child(ns, "max-file-size").Text() != strconv.Itoa(maxSize) {
			t.Fatalf("got %s, want <file-too-large/> with the limit", res)
		}
	}
	// Three files of maxSize fill the quota; a fourth slot is refused.
	for i := range 3 {
		slot(t, juliet, "part"+strconv.Itoa(i), maxSize, "")
	}
	xmpptest.ExpectError(t, request(juliet, "part3", 1, ""), "resource-constraint")
	juliet.Ping()
}

// TestSlotLimit: an account is granted upload.slots_per_day slots in 24
// hours, however small their files, since each costs a row and a large
// object the byte quota does not count; the next request gets
// resource-constraint with a <retry/> stamp (XEP-0363 §5) of when the
// oldest of them turns a day old, and is granted once it has.
func TestSlotLimit(t *testing.T) {
	s, juliet := start(t, func(c *config.Config) { c.Upload.SlotsPerDay = 3 })
	first := time.Now().UTC().Truncate(time.Second)
	for i := range 3 {
		slot(t, juliet, "tiny"+strconv.Itoa(i), 1, "")
	}
	res := request(juliet, "tiny3", 1, "")
	e := xmpptest.ExpectError(t, res, "resource-constraint")
	retry := e.Child(ns, "retry")
	if e.Attr("type") != "wait" || retry == nil {
		t.Fatalf("got %s, want a wait error with <retry/>", res)
	}
	stamp, err := time.Parse(time.RFC3339, retry.Attr("stamp"))
	if err != nil || !strings.HasSuffix(retry.Attr("stamp"), "Z") || stamp.Before(first.Add(24*time.Hour)) || stamp.After(time.Now().Add(24*time.Hour+time.Second)) {
		t.Fatalf("retry stamp %q (%v), want the first slot's time a day later, in UTC", retry.Attr("stamp"), err)
	}
	// A day later the first slot no longer counts, though its file stays.
	if _, err := s.DB.Exec(context.Background(), "UPDATE uploads SET requested = requested - interval '25 hours', uploaded = now() WHERE filename = 'tiny0'"); err != nil {
		t.Fatal(err)
	}
	slot(t, juliet, "tiny3", 1, "")
	xmpptest.ExpectError(t, request(juliet, "tiny4", 1, ""), "resource-constraint")
}

// TestBidiControlsStripped: a file name's Unicode bidi controls, which
// can show an extension that is not the file's ("invoice\u202Efdp.exe"
// shows as "invoiceexe.pdf"), are left out of the slot's name, so the
// link and the saved file show the name as it is; a name of nothing else
// is refused.
func TestBidiControlsStripped(t *testing.T) {
	s, juliet := start(t)
	web := xmpptest.HTTPSClient(t, s)
	file := []byte("MZ not really a program")
	for _, tc := range []struct{ name, want string }{
		{"invoice\u202Efdp.exe", "invoicefdp.exe"},
		{"\u202Bfactura\u202C\u202Dexe.pdf\u202A", "facturaexe.pdf"},
		{"\u2067\u05E9\u05DC\u05D5\u05DD\u2069\u2066.exe\u2068", "\u05E9\u05DC\u05D5\u05DD.exe"},
		{"\u200Fphoto\u200E\u061C.jpg", "photo.jpg"},
	} {
		put, get := slot(t, juliet, tc.name, len(file), "application/octet-stream")
		if want := "/" + url.PathEscape(tc.want); !strings.HasSuffix(put, want) || put != get {
			t.Errorf("slot for %+q: %s, want a URL ending in %s", tc.name, put, want)
			continue
		}
		if resp, body := do(t, web, http.MethodPut, put, file, "application/octet-stream"); resp.StatusCode != http.StatusCreated {
			t.Fatalf("PUT %+q: %s %s", tc.want, resp.Status, body)
		}
		resp, _ := do(t, web, http.MethodGet, get, nil, "")
		if d := resp.Header.Get("Content-Disposition"); strings.ContainsAny(d, "\u202E\u2067") || !strings.HasPrefix(d, "attachment") {
			t.Errorf("GET %+q: Content-Disposition %+q, want an attachment named %+q", tc.want, d, tc.want)
		}
	}
	xmpptest.ExpectError(t, request(juliet, "\u202E\u2066", 1, ""), "bad-request")
}

func TestServiceDiscovery(t *testing.T) {
	_, juliet := start(t)
	juliet.Send("<iq type='get' id='d' to='localhost'><query xmlns='http://jabber.org/protocol/disco#items'/></iq>")
	if items := juliet.NextNamed("iq"); !strings.Contains(items.String(), "jid='"+service+"'") {
		t.Fatalf("the server's items %s do not list %s", items, service)
	}
	juliet.Send("<iq type='get' id='d' to='" + service + "'><query xmlns='http://jabber.org/protocol/disco#info'/></iq>")
	info := juliet.NextNamed("iq").String()
	for _, want := range []string{"category='store'", "var='" + ns + "'", "max-file-size", strconv.Itoa(maxSize)} {
		if !strings.Contains(info, want) {
			t.Fatalf("disco#info %s lacks %s", info, want)
		}
	}
}

// Only the host's own accounts get slots: juliet@localhost is refused by
// the service of example.test.
func TestOtherHostsRefused(t *testing.T) {
	_, juliet := start(t)
	juliet.Send("<iq type='get' id='slot' to='upload." + xmpptest.OtherDomain + "'><request xmlns='" + ns + "' filename='a' size='1'/></iq>")
	xmpptest.ExpectError(t, juliet.NextNamed("iq"), "forbidden")
}

// expiringReader holds a body and, before reporting its end, runs f: an
// expiry pass of the store, as the hourly one would.
type expiringReader struct {
	r io.Reader
	f func()
}

func (e *expiringReader) Read(p []byte) (int, error) {
	n, err := e.r.Read(p)
	if err == io.EOF && e.f != nil {
		e.f()
		e.f = nil
	}
	return n, err
}

// TestExpiryDuringUpload: an expiry pass that runs while a slow client's
// upload, begun within the slot's time, is still under way leaves it be:
// the upload succeeds, and the file is there.
func TestExpiryDuringUpload(t *testing.T) {
	s, _ := start(t)
	store := postgres.NewUploads(s.DB)
	ctx := context.Background()
	sl := upload.Slot{ID: "slow", Owner: jid.MustParse("juliet@localhost"), Filename: "f.bin", Size: 1000, ContentType: "application/octet-stream"}
	requested := time.Now().Add(-10 * time.Minute)
	if err := store.CreateSlot(ctx, sl, upload.Limits{Quota: 1 << 30}, requested); err != nil {
		t.Fatal(err)
	}
	body := &expiringReader{r: bytes.NewReader(make([]byte, sl.Size)), f: func() {
		if _, err := store.Expire(ctx, time.Time{}, time.Now()); err != nil {
			t.Error(err)
		}
	}}
	if err := store.Put(ctx, sl.ID, sl.Filename, requested.Add(-time.Minute), "", sl.Size, body); err != nil {
		t.Fatalf("the upload: %v", err)
	}
	if err := store.Get(ctx, sl.ID, sl.Filename, time.Time{}, func(upload.File, io.Reader) error { return nil }); err != nil {
		t.Fatalf("the file after the upload: %v", err)
	}
}

// TestConditionalGet: a GET with preconditions gets the answer RFC 9110
// §13 gives it, whole: a browser revalidating a file it has gets 304, not
// the file again, and a failed precondition on a range a 412 whose
// (empty) body is as long as it says.
func TestConditionalGet(t *testing.T) {
	s, juliet := start(t)
	web := xmpptest.HTTPSClient(t, s)
	file := []byte("a picture of the balcony")
	put, get := slot(t, juliet, "balcony.jpg", len(file), "image/jpeg")
	if resp, body := do(t, web, http.MethodPut, put, file, "image/jpeg"); resp.StatusCode != http.StatusCreated {
		t.Fatalf("PUT: %s %s", resp.Status, body)
	}
	resp, _ := do(t, web, http.MethodGet, get, nil, "")
	modified := resp.Header.Get("Last-Modified")
	before := time.Now().Add(-time.Hour).UTC().Format(http.TimeFormat)
	for _, tc := range []struct {
		name    string
		headers map[string]string
		status  int
		body    string
	}{
		{"If-Modified-Since the upload", map[string]string{"If-Modified-Since": modified}, http.StatusNotModified, ""},
		{"If-None-Match any", map[string]string{"If-None-Match": "*"}, http.StatusNotModified, ""},
		{"If-Modified-Since before the upload", map[string]string{"If-Modified-Since": before}, http.StatusOK, string(file)},
		{"a range If-Unmodified-Since before the upload", map[string]string{"Range": "bytes=0-4", "If-Unmodified-Since": before}, http.StatusPreconditionFailed, ""},
		{"If-Unmodified-Since before the upload", map[string]string{"If-Unmodified-Since": before}, http.StatusPreconditionFailed, ""},
		{"a range If-Range the upload", map[string]string{"Range": "bytes=2-8", "If-Range": modified}, http.StatusPartialContent, string(file[2:9])},
	} {
		req, _ := http.NewRequest(http.MethodGet, get, nil)
		for k, v := range tc.headers {
			req.Header.Set(k, v)
		}
		resp, err := web.Do(req)
		if err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		body, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		if err != nil || resp.StatusCode != tc.status || string(body) != tc.body {
			t.Errorf("%s: %s %q (%v), want %d %q", tc.name, resp.Status, body, err, tc.status, tc.body)
		}
	}
}

// TestActiveContentDownloaded: a file a browser would run as a page (an
// HTML page, an XML document, a PDF) is served as an attachment, so that
// it is saved, not shown from the server's origin, where a page can still
// send its reader elsewhere (<meta http-equiv='refresh'>) or run script
// in a browser that does not sandbox it. Pictures, sound, video and plain
// text are shown, as clients link them.
func TestActiveContentDownloaded(t *testing.T) {
	s, juliet := start(t)
	web := xmpptest.HTTPSClient(t, s)
	for _, tc := range []struct {
		name, ctype, disposition string
	}{
		{"page.html", "text/html", `attachment; filename=page.html`},
		{"doc.xhtml", "application/xhtml+xml", `attachment; filename=doc.xhtml`},
		{"paper.pdf", "application/pdf", `attachment; filename=paper.pdf`},
		{"drawing.svg", "image/svg+xml", `attachment; filename=drawing.svg`},
		{"grüße.html", "text/html; charset=utf-8", `attachment; filename*=utf-8''gr%C3%BC%C3%9Fe.html`},
		{"untyped", "", `attachment; filename=untyped`},
		{"odd.png", "image/png, text/html", `attachment; filename=odd.png`},
		{"photo.jpg", "image/jpeg", ""},
		{"song.ogg", "audio/ogg", ""},
		{"notes.txt", "text/plain; charset=utf-8", ""},
	} {
		file := []byte("<html><head><meta http-equiv='refresh' content='0; url=https://elsewhere.example/'></head></html>")
		put, get := slot(t, juliet, tc.name, len(file), tc.ctype)
		if resp, body := do(t, web, http.MethodPut, put, file, tc.ctype); resp.StatusCode != http.StatusCreated {
			t.Fatalf("PUT %s: %s %s", tc.name, resp.Status, body)
		}
		resp, _ := do(t, web, http.MethodGet, get, nil, "")
		if got := resp.Header.Get("Content-Disposition"); got != tc.disposition {
			t.Errorf("GET %s (%s): Content-Disposition %q, want %q", tc.name, tc.ctype, got, tc.disposition)
		}
	}
}

// bodyReader is the body of a PUT that tells when the server asks for it:
// the client sends "Expect: 100-continue", so the body is read only once
// the handler reads it. Its first Read runs f, on the transport's
// goroutine.
type bodyReader struct {
	r io.Reader
	f func()
}

func (b *bodyReader) Read(p []byte) (int, error) {
	if b.f != nil {
		b.f()
		b.f = nil
	}
	return b.r.Read(p)
}

// TestWrongPutRefusedUnread: a PUT whose Content-Length is not the slot's
// size, or whose Content-Type is not the slot's, is refused from its
// headers (XEP-0363 §6): its body is never asked for, and it does not
// hold the slot, so a correct PUT arriving meanwhile is taken, as is one
// after it.
func TestWrongPutRefusedUnread(t *testing.T) {
	s, juliet := start(t)
	web := xmpptest.HTTPSClient(t, s)
	transport := web.Transport.(*http.Transport).Clone()
	// Only a fallback: the server answers or asks for the body first.
	transport.ExpectContinueTimeout = time.Minute
	t.Cleanup(transport.CloseIdleConnections)
	expecting := &http.Client{Transport: transport}
	file := []byte("a letter to Romeo")
	for _, tc := range []struct {
		name   string
		length int
		ctype  string
		status int
	}{
		{"a shorter Content-Length", len(file) - 1, "text/plain", http.StatusBadRequest},
		{"a longer Content-Length", len(file) + 1, "text/plain", http.StatusBadRequest},
		{"another Content-Type", len(file), "image/png", http.StatusUnsupportedMediaType},
	} {
		put, _ := slot(t, juliet, "letter.txt", len(file), "text/plain")
		// What a correct PUT gets while the server reads the wrong body:
		// sent before the wrong body's first byte, so before its answer.
		meanwhile := make(chan string, 1)
		body := &bodyReader{r: bytes.NewReader(make([]byte, tc.length)), f: func() {
			resp, err := web.Do(must(http.NewRequest(http.MethodPut, put, bytes.NewReader(file))))
			if err != nil {
				meanwhile <- err.Error()
				return
			}
			resp.Body.Close()
			meanwhile <- resp.Status
		}}
		req := must(http.NewRequest(http.MethodPut, put, body))
		req.ContentLength = int64(tc.length)
		req.Header.Set("Content-Type", tc.ctype)
		req.Header.Set("Expect", "100-continue")
		resp, err := expecting.Do(req)
		if err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		resp.Body.Close()
		if resp.StatusCode != tc.status {
			t.Errorf("%s: %s, want %d", tc.name, resp.Status, tc.status)
		}
		select {
		case status := <-meanwhile:
			t.Errorf("%s: the server read the body, and a correct PUT meanwhile got %s", tc.name, status)
			continue
		default:
		}
		if resp, body := do(t, web, http.MethodPut, put, file, "text/plain"); resp.StatusCode != http.StatusCreated {
			t.Errorf("%s: the correct PUT after it: %s %s", tc.name, resp.Status, body)
		}
	}
}

// must returns v, panicking on err: for requests built from valid URLs.
func must[T any](v T, err error) T {
	if err != nil {
		panic(err)
	}
	return v
}

// TestUntypedSlotTakesPutType: a slot requested without a content-type
// takes the Content-Type its PUT carries (XEP-0363 §6), when it parses,
// and GET serves the file with it, shown or saved as its type says; one
// put without a type, or with one that does not parse, is served as
// application/octet-stream. A failed PUT leaves the slot untyped.
func TestUntypedSlotTakesPutType(t *testing.T) {
	s, juliet := start(t)
	web := xmpptest.HTTPSClient(t, s)
	file := []byte("a picture of the balcony")
	for _, tc := range []struct {
		name, failed, ctype, served, disposition string
	}{
		{"photo.png", "", "image/png", "image/png", ""},
		{"notes.txt", "image/png", "text/plain; charset=utf-8", "text/plain; charset=utf-8", ""},
		{"page.html", "", "text/html", "text/html", "attachment; filename=page.html"},
		{"odd.png", "", "image/png, text/html", "application/octet-stream", "attachment; filename=odd.png"},
		{"untyped", "", "", "application/octet-stream", "attachment; filename=untyped"},
	} {
		put, get := slot(t, juliet, tc.name, len(file), "")
		if tc.failed != "" {
			if resp, _ := do(t, web, http.MethodPut, put, file[1:], tc.failed); resp.StatusCode != http.StatusBadRequest {
				t.Fatalf("PUT %s of the wrong size: %s, want 400", tc.name, resp.Status)
			}
		}
		if resp, body := do(t, web, http.MethodPut, put, file, tc.ctype); resp.StatusCode != http.StatusCreated {
			t.Fatalf("PUT %s: %s %s", tc.name, resp.Status, body)
		}
		resp, body := do(t, web, http.MethodGet, get, nil, "")
		if resp.StatusCode != http.StatusOK || !bytes.Equal(body, file) {
			t.Fatalf("GET %s: %s %q", tc.name, resp.Status, body)
		}
		if got := resp.Header.Get("Content-Type"); got != tc.served {
			t.Errorf("GET %s put as %q: Content-Type %q, want %q", tc.name, tc.ctype, got, tc.served)
		}
		if got := resp.Header.Get("Content-Disposition"); got != tc.disposition {
			t.Errorf("GET %s put as %q: Content-Disposition %q, want %q", tc.name, tc.ctype, got, tc.disposition)
		}
	}
}
