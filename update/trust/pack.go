package trust

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"io"

	"github.com/upkeep-go/upkeep/manifest"
	"github.com/upkeep-go/upkeep/signature"
)

// Pack is what a pack (or a delta) must be to be accepted.
type Pack struct {
	// Binding is what every signature's trusted comment must bind: the pack's file
	// name, module, version, platform, and for a delta the version it applies to.
	// With Unlisted, only its non-empty fields are required.
	Binding signature.Binding
	// Unlisted is set for a pack that comes without a manifest entry (an offline
	// install, a fleet upload): the signatures must bind the non-empty fields of
	// Binding (the file among them), name a file, a module, a version and a valid platform,
	// and agree with each other; the binding accepted is read from them.
	Unlisted bool
	// Size is the size the signed manifest gives, 0 when it gives none; then MaxSize
	// bounds the pack.
	Size    int64
	MaxSize int64
	// SHA256 is the hex digest the signed manifest gives, "" when it gives none.
	SHA256 string
	// Name names the pack in refusals. Default: Binding.File. An offline install
	// names the file a person gave, whatever it was renamed to, and binds no file:
	// its module, version and platform are what the signature must bind.
	Name string
}

// name is what refusals call the pack.
func (p Pack) name() string {
	if p.Name != "" {
		return p.Name
	}
	return p.Binding.File
}

func (p Pack) limit() int64 {
	if p.Size > 0 {
		return p.Size
	}
	return p.MaxSize
}

// AcceptedPack is a pack accepted: what its signatures bind, and its size and digest.
type AcceptedPack struct {
	Binding signature.Binding
	Size    int64
	SHA256  string
	Signers []signature.KeyID
}

// PackCheck decides whether a pack is accepted, from its bytes written into it in
// order (it is an io.Writer, to sit beside the file in an io.MultiWriter while a
// download is written) and its signature file, when Accept is called. It hashes the
// bytes with SHA-256 and, in a goroutine of its own (so that two cores share the
// work), the signature's BLAKE2b-512 prehash. Memory does not depend on the pack's
// size. A PackCheck is not safe for concurrent use; Close it when it is given up
// before Accept.
type PackCheck struct {
	p    Pack
	sha  hash.Hash
	pw   *io.PipeWriter
	done chan struct{}
	n    int64
	err  error // a refusal made while writing; the check is over

	verified *signature.Verified
	verr     error
	closed   bool
}

var errClosed = errors.New("trust: pack check closed")

// NewPackCheck returns a check of the pack p against keys and its signature file sig.
// A signature file that does not parse is refused here (code bad_signature), as is
// a pack without any bound on its size.
func NewPackCheck(keys *Keys, p Pack, sig []byte) (*PackCheck, error) {
	name := p.name()
	if p.limit() <= 0 {
		return nil, refuse(CodeBadPack, name, fmt.Errorf("pack %s: no size and no size limit", name))
	}
	v, err := keys.ring.NewVerifier(name, sig)
	if err != nil {
		return nil, refuse(CodeBadSignature, name, fmt.Errorf("pack %s: %w", name, err))
	}
	pr, pw := io.Pipe()
	c := &PackCheck{p: p, sha: sha256.New(), pw: pw, done: make(chan struct{})}
	go func() {
		defer close(c.done)
		if _, err := io.CopyBuffer(v, pr, make([]byte, 256<<10)); err != nil {
			c.verr = err
			pr.CloseWithError(err)
			return
		}
		c.verified, c.verr = v.Verify()
	}()
	return c, nil
}

// Write feeds the next bytes of the pack. A byte past the size the manifest gives
// (or past MaxSize) is refused at once, with code bad_pack, and nothing of b is
// taken: the check is then over, and Accept returns the same refusal.
func (c *PackCheck) Write(b []byte) (int, error) {
	if c.err != nil {
		return 0, c.err
	}
	if c.closed {
		return 0, errClosed
	}
	if int64(len(b)) > c.p.limit()-c.n {
		what := "the manifest says"
		if c.p.Size <= 0 {
			what = "the limit is"
		}
		c.err = refuse(CodeBadPack, c.p.name(), fmt.Errorf("pack %s: %d bytes or more, %s %d", c.p.name(), c.n+int64(len(b)), what, c.p.limit()))
		c.Close()
		return 0, c.err
	}
	if _, err := c.pw.Write(b); err != nil {
		return 0, err
	}
	c.sha.Write(b)
	c.n += int64(len(b))
	return len(b), nil
}

