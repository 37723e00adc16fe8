package route

import (
	"errors"
	"strings"
	"testing"

	"github.com/cespare/xxhash/v2"
	"github.com/sluicehq/sluice"
)

// Keys whose bucket under the salt "chat" is known (see TestStickyBucket):
// user-1 falls in the 95% arm of chat's split, user-73 in the 5% arm.
const (
	keyStable = "user-1"  // bucket 951
	keyCanary = "user-73" // bucket 9886
)

func TestTable_Decide(t *testing.T) {
	tab := Build(MustFixture(t), nil, Options{})

	type want struct {
		target, stable, route string
		bucket                int // -2: any bucket of a split, 0..9999
		sticky                bool
		unpinned, deprecated  bool
		sunset                string
	}
	tests := []struct {
		name string
		req  Request
		want want
		// code and msg, when code is set, are the error's code and the
		// parts its message must contain.
		code sluice.Code
		msg  []string
	}{
		// Pins.
		{name: "PinOK", req: Request{Model: "chat:v1.2.0"},
			want: want{target: "chat:v1.2.0", stable: "chat:v1.1.0", route: RoutePin, bucket: -1}},
		{name: "PinKeepsStickyHash", req: Request{Model: "chat:v1.1.0", StickyKey: keyStable},
			want: want{target: "chat:v1.1.0", stable: "chat:v1.1.0", route: RoutePin, bucket: -1, sticky: true}},
		{name: "PinDeprecatedHasSunset", req: Request{Model: "chat:v1.0.5"},
			want: want{target: "chat:v1.0.5", stable: "chat:v1.1.0", route: RoutePin, bucket: -1, deprecated: true, sunset: "Fri, 15 Jan 2027 00:00:00 GMT"}},
		{name: "PinUnderPolicyAll", req: Request{Model: "draft:v0.1"},
			want: want{target: "draft:v0.1", route: RoutePin, bucket: -1}},
		{name: "PinDevelopmentUnderPolicyAll", req: Request{Model: "vision:v2"},
			want: want{target: "vision:v2", stable: "vision:v1", route: RoutePin, bucket: -1}},
		{name: "ErrPinRetired", req: Request{Model: "chat:v1.0.0"}, code: sluice.CodeGone,
			msg: []string{`chat:v1.0.0 is retired: send "chat" to get the current version`}},
		{name: "ErrPinUnknownVersion", req: Request{Model: "chat:v9"}, code: sluice.CodeNotFound,
			msg: []string{`model chat has no version "v9"`, `send "chat"`, "chat:v1.0.5, chat:v1.1.0, chat:v1.2.0"}},
		{name: "ErrPinEmptyTag", req: Request{Model: "chat:"}, code: sluice.CodeNotFound,
			msg: []string{`model chat has no version ""`}},
		{name: "ErrPinNotAddressableSplit", req: Request{Model: "chat:v1.3.0"}, code: sluice.CodeNotFound,
			msg: []string{"chat:v1.3.0 is not served under policy split", "label it or switch the model to policy all"}},
		{name: "ErrPinNotAddressableSpecific", req: Request{Model: "embed:v3"}, code: sluice.CodeNotFound,
			msg: []string{"embed:v3 is not served under policy specific", `send "embed"`, "label it or switch the model to policy all"}},
		{name: "ErrPinNotAddressableLatest", req: Request{Model: "summarize:v3"}, code: sluice.CodeNotFound,
			msg: []string{"summarize:v3 is not served under policy latest"}},
		{name: "PinReleasedOutsidePolicy", req: Request{Model: "embed:v1"},
			want: want{target: "embed:v1", stable: "embed:v2", route: RoutePin, bucket: -1}},
		{name: "ErrPinUnknownModel", req: Request{Model: "gpt-4:v1"}, code: sluice.CodeNotFound,
			msg: []string{`model "gpt-4" does not exist`}},

		// Labels.
		{name: "LabelOK", req: Request{Model: "chat@canary"},
			want: want{target: "chat:v1.2.0", stable: "chat:v1.1.0", route: RouteLabel, bucket: -1}},
		{name: "LabelDeprecated", req: Request{Model: "chat@legacy"},
			want: want{target: "chat:v1.0.5", stable: "chat:v1.1.0", route: RouteLabel, bucket: -1, deprecated: true, sunset: "Fri, 15 Jan 2027 00:00:00 GMT"}},
		{name: "ErrLabelUnknown", req: Request{Model: "chat@beta"}, code: sluice.CodeNotFound,
			msg: []string{`model chat has no label "beta": use one of chat@canary, chat@legacy, chat@stable, or send "chat"`}},
		{name: "ErrLabelNone", req: Request{Model: "embed@stable"}, code: sluice.CodeNotFound,
			msg: []string{`model embed has no labels: send "embed"`}},

		// Bare name: unknown.
		{name: "ErrUnknownModel", req: Request{Model: "x"}, code: sluice.CodeNotFound,
			msg: []string{`model "x" does not exist: use one of chat, draft, embed, summarize, vision (GET /v1/models lists them)`}},
		{name: "ErrUnknownModelIsCaseSensitive", req: Request{Model: "Chat"}, code: sluice.CodeNotFound,
			msg: []string{`model "Chat" does not exist`}},
		{name: "ErrNoModel", req: Request{}, code: sluice.CodeBadRequest,
			msg: []string{`the request names no model: set "model" to one of chat, draft`}},

		// Force header.
		{name: "ForceTag", req: Request{Model: "chat", ForceAllowed: true, Header: hdr("X-Sluice-Version", "v1.3.0")},
			want: want{target: "chat:v1.3.0", stable: "chat:v1.1.0", route: RouteForce, bucket: -1}},
		{name: "ForceFullID", req: Request{Model: "chat", ForceAllowed: true, Header: hdr("x-sluice-version", "chat:v1.2.0")},
			want: want{target: "chat:v1.2.0", stable: "chat:v1.1.0", route: RouteForce, bucket: -1}},
		{name: "ForceBeatsRule", req: Request{Model: "chat", ForceAllowed: true, Header: hdr("X-Sluice-Version", "v1.1.0", "X-User-Segment", "beta")},
			want: want{target: "chat:v1.1.0", stable: "chat:v1.1.0", route: RouteForce, bucket: -1}},
		{name: "ForceIgnoredWhenNotAllowed", req: Request{Model: "chat", StickyKey: keyStable, Header: hdr("X-Sluice-Version", "v1.3.0")},
			want: want{target: "chat:v1.1.0", stable: "chat:v1.1.0", route: RouteSplit, bucket: 951, sticky: true}},
		{name: "ForceIgnoredOnPin", req: Request{Model: "chat:v1.2.0", ForceAllowed: true, Header: hdr("X-Sluice-Version", "v1.3.0")},
			want: want{target: "chat:v1.2.0", stable: "chat:v1.1.0", route: RoutePin, bucket: -1}},
		{name: "ForceEmptyIgnored", req: Request{Model: "embed", ForceAllowed: true, Header: hdr("X-Sluice-Version", "")},
			want: want{target: "embed:v2", stable: "embed:v2", route: RoutePolicy, bucket: -1}},
		{name: "ErrForceRetired", req: Request{Model: "chat", ForceAllowed: true, Header: hdr("X-Sluice-Version", "v1.0.0")}, code: sluice.CodeGone,
			msg: []string{"X-Sluice-Version names chat:v1.0.0, which is retired", "drop the header"}},
		{name: "ErrForceUnknown", req: Request{Model: "chat", ForceAllowed: true, Header: hdr("X-Sluice-Version", "v9")}, code: sluice.CodeNotFound,
			msg: []string{`X-Sluice-Version names "v9", which is not a version of model chat: use one of v1.0.5, v1.1.0, v1.2.0, v1.3.0`}},
		{name: "ErrForceOtherModel", req: Request{Model: "chat", ForceAllowed: true, Header: hdr("X-Sluice-Version", "embed:v2")}, code: sluice.CodeNotFound,
			msg: []string{"X-Sluice-Version names embed:v2, which is not a version of model chat"}},

		// Rules.
		{name: "RuleFirstValue", req: Request{Model: "chat", Header: hdr("X-User-Segment", "beta")},
			want: want{target: "chat:v1.2.0", stable: "chat:v1.1.0", route: RouteRule, bucket: -1}},
		{name: "RuleSecondValue", req: Request{Model: "chat", StickyKey: keyStable, Header: hdr("X-User-Segment", "internal")},
			want: want{target: "chat:v1.2.0", stable: "chat:v1.1.0", route: RouteRule, bucket: -1, sticky: true}},
		{name: "RuleHeaderNameCanonicalised", req: Request{Model: "chat", Header: hdr("X-Region", "eu")},
			want: want{target: "chat:v1.0.5", stable: "chat:v1.1.0", route: RouteRule, bucket: -1, deprecated: true, sunset: "Fri, 15 Jan 2027 00:00:00 GMT"}},
		{name: "RulesInOrder", req: Request{Model: "chat", Header: hdr("X-Region", "eu", "X-User-Segment", "beta")},
			want: want{target: "chat:v1.2.0", stable: "chat:v1.1.0", route: RouteRule, bucket: -1}},
		{name: "RuleValueIsCaseSensitive", req: Request{Model: "chat", StickyKey: keyCanary, Header: hdr("X-User-Segment", "Beta")},
			want: want{target: "chat:v1.2.0", stable: "chat:v1.1.0", route: RouteSplit, bucket: 9886, sticky: true}},
		{name: "RuleIgnoredOnLabel", req: Request{Model: "chat@stable", Header: hdr("X-User-Segment", "beta")},
			want: want{target: "chat:v1.1.0", stable: "chat:v1.1.0", route: RouteLabel, bucket: -1}},

		// Policies.
		{name: "SplitStickyKeyStableArm", req: Request{Model: "chat", StickyKey: keyStable},
			want: want{target: "chat:v1.1.0", stable: "chat:v1.1.0", route: RouteSplit, bucket: 951, sticky: true}},
		{name: "SplitStickyKeyCanaryArm", req: Request{Model: "chat", StickyKey: keyCanary},
			want: want{target: "chat:v1.2.0", stable: "chat:v1.1.0", route: RouteSplit, bucket: 9886, sticky: true}},
		{name: "SplitStickyHeader", req: Request{Model: "chat", Header: hdr("X-User-Id", keyCanary)},
			want: want{target: "chat:v1.2.0", stable: "chat:v1.1.0", route: RouteSplit, bucket: 9886, sticky: true}},
		{name: "SplitStickyHeaderSecond", req: Request{Model: "chat", Header: hdr("X-User-Id", "", "X-Session-Id", keyCanary)},
			want: want{target: "chat:v1.2.0", stable: "chat:v1.1.0", route: RouteSplit, bucket: 9886, sticky: true}},
		{name: "SplitStickyKeyBeatsHeader", req: Request{Model: "chat", StickyKey: keyStable, Header: hdr("X-User-Id", keyCanary)},
			want: want{target: "chat:v1.1.0", stable: "chat:v1.1.0", route: RouteSplit, bucket: 951, sticky: true}},
		{name: "SplitUnkeyed", req: Request{Model: "chat"},
			want: want{stable: "chat:v1.1.0", route: RouteSplit, bucket: -2}},
		{name: "PolicySpecific", req: Request{Model: "embed"},
			want: want{target: "embed:v2", stable: "embed:v2", route: RoutePolicy, bucket: -1}},
		{name: "PolicyLatestUnpinned", req: Request{Model: "summarize", StickyKey: "u"},
			want: want{target: "summarize:v2", stable: "summarize:v2", route: RoutePolicy, bucket: -1, sticky: true, unpinned: true}},
		{name: "PolicyAllUnpinned", req: Request{Model: "vision"},
			want: want{target: "vision:v1", stable: "vision:v1", route: RoutePolicy, bucket: -1, unpinned: true}},
		{name: "ErrPolicyAllNoProduction", req: Request{Model: "draft"}, code: sluice.CodeUnavailable,
			msg: []string{"model draft has no production version: promote one with sluice stage"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d, err := tab.Decide(&tt.req)
			if tt.code != "" {
				var se *sluice.Error
				if !errors.As(err, &se) {
					t.Fatalf("Decide(%+v) = %+v, %v; want a *sluice.Error with code %s", tt.req, d, err, tt.code)
				}
				if se.Code != tt.code {
					t.Errorf("code = %s, want %s (message %q)", se.Code, tt.code, se.Message)
				}
				for _, part := range tt.msg {
					if !strings.Contains(se.Message, part) {
						t.Errorf("message %q does not contain %q", se.Message, part)
					}
				}
				if d.Target != nil || d.Bucket != -1 {
					t.Errorf("decision on error = %+v, want no target and bucket -1", d)
				}
				return
			}
			if err != nil {
				t.Fatalf("Decide(%+v): %v", tt.req, err)
			}
			w := tt.want
			if w.target != "" && (d.Target == nil || d.Target.ID != w.target) {
				t.Errorf("target = %v, want %s", id(d.Target), w.target)
			}
			if d.Target == nil {
				t.Errorf("target is nil")
			}
			if id(d.Stable) != w.stable {
				t.Errorf("stable = %v, want %q", id(d.Stable), w.stable)
			}
			if d.Route != w.route {
				t.Errorf("route = %q, want %q", d.Route, w.route)
			}
			switch {
			case w.bucket == -2:
				if d.Bucket < 0 || d.Bucket >= Buckets {
					t.Errorf("bucket = %d, want 0..%d", d.Bucket, Buckets-1)
				}
			case d.Bucket != w.bucket:
				t.Errorf("bucket = %d, want %d", d.Bucket, w.bucket)
			}
			if (d.StickyHash != 0) != w.sticky {
				t.Errorf("sticky hash = %#x, want one: %v", d.StickyHash, w.sticky)
			}
			if d.Unpinned != w.unpinned {
				t.Errorf("unpinned = %v, want %v", d.Unpinned, w.unpinned)
			}
			if d.Target != nil && (d.Target.Deprecated != w.deprecated || d.Target.Sunset != w.sunset) {
				t.Errorf("deprecated, sunset = %v, %q; want %v, %q", d.Target.Deprecated, d.Target.Sunset, w.deprecated, w.sunset)
			}
		})
	}
}

