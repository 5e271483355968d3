package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/upkeep-go/upkeep/internal/atomicfile"
	"github.com/upkeep-go/upkeep/internal/limited"
	"github.com/upkeep-go/upkeep/signature"
)

func init() {
	register(&command{name: "keygen", summary: "create a minisign key pair", run: runKeygen})
	register(&command{name: "sign", summary: "sign files (FILE.minisig beside each)", run: runSign})
	register(&command{name: "verify", summary: "verify a file's signature with trusted keys", run: runVerify})
}

// keygenKDFCost returns the scrypt cost keygen offers under name.
func keygenKDFCost(name string) (signature.KDFCost, bool) {
	switch name {
	case "sensitive":
		return signature.KDFCost{OpsLimit: signature.DefaultKDFOpsLimit, MemLimit: signature.DefaultKDFMemLimit}, true
	case "interactive":
		return signature.KDFCost{OpsLimit: signature.InteractiveKDFOpsLimit, MemLimit: signature.InteractiveKDFMemLimit}, true
	}
	return signature.KDFCost{}, false
}

func runKeygen(_ context.Context, cl *cli, args []string) error {
	fs := cl.newFlags("keygen", "upkeep keygen --pub FILE --sec FILE [--password-file FILE] [--kdf-cost sensitive|interactive]")
	pubPath := fs.String("pub", "", "public key file to create (required)")
	secPath := fs.String("sec", "", "secret key file to create (required)")
	passFile := fs.String("password-file", "", "encrypt the secret key with the password in this file (first line); without it the key is unencrypted")
	cost := fs.String("kdf-cost", "sensitive", "scrypt cost of an encrypted key: sensitive (minisign's default, 1 GiB) or interactive (16 MiB)")
	pos, err := parse(fs, args)
	if err != nil {
		return err
	}
	if err := exactArgs(pos, 0, "no argument"); err != nil {
		return err
	}
	if *pubPath == "" || *secPath == "" {
		return usagef("--pub and --sec are required")
	}
	if filepath.Clean(*pubPath) == filepath.Clean(*secPath) {
		return usagef("--pub and --sec name the same file %s", *pubPath)
	}
	kdf, ok := keygenKDFCost(*cost)
	if !ok {
		return usagef("--kdf-cost %q: want sensitive or interactive", *cost)
	}
	password, err := readPasswordFile(*passFile)
	if err != nil {
		return err
	}
	for _, p := range []string{*pubPath, *secPath} {
		if _, err := os.Lstat(p); err == nil {
			return fmt.Errorf("%s exists: refusing to overwrite a key", p)
		} else if !errors.Is(err, os.ErrNotExist) {
			return err
		}
	}
	pub, priv, err := signature.GenerateKey(nil)
	if err != nil {
		return err
	}
	secText, err := signature.MarshalPrivateKeyCost(priv, password, kdf)
	if err != nil {
		return err
	}
	pubText, err := pub.MarshalText()
	if err != nil {
		return err
	}
	if err := atomicfile.WriteFile(*secPath, secText, 0o600); err != nil {
		return fmt.Errorf("writing secret key: %w", err)
	}
	if err := atomicfile.WriteFile(*pubPath, pubText, 0o644); err != nil {
		os.Remove(*secPath) // no half key pair
		return fmt.Errorf("writing public key: %w", err)
	}
	fmt.Fprintf(cl.stdout, "key %s: public key %s, secret key %s", pub.ID(), *pubPath, *secPath)
	if password == "" {
		fmt.Fprint(cl.stdout, " (unencrypted)")
	}
	fmt.Fprintln(cl.stdout)
	return nil
}

func runSign(_ context.Context, cl *cli, args []string) error {
	fs := cl.newFlags("sign", "upkeep sign --sec FILE [--password-file FILE] [--trusted-comment TEXT] [--append] FILE...")
	secPath := fs.String("sec", "", "secret key file (required)")
	passFile := fs.String("password-file", "", "password of an encrypted secret key (first line of this file)")
	comment := fs.String("trusted-comment", "", "trusted comment, signed with the file (default \"timestamp:N<TAB>file:NAME<TAB>hashed\", as minisign)")
	appendSig := fs.Bool("append", false, "co-sign: add this key's block to an existing FILE.minisig (replacing this key's earlier block) instead of replacing the file")
	pos, err := parse(fs, args)
	if err != nil {
		return err
	}
	if *secPath == "" {
		return usagef("--sec is required")
	}
	if len(pos) == 0 {
		return usagef("want at least one FILE to sign")
	}
	if strings.ContainsAny(*comment, "\r\n") {
		return usagef("--trusted-comment must be one line")
	}
	priv, err := loadSecretKey(*secPath, *passFile)
	if err != nil {
		return err
	}
	for _, name := range pos {
		if err := signFile(priv, name, *comment, *appendSig); err != nil {
			return err
		}
		fmt.Fprintf(cl.stdout, "%s.minisig: signed with key %s\n", name, priv.ID())
	}
	return nil
}

