package manifest

import (
	"cmp"
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

// parsedVersion is a version with what comparing it needs read once: go-version's
// Compare formats both versions as strings on every call, which dominates sorting and
// searching the releases of a long manifest.
type parsedVersion struct {
	v    *version.Version
	segs []int64
	pre  string
}

// parseVersion is ParseVersion returning a parsedVersion.
func parseVersion(s string) (parsedVersion, error) {
	v, err := ParseVersion(s)
	if err != nil {
		return parsedVersion{}, err
	}
	return parsedVersion{v: v, segs: v.Segments64(), pre: v.Prerelease()}, nil
}

// compare returns what a.v.Compare(b.v) returns. Versions whose segments differ, once
// padded with zeros, compare by them in go-version too; the rare versions with equal
// segments and different pre-releases are left to go-version's rules.
func (a parsedVersion) compare(b parsedVersion) int {
	for i := range max(len(a.segs), len(b.segs)) {
		var x, y int64
		if i < len(a.segs) {
			x = a.segs[i]
		}
		if i < len(b.segs) {
			y = b.segs[i]
		}
		if x != y {
			return cmp.Compare(x, y)
		}
	}
	if a.pre == b.pre {
		return 0
	}
	return a.v.Compare(b.v)
}