func id(t *Target) string {
	if t == nil {
		return ""
	}
	return t.ID
}

// TestTable_Decide_Registry covers registries that fail validation (as a
// store could hold after a bug or a manual edit): Build must not panic and
// Decide must say what is wrong.
func TestTable_Decide_Registry(t *testing.T) {
	t.Run("ErrNilTable", func(t *testing.T) {
		var tab *Table
		_, err := tab.Decide(&Request{Model: "chat"})
		if sluice.ErrorCode(err) != sluice.CodeUnavailable {
			t.Fatalf("err = %v, want unavailable", err)
		}
	})
	t.Run("ErrEmptyRegistry", func(t *testing.T) {
		_, err := Build(nil, nil, Options{}).Decide(&Request{Model: "chat"})
		if sluice.ErrorCode(err) != sluice.CodeNotFound || !strings.Contains(err.Error(), "no models are registered yet") {
			t.Fatalf("err = %v, want not found naming that nothing is registered", err)
		}
	})
	reg := MustFixture(t)
	reg.Models["chat"].Labels["old"] = "v1.0.0"
	reg.Models["chat"].Labels["ghost"] = "v7"
	reg.Models["chat"].Rules = append([]sluice.Rule{{Header: "X-Old", Values: []string{"1"}, Version: "v1.0.0"}}, reg.Models["chat"].Rules...)
	reg.Models["embed"].Policy.Version = "v9"
	reg.Models["chat"].Policy.Split = []sluice.Weight{{Version: "v1.0.0", Percent: 50}, {Version: "v1.1.0", Percent: 50}}
	reg.Models["summarize"].Policy.Kind = "weird"
	tab := Build(reg, nil, Options{})
	t.Run("ErrLabelRetired", func(t *testing.T) {
		_, err := tab.Decide(&Request{Model: "chat@old"})
		if sluice.ErrorCode(err) != sluice.CodeGone || !strings.Contains(err.Error(), "chat@old points at chat:v1.0.0, which is retired") {
			t.Fatalf("err = %v", err)
		}
	})
	t.Run("ErrLabelUnregisteredIsUnknown", func(t *testing.T) {
		_, err := tab.Decide(&Request{Model: "chat@ghost"})
		if sluice.ErrorCode(err) != sluice.CodeNotFound {
			t.Fatalf("err = %v", err)
		}
	})
	t.Run("RuleToRetiredLeftOut", func(t *testing.T) {
		d, err := tab.Decide(&Request{Model: "chat", Header: hdr("X-Old", "1")})
		if err != nil || d.Route != RouteSplit || d.Target.ID != "chat:v1.1.0" {
			t.Fatalf("Decide = %+v, %v; want the split's one servable member", d, err)
		}
	})
	t.Run("ErrSpecificUnservable", func(t *testing.T) {
		_, err := tab.Decide(&Request{Model: "embed"})
		if sluice.ErrorCode(err) != sluice.CodeUnavailable || !strings.Contains(err.Error(), "embed:v9, which cannot serve") {
			t.Fatalf("err = %v", err)
		}
	})
	t.Run("UnknownKindIsLatest", func(t *testing.T) {
		d, err := tab.Decide(&Request{Model: "summarize"})
		if err != nil || d.Target.ID != "summarize:v2" || !d.Unpinned {
			t.Fatalf("Decide = %+v, %v", d, err)
		}
	})
	t.Run("ErrSplitUnservable", func(t *testing.T) {
		reg := MustSplit(t, "", 100)
		reg.Versions["chat:v1"].Stage = sluice.StageRetired
		_, err := Build(reg, nil, Options{}).Decide(&Request{Model: "chat"})
		if sluice.ErrorCode(err) != sluice.CodeUnavailable || !strings.Contains(err.Error(), "no version that can serve") {
			t.Fatalf("err = %v", err)
		}
	})
}

