package main

import (
	"strings"
	"testing"
)

// TestDescribeStore_NoPassword: a PostgreSQL URL is shown without its
// password wherever pgx takes one: in the user info, and in the query's
// password parameter (postgres://db/sluice?user=u&password=p), which the
// summary and the Next line printed whole.
func TestDescribeStore_NoPassword(t *testing.T) {
	for _, c := range []struct {
		dsn, keep string
	}{
		{"postgres://sluice:s3cret-pw@db:5432/sluice?sslmode=require", "db:5432/sluice"},
		{"postgresql://sluice:s3cret-pw@db/sluice", "db/sluice"},
		{"postgres://db:5432/sluice?user=sluice&password=s3cret-pw&sslmode=disable", "sslmode=disable"},
		{"postgres://sluice:s3cret-pw@db/sluice?password=s3cret-pw", "db/sluice"},
		{"postgres://sluice:s3cret-pw@db/sluice?options=a@b", "db/sluice"},
		{"postgres://sluice:s3cret%40pw@db/sluice", "db/sluice"},
	} {
		got := describeStore(c.dsn)
		if strings.Contains(got, "s3cret") {
			t.Errorf("describeStore(%q) = %q: shows the password", c.dsn, got)
		}
		if !strings.Contains(got, c.keep) {
			t.Errorf("describeStore(%q) = %q: want it to name %q", c.dsn, got, c.keep)
		}
	}
	if got := describeStore("/var/lib/sluice/sluice.db"); got != "/var/lib/sluice/sluice.db" {
		t.Errorf("describeStore of a file = %q, want the path", got)
	}
}
