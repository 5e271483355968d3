package manifest

import (
	"crypto/sha256"
	"encoding/binary"
	"fmt"
	"slices"
	"strings"
)

// Target is the installation [Manifest.Select] chooses for.
type Target struct {
	Module    string // the module's name in the manifest
	Installed string // the installed version; "" when nothing is installed yet
	Platform  string // any spelling [Platform] accepts
	Language  string // "" accepts releases of every language
	Channel   string // "" means stable
	Major     int    // 0 accepts releases of every major version
	InstallID string // stable identifier of the installation, for staged rollouts
}

// Status is the outcome of [Manifest.Select].
type Status string

// The statuses of a [Selection].
const (
	// StatusUpdate means a newer release is offered: install Selection.Path in order.
	StatusUpdate Status = "update"
	// StatusUpToDate means nothing newer is offered to this installation, including
	// when newer releases exist but are held back by channel or rollout.
	StatusUpToDate Status = "up-to-date"
	// StatusIneligible means newer releases are offered but none fits this
	// installation; Selection.Code says why.
	StatusIneligible Status = "ineligible"
)

// Code is the stable reason of an ineligible [Selection], for scripts.
type Code string

// The codes of an ineligible [Selection], in order of precedence: when several apply,
// the first in this list is reported, as each one is tested on the releases the
// previous ones left.
const (
	// CodeNoRelease: the manifest has no release of the module.
	CodeNoRelease Code = "no_release"
	// CodeOtherMajor: every newer release offered is for another major version.
	CodeOtherMajor Code = "other_major"
	// CodeNoPackForLanguage: the newer releases of this major version are for other
	// languages.
	CodeNoPackForLanguage Code = "no_pack_for_language"
	// CodeNoPackForPlatform: the newer releases that fit have no pack for the platform.
	CodeNoPackForPlatform Code = "no_pack_for_platform"
	// CodeBelowMinVersion: the installed version is below the min_version of every
	// newer release that fits, and no chain of releases leads there.
	CodeBelowMinVersion Code = "below_min_version"
	// CodeInvalidTarget: the target's installed version or platform does not parse.
	// It comes before every other code.
	CodeInvalidTarget Code = "invalid_target"
)

// Step is one release to install on the way, with its pack for the target's platform;
// both point into the manifest.
type Step struct {
	Release *Release
	Pack    *Pack
}

// Selection is what [Manifest.Select] decided.
type Selection struct {
	Status  Status
	Release *Release // the final release (== Path[len-1].Release) when Status is update
	Pack    *Pack
	Path    []Step // releases to install in order, last = Release
	Code    Code   // when ineligible
	Reason  string // a sentence a person understands, naming module/version/platform
}

// RolloutBucket returns the installation's bucket, 0..99, for a release of module at
// version: the first 8 bytes of SHA-256(installID, 0, module, 0, version) as a
// big-endian number, modulo 100. A release with rollout R is offered to the buckets
// below R, so an installation's answer never flips from one check to the next, and
// raising R only adds installations.
func RolloutBucket(installID, module, version string) int {
	sum := sha256.Sum256([]byte(installID + "\x00" + module + "\x00" + version))
	return int(binary.BigEndian.Uint64(sum[:8]) % 100)
}

// candidate is a release of the target's module with its parsed versions.
type candidate struct {
	r    *Release
	v    parsedVersion
	min  *parsedVersion // nil: no min_version
	pack *Pack
}

