package config

import (
	"testing"
	"time"

	"github.com/sluicehq/sluice"
)

// FuzzParseApplyDoc feeds arbitrary YAML to the model file parser: it must
// never panic, and a document it accepts must be one the registry can
// apply or refuse with a clear error, never half-apply.
func FuzzParseApplyDoc(f *testing.F) {
	f.Add([]byte("models:\n  - name: chat\n    versions:\n      - version: v1\n        endpoints: [http://127.0.0.1:8000]\n"))
	f.Add([]byte("models:\n  - name: chat\n    policy: {kind: split, split: [{version: v1, percent: 95}, {version: v2, percent: 5}]}\n"))
	f.Add([]byte("models: [{name: \"chat\\u0007\"}]"))
	f.Add([]byte("models:\n  - name: chat\n    bogus: 1\n"))
	f.Add([]byte("a: &a [*a]"))
	f.Add([]byte("---\nmodels: []\n---\nmodels: []\n"))
	f.Fuzz(func(t *testing.T, text []byte) {
		doc, err := ParseApplyDoc("fuzz.yaml", text)
		if err != nil {
			if err.Error() == "" {
				t.Fatal("empty error message")
			}
			return
		}
		reg := sluice.NewRegistry()
		e := reg.Edit("fuzz", "fuzz", time.Unix(0, 0))
		if err := e.Apply(doc); err != nil {
			if sluice.ErrorMessage(err) == "" {
				t.Fatal("empty error message")
			}
			return
		}
		if _, err := e.Finish(); err != nil && sluice.ErrorMessage(err) == "" {
			t.Fatal("empty error message")
		}
		if len(reg.Models) != 0 {
			t.Fatal("the base registry was modified by an edit")
		}
	})
}

// FuzzParseGateway feeds arbitrary YAML to the gateway config parser.
func FuzzParseGateway(f *testing.F) {
	f.Add([]byte("listen: 127.0.0.1:8080\ntokens:\n  - {name: a, role: admin, secret: \"0123456789abcdef0\"}\n"))
	f.Add([]byte("timeouts: {connect: -1s}\n"))
	f.Add([]byte("listen: [1,2]\n"))
	f.Fuzz(func(t *testing.T, text []byte) {
		g, err := ParseGateway("fuzz.yaml", text)
		if err == nil {
			if verr := g.Validate(); verr != nil {
				t.Fatalf("accepted a config that does not validate: %v", verr)
			}
		}
	})
}
