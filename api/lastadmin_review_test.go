package api_test

import (
	"context"
	"path/filepath"
	"testing"

	"github.com/sluicehq/sluice"
	"github.com/sluicehq/sluice/api"
	"github.com/sluicehq/sluice/sqlite"
)

// What the user does: keeps the gateway's only admin token in the config
// file (tokens: root, role admin); the store holds a CI token with role
// operator (`sluice token create ci --role operator`). They rotate the
// config file's tokens, leaving none, or only a viewer token for a
// dashboard, and send SIGHUP (Auth.SetStatic).
// What happens now: the reload is accepted: SetStatic refuses only when
// the file has no tokens at all and the store has no tokens at all, so a
// store holding an operator token, or a file holding a viewer token, lets
// the last admin token go. No one can then create a token, change roles or
// do anything admin-only, short of editing the file again: exactly what
// today's "the last admin token cannot be deleted" rule prevents on the API
// (DELETE /admin/v1/tokens/{name} counts admin tokens).
// What should happen: the reload is refused (CodeInvalid) and the admin
// token in force is kept, as when the file and the store have no tokens.
func TestSIGHUPDropsLastAdminToken(t *testing.T) {
	ctx := context.Background()
	tok := func(name string, role sluice.Role) sluice.Token {
		return sluice.Token{Name: name, Role: role, Hash: sluice.HashSecret(name + "-secret")}
	}
	for name, next := range map[string][]sluice.Token{
		"NoTokensInFile":    nil,
		"ViewerTokenInFile": {tok("dash", sluice.RoleViewer)},
	} {
		t.Run(name, func(t *testing.T) {
			st, err := sqlite.Open(filepath.Join(t.TempDir(), "s.db"))
			if err != nil {
				t.Fatal(err)
			}
			defer st.Close()
			if err := st.PutToken(ctx, tok("ci", sluice.RoleOperator), sluice.AuditEntry{Actor: "root", Action: "token.create", Subject: "ci", Reason: "ci"}); err != nil {
				t.Fatal(err)
			}
			auth := api.NewAuth(st, []sluice.Token{tok("root", sluice.RoleAdmin)})
			err = auth.SetStatic(ctx, next)
			admin, aerr := auth.AuthenticateSecret(ctx, "root-secret")
			if err == nil {
				t.Errorf("the reload dropped the last admin token (root) with only an operator token in the store: accepted; root now: %v", aerr)
			} else if aerr != nil || admin.Role != sluice.RoleAdmin {
				t.Errorf("the reload was refused (%v), but root no longer works: %v", err, aerr)
			}
		})
	}
}