func TestTable_Decide_Options(t *testing.T) {
	reg := MustFixture(t)
	t.Run("StickyHeaders", func(t *testing.T) {
		tab := Build(reg, nil, Options{StickyHeaders: []string{"x-tenant"}})
		d, err := tab.Decide(&Request{Model: "chat", Header: hdr("X-Tenant", keyCanary, "X-User-Id", keyStable)})
		if err != nil || d.Bucket != 9886 {
			t.Fatalf("Decide = %+v, %v; want bucket 9886 from X-Tenant", d, err)
		}
	})
	t.Run("NoStickyHeaders", func(t *testing.T) {
		tab := Build(reg, nil, Options{StickyHeaders: []string{}})
		d, err := tab.Decide(&Request{Model: "chat", Header: hdr("X-User-Id", keyStable)})
		if err != nil || d.StickyHash != 0 {
			t.Fatalf("Decide = %+v, %v; want no sticky key", d, err)
		}
	})
	t.Run("ForceHeader", func(t *testing.T) {
		tab := Build(reg, nil, Options{ForceHeader: "x-debug-version"})
		d, err := tab.Decide(&Request{Model: "chat", ForceAllowed: true, Header: hdr("X-Debug-Version", "v1.3.0", "X-Sluice-Version", "v1.2.0")})
		if err != nil || d.Route != RouteForce || d.Target.ID != "chat:v1.3.0" {
			t.Fatalf("Decide = %+v, %v; want forced v1.3.0", d, err)
		}
	})
}

