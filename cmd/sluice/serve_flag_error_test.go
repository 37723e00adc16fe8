package main

import (
	"context"
	"strings"
	"testing"
	"time"
)

// What the user does: sluice serve with a --store or --listen the gateway
// cannot use (a MySQL URL, an address with no port), the other flag fine.
// What must happen: the error names the flag at fault alone. Before, both
// were named ("--listen/--store: store: the value is a \"mysql\" URL"),
// leaving the user to work out which.
func TestServe_BadFlagNamed(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"--listen", "127.0.0.1:0", "--store", "mysql://u:p@db/sluice"}, `error: --store: the value is a "mysql" URL; use a postgres:// URL`},
		{[]string{"--listen", "nope", "--store", "sluice.db"}, `error: --listen: "nope" is not host:port`},
	} {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		var out, stderr strings.Builder
		code := Main(ctx, append([]string{"serve"}, tc.args...), strings.NewReader(""), &out, &stderr)
		cancel()
		if code == 0 || !strings.HasPrefix(stderr.String(), tc.want) {
			t.Errorf("serve %s: exit %d, stderr %q; want it to begin %q", strings.Join(tc.args, " "), code, stderr.String(), tc.want)
		}
	}
}
