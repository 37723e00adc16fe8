package config_test

import (
	"strings"
	"testing"

	"github.com/sluicehq/sluice/config"
)

// What the user does: upgrades with a gateway config that worked with the
// previous releases (66894e4, 25c9272), where a list came from the
// environment: `sticky_headers: ${SLUICE_STICKY}` with
// SLUICE_STICKY='[X-Tenant-Id, X-User-Id]' (${ENV} used to be expanded as
// text before the YAML was read).
// What happens now: the new binary refuses to start with
// "sticky_headers (line 2): [X-Tenant-Id, X-User-Id] is not a list: write it
// as [a, b] or as lines starting with -" — it is written as [a, b]; the
// message hides that the value came from ${SLUICE_STICKY} and is now taken
// as one text value, so the operator cannot tell what to change.
// What should happen: the file loads as before, or the error says the value
// came from the environment variable SLUICE_STICKY and is taken as text
// (write the list in the file, one ${ENV} per item).
func TestUpgradeEnvListValueErrorNamesVariable(t *testing.T) {
	t.Setenv("SLUICE_STICKY", "[X-Tenant-Id, X-User-Id]")
	g, err := config.ParseGateway("sluice.yaml", []byte("store: /tmp/x.db\nsticky_headers: ${SLUICE_STICKY}\n"))
	if err == nil {
		if len(g.StickyHeaders) != 2 {
			t.Fatalf("sticky_headers = %q, want the two headers of SLUICE_STICKY", g.StickyHeaders)
		}
		return
	}
	if !strings.Contains(err.Error(), "SLUICE_STICKY") {
		t.Fatalf("a config that loaded with the previous release is refused, and the error does not say the value came from ${SLUICE_STICKY}: %v", err)
	}
}
