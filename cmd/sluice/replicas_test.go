package main

import (
	"encoding/json"
	"regexp"
	"testing"

	"github.com/sluicehq/sluice/api"
)

// TestCLI_ReplicasLone: on a lone gateway (SQLite) `sluice replicas`
// answers one row, the gateway itself, leading, on the registry revision
// it serves, and says plainly that it is the only replica; -o json holds
// the same.
func TestCLI_ReplicasLone(t *testing.T) {
	_, file, cmd := readmeGateway(t)
	mustRun(t, cmd("apply", "-f", file, "--reason", "seed")...)
	out, errOut, code := run(t, cmd("replicas")...)
	if code != 0 {
		t.Fatalf("sluice replicas: exit %d: %s", code, errOut)
	}
	if !regexp.MustCompile(`^NAME +RELEASE +LEADER +REVISION +IN FLIGHT +DRAINING +LAST BEAT\nthis gateway +devel +yes +1 +0 +no +now\n$`).MatchString(out) {
		t.Errorf("sluice replicas on a lone gateway:\n%s", out)
	}
	if want := "a lone gateway: its SQLite store is this process's alone, so it is the only replica (a fleet shares a PostgreSQL store)\n"; errOut != want {
		t.Errorf("stderr %q, want %q", errOut, want)
	}
	var l api.ReplicaList
	if err := json.Unmarshal([]byte(mustRun(t, cmd("replicas", "-o", "json")...)), &l); err != nil {
		t.Fatal(err)
	}
	if l.Fleet || len(l.Replicas) != 1 || !l.Replicas[0].Self || l.Replicas[0].Leader == nil || !*l.Replicas[0].Leader || l.NewestRevision != 1 || len(l.Warnings) != 0 || l.Warnings == nil {
		t.Errorf("sluice replicas -o json on a lone gateway: %+v", l)
	}
}
