package update

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"sync"
	"time"

	"github.com/upkeep-go/upkeep/signature"
)

// Keys over time (DESIGN.md): with root_keys configured, every check first fetches the
// repository's keys.json and its signature, verifies them with the root keys pinned in
// the state dir (the configured ones until a root rotation replaces them), refuses a
// key set older than one accepted, and verifies the manifest, and then the packs, with
// the signing keys it lists that are valid now and were never removed.
//
// The record of the key set accepted is written as soon as the key set is accepted,
// before the manifest is verified: a manifest refused afterwards (signed by a key the
// new key set removed) must not leave the agent able to go back to the older key set
// that trusted that key. A key set refused writes nothing.

// keysStateFile is the record of the key set accepted, in the state dir.
var keysStateFile = []string{"keys", "state.json"}

// keysRecord is what the state dir keeps of the key sets accepted, in one file
// replaced atomically.
type keysRecord struct {
	Version   uint64 `json:"version"`
	SHA256    string `json:"sha256"`
	Validator string `json:"validator,omitempty"`
	KeySet    []byte `json:"key_set"` // the bytes of the keys.json accepted (base64)
	// Roots and RootThreshold are the root keys pinned: those of the key set accepted.
	Roots         []string `json:"roots"`
	RootThreshold int      `json:"root_threshold"`
	// ConfigRoots and ConfigRootThreshold are the configured root keys the pinned
	// roots descend from: when the configuration names others, the operator has
	// re-pinned by hand, and the record starts again from the configuration (keeping
	// the revoked keys).
	ConfigRoots         []string `json:"config_roots"`
	ConfigRootThreshold int      `json:"config_root_threshold"`
	// Revoked lists the signing keys removed by any key set accepted: never trusted
	// again.
	Revoked []string  `json:"revoked,omitempty"`
	Updated time.Time `json:"updated"`
}

// keySigning holds the signing keyring of the last key set accepted by this engine.
type keySigning struct {
	mu sync.Mutex
	kr *signature.Keyring
}

// keyTrust is a key set accepted for one check: the keyring to verify the manifest
// with, and what is needed to tell an expired key from an unknown one.
type keyTrust struct {
	ks      *signature.KeySet
	revoked []signature.KeyID
	keyring *signature.Keyring
}

func keyLines(keys []signature.PublicKey) []string {
	out := make([]string, len(keys))
	for i, k := range keys {
		out[i] = k.String()
	}
	slices.Sort(out)
	return out
}

func parseKeyLines(lines []string, threshold int) (*signature.Keyring, error) {
	var keys []signature.PublicKey
	for _, l := range lines {
		k, err := signature.ParsePublicKeys([]byte(l))
		if err != nil {
			return nil, err
		}
		keys = append(keys, k...)
	}
	return signature.NewKeyring(keys, signature.WithThreshold(threshold))
}

func parseKeyIDs(ids []string) []signature.KeyID {
	var out []signature.KeyID
	for _, s := range ids {
		if id, err := signature.ParseKeyID(s); err == nil {
			out = append(out, id)
		}
	}
	return out
}

func keyIDStrings(ids []signature.KeyID) []string {
	out := make([]string, len(ids))
	for i, id := range ids {
		out[i] = id.String()
	}
	return out
}

// loadKeysRecord reads the record and decides which roots are pinned: the record's
// when it descends from the configured roots, else the configured ones (and a
// record started again, keeping the revoked keys).
func (e *Engine) loadKeysRecord() (keysRecord, *signature.Keyring, error) {
	var rec keysRecord
	path := e.state.path(keysStateFile...)
	if _, err := readJSON(path, &rec); err != nil {
		return keysRecord{}, nil, stateErr(err)
	}
	cfgRoots := keyLines(e.roots.Keys())
	if !slices.Equal(rec.ConfigRoots, cfgRoots) || rec.ConfigRootThreshold != e.roots.Threshold() {
		if rec.Version != 0 {
			e.log.Info("update: the configured root keys changed, the key set record starts again from them", slog.String("record", path))
		}
		rec = keysRecord{Revoked: rec.Revoked, ConfigRoots: cfgRoots, ConfigRootThreshold: e.roots.Threshold()}
		return rec, e.roots, nil
	}
	pinned, err := parseKeyLines(rec.Roots, rec.RootThreshold)
	if err != nil {
		return keysRecord{}, nil, stateErr(fmt.Errorf("%s: roots: %w", path, err))
	}
	return rec, pinned, nil
}