// TestTable_Decide_Allocs checks that every path that serves a request is
// allocation-free.
func TestTable_Decide_Allocs(t *testing.T) {
	tab := Build(MustFixture(t), nil, Options{})
	for _, r := range []Request{
		{Model: "chat", StickyKey: "someone@example.com"},
		{Model: "chat", Header: hdr("X-User-Id", "42")},
		{Model: "chat"},
		{Model: "chat:v1.1.0"},
		{Model: "chat@canary"},
		{Model: "chat", Header: hdr("X-User-Segment", "beta")},
		{Model: "chat", ForceAllowed: true, Header: hdr("X-Sluice-Version", "chat:v1.3.0")},
		{Model: "summarize"},
	} {
		if n := testing.AllocsPerRun(100, func() { _, _ = tab.Decide(&r) }); n != 0 {
			t.Errorf("Decide(%+v) allocates %v times per call, want 0", r, n)
		}
	}
}

// TestStickyBucket pins the sticky hash: a change here moves users between
// versions on upgrade, and replicas running different builds would disagree.
func TestStickyBucket(t *testing.T) {
	for _, tt := range []struct {
		salt, key string
		want      int
	}{
		{"chat", "user-1", 951},
		{"chat", "user-73", 9886},
		{"chat", "alice", 7336},
		{"rotated", "alice", 9307},
		{"", "", 7544},
	} {
		if got := StickyBucket(tt.salt, tt.key); got != tt.want {
			t.Errorf("StickyBucket(%q, %q) = %d, want %d", tt.salt, tt.key, got, tt.want)
		}
		if want := int(xxhash.Sum64String(tt.salt+"\x00"+tt.key) % Buckets); tt.want != want {
			t.Errorf("the documented formula gives %d for (%q, %q), the table says %d", want, tt.salt, tt.key, tt.want)
		}
	}
	// The table's sticky hash is the same formula under the model's salt.
	tab := Build(MustFixture(t), nil, Options{})
	d, _ := tab.Decide(&Request{Model: "chat", StickyKey: "alice"})
	if d.StickyHash != xxhash.Sum64String("chat\x00alice") {
		t.Errorf("StickyHash = %#x, want xxhash64(\"chat\\x00alice\")", d.StickyHash)
	}
}