// Written returns the number of bytes written so far.
func (c *PackCheck) Written() int64 { return c.n }

// Close gives the check up without a verdict and stops its goroutine. It may be
// called more than once, and after Accept.
func (c *PackCheck) Close() {
	if c.closed {
		return
	}
	c.closed = true
	c.pw.CloseWithError(errClosed)
	<-c.done
}

// Accept returns the pack accepted, or the first thing wrong with it: its size
// (bad_pack), its SHA-256 (bad_pack), its signatures (bad_signature: too few distinct
// trusted keys), their binding (bad_signature; no_pack_for_platform for an unlisted
// pack signed for another platform than Binding.Platform). The check is over
// afterwards.
func (c *PackCheck) Accept() (*AcceptedPack, error) {
	if c.err != nil {
		return nil, c.err
	}
	if c.closed {
		return nil, errClosed
	}
	c.closed = true
	c.pw.Close()
	<-c.done
	name, p := c.p.name(), c.p
	if p.Size > 0 && c.n != p.Size {
		return nil, refuse(CodeBadPack, name, fmt.Errorf("pack %s has %d bytes, the manifest says %d", name, c.n, p.Size))
	}
	sum := hex.EncodeToString(c.sha.Sum(nil))
	if p.SHA256 != "" && sum != p.SHA256 {
		return nil, refuse(CodeBadPack, name, fmt.Errorf("pack %s: sha256 is %s, the manifest says %s", name, sum, p.SHA256))
	}
	if c.verr != nil {
		return nil, refuse(CodeBadSignature, name, fmt.Errorf("pack %s: %w", name, c.verr))
	}
	b := p.Binding
	if p.Unlisted {
		var err error
		if b, err = unlisted(p.Binding, name, c.verified); err != nil {
			return nil, err
		}
	}
	if err := b.Check(c.verified); err != nil {
		return nil, refuse(CodeBadSignature, name, fmt.Errorf("pack %s: %w", name, err))
	}
	out := &AcceptedPack{Binding: b, Size: c.n, SHA256: sum}
	for _, s := range c.verified.Signers {
		out.Signers = append(out.Signers, s.KeyID)
	}
	return out, nil
}

// unlisted reads the binding of a pack without a manifest entry from its first
// signer (Check then holds every signer to it) and checks it against want's
// non-empty fields.
func unlisted(want signature.Binding, name string, v *signature.Verified) (signature.Binding, error) {
	bad := func(code Code, format string, args ...any) (signature.Binding, error) {
		return signature.Binding{}, refuse(code, name, fmt.Errorf("pack %s: "+format, append([]any{name}, args...)...))
	}
	b, err := signature.ParseBinding(v.Signers[0].TrustedComment)
	if err != nil {
		return bad(CodeBadSignature, "%w", err)
	}
	if (want.File != "" && b.File != want.File) || b.File == "" || b.Module == "" || b.Version == "" || b.Platform == "" {
		return bad(CodeBadSignature, "the signature binds file=%q module=%q version=%q platform=%q: %w", b.File, b.Module, b.Version, b.Platform, signature.ErrBindingMismatch)
	}
	if want.Module != "" && b.Module != want.Module {
		return bad(CodeBadSignature, "signed for module %q, not %q: %w", b.Module, want.Module, signature.ErrBindingMismatch)
	}
	got, err := manifest.Platform(b.Platform)
	if err != nil {
		return bad(CodeBadSignature, "platform %q: %w", b.Platform, err)
	}
	if want.Platform != "" {
		if w, err := manifest.Platform(want.Platform); err != nil || w != got {
			return bad(CodeNoPackForPlatform, "signed for platform %q, this machine is %s", b.Platform, want.Platform)
		}
	}
	if want.Version != "" && b.Version != want.Version {
		return bad(CodeBadSignature, "signed for version %q, not %q: %w", b.Version, want.Version, signature.ErrBindingMismatch)
	}
	return b, nil
}
