package main

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"slices"

	"github.com/sluicehq/sluice/config"
)

// maxWatchRead bounds what the watch hashes of a file: a ${file:}
// reference holds at most 64 KiB, a certificate chain a few.
const maxWatchRead = 1 << 20

// fileWatch tells which of a set of files changed since it last looked,
// by what a reload would read: a file's contents (their SHA-256), or why
// it cannot be read. A Kubernetes Secret or ConfigMap volume is updated by
// pointing a `..data` symlink at a new directory, and a file written
// again may keep its size and even its time to the second: only the
// contents tell. A change is reported once the file has stayed the same
// for two looks in a row, so a file caught while it is written in place
// (truncated, then written) is not reloaded half written, and one gone
// for a moment (between two looks) is not reported at all. A file that is
// missing or unreadable for longer is a state like any other, reported
// once when it becomes so and once when it is back, so a reload that
// fails on it is tried again at its next change, not at every look.
type fileWatch struct {
	paths []string
	seen  map[string]string // at the last look
	told  map[string]string // at the last change reported (or set)
}

// fileChange is one file that changed and what it is now.
type fileChange struct {
	path, now string
}

func newFileWatch(paths []string) *fileWatch {
	w := &fileWatch{seen: map[string]string{}, told: map[string]string{}}
	w.set(paths)
	return w
}

// set makes paths the files watched: one not watched before is taken as
// it is now; one no longer named is forgotten; one named twice is watched
// once.
func (w *fileWatch) set(paths []string) {
	seen := make(map[string]string, len(paths))
	told := make(map[string]string, len(paths))
	var kept []string
	for _, p := range paths {
		if _, dup := seen[p]; dup {
			continue
		}
		kept = append(kept, p)
		if v, ok := w.told[p]; ok {
			seen[p], told[p] = w.seen[p], v
		} else {
			v := fingerprint(p)
			seen[p], told[p] = v, v
		}
	}
	w.paths, w.seen, w.told = kept, seen, told
}

// changed looks at every file and returns those that differ from the last
// change reported and are as they were at the last look, in the order set
// gave them.
func (w *fileWatch) changed() []fileChange {
	var out []fileChange
	for _, p := range w.paths {
		now := fingerprint(p)
		if now != w.seen[p] {
			w.seen[p] = now // still changing, or just changed: look again
			continue
		}
		if now == w.told[p] {
			continue
		}
		w.told[p] = now
		what := "rewritten"
		if len(now) > 0 && now[0] != '#' {
			what = now
		}
		out = append(out, fileChange{p, what})
	}
	return out
}

// fingerprint is "#" and the hash of the contents of the regular file at
// path (followed through symlinks), or why it is not one that can be read.
// A file that is not regular is never opened: a named pipe would block.
func fingerprint(path string) string {
	st, err := os.Stat(path)
	if err != nil {
		return "unreadable: " + cause(err)
	}
	if !st.Mode().IsRegular() {
		return fmt.Sprintf("not a regular file (%s)", st.Mode().Type())
	}
	f, err := os.Open(path)
	if err != nil {
		return "unreadable: " + cause(err)
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, io.LimitReader(f, maxWatchRead)); err != nil {
		return "unreadable: " + cause(err)
	}
	return "#" + hex.EncodeToString(h.Sum(nil))
}

// cause is err without the path, which the log gives once.
func cause(err error) string {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		err = pe.Err
	}
	if errors.Is(err, fs.ErrNotExist) {
		return "missing"
	}
	return err.Error()
}

// watchedFiles returns what reload.watch watches for the running
// configuration and loaded, the file as last read: the files its
// ${file:PATH} references name, the certificates the listeners reload
// (their names fixed at start), and with watch: config the configuration
// file itself. Nothing when watch is off or there is no file.
func watchedFiles(running, loaded config.Gateway, cfgPath string) []string {
	if running.Reload.Watch == config.WatchOff || cfgPath == "" || cfgPath == "-" {
		return nil
	}
	var out []string
	add := func(p string) {
		if p != "" && !slices.Contains(out, p) {
			out = append(out, p)
		}
	}
	if running.Reload.Watch == config.WatchConfig {
		add(cfgPath)
	}
	for _, p := range loaded.Files {
		add(p)
	}
	for _, t := range []config.TLS{running.TLS, running.AdminTLS} {
		add(t.CertFile)
		add(t.KeyFile)
	}
	return out
}
