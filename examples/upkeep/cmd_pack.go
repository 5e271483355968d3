package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/upkeep-go/upkeep/internal/atomicfile"
	"github.com/upkeep-go/upkeep/pack"
)

func init() {
	register(&command{name: "pack", summary: "build, extract and describe packs (zip files)", run: runPack})
}

const packSynopsis = "upkeep pack build DIR -o FILE.zip [--method deflate|zstd]\n" +
	"       upkeep pack extract FILE.zip DEST [--pub FILE --sig SIGFILE]\n" +
	"       upkeep pack info FILE.zip [--json]\n" +
	"       upkeep pack delta OLD_DIR NEW_DIR -o FILE.zip\n" +
	"       upkeep pack apply-delta FILE.zip BASE_DIR DEST"

func runPack(ctx context.Context, cl *cli, args []string) error {
	if len(args) == 0 {
		return usagef("want a subcommand: build, extract, info, delta or apply-delta")
	}
	switch args[0] {
	case "-h", "-help", "--help", "help":
		fmt.Fprintf(cl.stdout, "usage: %s\n", packSynopsis)
		return errHelpShown
	case "build":
		return runPackBuild(ctx, cl, args[1:])
	case "extract":
		return runPackExtract(ctx, cl, args[1:])
	case "info":
		return runPackInfo(cl, args[1:])
	case "delta":
		return runPackDelta(ctx, cl, args[1:])
	case "apply-delta":
		return runPackApplyDelta(ctx, cl, args[1:])
	}
	return usagef("unknown subcommand %q: want build, extract, info, delta or apply-delta", args[0])
}

func runPackBuild(ctx context.Context, cl *cli, args []string) error {
	fs := cl.newFlags("pack build", "upkeep pack build DIR -o FILE.zip [--method deflate|zstd]\n"+
		"Builds a pack of DIR; the same tree (content, modes, mtimes) gives the same bytes.\n"+
		"SOURCE_DATE_EPOCH, when set, replaces every mtime.")
	out := fs.String("o", "", "output `file` (required), written atomically")
	method := fs.String("method", "deflate", "compression of files: deflate or zstd")
	pos, err := parse(fs, args)
	if err != nil {
		return err
	}
	if err := exactArgs(pos, 1, "DIR"); err != nil {
		return err
	}
	if *out == "" {
		return usagef("-o FILE.zip is required")
	}
	m, err := parseMethod(*method)
	if err != nil {
		return err
	}
	opts := []pack.BuildOption{pack.WithMethod(m)}
	if inside(pos[0], *out) {
		return usagef("-o %s: the output must not be inside the tree %s", *out, pos[0])
	}
	t, ok, err := pack.SourceDateEpoch()
	if err != nil {
		return err
	}
	if ok {
		opts = append(opts, pack.WithModTime(t))
	}
	err = atomicfile.Write(*out, 0o644, func(w io.Writer) error {
		return pack.BuildDir(ctx, w, pos[0], opts...)
	})
	if err != nil {
		return err
	}
	fi, err := os.Stat(*out)
	if err != nil {
		return err
	}
	fmt.Fprintf(cl.stdout, "built %s from %s (%d bytes, %s)\n", *out, pos[0], fi.Size(), *method)
	return nil
}

// inside reports whether path lies inside the folder dir.
func inside(dir, path string) bool {
	d, err1 := filepath.Abs(dir)
	p, err2 := filepath.Abs(path)
	if err1 != nil || err2 != nil {
		return false
	}
	rel, err := filepath.Rel(d, p)
	return err == nil && rel != ".." && !strings.HasPrefix(rel, ".."+string(filepath.Separator))
}

func runPackExtract(ctx context.Context, cl *cli, args []string) error {
	fs := cl.newFlags("pack extract", "upkeep pack extract FILE.zip DEST [--pub FILE --sig SIGFILE]\n"+
		"Extracts into DEST, which must not exist or be empty. With --pub the signature is\n"+
		"verified before any entry is written. On failure DEST is left as it was.")
	var pubs multiFlag
	fs.Var(&pubs, "pub", "trusted public key `file` (repeatable)")
	sig := fs.String("sig", "", "signature `file` (default: FILE.zip.minisig)")
	pos, err := parse(fs, args)
	if err != nil {
		return err
	}
	if err := exactArgs(pos, 2, "FILE.zip DEST"); err != nil {
		return err
	}
	if *sig != "" && len(pubs) == 0 {
		return usagef("--sig needs --pub")
	}
	f, err := os.Open(pos[0])
	if err != nil {
		return err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return err
	}
	var opts []pack.Option
	if len(pubs) > 0 {
		sigFile := *sig
		if sigFile == "" {
			sigFile = pos[0] + ".minisig"
		}
		opt, err := verifyPackOption(pubs, sigFile, filepath.Base(pos[0]))
		if err != nil {
			return err
		}
		opts = append(opts, opt)
	}
	if cl.terminal {
		opts = append(opts, pack.WithProgress(func(done, total int64) {
			fmt.Fprintf(cl.stderr, "\r%s / %s", human(done), human(total))
		}))
	}
	rep, err := pack.Extract(ctx, f, fi.Size(), pos[1], opts...)
	if cl.terminal {
		fmt.Fprintln(cl.stderr)
	}
	if err != nil {
		return fmt.Errorf("%s: %w", pos[0], err)
	}
	fmt.Fprintf(cl.stdout, "extracted %s into %s: %d files, %d folders, %d links, %d bytes in %s\n",
		pos[0], pos[1], rep.Files, rep.Dirs, rep.Links, rep.Bytes, rep.Duration.Round(time.Millisecond))
	return nil
}

