package main

import (
	"context"
	"fmt"
	"log/slog"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/upkeep-go/upkeep/internal/limited"
	"github.com/upkeep-go/upkeep/manifest"
	"github.com/upkeep-go/upkeep/pack"
	"github.com/upkeep-go/upkeep/update/agent"
	"github.com/upkeep-go/upkeep/update/publish"
)

func init() {
	register(&command{name: "publish", summary: "build, sign and add a pack to a repository's manifest", run: runPublish})
	register(&command{name: "refresh", summary: "re-sign a repository's manifest with a new serial and expiry", run: runRefresh})
}

func runPublish(ctx context.Context, cl *cli, args []string) error {
	fs := cl.newFlags("publish", "upkeep publish --repo DIR --sec FILE --module NAME --version V --platform P --from BUILD_DIR [--min-version V] [--channel C] [--major N] [--notes FILE] [--expires DURATION] [--deltas N]")
	repo := fs.String("repo", "", "repository `folder` (created when empty)")
	sec := fs.String("sec", "", "secret key `file`")
	pw := fs.String("password-file", "", "`file` holding the secret key's password")
	module := fs.String("module", "", "module `name`")
	ver := fs.String("version", "", "`version` of the build")
	plat := fs.String("platform", "", "`platform` of the build (linux/amd64, win64, …)")
	from := fs.String("from", "", "build `folder` to pack")
	minv := fs.String("min-version", "", "oldest installed `version` this release applies to")
	channel := fs.String("channel", "", "release `channel` (default stable)")
	major := fs.Int("major", 0, "the release's major `version`: servers configured with another \"major\" are not offered it")
	notesFile := fs.String("notes", "", "release notes `file` (text) the portal shows")
	product := fs.String("product", "", "product `name` of a new repository (default: the module); an existing repository must be of this product")
	expires := fs.String("expires", "30d", "manifest lifetime: a Go `duration` or days (30d)")
	method := fs.String("method", "deflate", "pack compression: deflate or zstd")
	lockTimeout := fs.String("lock-timeout", defaultLockTimeout, "how long to wait while another publication holds the repository: a Go `duration` or days")
	deltas := fs.Int("deltas", publish.DefaultDeltas, "also build deltas from the `N` previous versions of the module and platform (0: none)")
	pos, err := parse(fs, args)
	if err != nil {
		return err
	}
	if err := exactArgs(pos, 0, "no positional argument"); err != nil {
		return err
	}
	for name, v := range map[string]string{"repo": *repo, "sec": *sec, "module": *module, "version": *ver, "platform": *plat, "from": *from} {
		if v == "" {
			return usagef("--%s is required", name)
		}
	}
	exp, err := agent.ParseDuration(*expires)
	if err != nil {
		return usagef("--expires: %v", err)
	}
	wait, err := parseLockTimeout(*lockTimeout)
	if err != nil {
		return err
	}
	m, err := parseMethod(*method)
	if err != nil {
		return err
	}
	key, err := loadSecretKey(*sec, *pw)
	if err != nil {
		return err
	}
	opts := []publish.Option{publish.WithExpires(exp), publish.WithMethod(m), publish.WithProduct(*product),
		publish.WithLockTimeout(wait), cl.publishLogger()}
	if *deltas < 0 {
		return usagef("--deltas %d: want 0 or more", *deltas)
	}
	opts = append(opts, publish.WithDeltas(*deltas))
	if t, ok, err := pack.SourceDateEpoch(); err != nil {
		return err
	} else if ok {
		opts = append(opts, publish.WithModTime(t))
	}
	if *major < 0 {
		return usagef("--major %d: want 0 or more", *major)
	}
	notes, err := readNotes(*notesFile)
	if err != nil {
		return err
	}
	b := publish.Build{Module: *module, Version: *ver, Platform: *plat, Dir: *from, MinVersion: *minv, Channel: *channel,
		Major: *major, Notes: notes}
	man, err := publish.Publish(ctx, *repo, key, b, opts...)
	if err != nil {
		return err
	}
	fmt.Fprintf(cl.stdout, "published %s %s for %s in %s (manifest serial %d, expires %s)\n",
		*module, *ver, *plat, *repo, man.Serial, man.Expires.Format(time.RFC3339))
	if p, ok := publishedPack(man, b); ok {
		for _, d := range p.Deltas {
			fmt.Fprintf(cl.stdout, "delta from %s: %s (%d bytes, the pack %d)\n", d.From, d.File, d.Size, p.Size)
		}
	}
	return nil
}

