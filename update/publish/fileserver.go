package publish

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"io"
	"io/fs"
	"net/http"
	"os"
	"path"
	"path/filepath"
	"strings"
	"sync"
	"time"
)

// FileServer returns a handler serving the files below dir as a static update
// repository, for development and tests:
//
//   - GET and HEAD only (405 otherwise);
//   - a single byte range per request ("bytes=N-", "bytes=N-M", "bytes=-N"), 416 when
//     it lies beyond the file; a request for several ranges gets the whole file;
//   - a strong ETag derived from the file's content (its SHA-256, computed once and
//     kept while the file's size and modification time stay the same), so that
//     touching a file changes nothing for clients, and If-None-Match answered with
//     304; If-Range honoured;
//   - no directory listings, no file or folder whose name starts with ".", no path
//     leading outside dir, symbolic links included: all answered 404.
func FileServer(dir string) http.Handler {
	return &fileServer{dir: dir, etags: map[string]etagEntry{}}
}

type fileServer struct {
	dir   string
	mu    sync.Mutex
	etags map[string]etagEntry // by cleaned name
}

type etagEntry struct {
	size  int64
	mtime time.Time
	etag  string
}

func (s *fileServer) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		w.Header().Set("Allow", "GET, HEAD")
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
		return
	}
	name, ok := servedName(r.URL.Path)
	if !ok {
		http.NotFound(w, r)
		return
	}
	f, err := os.OpenInRoot(s.dir, filepath.FromSlash(name))
	if err != nil {
		http.NotFound(w, r)
		return
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil || !fi.Mode().IsRegular() {
		http.NotFound(w, r)
		return
	}
	etag, err := s.etag(name, f, fi)
	if err != nil {
		http.Error(w, "cannot read "+name, http.StatusInternalServerError)
		return
	}
	if strings.Contains(r.Header.Get("Range"), ",") {
		r.Header.Del("Range") // several ranges: the whole file is a valid answer
	}
	w.Header().Set("ETag", etag)
	w.Header().Set("X-Content-Type-Options", "nosniff")
	http.ServeContent(w, r, name, fi.ModTime(), f)
}

// servedName turns a request path into a name below the root, refusing "..",
// dotfiles, backslashes, colons, control characters and anything that is not a plain
// relative path.
func servedName(p string) (string, bool) {
	name := strings.TrimPrefix(p, "/")
	if name == "" || strings.HasSuffix(name, "/") || !fs.ValidPath(name) {
		return "", false
	}
	for _, r := range name {
		if r == '\\' || r == ':' || r < 0x20 || r == 0x7f {
			return "", false
		}
	}
	for _, elem := range strings.Split(name, "/") {
		if strings.HasPrefix(elem, ".") {
			return "", false
		}
	}
	return path.Clean(name), true
}

// etag returns the content ETag of the open file f, from the cache while the file's
// size and modification time have not changed.
func (s *fileServer) etag(name string, f *os.File, fi fs.FileInfo) (string, error) {
	s.mu.Lock()
	e, ok := s.etags[name]
	s.mu.Unlock()
	if ok && e.size == fi.Size() && e.mtime.Equal(fi.ModTime()) {
		return e.etag, nil
	}
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return "", err
	}
	if _, err := f.Seek(0, io.SeekStart); err != nil {
		return "", err
	}
	// A file rewritten while it was hashed would cache a wrong tag: check it is as it was.
	after, err := f.Stat()
	if err != nil {
		return "", err
	}
	etag := `"` + hex.EncodeToString(h.Sum(nil)) + `"`
	if after.Size() != fi.Size() || !after.ModTime().Equal(fi.ModTime()) {
		return "", errors.New("publish: file changed while it was hashed")
	}
	s.mu.Lock()
	s.etags[name] = etagEntry{size: fi.Size(), mtime: fi.ModTime(), etag: etag}
	s.mu.Unlock()
	return etag, nil
}
