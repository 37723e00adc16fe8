package api_test

import (
	"context"
	"testing"

	"github.com/sluicehq/sluice"
)

// TestServer_RejectedChangesLeaveNothing: a change refused for any reason
// is refused whole. Each case below has a valid part and an invalid one;
// after the error the stored revision, the registry the gateway routes
// with and the audit log are exactly as before, and the valid part is not
// to be found.
func TestServer_RejectedChangesLeaveNothing(t *testing.T) {
	e := MustEnv(t)
	e.MustSeed(t)
	ctx := context.Background()
	newVersion := func(tag string) sluice.Version {
		return sluice.Version{Version: tag, Endpoints: []string{"http://127.0.0.1:9009"}, Family: "llama-3", Stage: sluice.StageProduction}
	}
	cases := []struct {
		name   string
		change func() error
		code   sluice.Code
		absent func() bool // true when the valid part was not applied
	}{
		{
			name: "ApplyNewModelThenImmutableConflict",
			change: func() error {
				doc := sluice.ApplyDoc{Models: []sluice.ApplyModel{
					{Name: "fresh", Versions: []sluice.Version{newVersion("v1")}},
					{Name: "chat", Versions: []sluice.Version{{Version: "v1.0.0", Endpoints: []string{"http://10.9.9.9:1"}, Family: "llama-3", Stage: sluice.StageProduction}}},
				}}
				_, err := e.Admin.Apply(ctx, doc, "half and half", false)
				return err
			},
			code:   sluice.CodeConflict,
			absent: func() bool { return e.Ctl.Registry().Models["fresh"] == nil },
		},
		{
			name: "ApplyLabelsThenSplitNotSummingTo100",
			change: func() error {
				doc := sluice.ApplyDoc{Models: []sluice.ApplyModel{{
					Name:   "chat",
					Labels: map[string]string{"stable": "v1.1.0"},
					Policy: &sluice.Policy{Kind: sluice.PolicySplit, Split: []sluice.Weight{{Version: "v1.0.0", Percent: 60}, {Version: "v1.1.0", Percent: 30}}},
				}}}
				_, err := e.Admin.Apply(ctx, doc, "labels and a bad split", false)
				return err
			},
			code:   sluice.CodeInvalid,
			absent: func() bool { return e.Ctl.Registry().Models["chat"].Labels["stable"] != "v1.1.0" },
		},
		{
			name: "ApplyNewVersionThenPolicyOnUnknownVersion",
			change: func() error {
				doc := sluice.ApplyDoc{Models: []sluice.ApplyModel{{
					Name:     "chat",
					Versions: []sluice.Version{newVersion("v2.0.0")},
					Policy:   &sluice.Policy{Kind: sluice.PolicySpecific, Version: "v9.9.9"},
				}}}
				_, err := e.Admin.Apply(ctx, doc, "a version and a bad policy", false)
				return err
			},
			code:   sluice.CodeInvalid,
			absent: func() bool { return e.Ctl.Registry().Versions["chat:v2.0.0"] == nil },
		},
		{
			name: "SplitWithUnknownVersion",
			change: func() error {
				_, err := e.Oper.SetSplit(ctx, "chat", []sluice.Weight{{Version: "v1.0.0", Percent: 50}, {Version: "v7", Percent: 50}}, "", "typo")
				return err
			},
			code:   sluice.CodeInvalid,
			absent: func() bool { return e.Ctl.Registry().Models["chat"].Policy.Kind != sluice.PolicySplit },
		},
		{
			name: "StageOutOfOrder",
			change: func() error {
				_, err := e.Oper.SetStage(ctx, "chat:v1.2.0", sluice.StageRetired, t0, "skip deprecation")
				return err
			},
			code:   sluice.CodeInvalid,
			absent: func() bool { return e.Ctl.Registry().Versions["chat:v1.2.0"].Stage == sluice.StageStaging },
		},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			stored, err := e.Store.LoadRegistry(ctx)
			if err != nil {
				t.Fatal(err)
			}
			live := e.Ctl.Registry().Revision
			audit, _ := e.Store.Audit(ctx, sluice.AuditQuery{Limit: 10000})
			err = c.change()
			if sluice.ErrorCode(err) != c.code || sluice.ErrorMessage(err) == "" {
				t.Fatalf("err = %v (code %q), want code %s with a message", err, sluice.ErrorCode(err), c.code)
			}
			after, _ := e.Store.LoadRegistry(ctx)
			if after.Revision != stored.Revision || e.Ctl.Registry().Revision != live {
				t.Errorf("revision moved: stored %d → %d, live %d → %d", stored.Revision, after.Revision, live, e.Ctl.Registry().Revision)
			}
			if a, _ := e.Store.Audit(ctx, sluice.AuditQuery{Limit: 10000}); len(a) != len(audit) {
				t.Errorf("audit grew from %d to %d entries", len(audit), len(a))
			}
			if !c.absent() {
				t.Error("the valid part of the refused change was applied")
			}
		})
	}
}
