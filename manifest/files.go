package manifest

// File names of a repository. A repository is a folder (or any static web server)
// holding the manifest and its signature at its root, the packs beside them.
const (
	// FileName is the name of the native manifest at the root of a repository.
	FileName = "manifest.json"
	// SignatureFileName is the name of the manifest's detached signature (minisign
	// format) beside it: [FileName] followed by ".minisig", as for every signed file.
	SignatureFileName = FileName + ".minisig"
	// HFSQLFileName is the name of an HFSQL manifest, which [ParseHFSQL] reads; a
	// repository holds it instead of (or beside) the native one.
	HFSQLFileName = "hfsql_updateinfo.json"
)
