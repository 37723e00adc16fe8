package api_test

import (
	"context"
	"net/http"
	"testing"
	"time"

	"github.com/sluicehq/sluice"
)

func TestServer_RegisterVersion(t *testing.T) {
	ctx := context.Background()
	e := MustEnv(t)
	v := version("v1.0.0", "")
	v.Lineage = map[string]string{"dataset": "2026-10"}

	t.Run("OK", func(t *testing.T) {
		res, err := e.Admin.RegisterVersion(ctx, v, "first build")
		if err != nil {
			t.Fatal(err)
		}
		if !res.Created || !res.Changed || len(res.Audit) == 0 {
			t.Fatalf("result = %+v, want created and changed with audit", res)
		}
		r := e.do(t, "POST", "/admin/v1/versions", adminSecret, mustJSON(t, map[string]any{"version": version("v1.0.1", ""), "reason": "r"}))
		r.want(t, http.StatusCreated)
		got, err := e.Viewer.Version(ctx, "chat:v1.0.0")
		if err != nil {
			t.Fatal(err)
		}
		if got.ID != "chat:v1.0.0" || got.Stage != sluice.StageDevelopment || got.Lineage["dataset"] != "2026-10" || !got.CreatedAt.Equal(t0) {
			t.Errorf("version = %+v", got)
		}
	})
	t.Run("Unchanged", func(t *testing.T) {
		before := auditCount(t, e)
		r := e.do(t, "POST", "/admin/v1/versions", adminSecret, mustJSON(t, map[string]any{"version": v, "reason": "again"}))
		r.want(t, http.StatusOK)
		res, err := e.Admin.RegisterVersion(ctx, v, "again")
		if err != nil {
			t.Fatal(err)
		}
		if res.Created || res.Changed {
			t.Errorf("re-registering an identical version: %+v, want unchanged", res)
		}
		if n := auditCount(t, e); n != before {
			t.Errorf("re-registering wrote %d audit entries", n-before)
		}
	})
	t.Run("ErrConflict", func(t *testing.T) {
		w := v
		w.Endpoints = []string{"http://127.0.0.1:9999"}
		w.Family = "mistral"
		_, err := e.Admin.RegisterVersion(ctx, w, "rebuilt")
		wantErr(t, err, sluice.CodeConflict, []string{"endpoints", "family"}, "endpoints and family", "register the new build under a new version tag")
		r := e.do(t, "POST", "/admin/v1/versions", adminSecret, mustJSON(t, map[string]any{"version": w, "reason": "rebuilt"}))
		r.want(t, http.StatusConflict, "new version tag")
		r.wantFields(t, "endpoints", "family")
	})
	t.Run("ErrNoEndpoints", func(t *testing.T) {
		w := version("v2.0.0", "")
		w.Endpoints = nil
		_, err := e.Admin.RegisterVersion(ctx, w, "r")
		wantErr(t, err, sluice.CodeInvalid, []string{"endpoints"}, "add the base URL")
	})
	t.Run("ErrInvalidName", func(t *testing.T) {
		w := version("v 2", "")
		_, err := e.Admin.RegisterVersion(ctx, w, "r")
		wantErr(t, err, sluice.CodeInvalid, nil, `invalid version "v 2"`, "use 1 to 128 letters")
		w = version("v2\x01", "")
		_, err = e.Admin.RegisterVersion(ctx, w, "r")
		wantErr(t, err, sluice.CodeInvalid, nil, "invalid version", "use 1 to 128 letters")
	})
	t.Run("ErrNoReason", func(t *testing.T) {
		_, err := e.Admin.RegisterVersion(ctx, version("v3.0.0", ""), " ")
		wantErr(t, err, sluice.CodeInvalid, []string{"reason"}, "a reason is required", `"reason"`)
	})
}

