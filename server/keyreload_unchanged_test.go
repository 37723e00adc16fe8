package server_test

import (
	"strings"
	"testing"

	"github.com/sluicehq/sluice"
	"github.com/sluicehq/sluice/config"
)

// TestServer_ReloadClientKeysSaysUnchanged: a reload logged "client keys
// reloaded" whether or not the keys changed, so an SRE who rotated a key
// could not tell from the log whether the gateway read the new one (a
// Secret volume not yet rewritten reads the same). Now a reload that
// finds the keys in force says they are unchanged, as backend headers
// do, and one that changes them says reloaded; neither names a secret.
func TestServer_ReloadClientKeysSaysUnchanged(t *testing.T) {
	const (
		first   = "sk-unchanged-first-0a1b2c3d4e"
		rotated = "sk-unchanged-rotated-9f8e7d6c"
	)
	keys := func(secret string) []config.ClientKey {
		return []config.ClientKey{{Name: "app", Secret: secret, Models: []string{"chat"}}, {Name: "ops", Secret: "sk-ops-steady-55aa66bb77"}}
	}
	var logs syncBuffer
	gw, _ := mustGatewayWith(t, func(c *config.Gateway) { c.ClientKeys = keys(first) }, &logs, sluice.ApplyDoc{})
	since := func() func() string {
		n := len(logs.String())
		return func() string { return logs.String()[n:] }
	}

	log := since()
	if err := gw.ReloadClientKeys(keys(first)); err != nil {
		t.Fatal(err)
	}
	if l := log(); strings.Contains(l, "client keys reloaded") || !strings.Contains(l, "client keys unchanged") {
		t.Errorf("a reload with the keys in force logged:\n%s\nwant \"client keys unchanged\" and not \"reloaded\"", l)
	}

	log = since()
	if err := gw.ReloadClientKeys(keys(rotated)); err != nil {
		t.Fatal(err)
	}
	if l := log(); !strings.Contains(l, "client keys reloaded") || strings.Contains(l, "client keys unchanged") {
		t.Errorf("a reload that rotated a key logged:\n%s\nwant \"client keys reloaded\"", l)
	}

	// The rotated key again: unchanged, compared with the keys now in
	// force, not those the gateway started with.
	log = since()
	if err := gw.ReloadClientKeys(keys(rotated)); err != nil {
		t.Fatal(err)
	}
	if l := log(); !strings.Contains(l, "client keys unchanged") {
		t.Errorf("a second reload of the rotated keys logged:\n%s\nwant \"client keys unchanged\"", l)
	}
	for _, k := range []string{first, rotated} {
		if strings.Contains(logs.String(), k) {
			t.Errorf("the log holds a client key:\n%s", logs.String())
		}
	}
}
