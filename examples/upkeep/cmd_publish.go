package main

import (
	"context"
	"fmt"
	"time"

	"github.com/upkeep-go/upkeep/pack"
	"github.com/upkeep-go/upkeep/update"
	"github.com/upkeep-go/upkeep/update/publish"
)

func init() {
	register(&command{name: "publish", summary: "build, sign and add a pack to a repository's manifest", run: runPublish})
	register(&command{name: "refresh", summary: "re-sign a repository's manifest with a new serial and expiry", run: runRefresh})
}

func runPublish(ctx context.Context, cl *cli, args []string) error {
	fs := cl.newFlags("publish", "upkeep publish --repo DIR --sec FILE --module NAME --version V --platform P --from BUILD_DIR [--min-version V] [--channel C] [--expires DURATION]")
	repo := fs.String("repo", "", "repository `folder` (created when empty)")
	sec := fs.String("sec", "", "secret key `file`")
	pw := fs.String("password-file", "", "`file` holding the secret key's password")
	module := fs.String("module", "", "module `name`")
	ver := fs.String("version", "", "`version` of the build")
	plat := fs.String("platform", "", "`platform` of the build (linux/amd64, win64, …)")
	from := fs.String("from", "", "build `folder` to pack")
	minv := fs.String("min-version", "", "oldest installed `version` this release applies to")
	channel := fs.String("channel", "", "release `channel` (default stable)")
	product := fs.String("product", "", "product `name` of a new repository (default: the module)")
	expires := fs.String("expires", "30d", "manifest lifetime: a Go `duration` or days (30d)")
	method := fs.String("method", "deflate", "pack compression: deflate or zstd")
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
	exp, err := update.ParseDuration(*expires)
	if err != nil {
		return usagef("--expires: %v", err)
	}
	m, err := parseMethod(*method)
	if err != nil {
		return err
	}
	key, err := loadSecretKey(*sec, *pw)
	if err != nil {
		return err
	}
	opts := publish.PublishOptions{Module: *module, Version: *ver, Platform: *plat, From: *from,
		MinVersion: *minv, Channel: *channel, Product: *product, Expires: exp, Method: m}
	if t, ok, err := pack.SourceDateEpoch(); err != nil {
		return err
	} else if ok {
		opts.ModTime = t
	}
	man, err := publish.Publish(ctx, *repo, key, opts)
	if err != nil {
		return err
	}
	fmt.Fprintf(cl.stdout, "published %s %s for %s in %s (manifest serial %d, expires %s)\n",
		*module, *ver, *plat, *repo, man.Serial, man.Expires.Format(time.RFC3339))
	return nil
}

func runRefresh(ctx context.Context, cl *cli, args []string) error {
	fs := cl.newFlags("refresh", "upkeep refresh --repo DIR --sec FILE [--expires DURATION]")
	repo := fs.String("repo", "", "repository `folder`")
	sec := fs.String("sec", "", "secret key `file`")
	pw := fs.String("password-file", "", "`file` holding the secret key's password")
	expires := fs.String("expires", "30d", "manifest lifetime: a Go `duration` or days (30d)")
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
	exp, err := update.ParseDuration(*expires)
	if err != nil {
		return usagef("--expires: %v", err)
	}
	key, err := loadSecretKey(*sec, *pw)
	if err != nil {
		return err
	}
	man, err := publish.Refresh(ctx, *repo, key, exp, nil)
	if err != nil {
		return err
	}
	fmt.Fprintf(cl.stdout, "refreshed %s: serial %d, expires %s\n", *repo, man.Serial, man.Expires.Format(time.RFC3339))
	return nil
}
