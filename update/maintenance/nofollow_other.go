//go:build !unix

package maintenance

// oNoFollow is 0 where open has no such flag; os.Root still keeps every step inside
// the folder.
const oNoFollow = 0