// fetchKeys fetches and verifies keys.json, records it when accepted, and returns the
// signing keys to verify the manifest with.
func (e *Engine) fetchKeys(ctx context.Context) (*keyTrust, error) {
	e.emit(Event{Step: StepCheck, Message: "fetching " + signature.KeySetFileName})
	rec, pinned, err := e.loadKeysRecord()
	if err != nil {
		return nil, err
	}
	var prev *signature.KeySet
	if len(rec.KeySet) > 0 {
		if prev, err = signature.ParseKeySet(rec.KeySet); err != nil {
			e.log.Warn("update: the key set record is unreadable, fetching keys.json unconditionally", slog.String("error", err.Error()))
			prev, rec.Validator = nil, ""
		}
	}
	validator := ""
	if prev != nil {
		validator = rec.Validator
	}
	missing := func(err error) error {
		if CodeOf(err) == CodeNotFound {
			return codeErr(CodeBadSignature, "root_keys are configured but the source has no usable key set: %v", err)
		}
		return err
	}
	data, notModified, newValidator, err := e.fetchSmall(ctx, signature.KeySetFileName, signature.MaxKeySetSize, CodeBadSignature, validator)
	if err != nil {
		return nil, missing(err)
	}
	if notModified {
		data = rec.KeySet
	}
	// The signature is fetched every time: a cached signature is never trusted over
	// the key list the source serves now.
	sig, _, _, err := e.fetchSmall(ctx, signature.KeySetSignatureFileName, signature.MaxSignatureFileSize, CodeBadSignature, "")
	if err != nil {
		return nil, missing(err)
	}
	ks, err := signature.VerifyKeySet(data, sig, pinned)
	if err != nil && notModified {
		e.log.Info("update: the cached key set is refused, fetching it again", slog.String("error", err.Error()))
		if data, _, newValidator, err = e.fetchSmall(ctx, signature.KeySetFileName, signature.MaxKeySetSize, CodeBadSignature, ""); err != nil {
			return nil, missing(err)
		}
		ks, err = signature.VerifyKeySet(data, sig, pinned)
	}
	if err != nil {
		return nil, &Error{Code: CodeBadSignature, Err: fmt.Errorf("%s (verified with the root keys %s): %w", signature.KeySetFileName, trustedList(pinned), err)}
	}
	sum := sha256.Sum256(data)
	hexsum := hex.EncodeToString(sum[:])
	if ks.Version < rec.Version {
		return nil, codeErr(CodeReplay, "%s has version %d, lower than version %d already accepted: refusing an older key set", signature.KeySetFileName, ks.Version, rec.Version)
	}
	if ks.Version == rec.Version && rec.SHA256 != "" && rec.SHA256 != hexsum {
		return nil, codeErr(CodeReplay, "%s has version %d, already accepted with different content", signature.KeySetFileName, ks.Version)
	}
	revoked := ks.RevokedSince(prev)
	for _, id := range parseKeyIDs(rec.Revoked) {
		if !slices.Contains(revoked, id) {
			revoked = append(revoked, id)
		}
	}
	slices.Sort(revoked)
	next := rec
	next.Version, next.SHA256, next.Validator, next.KeySet = ks.Version, hexsum, newValidator, data
	next.Roots, next.RootThreshold = keyLines(ks.Roots), ks.RootThreshold
	next.Revoked = keyIDStrings(revoked)
	if !sameRecord(rec, next) {
		if !ks.SameRoots(pinned) {
			e.log.Info("update: root keys rotated", slog.Uint64("version", ks.Version), slog.Any("roots", next.Roots))
		}
		next.Updated = e.now()
		if err := e.writeJSON(e.state.path(keysStateFile...), next); err != nil {
			return nil, stateErr(err)
		}
	}
	kr, err := ks.Signing(e.now(), revoked, signature.WithThreshold(e.cfg.Threshold))
	if err != nil {
		code := CodeBadSignature
		if errors.Is(err, signature.ErrKeyExpired) {
			code = CodeExpired
		}
		return nil, &Error{Code: code, Err: err}
	}
	e.signing.mu.Lock()
	e.signing.kr = kr
	e.signing.mu.Unlock()
	return &keyTrust{ks: ks, revoked: revoked, keyring: kr}, nil
}

