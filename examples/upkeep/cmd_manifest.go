package main

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/upkeep-go/upkeep/internal/atomicfile"
	"github.com/upkeep-go/upkeep/manifest"
)

func init() {
	register(&command{
		name:    "manifest",
		summary: "validate a manifest, import HFSQL's hfsql_updateinfo.json, select a release",
		run:     runManifest,
	})
}

const manifestUsage = `usage: upkeep manifest SUBCOMMAND [flags] [args]

subcommands:
  validate FILE
        check a native manifest or an HFSQL hfsql_updateinfo.json
  import-hfsql HFSQL.json -o manifest.json [--packs DIR] [--product NAME] [--module NAME]
        convert an HFSQL file to the native format, hashing its packs
  select FILE --installed VERSION --platform PLATFORM [--module NAME] [--language L]
         [--channel C] [--major N] [--id INSTALL_ID]
        print, as JSON, what an installation would be offered

Run ` + "`upkeep manifest SUBCOMMAND -h`" + ` for a subcommand's flags.
`

func runManifest(ctx context.Context, cl *cli, args []string) error {
	if len(args) == 0 {
		return usagef("want a subcommand: validate, import-hfsql or select (run `upkeep manifest -h`)")
	}
	switch args[0] {
	case "-h", "-help", "--help", "help":
		fmt.Fprint(cl.stdout, manifestUsage)
		return errHelpShown
	case "validate":
		return manifestValidate(cl, args[1:])
	case "import-hfsql":
		return manifestImportHFSQL(ctx, cl, args[1:])
	case "select":
		return manifestSelect(cl, args[1:])
	}
	return usagef("unknown subcommand %q: want validate, import-hfsql or select", args[0])
}

// readManifestBytes reads a manifest file, refusing one larger than manifest.MaxSize.
func readManifestBytes(name string) ([]byte, error) {
	return readSmallFile(name, manifest.MaxSize)
}

// loadManifestFile reads and parses a manifest of either format; errors name the file.
func loadManifestFile(name string) (*manifest.Manifest, manifest.Format, error) {
	data, err := readManifestBytes(name)
	if err != nil {
		return nil, 0, err
	}
	m, f, err := manifest.ParseAny(data)
	if err != nil {
		return nil, f, fmt.Errorf("%s: %w", name, err)
	}
	return m, f, nil
}

func manifestValidate(cl *cli, args []string) error {
	fs := cl.newFlags("manifest validate", "upkeep manifest validate FILE")
	pos, err := parse(fs, args)
	if err != nil {
		return err
	}
	if err := exactArgs(pos, 1, "one manifest FILE"); err != nil {
		return err
	}
	m, f, err := loadManifestFile(pos[0])
	if err != nil {
		return err
	}
	packs := 0
	for _, r := range m.Releases {
		packs += len(r.Packs)
	}
	if f == manifest.FormatHFSQL {
		fmt.Fprintf(cl.stdout, "%s: valid HFSQL file: %d release(s), %d pack(s)\n", pos[0], len(m.Releases), packs)
		return nil
	}
	expiry := ""
	if time.Now().After(m.Expires) {
		expiry = " (expired)"
	}
	fmt.Fprintf(cl.stdout, "%s: valid manifest: product %s, serial %d, expires %s%s, %d release(s), %d pack(s)\n",
		pos[0], m.Product, m.Serial, m.Expires.Format(time.RFC3339), expiry, len(m.Releases), packs)
	return nil
}

func manifestImportHFSQL(ctx context.Context, cl *cli, args []string) error {
	fs := cl.newFlags("manifest import-hfsql",
		"upkeep manifest import-hfsql HFSQL.json -o manifest.json [--packs DIR] [--product NAME] [--module NAME]")
	out := fs.String("o", "", "the native manifest to write (required)")
	packs := fs.String("packs", "", "the folder holding the packs (default: the folder of HFSQL.json)")
	product := fs.String("product", "hfsql", "the product name of the manifest")
	module := fs.String("module", "hfsql", "the module name of the releases")
	pos, err := parse(fs, args)
	if err != nil {
		return err
	}
	if err := exactArgs(pos, 1, "one HFSQL.json file"); err != nil {
		return err
	}
	if *out == "" {
		return usagef("-o manifest.json is required")
	}
	if *product == "" || *module == "" {
		return usagef("--product and --module may not be empty")
	}
	in := pos[0]
	dir := *packs
	if dir == "" {
		dir = filepath.Dir(in)
	}
	data, err := readManifestBytes(in)
	if err != nil {
		return err
	}
	if f, err := manifest.Detect(data); err == nil && f != manifest.FormatHFSQL {
		return fmt.Errorf("%s: a native manifest, not an HFSQL hfsql_updateinfo.json", in)
	}
	h, err := manifest.ParseHFSQL(data)
	if err != nil {
		return fmt.Errorf("%s: %w", in, err)
	}
	m, err := h.Convert(*product, *module, func(file string) (int64, string, error) {
		if err := ctx.Err(); err != nil {
			return 0, "", err
		}
		return hashPackFile(filepath.Join(dir, file))
	})
	if err != nil {
		return err
	}
	m.Serial = 1
	m.Expires = time.Now().UTC().Truncate(time.Second).AddDate(1, 0, 0)
	text, err := m.Marshal()
	if err != nil {
		return fmt.Errorf("%s: %w", in, err)
	}
	if err := atomicfile.WriteFile(*out, text, 0o644); err != nil {
		return err
	}
	n := 0
	for _, r := range m.Releases {
		n += len(r.Packs)
	}
	fmt.Fprintf(cl.stdout, "wrote %s: product %s, module %s, %d release(s), %d pack(s), serial %d, expires %s (unsigned)\n",
		*out, m.Product, *module, len(m.Releases), n, m.Serial, m.Expires.Format(time.RFC3339))
	return nil
}

