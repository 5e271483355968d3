package manifest

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/hashicorp/go-version"
)

// maxVersionLen bounds a version string; real ones are a few bytes long.
const maxVersionLen = 128

// ParseVersion parses a version the way the manifest compares them: dotted numbers with
// an optional pre-release and build suffix ("1.4.2", "v2.0.0-rc.1", "220099").
// A single number, as HFSQL's build numbers, compares as a number: 220099 > 220036.
// The error wraps [ErrInvalid] and names s.
func ParseVersion(s string) (*version.Version, error) {
	if len(s) > maxVersionLen {
		return nil, fmt.Errorf("%w: version %.32q...: longer than %d bytes", ErrInvalid, s, maxVersionLen)
	}
	v, err := version.NewVersion(s)
	if err != nil {
		return nil, fmt.Errorf("%w: version %q does not parse (want numbers separated by dots, such as 1.4.2 or 220099)", ErrInvalid, s)
	}
	return v, nil
}

// CompareVersions returns -1, 0 or +1 as version a is older than, the same as, or newer
// than version b. "1.0" and "1.0.0" are the same version.
func CompareVersions(a, b string) (int, error) {
	va, err := ParseVersion(a)
	if err != nil {
		return 0, err
	}
	vb, err := ParseVersion(b)
	if err != nil {
		return 0, err
	}
	return va.Compare(vb), nil
}

// versionKey returns a string equal for exactly the versions that compare equal:
// trailing zero segments and build metadata do not count.
func versionKey(v *version.Version) string {
	segs := v.Segments64()
	for len(segs) > 1 && segs[len(segs)-1] == 0 {
		segs = segs[:len(segs)-1]
	}
	var b strings.Builder
	for i, s := range segs {
		if i > 0 {
			b.WriteByte('.')
		}
		b.WriteString(strconv.FormatInt(s, 10))
	}
	if pre := v.Prerelease(); pre != "" {
		b.WriteByte('-')
		b.WriteString(pre)
	}
	return b.String()
}