func human(n int64) string {
	switch {
	case n >= 1<<30:
		return fmt.Sprintf("%.1f GiB", float64(n)/(1<<30))
	case n >= 1<<20:
		return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20))
	}
	return fmt.Sprintf("%d KiB", n>>10)
}

// packInfoJSON is what `pack info --json` prints: counts, declared uncompressed size
// and compressed size in bytes, the methods used ("store", "deflate", "zstd"), and
// each entry in pack order with its name as stored (folders end with "/"), sizes,
// method, mode as ls shows it ("-rwxr-xr-x", "drwxr-xr-x", "Lrwxrwxrwx"), mtime in
// RFC 3339, and a link's target.
type packInfoJSON struct {
	Files      int             `json:"files"`
	Dirs       int             `json:"dirs"`
	Links      int             `json:"links"`
	Size       int64           `json:"size"`
	Compressed int64           `json:"compressed"`
	Methods    []string        `json:"methods"`
	Entries    []packEntryJSON `json:"entries"`
}

type packEntryJSON struct {
	Name       string `json:"name"`
	Size       int64  `json:"size"`
	Compressed int64  `json:"compressed"`
	Mode       string `json:"mode"`
	Method     string `json:"method"`
	MTime      string `json:"mtime"`
	Link       string `json:"link,omitempty"`
}

func runPackInfo(cl *cli, args []string) error {
	fs := cl.newFlags("pack info", "upkeep pack info FILE.zip [--json]\n"+
		"Describes a pack and checks everything that needs no decompression.")
	asJSON := fs.Bool("json", false, "print JSON")
	pos, err := parse(fs, args)
	if err != nil {
		return err
	}
	if err := exactArgs(pos, 1, "FILE.zip"); err != nil {
		return err
	}
	f, err := os.Open(pos[0])
	if err != nil {
		return err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return err
	}
	info, err := pack.ReadInfo(f, fi.Size())
	if err != nil {
		return fmt.Errorf("%s: %w", pos[0], err)
	}
	out := packInfoJSON{Files: info.Files, Dirs: info.Dirs, Links: info.Links, Size: info.Size,
		Compressed: info.Compressed, Methods: []string{}, Entries: []packEntryJSON{}}
	for _, m := range info.Methods {
		out.Methods = append(out.Methods, m.String())
	}
	for _, e := range info.Entries {
		out.Entries = append(out.Entries, packEntryJSON{Name: e.Name, Size: e.Size, Compressed: e.Compressed,
			Mode: e.Mode.String(), Method: e.Method.String(), MTime: e.ModTime.Format(time.RFC3339), Link: e.Link})
	}
	if *asJSON {
		enc := json.NewEncoder(cl.stdout)
		return enc.Encode(out)
	}
	fmt.Fprintf(cl.stdout, "%s: %d files, %d folders, %d links, %d bytes (%d compressed, %s)\n",
		pos[0], out.Files, out.Dirs, out.Links, out.Size, out.Compressed, strings.Join(out.Methods, ", "))
	tw := tabwriter.NewWriter(cl.stdout, 0, 4, 2, ' ', 0)
	for _, e := range out.Entries {
		name := e.Name
		if e.Link != "" {
			name += " -> " + e.Link
		}
		fmt.Fprintf(tw, "%s\t%d\t%s\t%s\n", e.Mode, e.Size, e.Method, name)
	}
	return tw.Flush()
}

// parseMethod reads a --method flag: deflate or zstd.
func parseMethod(s string) (pack.Method, error) {
	switch s {
	case "deflate":
		return pack.Deflate, nil
	case "zstd":
		return pack.Zstd, nil
	}
	return 0, usagef("--method %q: want deflate or zstd", s)
}
