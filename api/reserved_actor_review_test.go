package api_test

import (
	"context"
	"testing"

	"github.com/sluicehq/sluice"
)

// TestTokenCannotTakeSystemActorNames: an admin creates a token
// named "config" (or "sluice") and hands it out.
// Now: it is accepted, although Sluice itself writes "config" as the actor
// of the models_file applied at start (server.New) and "sluice" as the
// actor of the bootstrap token's creation: that token's changes are then
// indistinguishable in the audit log from the gateway's own, which the
// reserved-name check (controller, apply, system, unknown) exists to
// prevent.
// Should: every actor name Sluice writes itself is reserved, and the
// request is refused with 422 naming "name".
func TestTokenCannotTakeSystemActorNames(t *testing.T) {
	e := MustEnv(t)
	for _, name := range []string{"config", "sluice"} {
		t.Run(name, func(t *testing.T) {
			_, err := e.Admin.CreateToken(context.Background(), name, sluice.RoleOperator, "r")
			if err == nil {
				t.Fatalf("a token named %q, an actor Sluice writes into the audit log itself, was created", name)
			}
			wantErr(t, err, sluice.CodeInvalid, []string{"name"}, "is reserved")
		})
	}
}
