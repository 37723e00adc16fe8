package server

import (
	"net"
	"strings"
	"testing"

	"github.com/sluicehq/sluice/config"
)

// A port in use says what to do: stop the other process, or choose
// another address, for the data plane with the flag sluice serve has too
// (found by following the README: the message named only the config key).
func TestListen_PortInUseSaysWhatToDo(t *testing.T) {
	busy, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer busy.Close()
	s := &Server{Config: config.Default()}
	for _, tc := range []struct{ key, want, not string }{
		{"listen", "--listen", ""},
		{"admin_listen", "set another admin_listen in the config", "--listen"},
	} {
		_, err := s.listen(busy.Addr().String(), tc.key, config.TLS{}, "")
		if err == nil {
			t.Fatalf("%s on a busy port: no error", tc.key)
		}
		if msg := err.Error(); !strings.Contains(msg, "another process is using the port") || !strings.Contains(msg, tc.want) || (tc.not != "" && strings.Contains(msg, tc.not)) {
			t.Errorf("%s on a busy port: %q; want it to say %q", tc.key, msg, tc.want)
		}
	}
}
