package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/upkeep-go/upkeep/internal/atomicfile"
	"github.com/upkeep-go/upkeep/pack"
)

func runPackDelta(ctx context.Context, cl *cli, args []string) error {
	fs := cl.newFlags("pack delta", "upkeep pack delta OLD_DIR NEW_DIR -o FILE.zip\n"+
		"Builds a delta that rebuilds NEW_DIR from OLD_DIR: changed files as zstd patches\n"+
		"against their old version, new files whole, unchanged files only listed.\n"+
		"SOURCE_DATE_EPOCH, when set, replaces every mtime.")
	out := fs.String("o", "", "output `file` (required), written atomically")
	pos, err := parse(fs, args)
	if err != nil {
		return err
	}
	if err := exactArgs(pos, 2, "OLD_DIR NEW_DIR"); err != nil {
		return err
	}
	if *out == "" {
		return usagef("-o FILE.zip is required")
	}
	for _, d := range pos {
		if inside(d, *out) {
			return usagef("-o %s: the output must not be inside the tree %s", *out, d)
		}
	}
	var opts []pack.BuildOption
	t, ok, err := pack.SourceDateEpoch()
	if err != nil {
		return err
	}
	if ok {
		opts = append(opts, pack.WithModTime(t))
	}
	err = atomicfile.Write(*out, 0o644, func(w io.Writer) error {
		return pack.BuildDeltaDir(ctx, w, pos[0], pos[1], opts...)
	})
	if err != nil {
		return err
	}
	f, err := os.Open(*out)
	if err != nil {
		return err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return err
	}
	info, err := pack.ReadDeltaInfo(f, fi.Size())
	if err != nil {
		return fmt.Errorf("%s: %w", *out, err)
	}
	fmt.Fprintf(cl.stdout, "built %s from %s to %s (%d bytes for a %d-byte tree): %d unchanged, %d patched, %d whole\n",
		*out, pos[0], pos[1], fi.Size(), info.Size, info.Same, info.Patched, info.Whole)
	return nil
}

func runPackApplyDelta(ctx context.Context, cl *cli, args []string) error {
	fs := cl.newFlags("pack apply-delta", "upkeep pack apply-delta FILE.zip BASE_DIR DEST\n"+
		"Rebuilds the delta's new tree into DEST (which must not exist or be empty) from\n"+
		"BASE_DIR, which is only read, checking every file's SHA-256. Fails without writing\n"+
		"outside DEST, naming the file, when BASE_DIR is not the delta's base.")
	pos, err := parse(fs, args)
	if err != nil {
		return err
	}
	if err := exactArgs(pos, 3, "FILE.zip BASE_DIR DEST"); err != nil {
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
	rep, err := pack.ApplyDelta(ctx, f, fi.Size(), pos[1], pos[2])
	if err != nil {
		return fmt.Errorf("%s: %w", pos[0], err)
	}
	fmt.Fprintf(cl.stdout, "rebuilt %s from %s and %s: %d files (%d unchanged, %d patched, %d whole), %d folders, %d links, %d bytes in %s\n",
		pos[2], pos[1], pos[0], rep.Files, rep.Same, rep.Patched, rep.Whole, rep.Dirs, rep.Links, rep.Bytes,
		rep.Duration.Round(time.Millisecond))
	return nil
}
