package config_test

import (
	"log/slog"
	"slices"
	"strings"
	"testing"

	"github.com/sluicehq/sluice/config"
)

// TestLog_Config: log.format and log.level default to text and info, take
// the documented values, and refuse anything else naming the key and the
// values it takes.
func TestLog_Config(t *testing.T) {
	g, err := config.ParseGateway("sluice.yaml", []byte("listen: 127.0.0.1:8080\n"))
	if err != nil {
		t.Fatal(err)
	}
	if g.Log.Format != "text" || g.Log.Level != "info" || g.Log.SlogLevel() != slog.LevelInfo {
		t.Errorf("defaults: format %q level %q (%v); want text, info", g.Log.Format, g.Log.Level, g.Log.SlogLevel())
	}
	for text, want := range map[string]slog.Level{"debug": slog.LevelDebug, "info": slog.LevelInfo, "warn": slog.LevelWarn, "error": slog.LevelError, "WARN": slog.LevelWarn} {
		g, err := config.ParseGateway("sluice.yaml", []byte("log: {format: json, level: "+text+"}\n"))
		if err != nil {
			t.Errorf("level %s: %v", text, err)
			continue
		}
		if g.Log.Format != "json" || g.Log.SlogLevel() != want {
			t.Errorf("level %s: format %q, level %v; want json, %v", text, g.Log.Format, g.Log.SlogLevel(), want)
		}
	}
	for _, c := range []struct{ yaml, want string }{
		{"log: {format: logfmt}\n", `log.format: "logfmt" is not a log format Sluice writes; use text or json`},
		{"log: {level: verbose}\n", `log.level: "verbose" is not a log level; use debug, info, warn or error`},
		{"log: {level: warning}\n", `log.level: "warning" is not a log level; use debug, info, warn or error`},
	} {
		_, err := config.ParseGateway("sluice.yaml", []byte(c.yaml))
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: error %v; want one saying %s", strings.TrimSpace(c.yaml), err, c.want)
		}
	}
}

// TestNeedRestart_LogLevelReloads: SIGHUP applies log.level, so a change
// of level alone needs no restart; a change of format does.
func TestNeedRestart_LogLevelReloads(t *testing.T) {
	run := config.Default()
	next := run
	next.Log.Level = "debug"
	if got := config.NeedRestart(run, next); len(got) != 0 {
		t.Errorf("NeedRestart after a change of log.level = %v, want none (SIGHUP applies it)", got)
	}
	next.Log.Format = "json"
	if got := config.NeedRestart(run, next); !slices.Equal(got, []string{"log"}) {
		t.Errorf("NeedRestart after a change of log.format = %v, want [log]", got)
	}
}