func TestTarget_Endpoint(t *testing.T) {
	tab := Build(MustFixture(t), nil, Options{Balance: BalanceRoundRobin})
	tg := tab.Target("chat:v1.1.0")
	got := map[string]int{}
	for range 10 {
		got[tg.Endpoint()]++
	}
	if got["http://10.0.0.1:8000"] != 5 || got["http://10.0.0.2:8000"] != 5 {
		t.Errorf("round robin over two endpoints gave %v, want 5 each", got)
	}
	if e := tab.Target("embed:v2").Endpoint(); e != "http://127.0.0.1:9000/embed/v2" {
		t.Errorf("single endpoint = %q", e)
	}
	if e := (&Target{}).Endpoint(); e != "" {
		t.Errorf("no endpoints gave %q, want empty", e)
	}
	if tab.Target("chat:v1.0.0") != nil {
		t.Errorf("a retired version has a target")
	}
}

// TestStickyBucket_LongKey checks that keys too long for the stack buffer
// hash the same way.
func TestStickyBucket_LongKey(t *testing.T) {
	for _, n := range []int{hashBuf - 6, hashBuf - 5, hashBuf - 4, 300} {
		key := strings.Repeat("k", n)
		want := int(xxhash.Sum64String("chat\x00"+key) % Buckets)
		if got := StickyBucket("chat", key); got != want {
			t.Errorf("key of %d bytes: bucket %d, want %d", n, got, want)
		}
	}
}
