package config

import (
	"strings"
	"testing"
)

func TestParseGateway_Balance(t *testing.T) {
	t.Run("DefaultLeastRequests", func(t *testing.T) {
		g, err := ParseGateway("sluice.yaml", []byte("listen: 127.0.0.1:0\n"))
		if err != nil {
			t.Fatal(err)
		}
		if g.Balance != "least_requests" {
			t.Errorf("balance default %q, want least_requests", g.Balance)
		}
	})
	t.Run("RoundRobin", func(t *testing.T) {
		g, err := ParseGateway("sluice.yaml", []byte("balance: round_robin\n"))
		if err != nil {
			t.Fatal(err)
		}
		if g.Balance != "round_robin" {
			t.Errorf("balance %q, want round_robin", g.Balance)
		}
	})
	t.Run("ErrUnknown", func(t *testing.T) {
		_, err := ParseGateway("sluice.yaml", []byte("balance: least_conn\n"))
		if err == nil || !strings.Contains(err.Error(), "balance") || !strings.Contains(err.Error(), "least_requests") || !strings.Contains(err.Error(), "round_robin") {
			t.Errorf("balance: least_conn gave %v, want an error naming the key and the choices", err)
		}
	})
}
