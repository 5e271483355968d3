// Package manifest owns upkeep's update manifest: the native JSON format (types,
// parsing, validation, canonical marshalling), reading HFSQL's hfsql_updateinfo.json
// and converting it, platform names, version comparison, and [Manifest.Select], which
// decides which release an installation should get and through which upgrade path.
//
// It does no I/O beyond parsing bytes: it neither fetches nor verifies signatures
// (the signature package does), nor hashes packs ([HFSQL.Convert] asks its caller for
// sizes and SHA-256 sums), nor checks a manifest's expiry or serial against what was
// seen before (the update package does, with its clock and its state).
//
// # Native format
//
// A manifest is a JSON object: schema ([SchemaVersion]), product, serial, expires
// (RFC 3339) and releases; each release has module, version, packs and optionally
// min_version, major, language, channel (default "stable"), rollout (percent of
// installations offered it: absent is 100, 0 nobody), published and notes; each pack
// has platform (canonical GOOS/GOARCH), file, size and sha256, and optionally
// signature (default file + ".minisig"). Unknown members are ignored. [Parse] refuses
// what is wrong with a [*FieldError] naming the JSON path
// ("releases[2].packs[0].sha256: missing"); [Manifest.Marshal] writes the canonical
// form, so that a republished manifest diffs cleanly.
//
// # Limits
//
// Input larger than [MaxSize] (8 MiB) is refused before it is decoded, and a manifest
// of more than [MaxReleases] (10,000) releases before they are read, both with
// [ErrTooLarge]. Versions are at most 128 bytes, module names 128, file names 255.
// Reading a manifest takes time in proportion to its size, and [Manifest.Select]
// O(n log n) time for n releases, however their min_version chain them.
//
// # Platforms and versions
//
// [Platform] maps Go's GOOS/GOARCH, HFSQL's win32, win64, linux32, linux64 and the
// usual spellings ("linux-x86_64", "windows_x64", "darwin/aarch64") to one canonical
// form ("linux/amd64"). Versions are compared with github.com/hashicorp/go-version, so
// "1.10.0" is newer than "1.9.3" and HFSQL build numbers such as "220099" compare as
// numbers.
package manifest
