package sluice_test

import (
	"slices"
	"testing"
	"time"

	"github.com/sluicehq/sluice"
)

// TestApplyDoc_KeepLaterStages: a model file's stage behind the version's,
// which the lifecycle forbids going back to, is kept (the file was written
// before a promotion); any other stage is left for Apply to apply or refuse.
func TestApplyDoc_KeepLaterStages(t *testing.T) {
	reg := sluice.NewRegistry()
	e := reg.Edit("test", "fixture", time.Date(2026, 12, 5, 10, 0, 0, 0, time.UTC))
	for _, v := range []struct {
		tag   string
		stage sluice.Stage
	}{{"v1", sluice.StageProduction}, {"v2", sluice.StageRetired}, {"v3", sluice.StageDeprecated}, {"v4", sluice.StageStaging}, {"v5", sluice.StageDevelopment}} {
		if _, err := e.RegisterVersion(sluice.Version{Model: "chat", Version: v.tag, Endpoints: []string{"http://127.0.0.1:9"}, Stage: sluice.StageStaging}); err != nil {
			t.Fatal(err)
		}
		switch v.stage {
		case sluice.StageStaging:
		case sluice.StageDevelopment:
			if err := e.SetStage("chat:"+v.tag, v.stage, time.Time{}); err != nil {
				t.Fatal(err)
			}
		default:
			if err := e.SetStage("chat:"+v.tag, sluice.StageProduction, time.Time{}); err != nil {
				t.Fatal(err)
			}
			if v.stage != sluice.StageProduction {
				if err := e.SetStage("chat:"+v.tag, v.stage, time.Time{}); err != nil {
					t.Fatal(err)
				}
			}
		}
	}
	if _, err := e.Finish(); err != nil {
		t.Fatal(err)
	}
	reg = e.Registry()

	for _, tc := range []struct {
		name, tag string
		file      sluice.Stage
		keep      bool
	}{
		{"PromotedSinceTheFile", "v1", sluice.StageStaging, true},
		{"ProductionBackToDevelopment", "v1", sluice.StageDevelopment, true},
		{"RetiredBackToProduction", "v2", sluice.StageProduction, true},
		{"RetiredBackToDeprecated", "v2", sluice.StageDeprecated, true},
		{"DeprecatedBackToStaging", "v3", sluice.StageStaging, true},
		{"DeprecatedBackToProductionIsAllowed", "v3", sluice.StageProduction, false},
		{"StagingBackToDevelopmentIsAllowed", "v4", sluice.StageDevelopment, false},
		{"ForwardAllowed", "v4", sluice.StageProduction, false},
		{"ForwardForbiddenLeftToApply", "v5", sluice.StageProduction, false},
		{"SameStage", "v1", sluice.StageProduction, false},
		{"NoStage", "v1", "", false},
		{"NewVersion", "v9", sluice.StageStaging, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			doc := sluice.ApplyDoc{Models: []sluice.ApplyModel{{Name: "chat", Versions: []sluice.Version{
				{Version: "v4", Stage: sluice.StageStaging},
				{Version: tc.tag, Stage: tc.file},
			}}}}
			out, kept := doc.KeepLaterStages(reg)
			got := out.Models[0].Versions[1].Stage
			if tc.keep {
				want := "chat:" + tc.tag + " stays " + string(reg.Versions["chat:"+tc.tag].Stage) + " (the file says " + string(tc.file) + ")"
				if got != "" || !slices.Equal(kept, []string{want}) {
					t.Fatalf("stage %q, kept %q; want the stage left out and kept %q", got, kept, want)
				}
				if doc.Models[0].Versions[1].Stage != tc.file {
					t.Fatal("the document given was changed")
				}
			} else if got != tc.file || len(kept) != 0 {
				t.Fatalf("stage %q, kept %q; want %q as the file says, nothing kept", got, kept, tc.file)
			}
			if out.Models[0].Versions[0].Stage != sluice.StageStaging {
				t.Fatal("another version's stage was changed")
			}
		})
	}
}
