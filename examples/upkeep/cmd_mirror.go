package main

import (
	"context"
	"fmt"
	"log/slog"

	"github.com/upkeep-go/upkeep/signature"
	"github.com/upkeep-go/upkeep/update/agent"
	"github.com/upkeep-go/upkeep/update/mirror"
	"github.com/upkeep-go/upkeep/update/source"
)

func init() {
	register(&command{name: "mirror", summary: "copy a configuration's source repository into a folder, verified", run: runMirror})
}

func runMirror(ctx context.Context, cl *cli, args []string) error {
	fs := cl.newFlags("mirror", "upkeep mirror --config FILE --to DIR [--sec FILE] [--password-file FILE]")
	config := fs.String("config", "", "agent configuration `file`: its source, keys (or root_keys), threshold and product")
	to := fs.String("to", "", "mirror `folder` (created when missing)")
	sec := fs.String("sec", "", "operator's secret key `file`: co-signs the mirrored manifest")
	pw := fs.String("password-file", "", "`file` holding --sec's password")
	pos, err := parse(fs, args)
	if err != nil {
		return err
	}
	if err := exactArgs(pos, 0, "no positional argument"); err != nil {
		return err
	}
	if *config == "" || *to == "" {
		return usagef("--config and --to are required")
	}
	cfg, err := agent.LoadConfig(*config)
	if err != nil {
		return err
	}
	src, err := source.New(cfg.Source)
	if err != nil {
		return fmt.Errorf("%s: source: %w", *config, err)
	}
	o := mirror.Options{Threshold: cfg.Threshold, Product: cfg.Product, Log: slog.New(slog.NewTextHandler(cl.stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))}
	if len(cfg.RootKeys) > 0 {
		if o.Roots, err = signature.LoadKeyring(cfg.RootKeys, signature.WithThreshold(cfg.RootThreshold)); err != nil {
			return fmt.Errorf("%s: root_keys: %w", *config, err)
		}
	} else if o.Keyring, err = signature.LoadKeyring(cfg.Keys, signature.WithThreshold(cfg.Threshold)); err != nil {
		return fmt.Errorf("%s: keys: %w", *config, err)
	}
	if *sec != "" {
		k, err := loadSecretKey(*sec, *pw)
		if err != nil {
			return err
		}
		o.Sign = &k
	}
	rep, err := mirror.Mirror(ctx, src, *to, o)
	if rep != nil {
		fmt.Fprintf(cl.stdout, "mirrored manifest serial %d into %s: %d pack(s) copied, %d kept, %d not copied; %d bytes fetched\n",
			rep.Serial, *to, len(rep.Copied), len(rep.Kept), len(rep.Failed), rep.Fetched)
	}
	return err
}