// Select decides what the installation t should install. Releases of t.Module newer
// than t.Installed are considered, in these stages:
//
//  1. none at all: up-to-date (no_release when the module has no release whatever);
//  2. channel and rollout: a release is offered when its channel is stable or the
//     target's (so "beta" gets beta and stable, "stable" only stable; other names are
//     allowed and compared without case) and the target's [RolloutBucket] is below its
//     rollout. Nothing left: up-to-date, as held back releases are not a fault;
//  3. major version, then language, then platform, each filter keeping the releases
//     that fit (an unset major or language on either side fits anything). Nothing left
//     after one of them: ineligible with other_major, no_pack_for_language or
//     no_pack_for_platform;
//  4. upgrade path: the newest remaining release is the goal. When t.Installed is at
//     least its min_version the path is that release alone; otherwise Select looks for
//     the shortest chain of remaining releases, each applied over the one before it,
//     preferring the newer one at each step. When no chain reaches the newest, the
//     newest release that can be reached is offered instead (Reason says so); when none
//     can, ineligible with below_min_version.
//
// With t.Installed empty nothing is installed yet: the newest release left after stage
// 3 is offered alone, whatever its min_version. Where releases of one version differ
// only by language, the one in t.Language is taken, else the first in manifest order.
// A release older than or equal to t.Installed is never offered. Select takes
// O(n log n) time for the n releases of the manifest, path search included, and a long
// path is cut to its ends in Reason.
func (m *Manifest) Select(t Target) Selection {
	platform, err := Platform(t.Platform)
	if err != nil {
		return ineligible(CodeInvalidTarget, "platform %q of this installation is unknown: %v", t.Platform, strings.TrimPrefix(err.Error(), "manifest: "))
	}
	var installed *parsedVersion
	if t.Installed != "" {
		iv, err := parseVersion(t.Installed)
		if err != nil {
			return ineligible(CodeInvalidTarget, "the installed version %q of module %q does not parse", t.Installed, t.Module)
		}
		installed = &iv
	}
	channel := t.Channel
	if channel == "" {
		channel = ChannelStable
	}

	// Stage 1: newer releases of the module.
	var newer []candidate
	found := false
	for i := range m.Releases {
		r := &m.Releases[i]
		if r.Module != t.Module {
			continue
		}
		v, err := parseVersion(r.Version)
		if err != nil {
			continue // only an unvalidated manifest gets here
		}
		c := candidate{r: r, v: v}
		if r.MinVersion != "" {
			min, err := parseVersion(r.MinVersion)
			if err != nil {
				continue
			}
			c.min = &min
		}
		found = true
		if installed == nil || v.compare(*installed) > 0 {
			newer = append(newer, c)
		}
	}
	if !found {
		return ineligible(CodeNoRelease, "the manifest has no release of module %q", t.Module)
	}
	if len(newer) == 0 {
		return Selection{Status: StatusUpToDate, Reason: fmt.Sprintf("module %q: %s is the newest release", t.Module, t.Installed)}
	}
	// Newest first; releases of one version keep the manifest's order.
	slices.SortStableFunc(newer, func(a, b candidate) int { return b.v.compare(a.v) })

	// Stage 2: channel and rollout.
	offered := keep(newer, func(c candidate) bool {
		ch := c.r.Channel
		if ch != "" && !strings.EqualFold(ch, ChannelStable) && !strings.EqualFold(ch, channel) {
			return false
		}
		return c.r.Rollout == nil || RolloutBucket(t.InstallID, c.r.Module, c.r.Version) < *c.r.Rollout
	})
	if len(offered) == 0 {
		return Selection{Status: StatusUpToDate, Reason: fmt.Sprintf(
			"module %q: %d newer release(s), up to %s, are not offered yet on channel %q (channel or staged rollout)",
			t.Module, len(newer), newer[0].r.Version, channel)}
	}

	// Stage 3: major, language, platform.
	fit := keep(offered, func(c candidate) bool { return t.Major == 0 || c.r.Major == 0 || c.r.Major == t.Major })
	if len(fit) == 0 {
		return ineligible(CodeOtherMajor, "release %s of module %q is for major version %d, and this installation is major version %d",
			offered[0].r.Version, t.Module, offered[0].r.Major, t.Major)
	}
	major := fit
	fit = keep(major, func(c candidate) bool {
		return t.Language == "" || c.r.Language == "" || strings.EqualFold(c.r.Language, t.Language)
	})
	if len(fit) == 0 {
		return ineligible(CodeNoPackForLanguage, "release %s of module %q is for language %q, and this installation's language is %q",
			major[0].r.Version, t.Module, major[0].r.Language, t.Language)
	}
	lang := fit
	fit = make([]candidate, 0, len(lang))
	for _, c := range lang {
		for j := range c.r.Packs {
			if c.r.Packs[j].Platform == platform {
				c.pack = &c.r.Packs[j]
				fit = append(fit, c)
				break
			}
		}
	}
	if len(fit) == 0 {
		var have []string
		for _, p := range lang[0].r.Packs {
			have = append(have, p.Platform)
		}
		return ineligible(CodeNoPackForPlatform, "release %s of module %q has no pack for %s (only for %s)",
			lang[0].r.Version, t.Module, platform, strings.Join(have, ", "))
	}
	fit = oneEach(fit, t.Language)

	if installed == nil {
		return update([]candidate{fit[0]}, fmt.Sprintf("module %q: %s for %s is the first install", t.Module, fit[0].r.Version, platform))
	}
	return pathTo(t, fit, *installed, platform)
}

