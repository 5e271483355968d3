package manifest

import (
	"fmt"
	"strings"
)

// goPlatforms are the GOOS/GOARCH pairs the Go toolchain builds for; a pack's platform
// must be one of them.
const goPlatforms = "aix/ppc64 android/386 android/amd64 android/arm android/arm64 " +
	"darwin/amd64 darwin/arm64 dragonfly/amd64 freebsd/386 freebsd/amd64 freebsd/arm " +
	"freebsd/arm64 illumos/amd64 ios/amd64 ios/arm64 js/wasm linux/386 " +
	"linux/amd64 linux/arm linux/arm64 linux/loong64 linux/mips linux/mips64 " +
	"linux/mips64le linux/mipsle linux/ppc64 linux/ppc64le linux/riscv64 linux/s390x " +
	"netbsd/386 netbsd/amd64 netbsd/arm netbsd/arm64 openbsd/386 openbsd/amd64 " +
	"openbsd/arm openbsd/arm64 openbsd/ppc64 openbsd/riscv64 plan9/386 plan9/amd64 " +
	"plan9/arm solaris/amd64 wasip1/wasm windows/386 windows/amd64 windows/arm64"

// goPlatformSet holds goPlatforms, for isGoPlatform.
var goPlatformSet = func() map[string]bool {
	set := map[string]bool{}
	for p := range strings.FieldsSeq(goPlatforms) {
		set[p] = true
	}
	return set
}()

// isGoPlatform reports whether s is one of goPlatforms, spelled exactly.
func isGoPlatform(s string) bool { return goPlatformSet[s] }

// whole names that carry both the system and the width, as HFSQL writes them.
func wholeAlias(s string) string {
	switch s {
	case "win32", "windows32":
		return "windows/386"
	case "win64", "windows64":
		return "windows/amd64"
	case "linux32":
		return "linux/386"
	case "linux64":
		return "linux/amd64"
	}
	return ""
}

// osAlias maps what people type for an operating system to its GOOS.
func osAlias(s string) string {
	switch s {
	case "win", "windows":
		return "windows"
	case "linux":
		return "linux"
	case "darwin", "mac", "macos", "osx":
		return "darwin"
	case "aix", "android", "dragonfly", "freebsd", "illumos", "ios", "js",
		"netbsd", "openbsd", "plan9", "solaris", "wasip1":
		return s
	}
	return ""
}

// archAlias maps what people type for a processor architecture to its GOARCH.
func archAlias(s string) string {
	switch s {
	case "amd64", "x86_64", "x86-64", "x64":
		return "amd64"
	case "386", "i386", "i486", "i586", "i686", "x86", "ia32", "32":
		return "386"
	case "arm64", "aarch64", "armv8":
		return "arm64"
	case "arm", "armv6", "armv6l", "armv7", "armv7l", "armhf", "armel":
		return "arm"
	case "64":
		return "amd64"
	case "loong64", "mips", "mips64", "mips64le", "mipsle", "ppc64", "ppc64le",
		"riscv64", "s390x", "wasm":
		return s
	}
	return ""
}

// Platform returns the canonical form (Go's GOOS/GOARCH, "linux/amd64") of a platform
// name. It accepts the canonical form, HFSQL's names (win32, win64, linux32, linux64),
// and a system and an architecture written the usual ways, separated by '/', '-', '_'
// or a space, in any case: "linux-x86_64", "Windows_x64", "darwin/aarch64",
// "linux i686". An architecture alone ("amd64") names no platform: the system is
// needed. An unknown name gives an error wrapping [ErrUnknownPlatform] that names it.
func Platform(s string) (string, error) {
	if len(s) > 64 {
		return "", fmt.Errorf("%w %.64q...: name too long", ErrUnknownPlatform, s)
	}
	if isGoPlatform(s) {
		return s, nil
	}
	low := strings.ToLower(strings.TrimSpace(s))
	if p := wholeAlias(low); p != "" {
		return p, nil
	}
	for i := 0; i < len(low); i++ {
		switch low[i] {
		case '/', '-', '_', ' ':
		default:
			continue
		}
		goos, goarch := osAlias(low[:i]), archAlias(low[i+1:])
		if goos == "" || goarch == "" {
			continue
		}
		if p := goos + "/" + goarch; isGoPlatform(p) {
			return p, nil
		}
		return "", fmt.Errorf("%w %q: Go does not build for %s/%s", ErrUnknownPlatform, s, goos, goarch)
	}
	if archAlias(low) != "" || osAlias(low) != "" {
		return "", fmt.Errorf("%w %q: give both system and architecture, such as linux/amd64", ErrUnknownPlatform, s)
	}
	return "", fmt.Errorf("%w %q: want GOOS/GOARCH such as linux/amd64, or win32, win64, linux32, linux64", ErrUnknownPlatform, s)
}
