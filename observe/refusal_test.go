package observe_test

import (
	"strings"
	"testing"

	"github.com/sluicehq/sluice/observe"
)

func TestRefusalDetector_Match(t *testing.T) {
	d := observe.NewRefusalDetector(nil)
	tests := []struct {
		name string
		text string
		want bool
	}{
		{"Cannot", "I cannot help with that.", true},
		{"Cant", "I can't do that.", true},
		{"CurlyApostrophe", "I can\u2019t do that.", true},
		{"Case", "AS AN AI language model, I...", true},
		{"Lower", "i am unable to browse.", true},
		{"Spaces", "I  \n cannot comply.", true},
		{"AfterPreamble", "Sorry! I'm unable to share that.", true},
		{"SorryButICant", "I'm sorry, but I can't assist.", true},
		{"DontHaveAccess", "Unfortunately I don't have access to the internet.", true},
		{"WontBeAble", "I won't be able to finish.", true},
		{"Empty", "", false},
		{"Answer", "The capital of France is Paris.", false},
		{"InsideWord", "Hi cannot is not a phrase.", false},
		{"PrefixOfWord", "As an aide to the mayor, she...", false},
		{"Truncated", "I can", false},
		{"Late", strings.Repeat("x", observe.RefusalPrefixBytes) + " I cannot", false},
		{"StartsAtLimit", strings.Repeat("x", observe.RefusalPrefixBytes-2) + " I cannot", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := d.Match([]byte(tt.text)); got != tt.want {
				t.Fatalf("Match(%q) = %v, want %v", tt.text, got, tt.want)
			}
		})
	}

	t.Run("Custom", func(t *testing.T) {
		d := observe.NewRefusalDetector([]string{"  ", "Not  allowed", "Ich kann nicht"})
		if !d.Match([]byte("That is not allowed.")) || !d.Match([]byte("ICH KANN NICHT")) {
			t.Fatal("custom phrases did not match")
		}
		if d.Match([]byte("I cannot")) {
			t.Fatal("custom detector used the default phrases")
		}
	})

	t.Run("NoAlloc", func(t *testing.T) {
		text := []byte(strings.Repeat("a fine answer ", 20))
		if n := testing.AllocsPerRun(100, func() { d.Match(text) }); n != 0 {
			t.Fatalf("Match allocates %v times", n)
		}
	})
}

func BenchmarkRefusalDetector_Match(b *testing.B) {
	d := observe.NewRefusalDetector(nil)
	for _, bc := range []struct{ name, text string }{
		{"Answer", "Sure! Here is a short summary of the article. In the first part, the author argues that incremental rollouts of language models need careful analysis, and in the second part she describes a method."},
		{"Refusal", "I'm sorry, but I can't help with that request."},
		{"Short", "OK."},
	} {
		text := []byte(bc.text)
		b.Run(bc.name, func(b *testing.B) {
			b.ReportAllocs()
			b.SetBytes(int64(min(len(text), observe.RefusalPrefixBytes)))
			for b.Loop() {
				d.Match(text)
			}
		})
	}
}
