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
	"github.com/upkeep-go/upkeep/update/trust"
)

// Keys over time (DESIGN.md): with root_keys configured, every check first fetches the
// repository's keys.json and its signature, and update/trust decides whether the key
// set follows the one accepted before (root keys pinned in the state dir, the
// configured ones until a root rotation replaces them; version; expiry; revocation).
// The manifest, and then the packs, are verified with the signing keys it lists that
// are valid now and were never removed.
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
	// Revoked lists the IDs of the signing keys removed by any key set accepted, and
	// RevokedKeys those keys whole (records written before keys were compared by
	// their bytes have IDs only): never trusted again.
	Revoked     []string  `json:"revoked,omitempty"`
	RevokedKeys []string  `json:"revoked_keys,omitempty"`
	Updated     time.Time `json:"updated"`
}

// keyChain holds the key chain of the last key set accepted by this engine.
type keyChain struct {
	mu    sync.Mutex
	chain *trust.KeyChain
}

func keyLines(keys []signature.PublicKey) []string {
	out := make([]string, len(keys))
	for i, k := range keys {
		out[i] = k.String()
	}
	slices.Sort(out)
	return out
}

func parseKeyLines(lines []string) ([]signature.PublicKey, error) {
	var keys []signature.PublicKey
	for _, l := range lines {
		k, err := signature.ParsePublicKeys([]byte(l))
		if err != nil {
			return nil, err
		}
		keys = append(keys, k...)
	}
	return keys, nil
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

// loadKeysRecord reads the record and decides which roots are pinned: the record's
// when it descends from the configured roots, else the configured ones (and a
// record started again, keeping the revoked keys). It returns the chain the record
// holds.
func (e *Engine) loadKeysRecord() (keysRecord, trust.KeyChain, error) {
	var rec keysRecord
	path := e.state.path(keysStateFile...)
	if _, err := readJSON(path, &rec); err != nil {
		return keysRecord{}, trust.KeyChain{}, stateErr(err)
	}
	revoked, err := parseKeyLines(rec.RevokedKeys)
	if err != nil {
		return keysRecord{}, trust.KeyChain{}, stateErr(fmt.Errorf("%s: revoked_keys: %w", path, err))
	}
	chain := trust.KeyChain{Roots: e.roots, Revoked: revoked}
	for _, id := range parseKeyIDs(rec.Revoked) {
		if !slices.ContainsFunc(revoked, func(k signature.PublicKey) bool { return k.ID() == id }) {
			chain.RevokedIDs = append(chain.RevokedIDs, id)
		}
	}
	cfgRoots := keyLines(e.roots.Keys())
	if !slices.Equal(rec.ConfigRoots, cfgRoots) || rec.ConfigRootThreshold != e.roots.Threshold() {
		if rec.Version != 0 {
			e.log.Info("update: the configured root keys changed, the key set record starts again from them", slog.String("record", path))
		}
		rec = keysRecord{Revoked: rec.Revoked, RevokedKeys: rec.RevokedKeys, ConfigRoots: cfgRoots, ConfigRootThreshold: e.roots.Threshold()}
		return rec, chain, nil
	}
	roots, err := parseKeyLines(rec.Roots)
	if err == nil {
		chain.Roots, err = signature.NewKeyring(roots, signature.WithThreshold(rec.RootThreshold))
	}
	if err != nil {
		return keysRecord{}, trust.KeyChain{}, stateErr(fmt.Errorf("%s: roots: %w", path, err))
	}
	if len(rec.KeySet) > 0 {
		if _, err := signature.ParseKeySet(rec.KeySet); err != nil {
			e.log.Warn("update: the key set record is unreadable, fetching keys.json unconditionally", slog.String("error", err.Error()))
			rec.Validator = ""
		} else {
			chain.Accepted = rec.KeySet
		}
	}
	return rec, chain, nil
}

// fetchKeys fetches keys.json, has update/trust decide on it, records it when
// accepted, and returns the signing keys to verify the manifest with.
func (e *Engine) fetchKeys(ctx context.Context) (*trust.Keys, error) {
	e.emit(Event{Step: StepCheck, Message: "fetching " + signature.KeySetFileName})
	rec, chain, err := e.loadKeysRecord()
	if err != nil {
		return nil, err
	}
	validator := ""
	if chain.Accepted != nil {
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
		data = chain.Accepted
	}
	// The signature is fetched every time: a cached signature is never trusted over
	// the key list the source serves now.
	sig, _, _, err := e.fetchSmall(ctx, signature.KeySetSignatureFileName, signature.MaxSignatureFileSize, CodeBadSignature, "")
	if err != nil {
		return nil, missing(err)
	}
	next, err := chain.Accept(data, sig, e.now())
	if err != nil && notModified {
		e.log.Info("update: the cached key set is refused, fetching it again", slog.String("error", err.Error()))
		if data, _, newValidator, err = e.fetchSmall(ctx, signature.KeySetFileName, signature.MaxKeySetSize, CodeBadSignature, ""); err != nil {
			return nil, missing(err)
		}
		next, err = chain.Accept(data, sig, e.now())
	}
	if err != nil {
		return nil, trustErr("", err)
	}
	sum := sha256.Sum256(data)
	out := rec
	out.Version, out.SHA256, out.Validator, out.KeySet = 0, hex.EncodeToString(sum[:]), newValidator, data
	if ks, err := signature.ParseKeySet(data); err == nil {
		out.Version = ks.Version
	}
	out.Roots, out.RootThreshold = keyLines(next.Roots.Keys()), next.Roots.Threshold()
	out.RevokedKeys = keyLines(next.Revoked)
	ids := slices.Clone(next.RevokedIDs)
	for _, k := range next.Revoked {
		ids = append(ids, k.ID())
	}
	slices.Sort(ids)
	out.Revoked = nil
	for _, id := range slices.Compact(ids) {
		out.Revoked = append(out.Revoked, id.String())
	}
	if !sameRecord(rec, out) {
		if !slices.Equal(rec.Roots, out.Roots) && rec.Version != 0 {
			e.log.Info("update: root keys rotated", slog.Uint64("version", out.Version), slog.Any("roots", out.Roots))
		}
		out.Updated = e.now()
		if err := e.writeJSON(e.state.path(keysStateFile...), out); err != nil {
			return nil, stateErr(err)
		}
	}
	e.chain.mu.Lock()
	e.chain.chain = &next
	e.chain.mu.Unlock()
	keys, err := next.Signing(e.now(), e.cfg.Threshold)
	if err != nil {
		return nil, trustErr("", err)
	}
	return keys, nil
}

// trustErr gives a refusal of update/trust the engine's shape: an *Error with the
// same code, naming the module when there is one.
func trustErr(module string, err error) error {
	var te *trust.Error
	if errors.As(err, &te) {
		return &Error{Code: Code(te.Code), Module: module, Err: err}
	}
	return err
}

// sameRecord reports whether two records hold the same decisions (Updated aside).
func sameRecord(a, b keysRecord) bool {
	return a.Version == b.Version && a.SHA256 == b.SHA256 && a.Validator == b.Validator &&
		bytes.Equal(a.KeySet, b.KeySet) && slices.Equal(a.Roots, b.Roots) && a.RootThreshold == b.RootThreshold &&
		slices.Equal(a.ConfigRoots, b.ConfigRoots) && a.ConfigRootThreshold == b.ConfigRootThreshold &&
		slices.Equal(a.Revoked, b.Revoked) && slices.Equal(a.RevokedKeys, b.RevokedKeys)
}

// manifestKeys returns the keys that verify a manifest: the configured ones, or with
// root keys the signing keys of the key set fetched now.
func (e *Engine) manifestKeys(ctx context.Context) (*trust.Keys, error) {
	if e.roots == nil {
		return trust.Pinned(e.keyring), nil
	}
	return e.fetchKeys(ctx)
}

// packKeys returns the keys that verify packs: the configured ones, or with root
// keys the signing keys, usable now, of the last key set accepted (by this engine, or
// as recorded in the state dir).
func (e *Engine) packKeys() (*trust.Keys, error) {
	if e.roots == nil {
		return trust.Pinned(e.keyring), nil
	}
	e.chain.mu.Lock()
	chain := e.chain.chain
	e.chain.mu.Unlock()
	if chain == nil {
		_, c, err := e.loadKeysRecord()
		if err != nil {
			return nil, err
		}
		if c.Accepted == nil {
			return nil, codeErr(CodeBadSignature, "root_keys are configured and no key set was accepted yet: run a check first (the signing keys come from the repository's %s)", signature.KeySetFileName)
		}
		chain = &c
	}
	keys, err := chain.Signing(e.now(), e.cfg.Threshold)
	if err != nil {
		return nil, trustErr("", err)
	}
	return keys, nil
}

// trustedKeyring returns the keyring packs are verified with now: the configured
// keys, or with RootKeys the signing keys of the key set accepted at the last check
// (an error until a check accepted one, and once that key set expired). A fleet's
// master, which verifies the packs its slaves upload, asks for it through
// update/internal/seam each time, so that a key rotated or revoked through keys.json
// is followed.
func (e *Engine) trustedKeyring(ctx context.Context) (*signature.Keyring, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	keys, err := e.packKeys()
	if err != nil {
		return nil, err
	}
	return keys.Keyring(), nil
}
