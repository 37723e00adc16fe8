package config_test

import (
	"strings"
	"testing"
	"time"

	"github.com/sluicehq/sluice/config"
)

// ${ENV} still works wherever a value can stand: numbers and durations
// from the environment keep their type, a reference inside a longer plain
// value, several on one line, in single quotes, in a block; a missing
// variable is named; an error after an expanded line points at the line
// as written.
func TestExpandEnv_Values(t *testing.T) {
	t.Setenv("SL_BATCH", "64")
	t.Setenv("SL_TICK", "2s")
	t.Setenv("SL_HOST", "10.0.0.7")
	t.Setenv("SL_PORT", "8089")
	t.Setenv("SL_SECRET", "it's a #secret: *with* \"quotes\" and \\ backslash")
	yaml := strings.Join([]string{
		"listen: ${SL_HOST}:${SL_PORT}",
		"request_log:",
		"  batch_size: ${SL_BATCH}",
		"rollouts:",
		"  tick: ${SL_TICK}   # ${SL_NOT_SET_IN_A_COMMENT}",
		"client_keys:",
		"  - name: app",
		"    secret: '${SL_SECRET}'",
		"  - name: app2",
		"    secret: |",
		"      ${SL_SECRET}",
		"",
	}, "\n")
	g, err := config.ParseGateway("g.yaml", []byte(yaml))
	if err != nil {
		t.Fatal(err)
	}
	if g.Listen != "10.0.0.7:8089" || g.RequestLog.BatchSize != 64 || g.Rollouts.Tick != 2*time.Second {
		t.Errorf("listen %q, batch_size %d, tick %s", g.Listen, g.RequestLog.BatchSize, g.Rollouts.Tick)
	}
	want := "it's a #secret: *with* \"quotes\" and \\ backslash"
	if g.ClientKeys[0].Secret != want || strings.TrimSpace(g.ClientKeys[1].Secret) != want {
		t.Errorf("secrets %q and %q, want %q", g.ClientKeys[0].Secret, g.ClientKeys[1].Secret, want)
	}

	// Inside a flow collection (the braces are YAML's) a number keeps its
	// type (config TestExpandEnv_FlowCollections has the rest).
	g, err = config.ParseGateway("g.yaml", []byte("request_log: {batch_size: ${SL_BATCH}}\n"))
	if err != nil || g.RequestLog.BatchSize != 64 {
		t.Errorf("a reference in a flow mapping: batch_size %d, %v", g.RequestLog.BatchSize, err)
	}

	_, err = config.ParseGateway("g.yaml", []byte("listen: ${SL_MISSING_ONE}\n"))
	if err == nil || !strings.Contains(err.Error(), "SL_MISSING_ONE is not set") {
		t.Errorf("missing variable: %v", err)
	}
	_, err = config.ParseGateway("g.yaml", []byte("client_keys:\n  - name: app\n    secret: \"${SL_SECRET}\"\nbogus_key: 1\n"))
	if err == nil || !strings.Contains(err.Error(), "line 4") {
		t.Errorf("unknown key after an expanded line: %v, want it at line 4", err)
	}
}
