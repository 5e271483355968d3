package update

import (
	"github.com/upkeep-go/upkeep/update/trust"
)

// packCheck checks a pack in one pass over its bytes through update/trust: its size
// and SHA-256 against the signed manifest, and its signature and binding against the
// keys in force. A byte past the signed size is refused as it is written.
type packCheck struct {
	ref packRef
	c   *trust.PackCheck
}

func (e *Engine) newPackCheck(ref packRef, sig []byte) (*packCheck, error) {
	keys, err := e.packKeys()
	if err != nil {
		return nil, err
	}
	c, err := trust.NewPackCheck(keys, ref.trustPack(), sig)
	if err != nil {
		return nil, trustErr(ref.module, err)
	}
	return &packCheck{ref: ref, c: c}, nil
}

// trustPack is what the signed manifest says of the pack, for update/trust.
func (p packRef) trustPack() trust.Pack {
	return trust.Pack{Binding: p.binding(), Size: p.pack.Size, MaxSize: p.max(), SHA256: p.pack.SHA256}
}

// Write feeds the next bytes; a byte past the signed size is refused with code
// bad_pack.
func (c *packCheck) Write(p []byte) (int, error) {
	n, err := c.c.Write(p)
	return n, trustErr(c.ref.module, err)
}

// abort stops the check without a verdict.
func (c *packCheck) abort() { c.c.Close() }

// finish returns the first thing wrong with the pack, as a coded error naming the
// module.
func (c *packCheck) finish() error {
	_, err := c.c.Accept()
	return trustErr(c.ref.module, err)
}
