package route

import (
	"errors"
	"net/http"
	"strings"
	"testing"

	"github.com/sluicehq/sluice"
)

// TestTable_Unloaded: a version whose backend a rollback unloaded was still
// a target for pins, labels and the force header, which reached a backend
// that was gone (502). Marked in Options.Unloaded, it answers CodeGone
// saying why and what to send instead, unless the policy or a rule still
// routes to it (put back on purpose); other versions route as before.
func TestTable_Unloaded(t *testing.T) {
	reg := MustFixture(t)
	ed := &editor{tb: t, e: reg.Edit("test", "a label on embed:v1", t0)}
	ed.must(ed.e.SetLabel("embed", "old", "v1"))
	reg = ed.registry()
	why := "was rolled back (rollout embed-3, aborted) and its backend unloaded"
	tab := Build(reg, nil, Options{Unloaded: map[string]string{"embed:v1": why, "chat:v1.2.0": why}})

	t.Run("ErrGone", func(t *testing.T) {
		for _, c := range []struct {
			req  Request
			want []string
		}{
			{Request{Model: "embed:v1"}, []string{"embed:v1 " + why, "pin another version (one of embed:v2", `send "embed"`}},
			{Request{Model: "embed@old"}, []string{"embed@old points at embed:v1, which " + why, "point the label at another version"}},
			{Request{Model: "embed", ForceAllowed: true, Header: http.Header{DefaultForceHeader: {"v1"}}}, []string{"embed:v1, which " + why, "force another version (one of v2"}},
		} {
			_, err := tab.Decide(&c.req)
			var se *sluice.Error
			if !errors.As(err, &se) || se.Code != sluice.CodeGone {
				t.Errorf("Decide(%q) = %v, want CodeGone", c.req.Model, err)
				continue
			}
			for _, w := range c.want {
				if !strings.Contains(se.Message, w) {
					t.Errorf("Decide(%q): message %q lacks %q", c.req.Model, se.Message, w)
				}
			}
		}
		if v, _ := tab.View("embed"); v.Versions[0].Gone != why || v.Versions[0].Servable {
			t.Errorf("view of embed:v1 = %+v, want it gone and not servable", v.Versions[0])
		}
	})
	t.Run("OK", func(t *testing.T) {
		for _, model := range []string{"embed", "embed:v2", "chat:v1.2.0", "chat@canary"} {
			if d, err := tab.Decide(&Request{Model: model}); err != nil || d.Target == nil {
				t.Errorf("Decide(%q) = %+v, %v; want it served (routed on purpose, or not unloaded)", model, d, err)
			}
		}
		if tab.CannotServe("chat:v1.2.0") != "" || tab.CannotServe("embed:v2") != "" {
			t.Errorf("CannotServe of servable versions: %q, %q", tab.CannotServe("chat:v1.2.0"), tab.CannotServe("embed:v2"))
		}
		if tab.Target("chat:v1.2.0") == nil || tab.Target("embed:v1") != nil {
			t.Errorf("Target: chat:v1.2.0 (in the split) %v, embed:v1 (unloaded) %v", tab.Target("chat:v1.2.0"), tab.Target("embed:v1"))
		}
	})
}

// TestTable_CannotServe: why a version has no Target, for the messages of
// a request that reaches it by a remembered response id: the rollback
// that unloaded it (naming the rollout), retired, or no longer registered.
func TestTable_CannotServe(t *testing.T) {
	why := "was rolled back (rollout embed-3, aborted) and its backend unloaded"
	tab := Build(MustFixture(t), nil, Options{Unloaded: map[string]string{"embed:v1": why}})
	for id, want := range map[string]string{
		"embed:v1":    why,
		"chat:v1.0.0": "is retired",
		"chat:v9":     "is no longer registered",
		"gone:v1":     "is no longer registered",
		"embed:v2":    "",
		"chat:v1.1.0": "",
	} {
		if got := tab.CannotServe(id); got != want {
			t.Errorf("CannotServe(%q) = %q, want %q", id, got, want)
		}
	}
	var none *Table
	if got := none.CannotServe("chat:v1"); got != "is no longer registered" {
		t.Errorf("nil table: %q", got)
	}
}
