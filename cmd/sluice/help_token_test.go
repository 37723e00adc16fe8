package main

import (
	"strings"
	"testing"
)

// TestHelp_HidesEnvToken: the admin token from SLUICE_TOKEN was the --token
// flag's default, and cobra prints defaults in every --help, so
// `sluice token --help` showed the admin secret. The token must stay out
// of the help and still be used from the environment.
func TestHelp_HidesEnvToken(t *testing.T) {
	gw, token := startGateway(t)
	t.Setenv("SLUICE_TOKEN", token)
	t.Setenv("SLUICE_SERVER", gw.AdminURL())

	for _, args := range [][]string{{"--help"}, {"token", "--help"}, {"rollout", "start", "--help"}} {
		out, errOut, code := run(t, args...)
		if code != 0 {
			t.Fatalf("sluice %s: exit %d: %s", strings.Join(args, " "), code, errOut)
		}
		if strings.Contains(out+errOut, token) {
			t.Errorf("sluice %s prints the admin token from SLUICE_TOKEN:\n%s", strings.Join(args, " "), out)
		}
	}

	t.Run("EnvTokenStillUsed", func(t *testing.T) {
		mustRun(t, "token", "list")
	})
	t.Run("FlagWinsOverEnv", func(t *testing.T) {
		_, errOut, code := run(t, "token", "list", "--token", "slk_wrong")
		if code == 0 {
			t.Fatalf("sluice token list --token slk_wrong succeeded: the flag did not override SLUICE_TOKEN")
		}
		if errOut == "" {
			t.Error("no error message for a wrong token")
		}
	})
}
