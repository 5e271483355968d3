package atomicfile

// SyncDir does nothing on Windows, where folders cannot be opened for fsync; NTFS
// journals renames itself.
func SyncDir(dir string) error { return nil }
