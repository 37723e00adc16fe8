package route

import (
	"testing"
)

// BenchmarkTable_Decide measures the per-request decision on every route.
// The target is ≤ 200 ns and 0 allocs/op.
func BenchmarkTable_Decide(b *testing.B) {
	tab := Build(MustFixture(b), nil, Options{})
	// A typical request carries a few headers besides the ones routing
	// reads.
	base := hdr("Content-Type", "application/json", "Authorization", "Bearer sk-test", "User-Agent", "OpenAI/Python 1.54.0")
	with := func(kv ...string) map[string][]string {
		h := base.Clone()
		for i := 0; i+1 < len(kv); i += 2 {
			h.Set(kv[i], kv[i+1])
		}
		return h
	}
	for _, bb := range []struct {
		name string
		req  Request
	}{
		{"SplitStickyKey", Request{Model: "chat", StickyKey: "user-4f1c2a9e-7d3b-4c55-9a0e-1b2c3d4e5f60", Header: base}},
		{"SplitStickyHeader", Request{Model: "chat", Header: with("X-User-Id", "user-4f1c2a9e")}},
		{"SplitUnkeyed", Request{Model: "chat", Header: base}},
		{"Pin", Request{Model: "chat:v1.2.0", Header: base}},
		{"PinStickyKey", Request{Model: "chat:v1.2.0", StickyKey: "user-4f1c2a9e", Header: base}},
		{"Label", Request{Model: "chat@canary", Header: base}},
		{"Rule", Request{Model: "chat", Header: with("X-User-Segment", "internal")}},
		{"Force", Request{Model: "chat", ForceAllowed: true, Header: with("X-Sluice-Version", "v1.3.0")}},
		{"PolicyLatest", Request{Model: "summarize", Header: base}},
	} {
		b.Run(bb.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, err := tab.Decide(&bb.req); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkTable_DecideParallel measures a sticky split decision from every
// core at once through a Holder, as the proxy makes it.
func BenchmarkTable_DecideParallel(b *testing.B) {
	h := NewHolder(Build(MustFixture(b), nil, Options{}))
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		r := Request{Model: "chat", StickyKey: "user-4f1c2a9e"}
		for pb.Next() {
			d, err := h.Decide(&r)
			if err != nil {
				b.Fatal(err)
			}
			d.Target.Endpoint()
		}
	})
}

// BenchmarkTable_DecideError measures a refused request (an unknown model),
// which allocates its message.
func BenchmarkTable_DecideError(b *testing.B) {
	tab := Build(MustFixture(b), nil, Options{})
	r := Request{Model: "gpt-4o"}
	b.ReportAllocs()
	for b.Loop() {
		_, _ = tab.Decide(&r)
	}
}

// BenchmarkBuild measures compiling a registry, which the control plane does
// on every change.
func BenchmarkBuild(b *testing.B) {
	reg := MustFixture(b)
	unhealthy := map[string]bool{"chat:v1.2.0": true}
	b.ReportAllocs()
	for b.Loop() {
		Build(reg, unhealthy, Options{})
	}
}
