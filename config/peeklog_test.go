package config_test

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/sluicehq/sluice/config"
)

// TestPeekLogFormat checks that the format a start error is written in is
// the file's log.format as far as it can be read, a ${VAR} there included
// when another key's variable is unset (the very error to be written).
func TestPeekLogFormat(t *testing.T) {
	t.Setenv("SLUICE_TEST_LOG_FORMAT", "json")
	os.Unsetenv("SLUICE_TEST_UNSET_STORE")
	for _, c := range []struct{ name, text, want string }{
		{"plain", "log:\n  format: json\n", "json"},
		{"default", "listen: 127.0.0.1:1\n", "text"},
		{"unknown key elsewhere", "nope: 1\nlog:\n  format: JSON\n", "json"},
		{"variable", "log:\n  format: ${SLUICE_TEST_LOG_FORMAT}\n", "json"},
		{"variable, another unset", "store: ${SLUICE_TEST_UNSET_STORE}\nlog:\n  format: ${SLUICE_TEST_LOG_FORMAT}\n", "json"},
		{"not a format", "log:\n  format: xml\n", ""},
		{"not YAML", "log: [\n", ""},
	} {
		path := filepath.Join(t.TempDir(), "sluice.yaml")
		if err := os.WriteFile(path, []byte(c.text), 0o600); err != nil {
			t.Fatal(err)
		}
		if got := config.PeekLogFormat(path); got != c.want {
			t.Errorf("%s: PeekLogFormat = %q, want %q", c.name, got, c.want)
		}
	}
}
