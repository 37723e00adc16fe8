package sluice_test

import (
	"strings"
	"testing"
	"time"

	"github.com/sluicehq/sluice"
)

// TestRegisterVersion_EndpointsChanged: an admin registered chat:v1.2.0 on
// a mistyped port, found it with the apply's warning, fixed the port in the
// model file and applied it again. The refusal said "versions are
// immutable, so register the new build under a new version tag": there was
// no new build, only the same one's address, and nothing said what to do
// with the version left on the wrong port. It now says that endpoints
// cannot be changed in place, and both steps: a new tag with the endpoints
// wanted, and retiring the one registered.
func TestRegisterVersion_EndpointsChanged(t *testing.T) {
	e := sluice.NewRegistry().Edit("test", "r", time.Date(2026, 11, 20, 12, 0, 0, 0, time.UTC))
	v := sluice.Version{Model: "chat", Version: "v1.2.0", Endpoints: []string{"http://127.0.0.1:18003"}, UpstreamModel: "ft2"}
	if _, err := e.RegisterVersion(v); err != nil {
		t.Fatal(err)
	}
	v.Endpoints = []string{"http://127.0.0.1:18002"}
	_, err := e.RegisterVersion(v)
	if sluice.ErrorCode(err) != sluice.CodeConflict {
		t.Fatalf("re-registering with other endpoints = %v, want a conflict", err)
	}
	for _, want := range []string{"chat:v1.2.0", "endpoints", "cannot be changed in place", "new version tag", "sluice stage chat:v1.2.0 retired"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("the refusal lacks %q: %v", want, err)
		}
	}
	if strings.Contains(err.Error(), "new build") || strings.Contains(err.Error(), "127.0.0.1") {
		t.Errorf("the refusal speaks of a new build, or quotes an endpoint (it may hold credentials): %v", err)
	}
	// Other content too: the build changed, as before.
	v.UpstreamModel = "ft3"
	_, err = e.RegisterVersion(v)
	if err == nil || !strings.Contains(err.Error(), "endpoints and upstream_model") || !strings.Contains(err.Error(), "new build") {
		t.Errorf("re-registering another build = %v, want the fields and a new tag for the new build", err)
	}
}
