package main

import (
	"encoding/json"
	"os"
	"strings"
	"syscall"
	"testing"
	"time"
)

// jsonRecords parses every line of a log as a JSON object, failing the
// test on a line that is not one.
func jsonRecords(t *testing.T, log string) []map[string]any {
	t.Helper()
	var out []map[string]any
	for i, line := range strings.Split(strings.TrimRight(log, "\n"), "\n") {
		var rec map[string]any
		if err := json.Unmarshal([]byte(line), &rec); err != nil {
			t.Errorf("line %d of the log is not JSON (%v): %q", i+1, err, line)
			continue
		}
		out = append(out, rec)
	}
	return out
}

// findRecord returns the first record whose msg starts with prefix.
func findRecord(recs []map[string]any, prefix string) map[string]any {
	for _, r := range recs {
		if m, _ := r["msg"].(string); strings.HasPrefix(m, prefix) {
			return r
		}
	}
	return nil
}

// TestProcess_LogJSON runs `sluice serve --log-format json` with log.level
// warn in its file: every line it writes to stderr, from its start to its
// exit, is a JSON object a log shipper can read, with time, level and msg;
// info records are left out, except the lines an operator must see (where
// it serves, the bootstrap token, that it shuts down); and a SIGHUP after
// the file says log.level: info applies that level without a restart.
func TestProcess_LogJSON(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the binary (skipped under -short)")
	}
	dir := t.TempDir()
	base := "listen: 127.0.0.1:0\nstore: DIR/sluice.db\n"
	cfg := gatewayConfig(t, dir, base+"log: {format: text, level: warn}\n")
	gw := runProc(t, gatewayRE, testEnv, "serve", "-c", cfg, "--log-format", "json")

	recs := jsonRecords(t, gw.log.String())
	if r := findRecord(recs, "sluice listening"); r != nil {
		t.Errorf("an info record was written at log.level warn: %v", r)
	}
	serving := findRecord(recs, "sluice serving the OpenAI API at ")
	if serving == nil || serving["level"] != "INFO" || !strings.HasPrefix(serving["openai_url"].(string), "http://127.0.0.1:") {
		t.Errorf("no INFO record saying where the gateway serves, with openai_url: %v\n%s", serving, gw.log)
	}
	if r := findRecord(recs, "No admin token existed"); r == nil || !strings.Contains(r["export"].(string), "SLUICE_TOKEN=") {
		t.Errorf("no record with the bootstrap token's export line: %v\n%s", r, gw.log)
	}

	if err := os.WriteFile(cfg, []byte(strings.ReplaceAll(base, "DIR", dir)+"log: {format: text, level: info}\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	gw.signal(syscall.SIGHUP)
	waitLog(t, gw, `"msg":"reloaded on SIGHUP"`, 1)
	if strings.Contains(gw.log.String(), `"level":"DEBUG"`) {
		t.Errorf("a debug record at log.level info:\n%s", gw.log)
	}
	// At debug, a reload says what it read.
	if err := os.WriteFile(cfg, []byte(strings.ReplaceAll(base, "DIR", dir)+"log: {format: text, level: debug}\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	gw.signal(syscall.SIGHUP)
	waitLog(t, gw, `"msg":"reloaded on SIGHUP"`, 2)
	if r := findRecord(jsonRecords(t, gw.log.String()), "config file read on SIGHUP"); r == nil || r["level"] != "DEBUG" || r["log_level"] != "debug" {
		t.Errorf("no debug record of the config read on SIGHUP: %v\n%s", r, gw.log)
	}
	gw.signal(syscall.SIGTERM)
	if code := gw.wait(20 * time.Second); code != 0 {
		t.Errorf("exit code %d after SIGTERM\n%s", code, gw.log)
	}
	recs = jsonRecords(t, gw.log.String())
	for _, r := range recs {
		for _, k := range []string{"time", "level", "msg"} {
			if _, ok := r[k]; !ok {
				t.Errorf("record without %s: %v", k, r)
			}
		}
	}
	if findRecord(recs, "shutting down") == nil {
		t.Errorf("no record saying it shuts down:\n%s", gw.log)
	}
	// The last record of a clean stop, so a log that ends without it tells
	// of a process killed.
	if last := findRecord(recs[len(recs)-1:], "stopped: every request in flight was answered"); last == nil || last["took"] == nil {
		t.Errorf("the log does not end with a record saying it stopped, and how long that took:\n%s", gw.log)
	}
	if r := findRecord(recs, "settings changed in the config file take effect on restart"); r != nil {
		t.Errorf("a change of log.level alone was said to need a restart: %v", r)
	}
}

// TestServe_BadLogSettings: a log format or level Sluice does not have is
// refused before the gateway starts, naming the key or flag and the values
// it takes.
func TestServe_BadLogSettings(t *testing.T) {
	dir := t.TempDir()
	for _, c := range []struct {
		file string
		args []string
		want string
	}{
		{"log: {format: logfmt}\n", nil, `log.format: "logfmt" is not a log format Sluice writes; use text or json`},
		{"log: {level: verbose}\n", nil, `log.level: "verbose" is not a log level; use debug, info, warn or error`},
		{"", []string{"--log-format", "xml"}, `--log-format: "xml" is not a log format Sluice writes; use text or json`},
		{"", []string{"--log-level", "trace"}, `--log-level: "trace" is not a log level; use debug, info, warn or error`},
	} {
		cfg := gatewayConfig(t, dir, "listen: 127.0.0.1:0\nstore: DIR/sluice.db\n"+c.file)
		_, stderr, code := run(t, append([]string{"serve", "-c", cfg}, c.args...)...)
		if code == 0 || !strings.Contains(stderr, c.want) {
			t.Errorf("%q %v: exit %d, stderr %q; want a refusal saying %s", c.file, c.args, code, stderr, c.want)
		}
		if _, err := os.Stat(dir + "/sluice.db"); err == nil {
			t.Errorf("%q %v: the store was created though the settings were refused", c.file, c.args)
		}
	}
}