// pathTo finds the upgrade path over fit (distinct versions, newest first, all newer
// than installed): the shortest chain of releases, each applied over the one before
// it, that reaches the newest release it can, preferring the newer release at each
// step. It takes O(n log n) time for n releases.
func pathTo(t Target, fit []candidate, installed parsedVersion, platform string) Selection {
	newest := fit[0]
	if newest.min == nil || installed.compare(*newest.min) >= 0 {
		return update([]candidate{newest}, fmt.Sprintf("module %q: %s is available for %s", t.Module, newest.r.Version, platform))
	}
	// Oldest first from here: index order is version order, so release v may be
	// applied over release u exactly when lowest[v] <= u < v, lowest[v] being the
	// first release at or above v's min_version. The edges only go forward, so the
	// number of steps to each release follows from those of the releases before it:
	// steps[v] is 1 when v applies over the installed version, else one more than the
	// fewest steps of a reached release in [lowest[v], v), and parent[v] is the newest
	// such release (-1: the installed version; -2: not reached).
	nodes := slices.Clone(fit)
	slices.Reverse(nodes)
	n := len(nodes)
	parent := make([]int, n)
	steps := make([]int, n)
	// best holds the reached releases that can still be someone's parent: a release
	// is dropped once a newer one needs no more steps, as every range that holds it
	// holds the newer one too. From bottom to top, indexes and steps both increase,
	// so the first entry at or above lowest[v] has the fewest steps in v's range, and
	// is the newest release with that many.
	var best []int
	for v, c := range nodes {
		switch {
		case c.min == nil || installed.compare(*c.min) >= 0:
			parent[v], steps[v] = -1, 1
		default:
			lowest := firstAtLeast(nodes[:v], *c.min)
			i, _ := slices.BinarySearch(best, lowest)
			if i == len(best) {
				parent[v] = -2
				continue
			}
			parent[v], steps[v] = best[i], steps[best[i]]+1
		}
		for len(best) > 0 && steps[best[len(best)-1]] >= steps[v] {
			best = best[:len(best)-1]
		}
		best = append(best, v)
	}
	goal := n - 1
	for goal >= 0 && parent[goal] == -2 {
		goal--
	}
	if goal < 0 {
		return ineligible(CodeBelowMinVersion, "release %s of module %q needs %s or later installed, %s is installed, and no chain of releases leads there",
			newest.r.Version, t.Module, newest.r.MinVersion, t.Installed)
	}
	path := make([]candidate, steps[goal])
	for i, j := goal, len(path)-1; i >= 0; i, j = parent[i], j-1 {
		path[j] = nodes[i]
	}
	reason := fmt.Sprintf("module %q: %s needs %s or later installed; install %s in this order, for %s",
		t.Module, newest.r.Version, newest.r.MinVersion, versionList(path, ", then "), platform)
	if goal != n-1 {
		reason = fmt.Sprintf("module %q: %s needs %s or later installed and no chain of releases leads there from %s; %s is the newest release that can be installed (path %s), for %s",
			t.Module, newest.r.Version, newest.r.MinVersion, t.Installed, nodes[goal].r.Version, versionList(path, ", "), platform)
	}
	return update(path, reason)
}

// versionList joins the versions of path with sep for a Reason; a long path is cut to
// its first and last releases, so that the sentence stays one a person reads.
func versionList(path []candidate, sep string) string {
	const ends = 4
	var b strings.Builder
	for i, c := range path {
		if i == ends && len(path) > 3*ends {
			fmt.Fprintf(&b, "%s... (%d more) ...", sep, len(path)-2*ends)
			continue
		}
		if i > ends && i < len(path)-ends && len(path) > 3*ends {
			continue
		}
		if i > 0 {
			b.WriteString(sep)
		}
		b.WriteString(c.r.Version)
	}
	return b.String()
}

// firstAtLeast returns the index of the first node (sorted oldest first) whose version
// is at least min, len(nodes) when none is. The search gallops down from the newest
// node before bisecting: a min_version is most often a recent release, so this takes
// a few comparisons where a plain bisection takes log2(len(nodes)).
func firstAtLeast(nodes []candidate, min parsedVersion) int {
	hi := len(nodes) // nodes[hi:] are at least min
	for step := 1; hi > 0; step *= 2 {
		lo := max(hi-step, 0)
		if nodes[lo].v.compare(min) < 0 {
			i, _ := slices.BinarySearchFunc(nodes[lo+1:hi], min, func(a candidate, min parsedVersion) int { return a.v.compare(min) })
			return lo + 1 + i
		}
		hi = lo
	}
	return 0
}

// oneEach keeps one release per version (fit is sorted newest first): the one whose
// language matches lang exactly, else the first.
func oneEach(fit []candidate, lang string) []candidate {
	out := fit[:0]
	for _, c := range fit {
		if len(out) > 0 && out[len(out)-1].v.compare(c.v) == 0 {
			last := &out[len(out)-1]
			if lang != "" && !strings.EqualFold(last.r.Language, lang) && strings.EqualFold(c.r.Language, lang) {
				*last = c
			}
			continue
		}
		out = append(out, c)
	}
	return out
}

func keep(cs []candidate, ok func(candidate) bool) []candidate {
	out := make([]candidate, 0, len(cs))
	for _, c := range cs {
		if ok(c) {
			out = append(out, c)
		}
	}
	return out
}

func ineligible(code Code, format string, args ...any) Selection {
	return Selection{Status: StatusIneligible, Code: code, Reason: fmt.Sprintf(format, args...)}
}

func update(path []candidate, reason string) Selection {
	s := Selection{Status: StatusUpdate, Reason: reason, Path: make([]Step, 0, len(path))}
	for _, c := range path {
		s.Path = append(s.Path, Step{Release: c.r, Pack: c.pack})
	}
	last := s.Path[len(s.Path)-1]
	s.Release, s.Pack = last.Release, last.Pack
	return s
}
