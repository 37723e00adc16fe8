package config

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestLoadGatewayOver: `sluice serve -c sluice.yaml --store x.db` with
// `store: ${SLUICE_STORE}` in the file and the variable unset was refused
// ("environment variable SLUICE_STORE is not set"), though the flag
// replaces that value: the file was expanded and checked whole before the
// flags applied. A key the command line replaces is now neither expanded
// nor checked as the file has it; every other key still is.
func TestLoadGatewayOver(t *testing.T) {
	os.Unsetenv("SLUICE_TEST_OVER_STORE")
	os.Unsetenv("SLUICE_TEST_OVER_LEVEL")
	os.Unsetenv("SLUICE_TEST_OVER_OTHER")
	write := func(t *testing.T, text string) string {
		path := filepath.Join(t.TempDir(), "sluice.yaml")
		if err := os.WriteFile(path, []byte(text), 0o600); err != nil {
			t.Fatal(err)
		}
		return path
	}
	t.Run("OK", func(t *testing.T) {
		path := write(t, "listen: 127.0.0.1:0\nstore: ${SLUICE_TEST_OVER_STORE}\nlog:\n  level: ${SLUICE_TEST_OVER_LEVEL}\n")
		g, err := LoadGatewayOver(path, Override{Store: "flag.db", LogLevel: "DEBUG"})
		if err != nil {
			t.Fatalf("LoadGatewayOver: %v", err)
		}
		if g.Store != "flag.db" || g.Log.Level != "debug" || g.Listen != "127.0.0.1:0" {
			t.Errorf("store %q, log.level %q, listen %q: want flag.db, debug and the file's 127.0.0.1:0", g.Store, g.Log.Level, g.Listen)
		}
	})
	t.Run("ErrUnsetWithoutTheFlag", func(t *testing.T) {
		path := write(t, "listen: 127.0.0.1:0\nstore: ${SLUICE_TEST_OVER_STORE}\n")
		for _, o := range []Override{{}, {Listen: "127.0.0.1:9"}} {
			if _, err := LoadGatewayOver(path, o); err == nil || !strings.Contains(err.Error(), "SLUICE_TEST_OVER_STORE") {
				t.Errorf("override %+v: error %v, want one naming the unset SLUICE_TEST_OVER_STORE", o, err)
			}
		}
	})
	t.Run("ErrUnsetElsewhere", func(t *testing.T) {
		path := write(t, "store: ${SLUICE_TEST_OVER_STORE}\nadmin_listen: ${SLUICE_TEST_OVER_OTHER}\n")
		_, err := LoadGatewayOver(path, Override{Store: "flag.db"})
		if err == nil || !strings.Contains(err.Error(), "SLUICE_TEST_OVER_OTHER") || strings.Contains(err.Error(), "SLUICE_TEST_OVER_STORE") {
			t.Errorf("error %v: want one naming SLUICE_TEST_OVER_OTHER only", err)
		}
	})
	t.Run("FileValueReplacedNotChecked", func(t *testing.T) {
		path := write(t, "listen: not-an-address\n")
		if _, err := LoadGateway(path); err == nil {
			t.Fatal("LoadGateway of listen: not-an-address: no error")
		}
		g, err := LoadGatewayOver(path, Override{Listen: "127.0.0.1:0"})
		if err != nil || g.Listen != "127.0.0.1:0" {
			t.Errorf("with --listen: %v, listen %q", err, g.Listen)
		}
	})
	t.Run("InBraces", func(t *testing.T) {
		// A reference as written is not YAML inside braces (its mask is);
		// the replaced value must still leave the file readable.
		path := write(t, "log: {format: ${SLUICE_TEST_OVER_LEVEL}, level: warn}\nstore: ${SLUICE_TEST_OVER_STORE}\n")
		g, err := LoadGatewayOver(path, Override{Store: "flag.db", LogFormat: "json"})
		if err != nil || g.Log.Format != "json" || g.Log.Level != "warn" || g.Store != "flag.db" {
			t.Errorf("LoadGatewayOver: %v; log %+v, store %q", err, g.Log, g.Store)
		}
	})
	t.Run("NestedKeyOnlyAtItsPath", func(t *testing.T) {
		// A key named like an overridden one elsewhere in the file is
		// still expanded.
		path := write(t, "store: ${SLUICE_TEST_OVER_STORE}\nrequest_log:\n  store: ${SLUICE_TEST_OVER_OTHER}\n")
		_, err := LoadGatewayOver(path, Override{Store: "flag.db"})
		if err == nil || !strings.Contains(err.Error(), "SLUICE_TEST_OVER_OTHER") {
			t.Errorf("error %v: want one naming SLUICE_TEST_OVER_OTHER (request_log.store is not store)", err)
		}
	})
}
