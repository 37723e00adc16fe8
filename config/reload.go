package config

import (
	"fmt"
	"strings"
	"time"
)

// Reload says what a running gateway reloads without a SIGHUP: every
// Interval it looks at the files Watch names (their contents' hash, so a
// Kubernetes volume's `..data` symlink swap counts, and a file rewritten
// with the same bytes does not) and, when one changed and stayed so for a
// second look, reloads as SIGHUP does.
type Reload struct {
	// Watch is what is watched: "files" (default) the files the
	// configuration's ${file:PATH} references name and the TLS
	// certificates, so a rotated secret reaches the gateway; "config"
	// those and the configuration file itself, so an edit of it (a
	// ConfigMap changed) is applied at once; "off" nothing (SIGHUP only).
	// Changing it takes a restart.
	Watch string `yaml:"watch"`
	// Interval is how often the files are looked at (default 5s).
	Interval time.Duration `yaml:"interval"`
}

// The values of reload.watch.
const (
	WatchFiles  = "files"
	WatchConfig = "config"
	WatchOff    = "off"
)

func (r *Reload) setDefaults() {
	if r.Watch == "" {
		r.Watch = WatchFiles
	}
	r.Watch = strings.ToLower(r.Watch)
	if r.Interval == 0 {
		r.Interval = 5 * time.Second
	}
}

func (r *Reload) validate() error {
	switch r.Watch {
	case WatchFiles, WatchConfig, WatchOff:
	default:
		return fmt.Errorf("reload.watch: %q is not what Sluice watches; use files (the ${file:} references and certificates, the default), config (those and the config file) or off", r.Watch)
	}
	if r.Interval < 100*time.Millisecond {
		return fmt.Errorf("reload.interval: %s is too short; write at least 100ms, such as 5s", r.Interval)
	}
	return nil
}
