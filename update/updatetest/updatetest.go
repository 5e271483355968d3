// Package updatetest helps test programs that embed upkeep: a publisher's repository
// in a temporary folder with its own signing key, served over HTTP on 127.0.0.1, and
// helpers that write and compare module trees. It also holds the engine's test knobs
// (a clock, no fsync, short busy and service timeouts), which an embedding program
// never needs.
package updatetest

import (
	"context"
	"crypto/rand"
	"io/fs"
	"maps"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/upkeep-go/upkeep/signature"
	"github.com/upkeep-go/upkeep/update/publish"
)

// Repo is a publisher's repository in a temporary folder.
type Repo struct {
	Dir     string               // the repository folder
	PubFile string               // the public key file servers trust
	Key     signature.PrivateKey // the signing key
	Now     func() time.Time     // publication clock; default time.Now
	t       testing.TB
}

// NewRepo creates an empty repository and a signing key in t.TempDir().
func NewRepo(t testing.TB) *Repo {
	t.Helper()
	base := t.TempDir()
	pub, sec, err := signature.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	b, err := pub.MarshalText()
	if err != nil {
		t.Fatal(err)
	}
	r := &Repo{Dir: filepath.Join(base, "repo"), PubFile: filepath.Join(base, "publisher.pub"), Key: sec, t: t}
	if err := os.WriteFile(r.PubFile, b, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(r.Dir, 0o755); err != nil {
		t.Fatal(err)
	}
	return r
}

// Publish packs tree (file name → content, "/"-separated; a name ending in "*" is
// made executable without the star) as module's version for platform, and adds it to
// the manifest. opts (publish.WithExpires, publish.WithMethod, ...) apply to the
// publication; the clock is r.Now unless they set one. No deltas are built unless opts
// ask for them (publish.WithDeltas).
func (r *Repo) Publish(module, version, platform string, tree map[string]string, opts ...publish.Option) {
	r.t.Helper()
	r.PublishBuild(publish.Build{Module: module, Version: version, Platform: platform}, tree, opts...)
}

// PublishBuild is Publish for a build with more fields set (MinVersion, Channel);
// b.Dir is filled with tree.
func (r *Repo) PublishBuild(b publish.Build, tree map[string]string, opts ...publish.Option) {
	r.t.Helper()
	b.Dir = r.t.TempDir()
	WriteTree(r.t, b.Dir, tree)
	opts = append(append([]publish.Option{publish.WithDeltas(0)}, r.clock()...), opts...)
	if _, err := publish.Publish(context.Background(), r.Dir, r.Key, b, opts...); err != nil {
		r.t.Fatal(err)
	}
}

// Refresh re-signs the manifest with a new serial and expiry (0: the default).
func (r *Repo) Refresh(expires time.Duration) {
	r.t.Helper()
	opts := r.clock()
	if expires > 0 {
		opts = append(opts, publish.WithExpires(expires))
	}
	if _, err := publish.Refresh(context.Background(), r.Dir, r.Key, opts...); err != nil {
		r.t.Fatal(err)
	}
}

// clock returns the option that dates publications with r.Now, if set.
func (r *Repo) clock() []publish.Option {
	if r.Now == nil {
		return nil
	}
	return []publish.Option{publish.WithClock(r.Now)}
}

// Serve serves the repository over HTTP on 127.0.0.1 until the test ends and returns
// its base URL.
func (r *Repo) Serve() string {
	srv := httptest.NewServer(publish.FileServer(r.Dir))
	r.t.Cleanup(srv.Close)
	return srv.URL + "/"
}

// WriteTree writes files (name → content) under dir. A name ending in "*" is written
// without the star and made executable; a name ending in "/" is an empty folder; a
// name starting with "@" is a symlink "@name" → content.
func WriteTree(t testing.TB, dir string, tree map[string]string) {
	t.Helper()
	for _, name := range slices.Sorted(maps.Keys(tree)) {
		content := tree[name]
		mode := fs.FileMode(0o644)
		switch {
		case name[len(name)-1] == '/':
			if err := os.MkdirAll(filepath.Join(dir, filepath.FromSlash(name)), 0o755); err != nil {
				t.Fatal(err)
			}
			continue
		case name[0] == '@':
			p := filepath.Join(dir, filepath.FromSlash(name[1:]))
			os.MkdirAll(filepath.Dir(p), 0o755)
			if err := os.Symlink(content, p); err != nil {
				t.Fatal(err)
			}
			continue
		case name[len(name)-1] == '*':
			name = name[:len(name)-1]
			mode = 0o755
		}
		p := filepath.Join(dir, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(content), mode); err != nil {
			t.Fatal(err)
		}
		if err := os.Chmod(p, mode); err != nil {
			t.Fatal(err)
		}
	}
}

// ReadTree returns the tree under dir in WriteTree's notation (executables with "*",
// empty folders with "/", links with "@"), for comparing a live tree with what was
// published. A missing dir gives nil.
func ReadTree(t testing.TB, dir string) map[string]string {
	t.Helper()
	if _, err := os.Lstat(dir); os.IsNotExist(err) {
		return nil
	}
	out := map[string]string{}
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(dir, p)
		if rel == "." {
			return nil
		}
		rel = filepath.ToSlash(rel)
		fi, err := d.Info()
		if err != nil {
			return err
		}
		switch {
		case fi.Mode()&fs.ModeSymlink != 0:
			target, err := os.Readlink(p)
			if err != nil {
				return err
			}
			out["@"+rel] = target
		case fi.IsDir():
			ents, err := os.ReadDir(p)
			if err != nil {
				return err
			}
			if len(ents) == 0 {
				out[rel+"/"] = ""
			}
		default:
			b, err := os.ReadFile(p)
			if err != nil {
				return err
			}
			if fi.Mode()&0o100 != 0 {
				rel += "*"
			}
			out[rel] = string(b)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}