func runRefresh(ctx context.Context, cl *cli, args []string) error {
	fs := cl.newFlags("refresh", "upkeep refresh --repo DIR --sec FILE [--expires DURATION]")
	repo := fs.String("repo", "", "repository `folder`")
	sec := fs.String("sec", "", "secret key `file`")
	pw := fs.String("password-file", "", "`file` holding the secret key's password")
	expires := fs.String("expires", "30d", "manifest lifetime: a Go `duration` or days (30d)")
	lockTimeout := fs.String("lock-timeout", defaultLockTimeout, "how long to wait while another publication holds the repository: a Go `duration` or days")
	pos, err := parse(fs, args)
	if err != nil {
		return err
	}
	if err := exactArgs(pos, 0, "no positional argument"); err != nil {
		return err
	}
	if *repo == "" || *sec == "" {
		return usagef("--repo and --sec are required")
	}
	exp, err := agent.ParseDuration(*expires)
	if err != nil {
		return usagef("--expires: %v", err)
	}
	wait, err := parseLockTimeout(*lockTimeout)
	if err != nil {
		return err
	}
	key, err := loadSecretKey(*sec, *pw)
	if err != nil {
		return err
	}
	man, err := publish.Refresh(ctx, *repo, key, publish.WithExpires(exp), publish.WithLockTimeout(wait), cl.publishLogger())
	if err != nil {
		return err
	}
	fmt.Fprintf(cl.stdout, "refreshed %s: serial %d, expires %s\n", *repo, man.Serial, man.Expires.Format(time.RFC3339))
	return nil
}

// defaultLockTimeout bounds the wait for another publication into the same repository:
// it holds the lock only while it writes the manifest, so a longer wait means it hangs.
const defaultLockTimeout = "10m"

func parseLockTimeout(s string) (time.Duration, error) {
	d, err := agent.ParseDuration(s)
	if err != nil {
		return 0, usagef("--lock-timeout: %v", err)
	}
	return d, nil
}

// publishLogger says on stderr what a publication waits for (another one holding the
// repository) or completes (one that was interrupted).
func (cl *cli) publishLogger() publish.Option {
	return publish.WithLogger(slog.New(slog.NewTextHandler(cl.stderr, &slog.HandlerOptions{Level: slog.LevelInfo})))
}

// publishedPack returns the manifest entry of b's pack.
func publishedPack(m *manifest.Manifest, b publish.Build) (manifest.Pack, bool) {
	file, err := b.PackName()
	if err != nil {
		return manifest.Pack{}, false
	}
	for _, r := range m.Releases {
		for _, p := range r.Packs {
			if p.File == file {
				return p, true
			}
		}
	}
	return manifest.Pack{}, false
}

// maxNotes bounds a release notes file.
const maxNotes = 64 << 10

// readNotes reads a release notes file ("" for none): UTF-8 text.
func readNotes(path string) (string, error) {
	if path == "" {
		return "", nil
	}
	b, err := limited.ReadFile(path, maxNotes)
	if err != nil {
		return "", fmt.Errorf("--notes: %w", err)
	}
	if !utf8.Valid(b) {
		return "", fmt.Errorf("--notes %s: not UTF-8 text", path)
	}
	if strings.TrimSpace(string(b)) == "" {
		return "", fmt.Errorf("--notes %s: empty", path)
	}
	return strings.TrimRight(string(b), "\n"), nil
}
