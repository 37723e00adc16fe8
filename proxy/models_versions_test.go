package proxy_test

import (
	"encoding/json"
	"net/http"
	"slices"
	"testing"
	"time"

	"github.com/sluicehq/sluice"
	"github.com/sluicehq/sluice/proxy"
	"github.com/sluicehq/sluice/route"
)

// TestModels_VersionsAreNamesAClientMaySend: GET /v1/models listed, in the
// model's "versions", a staging version no label, rule or policy serves;
// a client that sent that name ("chat:v2") got a 404 saying it is not
// served. The list now holds the versions a pin reaches, as the
// "model:version" entries do.
func TestModels_VersionsAreNamesAClientMaySend(t *testing.T) {
	e := sluice.NewRegistry().Edit("test", "fixture", time.Date(2026, 12, 5, 10, 0, 0, 0, time.UTC))
	for _, v := range []sluice.Version{
		{Model: "chat", Version: "v1", Stage: sluice.StageProduction, Endpoints: []string{"http://127.0.0.1:9"}},
		{Model: "chat", Version: "v2", Stage: sluice.StageStaging, Endpoints: []string{"http://127.0.0.1:9"}},
	} {
		if _, err := e.RegisterVersion(v); err != nil {
			t.Fatal(err)
		}
	}
	if err := e.SetPolicy("chat", sluice.Policy{Kind: sluice.PolicySpecific, Version: "v1"}); err != nil {
		t.Fatal(err)
	}
	if _, err := e.Finish(); err != nil {
		t.Fatal(err)
	}
	_, url := MustProxy(t, proxy.Options{Routes: route.NewHolder(route.Build(e.Registry(), nil, route.NewOptions()))})

	resp, err := http.Get(url + "/v1/models")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var list struct {
		Data []struct {
			ID       string   `json:"id"`
			Versions []string `json:"versions"`
		} `json:"data"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&list); err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, m := range list.Data {
		ids = append(ids, m.ID)
		if m.ID == "chat" && !slices.Equal(m.Versions, []string{"chat:v1"}) {
			t.Errorf("chat's versions = %v, want [chat:v1]: chat:v2 is reached by no pin", m.Versions)
		}
	}
	if slices.Contains(ids, "chat:v2") {
		t.Errorf("/v1/models lists chat:v2: %v", ids)
	}
	if r, body := post(t, url, "/v1/chat/completions", `{"model":"chat:v2","messages":[{"role":"user","content":"hi"}]}`); r.StatusCode != http.StatusNotFound {
		t.Fatalf("a pin to chat:v2 answered %d %s; the test expects it is not served", r.StatusCode, body)
	}
}