// hashPackFile returns the size and SHA-256 of a pack.
func hashPackFile(name string) (int64, string, error) {
	f, err := os.Open(name)
	if errors.Is(err, os.ErrNotExist) {
		return 0, "", fmt.Errorf("pack not found: %s", name)
	}
	if err != nil {
		return 0, "", err
	}
	defer f.Close()
	h := sha256.New()
	n, err := io.Copy(h, f)
	if err != nil {
		return 0, "", fmt.Errorf("reading %s: %w", name, err)
	}
	return n, hex.EncodeToString(h.Sum(nil)), nil
}

// manifestSelectJSON is what `manifest select` prints (a fixed shape that scripts read).
type manifestSelectJSON struct {
	Status  manifest.Status        `json:"status"`
	Release *manifestSelectRelease `json:"release,omitempty"`
	Pack    *manifestSelectPack    `json:"pack,omitempty"`
	Path    []string               `json:"path,omitempty"`
	Code    manifest.Code          `json:"code,omitempty"`
	Reason  string                 `json:"reason,omitempty"`
}

type manifestSelectRelease struct {
	Module  string `json:"module"`
	Version string `json:"version"`
}

type manifestSelectPack struct {
	Platform string `json:"platform"`
	File     string `json:"file"`
	Size     int64  `json:"size"`
	SHA256   string `json:"sha256"`
}

func manifestSelect(cl *cli, args []string) error {
	fs := cl.newFlags("manifest select",
		"upkeep manifest select FILE --installed VERSION --platform PLATFORM [--module NAME] [--language L] [--channel C] [--major N] [--id INSTALL_ID]")
	installed := fs.String("installed", "", `the installed version, "" when nothing is installed yet (required)`)
	platform := fs.String("platform", "", "GOOS/GOARCH (linux/amd64) or an HFSQL name (linux64, win32...) (required)")
	module := fs.String("module", "", "the module (default: the manifest's only module)")
	language := fs.String("language", "", "the installation's language (default: any)")
	channel := fs.String("channel", manifest.ChannelStable, "the installation's channel")
	major := fs.Int("major", 0, "the installation's major version (default: any)")
	id := fs.String("id", "", "the installation's ID, for staged rollouts")
	pos, err := parse(fs, args)
	if err != nil {
		return err
	}
	if err := exactArgs(pos, 1, "one manifest FILE"); err != nil {
		return err
	}
	set := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
	if !set["installed"] {
		return usagef(`--installed VERSION is required (--installed "" when nothing is installed)`)
	}
	if !set["platform"] {
		return usagef("--platform PLATFORM is required")
	}
	canon, err := manifest.Platform(*platform)
	if err != nil {
		return usagef("--platform: %s", strings.TrimPrefix(err.Error(), "manifest: "))
	}
	if *installed != "" {
		if _, err := manifest.ParseVersion(*installed); err != nil {
			return usagef("--installed: %s", strings.TrimPrefix(err.Error(), "manifest: "))
		}
	}
	if *major < 0 {
		return usagef("--major: %d is negative", *major)
	}
	m, _, err := loadManifestFile(pos[0])
	if err != nil {
		return err
	}
	if *module == "" {
		var modules []string
		for _, r := range m.Releases {
			if !slices.Contains(modules, r.Module) {
				modules = append(modules, r.Module)
			}
		}
		switch len(modules) {
		case 0:
		case 1:
			*module = modules[0]
		default:
			return usagef("--module is required: %s has modules %s", pos[0], strings.Join(modules, ", "))
		}
	}
	s := m.Select(manifest.Target{
		Module: *module, Installed: *installed, Platform: canon, Language: *language,
		Channel: *channel, Major: *major, InstallID: *id,
	})
	out := manifestSelectJSON{Status: s.Status}
	switch s.Status {
	case manifest.StatusUpdate:
		out.Release = &manifestSelectRelease{s.Release.Module, s.Release.Version}
		out.Pack = &manifestSelectPack{s.Pack.Platform, s.Pack.File, s.Pack.Size, s.Pack.SHA256}
		for _, st := range s.Path {
			out.Path = append(out.Path, st.Release.Version)
		}
	case manifest.StatusIneligible:
		out.Code, out.Reason = s.Code, s.Reason
	}
	line, err := json.Marshal(out)
	if err != nil {
		return err
	}
	fmt.Fprintf(cl.stdout, "%s\n", line)
	return nil
}
