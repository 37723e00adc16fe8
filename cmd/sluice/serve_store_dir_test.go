package main

import (
	"context"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/sluicehq/sluice/sqlite"
)

// What the user does: sluice serve --store on a directory (the data
// volume's mount point, say), or store copy into one.
// What must happen: the start is refused before anything is created,
// saying it is a directory and which file to pass. It left PATH.lock
// beside the directory and failed in SQLite's words.
func TestServe_StoreDirectoryRefused(t *testing.T) {
	dir := t.TempDir()
	data := filepath.Join(dir, "data")
	if err := os.Mkdir(data, 0o755); err != nil {
		t.Fatal(err)
	}
	src := filepath.Join(dir, "src.db")
	st, err := sqlite.Open(src)
	if err != nil {
		t.Fatal(err)
	}
	if err := st.Close(); err != nil {
		t.Fatal(err)
	}
	files := func() []string {
		var out []string
		filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
			if p != dir && !strings.HasPrefix(p, src) {
				out = append(out, strings.TrimPrefix(p, dir+"/"))
			}
			return nil
		})
		return out
	}
	for _, args := range [][]string{
		{"serve", "--store", data, "--listen", "127.0.0.1:0"},
		{"serve", "--store", data + "/", "--listen", "127.0.0.1:0"},
		{"store", "copy", "--from", src, "--to", data},
	} {
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		var out, stderr strings.Builder
		code := Main(ctx, args, strings.NewReader(""), &out, &stderr)
		cancel()
		want := " is a directory: the store setting (--store, store: in the config) names the SQLite file itself, created if missing; pass a file in it, such as " + filepath.Join(data, "sluice.db")
		if code == 0 || !strings.Contains(stderr.String(), want) {
			t.Errorf("%s: exit %d, stderr %q; want a refusal containing %q", strings.Join(args, " "), code, stderr.String(), want)
		}
		if left, keep := files(), []string{"data"}; !slices.Equal(left, keep) {
			t.Errorf("%s left %q beside the source, want %q alone", strings.Join(args, " "), left, keep)
		}
	}
}
