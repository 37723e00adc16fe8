package api_test

// A test from the registry and audit review; it fails on the code it was
// written against.

import (
	"context"
	"testing"

	"github.com/sluicehq/sluice"
	"github.com/sluicehq/sluice/api"
)

// What the user does: sets a split with a sticky salt, or header rules,
// whose text holds a NUL ("\u0000" in the JSON of PUT .../split or
// .../rules; the salt and rule values are free text and, unlike version
// fields and descriptions since the last fix, are not checked).
//
// What happens now: the SQLite store keeps it; the PostgreSQL store fails
// the commit, and the operator gets a 500 "internal error" quoting the
// driver: `write model chat: ERROR: invalid byte sequence for encoding
// "UTF8": 0x00 (SQLSTATE 22021)` for the salt, `ERROR: unsupported Unicode
// escape sequence (SQLSTATE 22P05)` for the rule value.
//
// What should happen: both stores give the same answer, and no internal
// error: the text is refused as invalid naming the field (as CheckText
// does for descriptions), or stored.
func TestSaltAndRuleTextSameOnBothStores(t *testing.T) {
	ctx := context.Background()
	pgAdmin, _, _, _ := mustPGEnv(t)
	sq := MustEnv(t)
	split := []sluice.Weight{{Version: "v1.0.0", Percent: 90}, {Version: "v1.1.0", Percent: 10}}
	cases := []struct {
		name string
		do   func(*api.Client) error
	}{
		{"NULInSplitSalt", func(c *api.Client) error {
			_, err := c.SetSplit(ctx, "chat", split, "cohort\x00", "canary")
			return err
		}},
		{"NULInRuleValue", func(c *api.Client) error {
			_, err := c.SetRules(ctx, "chat", []sluice.Rule{{Header: "X-User-Segment", Values: []string{"beta\x00"}, Version: "v1.1.0"}}, "beta users")
			return err
		}},
	}
	for _, v := range []sluice.Version{version("v1.0.0", sluice.StageProduction), version("v1.1.0", sluice.StageStaging)} {
		if _, err := pgAdmin.RegisterVersion(ctx, v, "setup"); err != nil {
			t.Fatal(err)
		}
	}
	sq.MustSeed(t)
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			pgErr, sqErr := tc.do(pgAdmin), tc.do(sq.Admin)
			if sluice.ErrorCode(pgErr) == sluice.CodeInternal || sluice.ErrorCode(pgErr) != sluice.ErrorCode(sqErr) {
				t.Errorf("PostgreSQL: %v (code %q); SQLite: %v (code %q); want the same outcome and no internal error",
					pgErr, sluice.ErrorCode(pgErr), sqErr, sluice.ErrorCode(sqErr))
			}
		})
	}
}
