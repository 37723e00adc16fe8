package config_test

import (
	"testing"

	"github.com/sluicehq/sluice/config"
)

// What the user does: writes a client key on one line, YAML's flow style,
// with its secret from the environment: client_keys: [{name: app, secret:
// ${APP_SECRET}}], and the secret holds YAML's flow punctuation (a comma, a
// brace, ": ", " #").
// What must happen: the secret is the variable's value, as in block style,
// and numbers in flow collections keep their type. Before, a reference
// inside a flow collection was pasted in as text, so the value was read as
// YAML: cut at the comma or the " #", or the file failed to parse.
func TestExpandEnv_FlowCollections(t *testing.T) {
	const secret = "s3, cr}et: x #y [z]"
	t.Setenv("SL_FLOW_SECRET", secret)
	t.Setenv("SL_FLOW_SECRET2", "'quoted', too, and long enough")
	t.Setenv("SL_FLOW_BATCH", "128")
	t.Setenv("SL_FLOW_NAME", "app")
	g, err := config.ParseGateway("g.yaml", []byte("client_keys: [{name: ${SL_FLOW_NAME}, secret: ${SL_FLOW_SECRET}}, {name: b, secret: '${SL_FLOW_SECRET2}'}]\nrequest_log: {batch_size: ${SL_FLOW_BATCH}}\n"))
	if err != nil {
		t.Fatal(err)
	}
	if len(g.ClientKeys) != 2 || g.ClientKeys[0].Name != "app" || g.ClientKeys[0].Secret != secret || g.ClientKeys[1].Secret != "'quoted', too, and long enough" {
		t.Fatalf("client keys %+v, want secrets %q and %q", g.ClientKeys, secret, "'quoted', too, and long enough")
	}
	if g.RequestLog.BatchSize != 128 {
		t.Fatalf("batch_size %d, want 128", g.RequestLog.BatchSize)
	}
}
