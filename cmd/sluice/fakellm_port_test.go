package main

import (
	"net"
	"strings"
	"testing"
)

// TestFakellm_PortInUseSaysWhatToDo: following the README with two
// simulated backends, the second `sluice fakellm` on a port already taken
// failed with only "bind: address already in use", where `sluice serve`
// says what to do about it.
func TestFakellm_PortInUseSaysWhatToDo(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	_, errOut, code := run(t, "fakellm", "--listen", ln.Addr().String())
	if code == 0 || !strings.Contains(errOut, "pass another --listen") {
		t.Errorf("exit %d: %s", code, errOut)
	}
}
