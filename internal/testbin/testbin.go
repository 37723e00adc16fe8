package testbin

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"testing"
)

// Binary is one program, built on first use.
type Binary struct {
	pkg, name string
	args      []string // go build's flags, before -o
	once      sync.Once
	mu        sync.Mutex
	dir, path string
	err       error
}

// New returns pkg (an import path or a directory relative to the test's
// package, such as "./testdata/loadgen"), to be built as name, with go
// build's flags args (such as "-ldflags", "-X …=v0.9.1" to stamp a
// release).
func New(pkg, name string, args ...string) *Binary {
	return &Binary{pkg: pkg, name: name, args: args}
}

// Path builds the program the first time it is called and returns where
// it is.
func (b *Binary) Path() (string, error) {
	b.once.Do(func() {
		b.mu.Lock()
		defer b.mu.Unlock()
		dir, err := os.MkdirTemp("", "sluice-testbin-"+b.name+"-")
		if err != nil {
			b.err = err
			return
		}
		b.dir = dir
		bin := filepath.Join(dir, b.name)
		if out, err := exec.Command("go", append(append([]string{"build"}, b.args...), "-o", bin, b.pkg)...).CombinedOutput(); err != nil {
			b.err = fmt.Errorf("go build %s: %v\n%s", b.pkg, err, out)
			return
		}
		b.path = bin
	})
	return b.path, b.err
}

// Remove deletes the built program, if it was built.
func (b *Binary) Remove() {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.dir != "" {
		os.RemoveAll(b.dir)
		b.dir = ""
	}
}

// Main runs the package's tests and then removes bins.
func Main(m *testing.M, bins ...*Binary) {
	code := m.Run()
	for _, b := range bins {
		b.Remove()
	}
	os.Exit(code)
}
