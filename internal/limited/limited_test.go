package limited_test

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"github.com/upkeep-go/upkeep/internal/limited"
)

func TestReadFile(t *testing.T) {
	p := filepath.Join(t.TempDir(), "f")
	os.WriteFile(p, []byte("12345"), 0o644)
	if b, err := limited.ReadFile(p, 5); err != nil || string(b) != "12345" {
		t.Fatalf("at the bound: %q %v", b, err)
	}
	if _, err := limited.ReadFile(p, 4); !errors.Is(err, limited.ErrTooLarge) {
		t.Fatalf("over the bound: %v", err)
	}
	if _, err := limited.ReadFile(p+"-missing", 4); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("missing: %v", err)
	}
}

func ExampleReadFile() {
	p := filepath.Join(os.TempDir(), "limited-example.txt")
	os.WriteFile(p, []byte("a key file larger than allowed"), 0o644)
	defer os.Remove(p)
	_, err := limited.ReadFile(p, 8)
	fmt.Println(errors.Is(err, limited.ErrTooLarge))
	// Output: true
}
