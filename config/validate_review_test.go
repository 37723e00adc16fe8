package config_test

// Each test here came from a review, with the bug it found; its comment
// says what the code did before the fix.

import (
	"strings"
	"testing"

	"github.com/sluicehq/sluice/config"
)

// TestOutOfRangeSettingsRefused: Validate refuses a negative
// timeouts.* or health.interval with a message naming the key, but the same
// mistake in the settings below is accepted and then silently replaced
// downstream (tick, drain_timeout, flush_interval, batch_size, fail_after
// fall back to their defaults; a negative retention keeps the request log
// forever; a max_cooldown below cooldown becomes 5m).
func TestOutOfRangeSettingsRefused(t *testing.T) {
	for key, yaml := range map[string]string{
		"rollouts.tick":              "rollouts: {tick: -1s}\n",
		"rollouts.drain_timeout":     "rollouts: {drain_timeout: -30s}\n",
		"request_log.flush_interval": "request_log: {flush_interval: -250ms}\n",
		"request_log.retention":      "request_log: {retention: -24h}\n",
		"request_log.batch_size":     "request_log: {batch_size: -5}\n",
		"health.fail_after":          "health: {fail_after: -2}\n",
		// Silently raised to 5m (proxy/eject.go:125), ten times what was asked.
		"outlier_ejection.max_cooldown": "outlier_ejection: {cooldown: 10s, max_cooldown: 5s}\n",
	} {
		t.Run(key, func(t *testing.T) {
			_, err := config.ParseGateway("g.yaml", []byte(yaml))
			if err == nil {
				t.Fatalf("%q accepted; want an error naming %s", strings.TrimSpace(yaml), key)
			}
			if !strings.Contains(err.Error(), key) {
				t.Errorf("error %q does not name %s", err, key)
			}
		})
	}
}

// TestHeaderSettingsDistinct: the sticky, force and category headers
// must be different headers. With force_header also a sticky header, every
// forced request is also bucketed by the version it names (and any caller
// picks its bucket with the force header); with the category header equal to
// the force header an operator's category is taken as a version.
func TestHeaderSettingsDistinct(t *testing.T) {
	for name, yaml := range map[string]string{
		"sticky=force":          "sticky_headers: [X-Sluice-Version]\n",
		"sticky=force any case": "sticky_headers: [x-sluice-version]\n",
		"category=force":        "category_header: X-Sluice-Version\n",
		"sticky=category":       "sticky_headers: [X-User-Id]\ncategory_header: X-User-Id\n",
		"sticky twice":          "sticky_headers: [X-User-Id, x-user-id]\n",
	} {
		t.Run(name, func(t *testing.T) {
			if _, err := config.ParseGateway("g.yaml", []byte(yaml)); err == nil {
				t.Errorf("%q accepted; want an error naming the header settings that collide", strings.TrimSpace(yaml))
			}
		})
	}
}

// TestHeaderErrorNamesKey: an invalid header name is reported as
// "header setting 3", a position in a list the user never wrote; the
// message should name the key (force_header, category_header,
// sticky_headers[i]).
func TestHeaderErrorNamesKey(t *testing.T) {
	for key, yaml := range map[string]string{
		"force_header":      "force_header: X Sluice Version\n",
		"category_header":   "category_header: \"X-Category:\"\n",
		"sticky_headers[1]": "sticky_headers: [X-User-Id, X_Session]\n",
	} {
		t.Run(key, func(t *testing.T) {
			_, err := config.ParseGateway("g.yaml", []byte(yaml))
			if err == nil {
				t.Fatal("accepted")
			}
			if !strings.Contains(err.Error(), key) {
				t.Errorf("error %q does not name %s", err, key)
			}
		})
	}
}

// TestListenPortChecked: listen is checked only with SplitHostPort,
// so a port out of range passes validation and fails at start with
// "is another process using the port?"; listen and admin_listen on the same
// address fail at start with "address already in use" against itself.
func TestListenPortChecked(t *testing.T) {
	for name, yaml := range map[string]string{
		"port out of range":       "listen: 127.0.0.1:99999\n",
		"admin port out of range": "admin_listen: 127.0.0.1:70000\n",
		"listen = admin_listen":   "listen: 127.0.0.1:9090\nadmin_listen: 127.0.0.1:9090\n",
	} {
		t.Run(name, func(t *testing.T) {
			if _, err := config.ParseGateway("g.yaml", []byte(yaml)); err == nil {
				t.Errorf("%q accepted; want an error naming the key", strings.TrimSpace(yaml))
			}
		})
	}
}

// TestTokenSHA256MustBeHex: a static admin token's sha256 is checked
// for length only (client keys' are decoded), so a 64-character value that is
// not hex is accepted: the token can never authenticate, and since a token is
// configured, no bootstrap token is created either: the gateway starts with
// no usable admin token and says nothing.
func TestTokenSHA256MustBeHex(t *testing.T) {
	yaml := "tokens:\n  - {name: ops, role: admin, sha256: " + strings.Repeat("z", 64) + "}\n"
	_, err := config.ParseGateway("g.yaml", []byte(yaml))
	if err == nil || !strings.Contains(err.Error(), "tokens[0].sha256") {
		t.Errorf("a non-hex sha256 gave %v; want an error naming tokens[0].sha256", err)
	}
}

// TestStoreDSNNotPostgresURL: any store value that is not a
// postgres:// or postgresql:// URL is taken as an SQLite file name, so a
// key=value PostgreSQL DSN (which pgx and libpq accept) silently creates a
// local SQLite file named "host=db user=sluice ..." in the working directory:
// every replica then runs on its own private store.
func TestStoreDSNNotPostgresURL(t *testing.T) {
	for _, store := range []string{
		"host=db user=sluice dbname=sluice sslmode=require",
	} {
		t.Run(store, func(t *testing.T) {
			if _, err := config.ParseGateway("g.yaml", []byte("store: \""+store+"\"\n")); err == nil {
				t.Errorf("store %q accepted as an SQLite file name; want an error saying to use a postgres:// URL", store)
			}
		})
	}
}
