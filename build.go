package sluice

import (
	"runtime"
	"runtime/debug"
)

// Release is the release this binary was built as, set at build time with
// `go build -ldflags "-X github.com/sluicehq/sluice.Release=v1.4.0"`; a
// build without it says "devel". An operator upgrading in place needs to
// know which binary each replica runs: the schema versions (Build) tell two
// releases apart whatever the build stamped.
var Release = "devel"

// Build is what identifies a sluice binary to an operator: its release,
// the source revision when the build recorded one, the Go toolchain, and
// the newest store schema it knows of each kind, which is what decides
// whether it may open a store (a store migrated past them is refused).
type Build struct {
	// Release is the Release variable ("devel" unless stamped).
	Release string `json:"release"`
	// Revision is the VCS revision the build recorded (go build's
	// vcs.revision), "" when it recorded none (-buildvcs=false, a source
	// tree without its .git, as the Dockerfile's).
	Revision string `json:"revision,omitempty"`
	// Modified says the revision's tree had uncommitted changes.
	Modified bool `json:"modified,omitempty"`
	// Go is the Go toolchain that built the binary, and Platform its
	// GOOS/GOARCH.
	Go       string `json:"go"`
	Platform string `json:"platform"`
	// SQLiteSchema and PostgresSchema are the newest migration of each
	// store this binary applies; 0 when not filled in.
	SQLiteSchema   int `json:"sqlite_schema"`
	PostgresSchema int `json:"postgres_schema"`
}

// CurrentBuild returns the running binary's Build without its schemas,
// which the store packages know (the caller fills them in).
func CurrentBuild() Build {
	b := Build{Release: Release, Go: runtime.Version(), Platform: runtime.GOOS + "/" + runtime.GOARCH}
	if info, ok := debug.ReadBuildInfo(); ok {
		for _, s := range info.Settings {
			switch s.Key {
			case "vcs.revision":
				b.Revision = s.Value
			case "vcs.modified":
				b.Modified = s.Value == "true"
			}
		}
	}
	return b
}
