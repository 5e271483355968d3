package trust

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/upkeep-go/upkeep/manifest"
	"github.com/upkeep-go/upkeep/signature"
)

// ManifestState is what a verifier keeps of the manifests it accepted, between runs:
// the product pinned, the highest serial and the SHA-256 of the manifest accepted at
// that serial. The zero value has accepted nothing.
type ManifestState struct {
	Product string
	Serial  uint64
	SHA256  string
}

// AcceptManifest decides whether the manifest data, with its signature file sig, is
// accepted after prev at now, and returns it parsed with the state that accepting it
// makes (equal to prev when nothing changed). It is accepted when:
//   - keys verify it: at least their threshold of distinct keys signed it (code
//     bad_signature; expired when only keys outside their validity signed it);
//   - every signature binds "file=manifest.json serial=N" with the manifest's serial,
//     and its product when the comment names one (checkManifestBinding);
//   - it parses and validates (code invalid_manifest);
//   - its product is product, or when product is "" the one prev pinned (code
//     bad_signature). A product other than prev's, configured, starts the state
//     again: serials of two products do not compare;
//   - it has not expired at now (code expired);
//   - its serial is not below prev's, nor equal with other bytes (code replay).
func AcceptManifest(keys *Keys, prev ManifestState, product string, now time.Time, data, sig []byte) (*manifest.Manifest, ManifestState, error) {
	const name = manifest.FileName
	v, err := keys.verify(name, sig, data)
	if err != nil {
		return nil, prev, err
	}
	m, err := manifest.Parse(data)
	if err != nil {
		return nil, prev, refuse(CodeInvalidManifest, name, fmt.Errorf("%s: %w", name, err))
	}
	if err := checkManifestBinding(v, m); err != nil {
		return nil, prev, refuse(CodeBadSignature, name, err)
	}
	want, from := product, "configured"
	if want == "" {
		want, from = prev.Product, "pinned by the first manifest accepted; configure the product to accept another"
	}
	if want != "" && m.Product != want {
		return nil, prev, refuse(CodeBadSignature, name, fmt.Errorf("%s is the manifest of product %q, signed by a trusted key, but only product %q is accepted (%s)", name, m.Product, want, from))
	}
	st := prev
	if st.Product != m.Product {
		st = ManifestState{}
	}
	if !now.Before(m.Expires) {
		return nil, prev, refuse(CodeExpired, name, fmt.Errorf("%s expired at %s (serial %d); the publisher must refresh it", name, m.Expires.Format(time.RFC3339), m.Serial))
	}
	sum := sha256.Sum256(data)
	hexsum := hex.EncodeToString(sum[:])
	switch {
	case m.Serial < st.Serial:
		return nil, prev, refuse(CodeReplay, name, fmt.Errorf("%s has serial %d, lower than serial %d already accepted: refusing an older manifest", name, m.Serial, st.Serial))
	case m.Serial == st.Serial && st.SHA256 != "" && st.SHA256 != hexsum:
		return nil, prev, refuse(CodeReplay, name, fmt.Errorf("%s has serial %d, already accepted with different content", name, m.Serial))
	}
	return m, ManifestState{Product: m.Product, Serial: m.Serial, SHA256: hexsum}, nil
}

// checkManifestBinding checks that every signer's trusted comment binds the signature
// to manifest.json at m's serial ("file=manifest.json serial=N"), and to m's product
// when it names one ("product=P"): a valid signature of another manifest, a renamed
// file or another product is refused with a [*signature.BindingError]. product= comes
// last and runs to the end of the comment, since a product's name may hold spaces.
// Other words of the comment (minisign's "timestamp:N", other key=value pairs) are
// ignored.
func checkManifestBinding(v *signature.Verified, m *manifest.Manifest) error {
	want := []struct {
		field, value string
		required     bool
	}{
		{"file", manifest.FileName, true},
		{"serial", strconv.FormatUint(m.Serial, 10), true},
		{"product", m.Product, false},
	}
	for _, s := range v.Signers {
		got := map[string]string{}
		comment := s.TrustedComment
		if i := strings.Index(" "+comment, " product="); i >= 0 {
			got["product"] = comment[i+len("product="):]
			comment = comment[:max(i-1, 0)]
		}
		for _, word := range strings.FieldsFunc(comment, func(r rune) bool { return r == ' ' || r == '\t' }) {
			key, value, ok := strings.Cut(word, "=")
			if !ok || (key != "file" && key != "serial" && key != "product") {
				continue
			}
			if _, dup := got[key]; dup {
				return &signature.BindingError{Name: manifest.FileName, KeyID: s.KeyID, Got: fmt.Sprintf("trusted comment %q gives %s= twice", s.TrustedComment, key)}
			}
			got[key] = value
		}
		for _, w := range want {
			g, ok := got[w.field]
			switch {
			case !ok && w.required:
				return &signature.BindingError{Name: manifest.FileName, KeyID: s.KeyID, Got: fmt.Sprintf("trusted comment %q has no %s= (want %s=%s)", s.TrustedComment, w.field, w.field, w.value)}
			case ok && g != w.value:
				return &signature.BindingError{Name: manifest.FileName, KeyID: s.KeyID, Field: w.field, Want: w.value, Got: g}
			}
		}
	}
	return nil
}
