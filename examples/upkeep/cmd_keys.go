package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"strings"
	"time"

	"github.com/upkeep-go/upkeep/signature"
	"github.com/upkeep-go/upkeep/update/agent"
	"github.com/upkeep-go/upkeep/update/publish"
)

func init() {
	register(&command{name: "keys", summary: "publish a repository's keys.json (signing keys, signed by root keys)", run: runKeys})
}

func runKeys(ctx context.Context, cl *cli, args []string) error {
	if len(args) == 0 || args[0] != "publish" {
		if len(args) > 0 && (args[0] == "-h" || args[0] == "--help" || args[0] == "-help") {
			fmt.Fprintln(cl.stdout, "usage: upkeep keys publish --repo DIR --root-sec FILE [--root-sec FILE]... (--add PUB | --remove KEYID)... [--expires DATE|DURATION]")
			return errHelpShown
		}
		return usagef("want `upkeep keys publish ...`")
	}
	return runKeysPublish(ctx, cl, args[1:])
}

func runKeysPublish(ctx context.Context, cl *cli, args []string) error {
	fs := cl.newFlags("keys publish", "upkeep keys publish --repo DIR --root-sec FILE [--root-sec FILE]... (--add PUB | --remove KEYID)... [--add-root PUB]... [--remove-root KEYID]... [--root-threshold N] [--not-before TIME] [--not-after TIME|DURATION] [--expires DATE|DURATION] [--password-file FILE]")
	repo := fs.String("repo", "", "repository `folder`")
	var rootSecs, adds, removes, addRoots, removeRoots multiFlag
	fs.Var(&rootSecs, "root-sec", "root secret key `file` that signs keys.json (repeatable: enough for the root threshold, of the current roots and, when they change, of the new ones)")
	fs.Var(&adds, "add", "public key `file` of a signing key to add (repeatable; a file may hold several keys)")
	fs.Var(&removes, "remove", "`key ID` of a signing key to remove: agents never trust it again (repeatable)")
	fs.Var(&addRoots, "add-root", "public key `file` of a root key to add (repeatable); the new roots must sign too")
	fs.Var(&removeRoots, "remove-root", "`key ID` of a root key to remove (repeatable)")
	rootThreshold := fs.Int("root-threshold", 0, "distinct root keys that must sign keys.json (default: unchanged, 1 for a new key set)")
	notBefore := fs.String("not-before", "", "the added keys are valid from this RFC 3339 `time` (default: no bound)")
	notAfter := fs.String("not-after", "", "the added keys are valid until this RFC 3339 time, or for this `duration` from now (365d) (default: no bound)")
	expires := fs.String("expires", "365d", "the key set expires at this `date` (2027-12-31, 00:00 UTC), RFC 3339 time, or after this duration from now (365d): agents then refuse it, so publish a new one before")
	pw := fs.String("password-file", "", "`file` holding the root secret keys' password")
	lockTimeout := fs.String("lock-timeout", defaultLockTimeout, "how long to wait while another publication holds the repository: a Go `duration` or days")
	pos, err := parse(fs, args)
	if err != nil {
		return err
	}
	if err := exactArgs(pos, 0, "no positional argument"); err != nil {
		return err
	}
	if *repo == "" {
		return usagef("--repo is required")
	}
	if len(rootSecs) == 0 {
		return usagef("at least one --root-sec is required")
	}
	expiresSet := false
	fs.Visit(func(f *flag.Flag) { expiresSet = expiresSet || f.Name == "expires" })
	if len(adds)+len(removes)+len(addRoots)+len(removeRoots) == 0 && *rootThreshold == 0 && !expiresSet {
		return usagef("nothing to change: give --add, --remove, --add-root, --remove-root, --root-threshold or --expires")
	}
	if *rootThreshold < 0 {
		return usagef("--root-threshold %d: want at least 1", *rootThreshold)
	}
	wait, err := parseLockTimeout(*lockTimeout)
	if err != nil {
		return err
	}
	now := time.Now()
	var ch publish.KeysChange
	ch.RootThreshold = *rootThreshold
	if ch.Expires, err = parseExpiry(*expires, now); err != nil {
		return usagef("--expires %q: %v", *expires, err)
	}
	var nb, na time.Time
	if *notBefore != "" {
		if nb, err = time.Parse(time.RFC3339, *notBefore); err != nil {
			return usagef("--not-before: %v", err)
		}
	}
	if *notAfter != "" {
		if na, err = time.Parse(time.RFC3339, *notAfter); err != nil {
			d, derr := agent.ParseDuration(*notAfter)
			if derr != nil {
				return usagef("--not-after %q: want an RFC 3339 time or a duration such as 365d", *notAfter)
			}
			na = now.Add(d).UTC().Truncate(time.Second)
		}
	}
	for _, f := range adds {
		keys, err := readPublicKeys(f)
		if err != nil {
			return err
		}
		for _, k := range keys {
			ch.Add = append(ch.Add, signature.ValidKey{Key: k, NotBefore: nb, NotAfter: na})
		}
	}
	for _, f := range addRoots {
		keys, err := readPublicKeys(f)
		if err != nil {
			return err
		}
		ch.AddRoots = append(ch.AddRoots, keys...)
	}
	for _, s := range removes {
		id, err := signature.ParseKeyID(strings.TrimSpace(s))
		if err != nil {
			return usagef("--remove: %v", err)
		}
		ch.Remove = append(ch.Remove, id)
	}
	for _, s := range removeRoots {
		id, err := signature.ParseKeyID(strings.TrimSpace(s))
		if err != nil {
			return usagef("--remove-root: %v", err)
		}
		ch.RemoveRoots = append(ch.RemoveRoots, id)
	}
	var roots []signature.PrivateKey
	for _, f := range rootSecs {
		k, err := loadSecretKey(f, *pw)
		if err != nil {
			return err
		}
		roots = append(roots, k)
	}
	ks, err := publish.PublishKeys(ctx, *repo, roots, ch, publish.WithLockTimeout(wait), cl.publishLogger())
	if err != nil {
		return err
	}
	var ids []string
	for _, k := range ks.Keys {
		ids = append(ids, k.Key.ID().String())
	}
	var rids []string
	for _, k := range ks.Roots {
		rids = append(rids, k.ID().String())
	}
	fmt.Fprintf(cl.stdout, "published %s version %d in %s: signing keys %s; roots %s (threshold %d); expires %s\n",
		signature.KeySetFileName, ks.Version, *repo, orList(ids), strings.Join(rids, ", "), ks.RootThreshold, ks.Expires.UTC().Format(time.RFC3339))
	return nil
}

// parseExpiry reads --expires: a date (that day at 00:00 UTC), an RFC 3339 time, or
// a duration from now (a Go duration or days, 365d). It must be in the future.
func parseExpiry(s string, now time.Time) (time.Time, error) {
	t, err := time.Parse(time.DateOnly, s)
	if err != nil {
		t, err = time.Parse(time.RFC3339, s)
	}
	if err != nil {
		d, derr := agent.ParseDuration(s)
		if derr != nil {
			return time.Time{}, errors.New("want a date (2027-12-31), an RFC 3339 time or a duration such as 365d")
		}
		t = now.Add(d)
	}
	if !t.After(now) {
		return time.Time{}, fmt.Errorf("%s is not in the future", t.UTC().Format(time.RFC3339))
	}
	return t.UTC().Truncate(time.Second), nil
}

// readPublicKeys reads a public key file (one or several keys).
func readPublicKeys(path string) ([]signature.PublicKey, error) {
	b, err := readSmallFile(path, signature.MaxKeyFileSize)
	if err != nil {
		return nil, err
	}
	keys, err := signature.ParsePublicKeys(b)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return keys, nil
}

func orList(s []string) string {
	if len(s) == 0 {
		return "none"
	}
	return strings.Join(s, ", ")
}