// sameRecord reports whether two records hold the same decisions (Updated aside).
func sameRecord(a, b keysRecord) bool {
	return a.Version == b.Version && a.SHA256 == b.SHA256 && a.Validator == b.Validator &&
		bytes.Equal(a.KeySet, b.KeySet) && slices.Equal(a.Roots, b.Roots) && a.RootThreshold == b.RootThreshold &&
		slices.Equal(a.ConfigRoots, b.ConfigRoots) && a.ConfigRootThreshold == b.ConfigRootThreshold &&
		slices.Equal(a.Revoked, b.Revoked)
}

// trustedList names a keyring's keys for messages: "ID, ID (2 required)".
func trustedList(kr *signature.Keyring) string {
	var b bytes.Buffer
	for i, k := range kr.Trusted() {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString(k.String())
	}
	fmt.Fprintf(&b, " (%d required)", kr.Threshold())
	return b.String()
}

// manifestKeyring returns the keyring that verifies a manifest: the configured one,
// or with root keys the signing keys of the key set fetched now.
func (e *Engine) manifestKeyring(ctx context.Context) (*signature.Keyring, *keyTrust, error) {
	if e.roots == nil {
		return e.keyring, nil, nil
	}
	kt, err := e.fetchKeys(ctx)
	if err != nil {
		return nil, nil, err
	}
	return kt.keyring, kt, nil
}

// packKeyring returns the keyring that verifies packs: the configured one, or with
// root keys the signing keys of the last key set accepted (by this engine, or as
// recorded in the state dir), usable now.
func (e *Engine) packKeyring() (*signature.Keyring, error) {
	if e.roots == nil {
		return e.keyring, nil
	}
	e.signing.mu.Lock()
	kr := e.signing.kr
	e.signing.mu.Unlock()
	if kr != nil {
		return kr, nil
	}
	rec, _, err := e.loadKeysRecord()
	if err != nil {
		return nil, err
	}
	if len(rec.KeySet) == 0 {
		return nil, codeErr(CodeBadSignature, "root_keys are configured and no key set was accepted yet: run a check first (the signing keys come from the repository's %s)", signature.KeySetFileName)
	}
	ks, err := signature.ParseKeySet(rec.KeySet)
	if err != nil {
		return nil, stateErr(err)
	}
	kr, err = ks.Signing(e.now(), parseKeyIDs(rec.Revoked), signature.WithThreshold(e.cfg.Threshold))
	if err != nil {
		code := CodeBadSignature
		if errors.Is(err, signature.ErrKeyExpired) {
			code = CodeExpired
		}
		return nil, &Error{Code: code, Err: err}
	}
	return kr, nil
}

// expiredSigner tells, for a manifest its keyring refused, whether it would verify
// with the key set's keys that are only outside their validity: then the code is
// expired rather than bad_signature, and the message names the key and its validity.
func (e *Engine) expiredSigner(kt *keyTrust, name string, data, sig []byte) error {
	if kt == nil {
		return nil
	}
	expired := kt.ks.Expired(e.now(), kt.revoked)
	if len(expired) == 0 {
		return nil
	}
	keys := kt.keyring.Keys()
	for _, k := range expired {
		keys = append(keys, k.Key)
	}
	kr, err := signature.NewKeyring(keys, signature.WithThreshold(kt.keyring.Threshold()))
	if err != nil {
		return nil
	}
	v, err := kr.Verify(name, sig, bytes.NewReader(data))
	if err != nil {
		return nil
	}
	for _, s := range v.Signers {
		for _, k := range expired {
			if k.Key.ID() == s.KeyID {
				return codeErr(CodeExpired, "%s is signed by key %s, outside its validity (%s version %d gives it %s): %w", name, s.KeyID,
					signature.KeySetFileName, kt.ks.Version, validityText(k), signature.ErrKeyExpired)
			}
		}
	}
	return nil
}

func validityText(k signature.ValidKey) string {
	s := ""
	if !k.NotBefore.IsZero() {
		s += "from " + k.NotBefore.UTC().Format(time.RFC3339)
	}
	if !k.NotAfter.IsZero() {
		if s != "" {
			s += " "
		}
		s += "until " + k.NotAfter.UTC().Format(time.RFC3339)
	}
	return s
}

// TrustedKeyring returns the keyring packs are verified with now: the configured
// keys, or with RootKeys the signing keys of the key set accepted at the last check
// (an error until a check accepted one). Programs that verify packs beside the
// engine, such as a fleet's master and slaves, ask for it each time, so that a key
// rotated or revoked through keys.json is followed.
func (e *Engine) TrustedKeyring(ctx context.Context) (*signature.Keyring, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	return e.packKeyring()
}
