package tarzst_test

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"

	"github.com/upkeep-go/upkeep/internal/tarzst"
)

// Example archives a folder and unpacks it elsewhere.
func Example() {
	src, _ := os.MkdirTemp("", "src")
	dst, _ := os.MkdirTemp("", "dst")
	defer os.RemoveAll(src)
	defer os.RemoveAll(dst)
	os.WriteFile(filepath.Join(src, "index.html"), []byte("v1"), 0o644)

	in, _ := os.OpenRoot(src)
	defer in.Close()
	var archive bytes.Buffer
	if err := tarzst.Write(context.Background(), &archive, in.FS(), "", 1); err != nil {
		fmt.Println(err)
		return
	}
	out, _ := os.OpenRoot(dst)
	defer out.Close()
	if err := tarzst.Extract(context.Background(), &archive, out, "backup.tar.zst"); err != nil {
		fmt.Println(err)
		return
	}
	b, _ := os.ReadFile(filepath.Join(dst, "index.html"))
	fmt.Println(string(b))
	// Output: v1
}
