package config_test

import (
	"strings"
	"testing"

	"github.com/sluicehq/sluice/config"
)

// TestStoreErrorDoesNotEchoPassword: an SRE writes the store as a
// libpq key=value DSN, or mistypes the URL scheme (pgsql://, postgre://),
// with the database password in it, usually from ${SLUICE_STORE}.
// Now: `sluice serve` refuses it (rightly) with an error that quotes the
// whole value, password included, which goes to stderr, journald and the
// Kubernetes pod logs (and any log shipper behind them).
// Should: the error names the key and what to fix without the password
// (pgconn's own parse errors redact it; so does promgate's URL).
func TestStoreErrorDoesNotEchoPassword(t *testing.T) {
	const pw = "Hunter2-db-Passw0rd"
	for name, store := range map[string]string{
		"KeyValueDSN": "host=db user=sluice password=" + pw + " dbname=sluice sslmode=require",
		"WrongScheme": "pgsql://sluice:" + pw + "@db:5432/sluice",
	} {
		t.Run(name, func(t *testing.T) {
			_, err := config.ParseGateway("g.yaml", []byte("store: \""+store+"\"\n"))
			if err == nil {
				t.Fatalf("store %q accepted", store)
			}
			if strings.Contains(err.Error(), pw) {
				t.Errorf("the error shows the database password: %v", err)
			}
		})
	}
}
