package trust

import (
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/upkeep-go/upkeep/manifest"
	"github.com/upkeep-go/upkeep/signature"
)

// FuzzManifestBinding checks the trusted-comment parser of the manifest's signature:
// it never panics, and a comment it accepts holds exactly one file=manifest.json, one
// serial= word with the manifest's serial, and no product= word naming another
// product; signature.ParseBinding, which reads file= the same way, agrees on it.
func FuzzManifestBinding(f *testing.F) {
	for _, c := range []string{
		"timestamp:1700000000 file=manifest.json serial=7 product=shop",
		"file=manifest.json serial=7",
		"timestamp:1700000000\tfile=manifest.json\tserial=7",
		"timestamp:1700000000\tfile:manifest.json\thashed",
		"file=manifest.json serial=7 serial=7",
		"file=manifest.json serial=07 product=",
		"file=manifest.json  serial=7 product=shop build=1 =x",
	} {
		f.Add(c, uint64(7), "shop")
	}
	f.Fuzz(func(t *testing.T, comment string, serial uint64, product string) {
		m := &manifest.Manifest{Serial: serial, Product: product}
		err := checkManifestBinding(&signature.Verified{Name: manifest.FileName, Signers: []signature.Signer{{TrustedComment: comment}}}, m)
		if err == nil {
			words := strings.FieldsFunc(comment, func(r rune) bool { return r == ' ' || r == '\t' })
			count := func(prefix string) int {
				return len(slices.DeleteFunc(slices.Clone(words), func(w string) bool { return !strings.HasPrefix(w, prefix) }))
			}
			if !slices.Contains(words, "file="+manifest.FileName) || count("file=") != 1 {
				t.Fatalf("accepted %q without exactly one file=%s", comment, manifest.FileName)
			}
			if !slices.Contains(words, "serial="+strconv.FormatUint(serial, 10)) || count("serial=") != 1 {
				t.Fatalf("accepted %q for serial %d", comment, serial)
			}
			if n := count("product="); n > 1 || (n == 1 && !slices.Contains(words, "product="+product)) {
				t.Fatalf("accepted %q for product %q", comment, product)
			}
			// ParseBinding also refuses module=, version= or platform= given twice,
			// which the manifest's binding does not read.
			if b, err := signature.ParseBinding(comment); err == nil && b.File != manifest.FileName {
				t.Fatalf("accepted %q, which signature.ParseBinding reads as file %q", comment, b.File)
			}
		}
	})
}
