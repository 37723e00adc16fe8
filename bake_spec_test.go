package sluice_test

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"gopkg.in/yaml.v3"

	sluice "github.com/sluicehq/sluice"
)

// TestRolloutSpec_Bake: a spec's bake is not set (the plan's, or none),
// none ("none", however cased), or a time, in JSON (the API) and YAML (a
// model file's rollout:), and it writes back as it was read; a spec with
// no bake writes no "bake", as rollouts already stored were written.
func TestRolloutSpec_Bake(t *testing.T) {
	for _, tc := range []struct {
		name, json, yaml string
		set, none        bool
		d                time.Duration
		err              string
		back             string // the JSON written back; "" for no "bake"
	}{
		{name: "not set", json: `{}`, yaml: `{}`},
		{name: "none", json: `{"bake":"none"}`, yaml: `bake: none`, set: true, none: true, back: `"bake":"none"`},
		{name: "None", json: `{"bake":"None"}`, yaml: `bake: None`, set: true, none: true, back: `"bake":"none"`},
		{name: "explicit zero", json: `{"bake":"0s"}`, yaml: `bake: 0s`, set: true, none: true, back: `"bake":"none"`},
		{name: "a time", json: `{"bake":"15m"}`, yaml: `bake: 15m`, set: true, d: 15 * time.Minute, back: `"bake":"15m0s"`},
		{name: "stored nanoseconds", json: `{"bake":1800000000000}`, yaml: `bake: 30m`, set: true, d: 30 * time.Minute, back: `"bake":"30m0s"`},
		{name: "negative", json: `{"bake":"-5m"}`, yaml: `bake: -5m`, set: true, d: -5 * time.Minute, back: `"bake":"-5m0s"`},
		{name: "not a time", json: `{"bake":"soon"}`, yaml: `bake: soon`, err: "or none for no bake"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			for _, how := range []string{"json", "yaml"} {
				var s sluice.RolloutSpec
				var err error
				if how == "json" {
					err = json.Unmarshal([]byte(tc.json), &s)
				} else {
					err = yaml.Unmarshal([]byte(tc.yaml), &s)
				}
				if tc.err != "" {
					if err == nil || !strings.Contains(err.Error(), tc.err) {
						t.Errorf("%s: error %v, want one saying %q", how, err, tc.err)
					}
					continue
				}
				if err != nil {
					t.Fatalf("%s: %v", how, err)
				}
				if s.Bake.IsZero() == tc.set || s.Bake.None() != tc.none || s.Bake.D() != tc.d {
					t.Errorf("%s: set %v none %v %s; want set %v none %v %s", how, !s.Bake.IsZero(), s.Bake.None(), s.Bake.D(), tc.set, tc.none, tc.d)
				}
				b, err := json.Marshal(s)
				if err != nil {
					t.Fatal(err)
				}
				if got := string(b); (tc.back == "" && strings.Contains(got, `"bake"`)) || !strings.Contains(got, tc.back) {
					t.Errorf("%s: written back as %s, want %q", how, got, tc.back)
				}
				y, err := yaml.Marshal(s)
				if err != nil {
					t.Fatal(err)
				}
				var again sluice.RolloutSpec
				if err := yaml.Unmarshal(y, &again); err != nil || again.Bake != s.Bake {
					t.Errorf("%s: YAML round trip %q: %s (%v), want %s", how, y, again.Bake, err, s.Bake)
				}
			}
		})
	}
}
