package signature

import (
	"bytes"
	"crypto/ed25519"
	"fmt"
	"io"
	"strings"

	"aead.dev/minisign"
	"golang.org/x/crypto/blake2b"
)

// Limits of a signature file.
const (
	// MaxSignatureFileSize is the largest signature file parsed, in bytes.
	MaxSignatureFileSize = 64 << 10
	// MaxSignatureBlocks is the largest number of signature blocks in one file.
	MaxSignatureBlocks = 64
)

// block is one parsed signature block.
type block struct {
	line int // first line, 1-based
	sig  minisign.Signature
}

// parseSignatures splits a signature file into its blocks of four lines (untrusted
// comment, signature, trusted comment, comment signature). Blank lines between blocks
// are ignored.
func parseSignatures(name string, data []byte) ([]block, error) {
	if len(data) > MaxSignatureFileSize {
		return nil, &FormatError{Name: name, Reason: fmt.Sprintf("signature file of %d bytes, limit %d", len(data), MaxSignatureFileSize)}
	}
	ls := lines(data)
	var blocks []block
	for i := 0; i < len(ls); {
		if len(bytes.TrimSpace(ls[i])) == 0 {
			i++
			continue
		}
		if len(blocks) == MaxSignatureBlocks {
			return nil, &FormatError{Name: name, Line: i + 1, Reason: fmt.Sprintf("more than %d signature blocks", MaxSignatureBlocks)}
		}
		if i+4 > len(ls) {
			return nil, &FormatError{Name: name, Line: i + 1, Reason: fmt.Sprintf("truncated signature block: %d of 4 lines", len(ls)-i)}
		}
		if !bytes.HasPrefix(ls[i], []byte("untrusted comment:")) {
			return nil, &FormatError{Name: name, Line: i + 1, Reason: "want an \"untrusted comment:\" line"}
		}
		if !bytes.HasPrefix(ls[i+2], []byte("trusted comment: ")) {
			return nil, &FormatError{Name: name, Line: i + 3, Reason: "want a \"trusted comment: \" line"}
		}
		for _, j := range []int{i + 1, i + 3} {
			if bytes.ContainsAny(ls[j], " \t") || len(ls[j]) == 0 {
				return nil, &FormatError{Name: name, Line: j + 1, Reason: "want a base64 line"}
			}
		}
		// minisign's parser wants "untrusted comment: " with its space; minisign itself
		// accepts the bare prefix, so normalise.
		untrusted := strings.TrimPrefix(strings.TrimPrefix(string(ls[i]), "untrusted comment:"), " ")
		text := "untrusted comment: " + untrusted + "\n" + string(ls[i+1]) + "\n" + string(ls[i+2]) + "\n" + string(ls[i+3]) + "\n"
		var s minisign.Signature
		if err := s.UnmarshalText([]byte(text)); err != nil {
			return nil, &FormatError{Name: name, Line: i + 1, Reason: strings.TrimPrefix(err.Error(), "minisign: ")}
		}
		blocks = append(blocks, block{line: i + 1, sig: s})
		i += 4
	}
	if len(blocks) == 0 {
		return nil, &FormatError{Name: name, Reason: "no signature block"}
	}
	return blocks, nil
}

// Sign reads r to its end and returns one prehashed signature block, in the form of a
// minisign .minisig file, that carries trustedComment (signed too). Memory does not
// depend on the size of r. trustedComment must hold no line break.
func Sign(k PrivateKey, r io.Reader, trustedComment string) ([]byte, error) {
	if !k.valid() {
		return nil, &FormatError{Name: "secret key", Reason: "zero key"}
	}
	if strings.ContainsAny(trustedComment, "\r\n") {
		return nil, fmt.Errorf("%w: key %s: trusted comment holds a line break", ErrMalformed, k.id)
	}
	h, _ := blake2b.New512(nil)
	if _, err := io.Copy(h, r); err != nil {
		return nil, fmt.Errorf("signature: key %s: reading the message: %w", k.id, err)
	}
	return signDigest(k, h.Sum(nil), minisign.HashEdDSA, trustedComment)
}

// signDigest signs msg (the BLAKE2b-512 digest for HashEdDSA, the whole message for
// legacy EdDSA) and the trusted comment.
func signDigest(k PrivateKey, msg []byte, alg uint16, trustedComment string) ([]byte, error) {
	s := minisign.Signature{
		Algorithm:        alg,
		KeyID:            uint64(k.id),
		TrustedComment:   trustedComment,
		UntrustedComment: "signature from minisign secret key " + k.id.String(),
	}
	sig := ed25519.Sign(k.key, msg)
	copy(s.Signature[:], sig)
	copy(s.CommentSignature[:], ed25519.Sign(k.key, append(sig, trustedComment...)))
	return s.MarshalText()
}

// AppendSignature returns the signature file sigFile with the signature block blk
// added at its end, for co-signing: several keys sign the same file and a keyring
// with a threshold counts them. Blocks of sigFile made by blk's key are dropped, so
// that signing again replaces a key's own block. sigFile may be empty. name is the
// signature file's name, for messages.
func AppendSignature(name string, sigFile, blk []byte) ([]byte, error) {
	nb, err := parseSignatures(name+" (new block)", blk)
	if err != nil {
		return nil, err
	}
	if len(nb) != 1 {
		return nil, &FormatError{Name: name + " (new block)", Reason: fmt.Sprintf("%d signature blocks, want 1", len(nb))}
	}
	var out []byte
	count := 1
	if len(bytes.TrimSpace(sigFile)) > 0 {
		old, err := parseSignatures(name, sigFile)
		if err != nil {
			return nil, err
		}
		for _, b := range old {
			if b.sig.KeyID == nb[0].sig.KeyID {
				continue
			}
			t, err := b.sig.MarshalText()
			if err != nil {
				return nil, &FormatError{Name: name, Line: b.line, Reason: err.Error()}
			}
			out = append(out, t...)
			count++
		}
	}
	if count > MaxSignatureBlocks {
		return nil, &FormatError{Name: name, Reason: fmt.Sprintf("signature file would hold more than %d blocks", MaxSignatureBlocks)}
	}
	if len(out)+len(blk) > MaxSignatureFileSize {
		return nil, &FormatError{Name: name, Reason: fmt.Sprintf("signature file would exceed %d bytes", MaxSignatureFileSize)}
	}
	t, err := nb[0].sig.MarshalText()
	if err != nil {
		return nil, &FormatError{Name: name + " (new block)", Reason: err.Error()}
	}
	return append(out, t...), nil
}
