package main

import (
	"bytes"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// TestProcess_LogJSONStartErrors runs `sluice serve` so that it cannot
// start, with the JSON format asked for by the flag or by the file: the
// line saying why is a JSON record (level ERROR, msg the reason) like
// every other line it writes, from a bad flag, which comes before any
// configuration is read, to a port in use, which comes after. Where the
// format cannot be known (no flag, a file that is not YAML) it is text.
func TestProcess_LogJSONStartErrors(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the binary (skipped under -short)")
	}
	bin, err := buildBinary()
	if err != nil {
		t.Fatal(err)
	}
	busy, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer busy.Close()
	dir := t.TempDir()
	file := func(name, text string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(strings.ReplaceAll(text, "DIR", dir)), 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	jsonCfg := file("json.yaml", "listen: 127.0.0.1:0\nstore: DIR/a.db\nlog: {format: json}\n")
	for _, c := range []struct {
		name string
		args []string
		want string // in the ERROR record's msg, or in the text line
		text bool   // the format cannot be known: a text line
	}{
		{"bad flag, --log-format json", []string{"--log-format", "json", "--lissten", "x"}, "unknown flag: --lissten", false},
		{"bad flag before --log-format=json", []string{"--lissten", "x", "--log-format=json"}, "unknown flag: --lissten", false},
		{"bad flag, log.format json in the file", []string{"--lissten", "-c", jsonCfg}, "unknown flag: --lissten", false},
		{"bad --log-format, log.format json in the file", []string{"-c", jsonCfg, "--log-format", "xml"}, `--log-format: "xml" is not a log format`, false},
		{"unreadable file", []string{"--log-format", "json", "-c", filepath.Join(dir, "missing.yaml")}, "missing.yaml", false},
		{"unknown key", []string{"-c", file("key.yaml", "listen: 127.0.0.1:0\nstore: DIR/b.db\nlsten: x\nlog: {format: json}\n")}, "lsten", false},
		{"unset variable", []string{"-c", file("env.yaml", "listen: 127.0.0.1:0\nstore: ${SLUICE_TEST_UNSET_VAR}\nlog:\n  format: json\n")}, "SLUICE_TEST_UNSET_VAR is not set", false},
		{"port in use", []string{"-c", file("busy.yaml", "listen: "+busy.Addr().String()+"\nstore: DIR/c.db\nlog: {format: json, level: warn}\n")}, "address already in use", false},
		{"bad flag, no format given", []string{"--lissten", "x"}, "error: unknown flag: --lissten", true},
		{"file not YAML", []string{"-c", file("broken.yaml", "log: {format: json\n")}, "error: ", true},
	} {
		t.Run(c.name, func(t *testing.T) {
			cmd := exec.Command(bin, append([]string{"serve"}, c.args...)...)
			cmd.Env = append(os.Environ(), testEnv...)
			var stderr bytes.Buffer
			cmd.Stderr = &stderr
			if err := cmd.Run(); err == nil {
				t.Fatalf("exit 0, want a refusal\n%s", stderr.String())
			}
			log := stderr.String()
			if c.text {
				if !strings.HasPrefix(log, c.want) || strings.Count(log, "\n") != 1 {
					t.Errorf("stderr %q, want one text line starting %q", log, c.want)
				}
				return
			}
			recs := jsonRecords(t, log)
			if len(recs) == 0 {
				t.Fatalf("no JSON record on stderr: %q", log)
			}
			last := recs[len(recs)-1]
			if last["level"] != "ERROR" || !strings.Contains(last["msg"].(string), c.want) {
				t.Errorf("last record %v, want an ERROR whose msg says %q\n%s", last, c.want, log)
			}
		})
	}
}
