// Package pack owns upkeep's packs: zip files holding a module's tree. It builds them
// from a directory or an [fs.FS] with deterministic bytes ([Build], [BuildDir]),
// describes them ([ReadInfo]) and extracts them safely ([Extract]).
//
// # Building
//
// Entries are sorted by name; folders are entries too, so empty ones survive;
// permissions (the executable bit above all; see Modes) and mtimes are kept, or every
// mtime is replaced by one given time ([WithModTime], fed from [SourceDateEpoch]). Symbolic
// links are stored as links when they point inside the tree; one that leaves it fails
// the build. Files are deflated ([Deflate], the default) or compressed with Zstandard
// ([Zstd], zip method 93) and streamed: no file is held in memory. The same tree gives
// the same bytes.
//
// # Extracting
//
// [Extract] writes into a destination that does not exist yet or is an empty folder.
// Before a byte is written, the whole pack may be read once through a verification
// function ([WithVerify]), then every entry is checked. Refused, naming the entry and
// the rule (an [*EntryError] holding a [Rule] and wrapping one of the Err
// sentinels):
//
//   - names that are empty, longer than 4096 bytes, not UTF-8, or hold NUL, control
//     characters, backslashes or colons; absolute paths, drive letters, UNC paths;
//     "." , ".." and empty segments; segments ending in a dot or a space; Windows
//     device names (CON, PRN, AUX, NUL, COM0–9, LPT0–9…, with or without extension,
//     in any folder);
//   - the same name twice, names equal but for case (unless [AllowCaseCollisions]),
//     a name used both as a file and as a folder;
//   - devices, pipes, sockets; links that are absolute or climb out of the tree, also
//     through other links of the pack;
//   - more than [Limits.MaxFiles] entries (default 100,000), an entry larger than
//     [Limits.MaxFileSize] (4 GiB), more than [Limits.MaxTotal] bytes in all (4 GiB),
//     an entry larger than [Limits.RatioMinSize] (1 MiB) inflating more than
//     [Limits.MaxRatio] (200:1), a name of more than [Limits.MaxDepth] path segments
//     (256). Declared sizes are checked first, then the bytes actually decompressed
//     are counted: data beyond its declared size is refused;
//   - a CRC-32 mismatch, or a zero CRC-32 on non-empty data;
//   - methods other than store, deflate and zstd (zstd windows above 32 MiB), and
//     encrypted entries;
//   - entries whose bytes overlap (the overlapping "better zip bomb"), a local header
//     that names another file or disagrees with the central directory, data running
//     into the central directory, multi-disk archives, prepended data.
//
// # Modes
//
// A pack keeps permission bits and, on folders, the sticky bit: [Build] stores them,
// [ReadInfo] reports them, [Extract] installs them exactly, whatever the umask. The
// set-user-ID and set-group-ID bits, and the sticky bit of a file, are neither stored
// nor installed. One rule on top: Extract clears the write permission for others
// (o+w) of every file and folder, so that no other account may change or replace
// extracted code ([AllowWorldWritable] keeps it; a world-writable folder should then
// carry the sticky bit). A folder only implied by the entries below it gets 0755.
//
// Links are created as symbolic links, which Windows allows only to
// administrators or in developer mode; without them a pack with links fails there,
// naming the link.
//
// The checks and the extraction cost time linear in the entries and the bytes of their
// names, whatever the depth: names are indexed segment by segment, and folders are
// created, linked into and given their modes through a stack of open folder handles
// walked depth first, never by a walk from the root per folder.
//
// The tree is written into a hidden temporary sibling of the destination by a pool
// of workers ([WithWorkers], default GOMAXPROCS), each streaming one large entry at a
// time through fixed buffers, or reading a run of small entries adjacent in the pack
// with one read of at most 512 KiB, so memory stays bounded whatever the pack's size
// and a tree of many small files costs few reads. Files are created with O_EXCL and
// O_NOFOLLOW inside an [os.Root] (on Linux with one openat2 each, refusing links and
// escapes), with their final mode, chmod-ed only when the umask narrowed it; links are
// created last.
// The tree is then made durable ([WithoutSync] skips it): on Linux by one syncfs(2)
// of its filesystem, which measured cheaper than an fsync of each file and folder,
// elsewhere file by file. Only then is it renamed to the destination. On any error
// the temporary tree is removed and the destination is left as it was.
//
// # Deltas
//
// [BuildDelta] writes a delta from an old tree to a new one: a zip holding the new
// tree's listing ([DeltaListingName]: path, mode, size and SHA-256 of every file,
// folders, links), a patch per changed file against the same path's old file (both
// at most [MaxDeltaPatch]: copies from anywhere in the old file found over its whole
// length, replaced and inserted bytes, compressed with zstd; a binary rebuilt with a
// changed version string patches in about a hundred bytes), and whole files for new
// files, larger files, already-compressed types and patches that do not pay.
// Unchanged files are only listed; removed files are absent. [ApplyDelta] rebuilds the
// new tree from a base tree it only reads and the delta (of [DeltaFormat], or of
// [DeltaFormatV1] whose patches are zstd frames with the old file as dictionary),
// reading each listing entry as it is decoded, under every rule and limit of Extract
// (a patch's base counts with it for the ratio), checking each
// file's size and SHA-256; a base file that is not the expected one fails with
// [ErrBase] naming it, or is obtained through [WithFetch].
//
// The package installs nothing and never touches a live tree: it extracts into a
// fresh destination, and deciding what to do with it is the caller's job. It reads no
// environment variable except in [SourceDateEpoch], and it verifies no signature
// itself: verification comes in as a function.
package pack
