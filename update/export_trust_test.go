package update

// SetManifestCache writes the check cache of the engine's state dir with a validator
// and a manifest that need not go together, as a torn or stale cache would hold them.
func SetManifestCache(e *Engine, validator string, manifest []byte) error {
	return e.writeCache(manifestCache{Validator: validator, Manifest: manifest})
}
