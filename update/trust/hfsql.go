package trust

import (
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"

	"github.com/upkeep-go/upkeep/manifest"
)

// AcceptHFSQL decides whether an unsigned HFSQL manifest m (hfsql_updateinfo.json,
// which has no serial) is read after the versions accepted before: it is refused, with
// code replay, when its highest version is lower than the highest accepted before, or
// when its highest version for a major version and language is lower than the one
// accepted for them. accepted maps "MAJOR/LANGUAGE" ("22/FR") to the highest version
// accepted for them, and "" to the highest over all. It returns accepted updated with
// m (a new map), nil when m adds nothing to it.
//
// Whether an HFSQL file may be read at all is the caller's rule: only when the
// configuration allows unsigned HFSQL files and no signed manifest was accepted
// before.
func AcceptHFSQL(m *manifest.Manifest, accepted map[string]string) (map[string]string, error) {
	cmp := func(a, b string) (int, error) {
		c, err := manifest.CompareVersions(a, b)
		if err != nil {
			return 0, fmt.Errorf("%s: comparing versions: %w", manifest.HFSQLFileName, err)
		}
		return c, nil
	}
	higher := func(in map[string]string, key, v string) (bool, error) {
		old, ok := in[key]
		if !ok {
			return true, nil
		}
		c, err := cmp(v, old)
		return c > 0, err
	}
	offered := map[string]string{} // the highest of m per key, and over all under ""
	for _, r := range m.Releases {
		for _, key := range []string{hfsqlKey(r.Major, r.Language), ""} {
			if up, err := higher(offered, key, r.Version); err != nil {
				return nil, err
			} else if up {
				offered[key] = r.Version
			}
		}
	}
	for _, key := range slices.Sorted(maps.Keys(accepted)) { // "" first: the overall highest
		old := accepted[key]
		v, ok := offered[key]
		switch {
		case !ok && key == "":
			return nil, replay("%s lists no build, and %s was accepted before: refusing an older file", manifest.HFSQLFileName, old)
		case !ok:
			continue // the file no longer lists that major version and language
		}
		if c, err := cmp(v, old); err != nil {
			return nil, err
		} else if c < 0 {
			what := ""
			if key != "" {
				major, lang, _ := strings.Cut(key, "/")
				what = fmt.Sprintf(" for major version %s, language %q", major, lang)
			}
			return nil, replay("%s: its newest build%s is %s, older than %s accepted before: refusing an older file", manifest.HFSQLFileName, what, v, old)
		}
	}
	var next map[string]string
	for key, v := range offered {
		up, err := higher(accepted, key, v)
		if err != nil {
			return nil, err
		}
		if up {
			if next == nil {
				next = maps.Clone(accepted)
				if next == nil {
					next = map[string]string{}
				}
			}
			next[key] = v
		}
	}
	return next, nil
}

// hfsqlKey is the key of a major version and language in the HFSQL record of trust.
func hfsqlKey(major int, language string) string {
	return strconv.Itoa(major) + "/" + strings.ToUpper(language)
}

func replay(format string, args ...any) error {
	return refuse(CodeReplay, manifest.HFSQLFileName, fmt.Errorf(format, args...))
}
