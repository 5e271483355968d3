package main

import (
	"fmt"
	"io"

	"github.com/upkeep-go/upkeep/pack"
	"github.com/upkeep-go/upkeep/signature"
)

// verifyPackOption returns the pack option that checks, before any entry is written,
// that the pack is signed (signature file sigFile) by a key of the files in pubs.
// packName names the pack in messages.
func verifyPackOption(pubs []string, sigFile, packName string) (pack.Option, error) {
	kr, err := signature.LoadKeyring(pubs)
	if err != nil {
		return nil, err
	}
	sig, err := readSmallFile(sigFile, signature.MaxSignatureFileSize)
	if err != nil {
		return nil, err
	}
	return pack.WithVerify(func(r io.Reader) error {
		if _, err := kr.Verify(packName, sig, r); err != nil {
			return fmt.Errorf("%s: %w", sigFile, err)
		}
		return nil
	}), nil
}