func TestServer_SetStage(t *testing.T) {
	ctx := context.Background()
	e := MustEnv(t)
	// v2.0.0 serves the model, so v1.0.0 may be deprecated and retired (the
	// only serving version may not: TestRetireLastServingVersion).
	e.MustRegister(t, version("v1.0.0", ""), version("v2.0.0", sluice.StageProduction))

	t.Run("ErrOutOfOrder", func(t *testing.T) {
		_, err := e.Oper.SetStage(ctx, "chat:v1.0.0", sluice.StageProduction, time.Time{}, "skip staging")
		wantErr(t, err, sluice.CodeInvalid, nil, "cannot move a version from development to production", "it may go to staging, retired")
	})
	t.Run("OK", func(t *testing.T) {
		for _, st := range []sluice.Stage{sluice.StageStaging, sluice.StageProduction} {
			if _, err := e.Oper.SetStage(ctx, "chat:v1.0.0", st, time.Time{}, "promote"); err != nil {
				t.Fatal(err)
			}
		}
		sunset := t0.Add(30 * 24 * time.Hour)
		res, err := e.Oper.SetStage(ctx, "chat:v1.0.0", sluice.StageDeprecated, sunset, "superseded")
		if err != nil {
			t.Fatal(err)
		}
		if !res.Changed || len(res.Audit) != 1 || res.Audit[0].Action != "version.stage" || res.Audit[0].Actor != "otto" {
			t.Errorf("result = %+v", res)
		}
		v, err := e.Viewer.Version(ctx, "chat:v1.0.0")
		if err != nil {
			t.Fatal(err)
		}
		if v.Stage != sluice.StageDeprecated || !v.SunsetAt.Equal(sunset) {
			t.Errorf("version = %+v", v)
		}
	})
	t.Run("ErrSunsetWithoutDeprecation", func(t *testing.T) {
		_, err := e.Oper.SetStage(ctx, "chat:v1.0.0", sluice.StageProduction, t0, "undo")
		wantErr(t, err, sluice.CodeInvalid, []string{"sunset_at"}, "only applies to a deprecated version", "drop it")
	})
	t.Run("ErrRetiredIsFinal", func(t *testing.T) {
		if _, err := e.Oper.SetStage(ctx, "chat:v1.0.0", sluice.StageRetired, time.Time{}, "gone"); err != nil {
			t.Fatal(err)
		}
		_, err := e.Oper.SetStage(ctx, "chat:v1.0.0", sluice.StageProduction, time.Time{}, "back")
		wantErr(t, err, sluice.CodeInvalid, nil, "cannot change stage", "register a new version instead")
	})
	t.Run("ErrUnknownVersion", func(t *testing.T) {
		_, err := e.Oper.SetStage(ctx, "chat:v9", sluice.StageStaging, time.Time{}, "r")
		wantErr(t, err, sluice.CodeNotFound, nil, "not registered", "sluice get versions")
	})
	t.Run("ErrBadID", func(t *testing.T) {
		_, err := e.Oper.SetStage(ctx, "chat-v1", sluice.StageStaging, time.Time{}, "r")
		wantErr(t, err, sluice.CodeInvalid, []string{"id"}, "write MODEL:VERSION")
	})
	t.Run("ErrUnknownStage", func(t *testing.T) {
		_, err := e.Oper.SetStage(ctx, "chat:v1.0.0", "canary", time.Time{}, "r")
		wantErr(t, err, sluice.CodeInvalid, nil, `unknown stage "canary"`, "use one of development")
	})
}

func TestServer_ReadModels(t *testing.T) {
	ctx := context.Background()
	e := MustEnv(t)
	e.MustSeed(t)

	t.Run("Models", func(t *testing.T) {
		list, err := e.Viewer.Models(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if len(list.Models) != 1 || list.Revision == 0 {
			t.Fatalf("models = %+v", list)
		}
		m := list.Models[0]
		if m.Name != "chat" || m.PolicyText != "latest (unpinned)" || len(m.Versions) != 3 || m.Versions[2].Stage != sluice.StageStaging {
			t.Errorf("model = %+v", m)
		}
		if len(m.Serving) != 1 || m.Serving[0] != "v1.1.0" {
			t.Errorf("serving = %v, want [v1.1.0]", m.Serving)
		}
	})
	t.Run("Versions", func(t *testing.T) {
		list, err := e.Viewer.Versions(ctx, "chat")
		if err != nil {
			t.Fatal(err)
		}
		if len(list.Versions) != 3 || list.Versions[0].ID != "chat:v1.0.0" {
			t.Errorf("versions = %+v", list.Versions)
		}
		all, err := e.Viewer.Versions(ctx, "")
		if err != nil || len(all.Versions) != 3 {
			t.Errorf("all versions = %+v, %v", all, err)
		}
	})
	t.Run("ErrUnknownModel", func(t *testing.T) {
		_, err := e.Viewer.Model(ctx, "nope")
		wantErr(t, err, sluice.CodeNotFound, []string{"model"}, `model "nope" is not registered`, "sluice get models")
		_, err = e.Viewer.Versions(ctx, "nope")
		wantErr(t, err, sluice.CodeNotFound, []string{"model"}, "sluice get models")
	})
	t.Run("ErrUnknownVersion", func(t *testing.T) {
		_, err := e.Viewer.Version(ctx, "chat:v7")
		wantErr(t, err, sluice.CodeNotFound, []string{"id"}, "chat:v7 is not registered", "sluice get versions")
	})
	t.Run("SlashInNames", func(t *testing.T) {
		v := sluice.Version{Model: "meta/llama", Version: "v1/rc.1", Endpoints: []string{"http://127.0.0.1:9002"}}
		e.MustRegister(t, v)
		m, err := e.Viewer.Model(ctx, "meta/llama")
		if err != nil {
			t.Fatal(err)
		}
		if len(m.Versions) != 1 || m.Versions[0].ID != "meta/llama:v1/rc.1" {
			t.Errorf("model = %+v", m)
		}
		if _, err := e.Oper.SetStage(ctx, "meta/llama:v1/rc.1", sluice.StageStaging, time.Time{}, "r"); err != nil {
			t.Fatal(err)
		}
	})
}
