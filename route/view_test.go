package route

import (
	"bytes"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"testing"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata")

func TestTable_Models(t *testing.T) {
	tab := Build(MustFixture(t), map[string]bool{"chat:v1.2.0": true}, Options{})
	views := tab.Models()
	t.Run("OK", func(t *testing.T) {
		var names []string
		for _, v := range views {
			names = append(names, v.Name)
		}
		if got, want := names, []string{"chat", "draft", "embed", "summarize", "vision"}; !equal(got, want) {
			t.Fatalf("models = %v, want %v", got, want)
		}
		chat := views[0]
		if chat.Policy != "split v1.1.0=95 v1.2.0=5" || chat.Stable != "v1.1.0" || chat.Salt != "chat" {
			t.Errorf("chat = %+v", chat)
		}
		if s := chat.Split; len(s) != 2 || s[0].Effective != 100 || s[1].Effective != 0 || s[1].Healthy {
			t.Errorf("chat split after health = %+v, want v1.1.0 on 100%% and v1.2.0 unhealthy", s)
		}
		if views[3].Serving != "v2" || views[2].Serving != "v2" {
			t.Errorf("serving: summarize %q, embed %q; want v2 and v2", views[3].Serving, views[2].Serving)
		}
	})
	t.Run("Golden", func(t *testing.T) {
		got, err := json.MarshalIndent(views, "", "  ")
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, '\n')
		path := filepath.Join("testdata", "models.golden.json")
		if *update {
			if err := os.MkdirAll("testdata", 0o755); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(path, got, 0o644); err != nil {
				t.Fatal(err)
			}
		}
		want, err := os.ReadFile(path)
		if err != nil {
			t.Fatalf("%v (run go test -update to create it)", err)
		}
		if !bytes.Equal(got, want) {
			t.Errorf("Models() differs from %s (run go test -update and review the diff):\n%s", path, got)
		}
	})
	t.Run("NilTable", func(t *testing.T) {
		var tab *Table
		if tab.Models() != nil || tab.Revision() != 0 || tab.Target("chat:v1") != nil {
			t.Errorf("a nil Table describes something")
		}
	})
}

func equal(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func TestTable_View(t *testing.T) {
	tab := Build(MustFixture(t), nil, Options{})
	t.Run("OK", func(t *testing.T) {
		for _, want := range tab.Models() {
			got, ok := tab.View(want.Name)
			if !ok || got.Name != want.Name || got.Policy != want.Policy {
				t.Errorf("View(%q) = %+v, %v; want its entry of Models()", want.Name, got, ok)
			}
		}
	})
	t.Run("ErrUnknownModel", func(t *testing.T) {
		for _, name := range []string{"", "aaa", "chat2", "zzz"} {
			if v, ok := tab.View(name); ok {
				t.Errorf("View(%q) = %+v, want none", name, v)
			}
		}
		var nilTab *Table
		if _, ok := nilTab.View("chat"); ok {
			t.Errorf("a nil Table has a model")
		}
	})
}
