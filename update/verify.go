package update

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"io"

	"github.com/upkeep-go/upkeep/signature"
)

// packCheck checks a pack in one pass over its bytes: its size and SHA-256 against the
// signed manifest, and its signature and binding against the keyring. The signature's
// BLAKE2b prehash runs in a goroutine of its own, so that the two hashes use two cores.
type packCheck struct {
	ref      packRef
	sha      hash.Hash
	pw       *io.PipeWriter
	done     chan struct{}
	n        int64
	verified *signature.Verified
	verr     error
}

var errCheckAborted = errors.New("pack check aborted")

func (e *Engine) newPackCheck(ref packRef, sig []byte) (*packCheck, error) {
	kr, err := e.packKeyring()
	if err != nil {
		return nil, err
	}
	v, err := kr.NewVerifier(ref.pack.File, sig)
	if err != nil {
		return nil, &Error{Code: CodeBadSignature, Module: ref.module, Err: err}
	}
	pr, pw := io.Pipe()
	c := &packCheck{ref: ref, sha: sha256.New(), pw: pw, done: make(chan struct{})}
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

// Write hands p to the signature goroutine, then hashes it with SHA-256 while that
// goroutine hashes its copy.
func (c *packCheck) Write(p []byte) (int, error) {
	if _, err := c.pw.Write(p); err != nil {
		return 0, err
	}
	c.sha.Write(p)
	c.n += int64(len(p))
	return len(p), nil
}

// abort stops the signature goroutine without a verdict.
func (c *packCheck) abort() {
	c.pw.CloseWithError(errCheckAborted)
	<-c.done
}

// finish waits for the signature and returns the first thing wrong, as a coded error
// naming the pack (what names the local file, for messages).
func (c *packCheck) finish(what string) error {
	c.pw.Close()
	<-c.done
	ref := c.ref
	if ref.pack.Size > 0 && c.n != ref.pack.Size {
		return &Error{Code: CodeBadPack, Module: ref.module, Err: fmt.Errorf("pack %s has %d bytes, the manifest says %d", what, c.n, ref.pack.Size)}
	}
	if ref.pack.SHA256 != "" {
		if got := hex.EncodeToString(c.sha.Sum(nil)); got != ref.pack.SHA256 {
			return &Error{Code: CodeBadPack, Module: ref.module, Err: fmt.Errorf("pack %s: sha256 is %s, the manifest says %s", what, got, ref.pack.SHA256)}
		}
	}
	err := c.verr
	if err == nil {
		err = ref.binding().Check(c.verified)
	}
	if err != nil {
		return &Error{Code: CodeBadSignature, Module: ref.module, Err: fmt.Errorf("pack %s: %w", what, err)}
	}
	return nil
}