// signFile writes name.minisig atomically.
func signFile(priv signature.PrivateKey, name, comment string, appendSig bool) error {
	f, err := os.Open(name)
	if err != nil {
		return err
	}
	defer f.Close()
	if comment == "" {
		comment = "timestamp:" + strconv.FormatInt(time.Now().Unix(), 10) + "\tfile:" + filepath.Base(name) + "\thashed"
	}
	blk, err := signature.Sign(priv, f, comment)
	if err != nil {
		return fmt.Errorf("%s: %w", name, err)
	}
	sigPath := name + ".minisig"
	if appendSig {
		old, err := readSmallFile(sigPath, signature.MaxSignatureFileSize)
		if err != nil && !errors.Is(err, os.ErrNotExist) {
			return err
		}
		if blk, err = signature.AppendSignature(sigPath, old, blk); err != nil {
			return err
		}
	}
	return atomicfile.WriteFile(sigPath, blk, 0o644)
}

func runVerify(_ context.Context, cl *cli, args []string) error {
	fs := cl.newFlags("verify", "upkeep verify --pub FILE [--pub FILE]... [--threshold N] [--allow-legacy] [--sig SIGFILE] FILE")
	var pubs multiFlag
	fs.Var(&pubs, "pub", "trusted public key file, may hold several keys (repeatable, at least one)")
	threshold := fs.Int("threshold", 1, "distinct trusted keys that must have signed")
	legacy := fs.Bool("allow-legacy", false, "accept legacy (not prehashed) signatures")
	sigPath := fs.String("sig", "", "signature file (default FILE.minisig)")
	pos, err := parse(fs, args)
	if err != nil {
		return err
	}
	if err := exactArgs(pos, 1, "one FILE"); err != nil {
		return err
	}
	if len(pubs) == 0 {
		return usagef("at least one --pub is required")
	}
	if *threshold < 1 {
		return usagef("--threshold %d: want at least 1", *threshold)
	}
	name := pos[0]
	if *sigPath == "" {
		*sigPath = name + ".minisig"
	}
	kr, err := signature.LoadKeyring(pubs, signature.WithThreshold(*threshold), signature.WithLegacy(*legacy))
	if err != nil {
		return err
	}
	sig, err := readSmallFile(*sigPath, signature.MaxSignatureFileSize)
	if err != nil {
		return err
	}
	f, err := os.Open(name)
	if err != nil {
		return err
	}
	defer f.Close()
	v, err := kr.Verify(name, sig, f)
	if err != nil {
		return err
	}
	for _, s := range v.Signers {
		fmt.Fprintf(cl.stdout, "Signature verified with key %s\nTrusted comment: %s\n", s.KeyID, s.TrustedComment)
	}
	return nil
}

// loadSecretKey reads a secret key file, decrypting it with the password in passFile
// when passFile is not "". Other commands that sign (publish, refresh) use it too.
func loadSecretKey(secPath, passFile string) (signature.PrivateKey, error) {
	password, err := readPasswordFile(passFile)
	if err != nil {
		return signature.PrivateKey{}, err
	}
	secText, err := readSmallFile(secPath, 64<<10)
	if err != nil {
		return signature.PrivateKey{}, err
	}
	priv, err := signature.ParsePrivateKey(secText, password)
	if err != nil {
		if _, perr := signature.ParsePublicKeys(secText); perr == nil {
			return signature.PrivateKey{}, fmt.Errorf("%s is a public key, not a secret key: give the secret key file (the one keygen wrote with --sec); the public one goes to --pub or a configuration's keys", secPath)
		}
		return signature.PrivateKey{}, fmt.Errorf("%s: %w", secPath, err)
	}
	return priv, nil
}

// readPasswordFile returns the first line of path, or "" when path is "".
func readPasswordFile(path string) (string, error) {
	if path == "" {
		return "", nil
	}
	b, err := readSmallFile(path, 4096)
	if err != nil {
		return "", err
	}
	line, _, _ := strings.Cut(string(b), "\n")
	line = strings.TrimSuffix(line, "\r")
	if line == "" {
		return "", fmt.Errorf("%s: empty password", path)
	}
	return line, nil
}

// readSmallFile reads a small file, refusing one above max bytes.
func readSmallFile(path string, max int64) ([]byte, error) {
	return limited.ReadFile(path, max)
}
