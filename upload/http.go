package upload

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"mime"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// Path is where the HTTP handler serves files: Path + id + "/" + name.
const Path = "/upload/"

// Files is the HTTP side of the upload services of every host: it takes
// the PUT of a granted slot and serves the file by GET.
type Files struct {
	Store       Store
	SlotTime    time.Duration
	ExpireAfter time.Duration // 0: files are kept forever
	Logger      *slog.Logger
}

// Handler returns the handler of Path; mount it at Path.
func (f *Files) Handler() http.Handler {
	if f.Logger == nil {
		f.Logger = slog.New(slog.DiscardHandler)
	}
	mux := http.NewServeMux()
	mux.HandleFunc("PUT "+Path+"{id}/{name}", f.put)
	mux.HandleFunc("GET "+Path+"{id}/{name}", f.get)
	mux.HandleFunc("OPTIONS "+Path+"{id}/{name}", func(w http.ResponseWriter, r *http.Request) {
		// CORS preflight: browser clients put from their own origin.
		cors(w)
		w.Header().Set("Access-Control-Allow-Methods", "GET, HEAD, PUT, OPTIONS")
		w.Header().Set("Access-Control-Allow-Headers", "Content-Type")
		w.Header().Set("Access-Control-Max-Age", "86400")
		w.WriteHeader(http.StatusNoContent)
	})
	return mux
}

func cors(w http.ResponseWriter) { w.Header().Set("Access-Control-Allow-Origin", "*") }

// put stores the body as the slot's file: 201 Created, or 404 for a slot
// that does not exist or expired, 409 for one already used, 400 or 413
// for a body not of the slot's size, 415 for a Content-Type not the
// slot's, which XEP-0363 §6 says a service should refuse. Without a
// Content-Type the file is taken as of the slot's type; a slot requested
// without one takes the PUT's (FileType).
func (f *Files) put(w http.ResponseWriter, r *http.Request) {
	cors(w)
	if r.ContentLength < 0 {
		http.Error(w, "Content-Length is required", http.StatusLengthRequired)
		return
	}
	ctx, cancel := context.WithTimeout(r.Context(), time.Hour)
	defer cancel()
	err := f.Store.Put(ctx, r.PathValue("id"), r.PathValue("name"), time.Now().Add(-f.SlotTime), r.Header.Get("Content-Type"), r.ContentLength, http.MaxBytesReader(w, r.Body, r.ContentLength))
	switch {
	case err == nil:
		w.WriteHeader(http.StatusCreated)
	case errors.Is(err, ErrNoSlot):
		http.Error(w, "no such upload slot, or it expired", http.StatusNotFound)
	case errors.Is(err, ErrUploaded):
		http.Error(w, "the file was uploaded already", http.StatusConflict)
	case errors.Is(err, ErrSize):
		http.Error(w, "the body is not the size the slot was granted for", http.StatusBadRequest)
	case errors.Is(err, ErrType):
		http.Error(w, "the Content-Type is not the one the slot was granted for", http.StatusUnsupportedMediaType)
	default:
		f.Logger.Error("storing an uploaded file", "remote", r.RemoteAddr, "err", err)
		http.Error(w, "the file could not be stored", http.StatusInternalServerError)
	}
}

// get serves a file. Its content is never run as the server's page: it
// is sandboxed, and its type is not sniffed.
func (f *Files) get(w http.ResponseWriter, r *http.Request) {
	cors(w)
	since := time.Time{}
	if f.ExpireAfter > 0 {
		since = time.Now().Add(-f.ExpireAfter)
	}
	started := false
	err := f.Store.Get(r.Context(), r.PathValue("id"), r.PathValue("name"), since, func(file File, body io.Reader) error {
		h := w.Header()
		ctype := safeType(file.ContentType)
		h.Set("Content-Type", ctype)
		if d := disposition(ctype, r.PathValue("name")); d != "" {
			h.Set("Content-Disposition", d)
		}
		h.Set("Content-Security-Policy", "default-src 'none'; sandbox")
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("Cache-Control", "public, max-age=86400, immutable")
		h.Set("Last-Modified", file.Uploaded.UTC().Format(http.TimeFormat))
		h.Set("Accept-Ranges", "bytes")
		started = true
		if rs, ok := body.(io.ReadSeeker); ok && conditional(r) {
			// A part (how browsers play audio and video), or a request
			// with preconditions (RFC 9110 §13): ServeContent answers
			// it, 304 and 412 included, with the length it sends.
			http.ServeContent(w, r, "", file.Uploaded, rs)
			return nil
		}
		h.Set("Content-Length", strconv.FormatInt(file.Size, 10))
		if r.Method == http.MethodHead {
			return nil
		}
		_, err := io.Copy(w, body)
		return err
	})
	switch {
	case errors.Is(err, ErrNoSlot):
		http.Error(w, "no such file", http.StatusNotFound)
	case err != nil && !started:
		f.Logger.Error("serving an uploaded file", "remote", r.RemoteAddr, "err", err)
		http.Error(w, "the file could not be read", http.StatusInternalServerError)
	case err != nil:
		// Headers are out: the client sees the body cut short.
		f.Logger.Info("serving an uploaded file was cut short", "remote", r.RemoteAddr, "err", err)
	}
}

// disposition is the Content-Disposition of a file of type t named
// name: none for pictures, sound, video and plain text, which clients
// show; attachment for the rest, which browsers would render as a page
// of the server's origin (HTML, XML, PDF) or cannot show, as Prosody and
// ejabberd serve them.
func disposition(t, name string) string {
	m := mediaType(t)
	major, _, _ := strings.Cut(m, "/")
	if (major == "image" || major == "audio" || major == "video" || m == "text/plain") && m != "image/svg+xml" {
		return ""
	}
	if d := mime.FormatMediaType("attachment", map[string]string{"filename": name}); d != "" {
		return d
	}
	return "attachment"
}

// conditional reports whether r asks for a range or has preconditions
// (RFC 9110 §13.1, §14.2).
func conditional(r *http.Request) bool {
	for _, name := range []string{"Range", "If-Match", "If-None-Match", "If-Modified-Since", "If-Unmodified-Since"} {
		if r.Header.Get(name) != "" {
			return true
		}
	}
	return false
}

// safeType returns the content type to serve a file with: the one given
// at upload when it parses, else application/octet-stream.
func safeType(t string) string {
	if _, _, err := mime.ParseMediaType(t); err != nil {
		return "application/octet-stream"
	}
	return t
}

// Expire deletes expired files and unused slots every interval until ctx
// ends.
func (f *Files) Expire(ctx context.Context, interval time.Duration) {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		now := time.Now()
		uploadedBefore := time.Time{}
		if f.ExpireAfter > 0 {
			uploadedBefore = now.Add(-f.ExpireAfter)
		}
		n, err := f.Store.Expire(ctx, uploadedBefore, now.Add(-f.SlotTime))
		if err != nil && ctx.Err() == nil {
			f.Logger.Error("expiring uploaded files", "err", err)
		} else if n > 0 {
			f.Logger.Info("expired uploaded files and slots", "count", n)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}
