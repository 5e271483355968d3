//go:build unix

package pack

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// A base file replaced by a FIFO (by anyone who may write the base tree) must be
// refused as not a regular file, not block the rebuild forever in open(2) waiting for
// a writer.
func TestDeltaBaseFIFONotBlocking(t *testing.T) {
	t.Parallel()
	for _, name := range []string{"lib/same.txt", "lib/big.txt"} { // copied, patched
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			oldDir, _, delta := buildTestDelta(t, deltaOld, deltaNew)
			p := filepath.Join(oldDir, filepath.FromSlash(name))
			os.Remove(p)
			if err := unix.Mkfifo(p, 0o644); err != nil {
				t.Skipf("mkfifo: %v", err)
			}
			done := make(chan error, 1)
			go func() {
				_, err := ApplyDelta(context.Background(), bytes.NewReader(delta), int64(len(delta)), oldDir, filepath.Join(t.TempDir(), "d"), WithoutSync())
				done <- err
			}()
			var err error
			select {
			case err = <-done:
			case <-time.After(10 * time.Second):
				// Release the blocked open (O_RDWR on a FIFO does not block on Linux).
				if f, ferr := os.OpenFile(p, os.O_RDWR, 0); ferr == nil {
					defer f.Close()
				}
				<-done
				t.Fatal("ApplyDelta blocked opening a FIFO in the base")
			}
			if !errors.Is(err, ErrBase) || !strings.Contains(err.Error(), name) || !strings.Contains(err.Error(), "not a regular file") {
				t.Fatalf("err = %v, want ErrBase naming %s, not a regular file", err, name)
			}
		})
	}
}
