package proxy

import (
	"strings"
	"testing"

	"github.com/tidwall/gjson"
)

// BenchmarkRequestBody_Valid measures what checking a whole request body
// is valid JSON (parse's validJSON, and gjson.ValidBytes for comparison)
// costs beside reading its routing fields (readFields), on the
// benchmarks' small chat body and on one of a 100 KB prompt (SetBytes).
func BenchmarkRequestBody_Valid(b *testing.B) {
	small := `{"model":"chat","messages":[{"role":"system","content":"You are terse."},{"role":"user","content":"Say something about foxes."}],"user":"u-42"}`
	large := `{"model":"chat","messages":[{"role":"system","content":"You are terse."},{"role":"user","content":"` +
		strings.Repeat("Say something about foxes, and then about the hounds that chase them. ", 1400) + `"}],"user":"u-42"}`
	for _, c := range []struct{ name, body string }{{"Small", small}, {"100KB", large}} {
		body := []byte(c.body)
		b.Run(c.name+"/ReadFields", func(b *testing.B) {
			b.SetBytes(int64(len(body)))
			b.ReportAllocs()
			for b.Loop() {
				readFields(body)
			}
		})
		b.Run(c.name+"/ValidJSON", func(b *testing.B) {
			b.SetBytes(int64(len(body)))
			b.ReportAllocs()
			for b.Loop() {
				if !validJSON(body) {
					b.Fatal("not valid")
				}
			}
		})
		b.Run(c.name+"/GjsonValid", func(b *testing.B) {
			b.SetBytes(int64(len(body)))
			b.ReportAllocs()
			for b.Loop() {
				if !gjson.ValidBytes(body) {
					b.Fatal("not valid")
				}
			}
		})
	}
}
