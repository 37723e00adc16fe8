package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestApply_StageBehindIsKeptAndSaid: the model file registered v1.2.0 as
// staging and a promotion moved it to production; applying the same file
// again (a GitOps loop does, at every sync) was refused ("cannot move a
// version from production to staging"), so nothing else in the file could
// be applied either. Now the version keeps production, the rest applies,
// and the output says what was kept and what to write.
func TestApply_StageBehindIsKeptAndSaid(t *testing.T) {
	gw, token := startGateway(t)
	g := []string{"--server", gw.AdminURL(), "--token", token}
	cmd := func(args ...string) []string { return append(append([]string{}, args...), g...) }
	file := filepath.Join(t.TempDir(), "models.yaml")
	os.WriteFile(file, []byte(reviewModelFile("http://127.0.0.1:9", "")), 0o644)
	mustRun(t, cmd("apply", "-f", file, "--reason", "register the builds")...)
	mustRun(t, cmd("stage", "chat:v1.2.0", "production", "--reason", "promoted")...)

	os.WriteFile(file, []byte(reviewModelFile("http://127.0.0.1:9", "    labels: {canary: v1.2.0}\n")), 0o644)
	out := mustRun(t, cmd("apply", "-f", file, "--reason", "add a label")...)
	if !strings.Contains(out, "chat:v1.2.0 stays production (the file says staging)") || !strings.Contains(out, "leave stage out") {
		t.Errorf("apply printed:\n%s\nwant it to say chat:v1.2.0 stays production and what to write", out)
	}
	reg := gw.Control.Registry()
	if v := reg.Version("chat", "v1.2.0"); v.Stage != "production" {
		t.Errorf("chat:v1.2.0 is %s, want production kept", v.Stage)
	}
	if reg.Models["chat"].Labels["canary"] != "v1.2.0" {
		t.Errorf("the file's label was not applied: %v", reg.Models["chat"].Labels)
	}
}
