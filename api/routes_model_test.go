package api_test

import (
	"context"
	"encoding/json"
	"net/http"
	"testing"

	"github.com/sluicehq/sluice"
)

// TestServer_ModelRoutes: one model's routing is read on its own (sluice
// get routes MODEL fetched the whole table and kept one entry), as an
// object; an unknown model is a 404 saying how to list the models, and a
// server without a routing table says which server has one.
func TestServer_ModelRoutes(t *testing.T) {
	ctx := context.Background()
	e := MustEnv(t)
	e.MustSeed(t)
	t.Run("OK", func(t *testing.T) {
		raw, err := e.Viewer.ModelRoutes(ctx, "chat")
		if err != nil {
			t.Fatal(err)
		}
		var v struct {
			Name string `json:"name"`
		}
		if err := json.Unmarshal(raw, &v); err != nil || v.Name != "chat" {
			t.Errorf("routes of chat = %s (%v), want chat's entry", raw, err)
		}
	})
	t.Run("ErrUnknownModel", func(t *testing.T) {
		_, err := e.Viewer.ModelRoutes(ctx, "nomodel")
		wantErr(t, err, sluice.CodeNotFound, []string{"model"}, `model "nomodel" is not registered`, "sluice get models")
		r := e.do(t, "GET", "/admin/v1/routes/nomodel", viewerSecret, nil)
		r.want(t, http.StatusNotFound, "sluice get models")
	})
	t.Run("ErrBadName", func(t *testing.T) {
		r := e.do(t, "GET", "/admin/v1/routes/bad%20name", viewerSecret, nil)
		if r.Status != http.StatusUnprocessableEntity && r.Status != http.StatusBadRequest {
			t.Errorf("status = %d for a malformed model name; body %s", r.Status, r.Body)
		}
	})
}
