package main

import (
	"maps"
	"slices"

	"github.com/sluicehq/sluice/config"
)

// fileWatch tells which of a set of files changed since it last looked,
// by what a reload would read: a file's contents (their SHA-256), or why
// it cannot be read (config.Fingerprint). A Kubernetes Secret or ConfigMap
// volume is updated by pointing a `..data` symlink at a new directory, and
// a file written again may keep its size and even its time to the second:
// only the contents tell. A change is reported once the file has stayed
// the same for two looks in a row, so a file caught while it is written in
// place (truncated, then written) is not reloaded half written, and one
// gone for a moment (between two looks) is not reported at all. A file
// that is missing or unreadable for longer is a state like any other,
// reported once when it becomes so and once when it is back, so a reload
// that fails on it is tried again at its next change, not at every look.
//
// What a change is measured from is what was applied: the state of each
// file as the load that applied it read it (config.Gateway.FileStates), or
// for a file the load does not read (a certificate) as it was just before
// the reload read anything. So a file changed while the gateway starts or
// a reload runs, or just after a reload added it to the watch set, is a
// change at the next looks; and a reload (SIGHUP's too) that read a change
// is not followed by another for the same change.
type fileWatch struct {
	paths []string
	seen  map[string]string // at the last look
	told  map[string]string // at the last change reported, or as applied
}

// fileChange is one file that changed and what it is now.
type fileChange struct {
	path, now string
}

// newFileWatch watches paths from applied (set).
func newFileWatch(paths []string, applied map[string]string) *fileWatch {
	w := &fileWatch{seen: map[string]string{}, told: map[string]string{}}
	w.set(paths, applied)
	return w
}

// set makes paths the files watched, each measured from its state in
// applied (what the load that applied it read); a path applied has no
// state for keeps the one it had when watched already, and is taken as it
// is now when not. One no longer named is forgotten; one named twice is
// watched once.
func (w *fileWatch) set(paths []string, applied map[string]string) {
	seen := make(map[string]string, len(paths))
	told := make(map[string]string, len(paths))
	var kept []string
	for _, p := range paths {
		if _, dup := seen[p]; dup {
			continue
		}
		kept = append(kept, p)
		if v, ok := applied[p]; ok {
			seen[p], told[p] = v, v
		} else if v, ok := w.told[p]; ok {
			seen[p], told[p] = w.seen[p], v
		} else {
			v := config.Fingerprint(p)
			seen[p], told[p] = v, v
		}
	}
	w.paths, w.seen, w.told = kept, seen, told
}

// now returns the state of every file watched as it is now: taken before
// a reload reads anything, it is what that reload applied of the files its
// load does not record (certificates), or an earlier state, which at worst
// reloads once more, never misses a change.
func (w *fileWatch) now() map[string]string {
	out := make(map[string]string, len(w.paths))
	for _, p := range w.paths {
		out[p] = config.Fingerprint(p)
	}
	return out
}

// changed looks at every file and returns those that differ from the last
// change reported and are as they were at the last look, in the order set
// gave them.
func (w *fileWatch) changed() []fileChange {
	var out []fileChange
	for _, p := range w.paths {
		now := config.Fingerprint(p)
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

// applied is what a reload applied of each file: before (the files'
// states before it read anything) with read (the states its load read)
// over them.
func applied(before, read map[string]string) map[string]string {
	out := maps.Clone(before)
	if out == nil {
		out = map[string]string{}
	}
	maps.Copy(out, read)
	return out
}
