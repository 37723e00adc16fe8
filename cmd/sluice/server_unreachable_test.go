package main

import (
	"net"
	"strings"
	"testing"
)

// What the user does: runs the CLI with no gateway at the address it uses
// (none started yet, or the gateway serves its admin API elsewhere).
// What must happen: the error names the address and where it came from,
// and how to give another: --server or SLUICE_SERVER. It said only "check
// the server address and that the server runs", and a new user, whose CLI
// tried the default http://127.0.0.1:8080, was not told how to set one.
func TestCLI_UnreachableServerSaysHowToSetIt(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	dead := "http://" + ln.Addr().String()
	ln.Close()
	t.Setenv("SLUICE_TOKEN", "slk_any")

	t.Run("FromEnvironment", func(t *testing.T) {
		t.Setenv("SLUICE_SERVER", dead)
		_, stderr, code := run(t, "get", "models")
		for _, want := range []string{"cannot reach the sluice server at " + dead, "connection refused", "the address is SLUICE_SERVER's", "export SLUICE_SERVER=", "--server"} {
			if code == 0 || !strings.Contains(stderr, want) {
				t.Errorf("get models with SLUICE_SERVER=%s: exit %d, stderr %q; want %q", dead, code, stderr, want)
			}
		}
	})
	t.Run("FromFlag", func(t *testing.T) {
		t.Setenv("SLUICE_SERVER", "")
		_, stderr, code := run(t, "get", "models", "--server", dead)
		for _, want := range []string{"cannot reach the sluice server at " + dead, "the address is --server's"} {
			if code == 0 || !strings.Contains(stderr, want) {
				t.Errorf("get models --server %s: exit %d, stderr %q; want %q", dead, code, stderr, want)
			}
		}
	})
}

func TestServerSource(t *testing.T) {
	for _, tc := range []struct {
		name, env string
		flag      bool
		want      string
	}{
		{"Default", "", false, "the address is the default"},
		{"Environment", "http://10.0.0.1:9090", false, "the address is SLUICE_SERVER's"},
		{"Flag", "", true, "the address is --server's"},
		{"FlagOverEnvironment", "http://10.0.0.1:9090", true, "the address is --server's"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Setenv("SLUICE_SERVER", tc.env)
			got := serverSource(tc.flag)
			if !strings.Contains(got, tc.want) || !strings.Contains(got, "SLUICE_SERVER") || !strings.Contains(got, "--server") {
				t.Errorf("serverSource(%v) with SLUICE_SERVER=%q = %q; want it to say %q and name both --server and SLUICE_SERVER", tc.flag, tc.env, got, tc.want)
			}
		})
	}
}
