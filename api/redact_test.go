package api_test

import (
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"testing"

	"github.com/sluicehq/sluice"
	"github.com/sluicehq/sluice/api"
)

// TestServer_RedactsEndpointCredentials checks that the credentials in a
// backend's URL reach admins only: every read a viewer or operator may make
// (versions, models, audit entries, what the routing was at a time) shows
// them as REDACTED, and an admin still reads them as written.
func TestServer_RedactsEndpointCredentials(t *testing.T) {
	e := mustRoleEnv(t)
	const secretURL = "http://bob:hunter2-s3cret@127.0.0.1:9009"
	v := sluice.Version{Model: "chat", Version: "v9.0.0", Endpoints: []string{secretURL, "https://sk-only-user-part@10.0.0.9:8443/v1"}, Stage: sluice.StageStaging}
	e.MustRegister(t, v)
	for _, tc := range roleCases {
		if tc.method != "GET" || !sluice.RoleViewer.Allows(tc.need) {
			continue
		}
		for _, c := range callers[2:] {
			r := e.do(t, "GET", tc.path, c.secret, nil)
			r.want(t, tc.ok)
			body := string(r.Body)
			if c.role == sluice.RoleAdmin {
				continue
			}
			for _, secret := range []string{"hunter2-s3cret", "sk-only-user-part", "bob:"} {
				if strings.Contains(body, secret) {
					t.Errorf("%s GET %s shows %q: %s", c.name, tc.path, secret, body)
				}
			}
		}
	}
	for _, path := range []string{"/admin/v1/versions/chat:v9.0.0", "/admin/v1/audit?model=chat"} {
		if r := e.do(t, "GET", path, viewerSecret, nil); !strings.Contains(string(r.Body), "http://"+api.Redacted+"@127.0.0.1:9009") {
			t.Errorf("viewer's GET %s lacks the redacted URL: %s", path, r.Body)
		}
		if r := e.do(t, "GET", path, adminSecret, nil); !strings.Contains(string(r.Body), secretURL) {
			t.Errorf("admin's GET %s lacks the URL as written: %s", path, r.Body)
		}
	}
	got, err := e.Oper.Version(context.Background(), "chat:v9.0.0")
	if err != nil {
		t.Fatal(err)
	}
	if got.Endpoints[0] != "http://REDACTED@127.0.0.1:9009" || got.Endpoints[1] != "https://REDACTED@10.0.0.9:8443/v1" {
		t.Errorf("operator's client read endpoints %q", got.Endpoints)
	}

	// A version read that way and written back is refused, not stored
	// with a URL no backend accepts.
	back := got.Version
	back.Version = "v9.0.1"
	_, err = e.Admin.RegisterVersion(context.Background(), back, "copied from a viewer's output")
	wantErr(t, err, sluice.CodeInvalid, nil, "REDACTED@", "real URL")
	r := e.do(t, "GET", "/admin/v1/versions/chat:v9.0.1", adminSecret, nil)
	r.want(t, http.StatusNotFound)
}

// TestServer_RedactsPasswordHoldingAt checks that a password holding a
// literal "@" (which url.Parse and CheckEndpoint accept: the userinfo ends
// at the last "@") is redacted whole for a viewer, not cut at its first
// "@" with the rest shown.
func TestServer_RedactsPasswordHoldingAt(t *testing.T) {
	e := mustRoleEnv(t)
	v := sluice.Version{Model: "chat", Version: "v9.0.0", Endpoints: []string{"http://bob:hunter@2s3cret@127.0.0.1:9009"}, Stage: sluice.StageStaging}
	e.MustRegister(t, v)
	for _, path := range []string{"/admin/v1/versions/chat:v9.0.0", "/admin/v1/audit?model=chat"} {
		body := string(e.do(t, "GET", path, viewerSecret, nil).Body)
		if strings.Contains(body, "2s3cret") || !strings.Contains(body, "http://"+api.Redacted+"@127.0.0.1:9009") {
			t.Errorf("viewer's GET %s: %s", path, body)
		}
	}
}

// TestServer_RedactsQuerySecrets checks that a secret in an endpoint's
// query string (?api_key=, ?sig=...) reaches admins only, as its
// user:password@ does, that the other parameters (api-version) stay
// visible, and that a URL read that way and written back is refused.
func TestServer_RedactsQuerySecrets(t *testing.T) {
	e := mustRoleEnv(t)
	const secretURL = "https://10.0.0.9:8443/openai?api-version=2024-02-01&api_key=sk-q5ecret&Sig=s1gn4ture"
	v := sluice.Version{Model: "chat", Version: "v9.0.0", Endpoints: []string{secretURL}, Stage: sluice.StageStaging}
	e.MustRegister(t, v)
	for _, tc := range roleCases {
		if tc.method != "GET" || !sluice.RoleViewer.Allows(tc.need) {
			continue
		}
		for _, c := range callers[2:] {
			r := e.do(t, "GET", tc.path, c.secret, nil)
			r.want(t, tc.ok)
			if c.role == sluice.RoleAdmin {
				continue
			}
			for _, secret := range []string{"sk-q5ecret", "s1gn4ture"} {
				if strings.Contains(string(r.Body), secret) {
					t.Errorf("%s GET %s shows %q: %s", c.name, tc.path, secret, r.Body)
				}
			}
		}
	}
	got, err := e.Oper.Version(context.Background(), "chat:v9.0.0")
	if err != nil {
		t.Fatal(err)
	}
	if want := "https://10.0.0.9:8443/openai?api-version=2024-02-01&api_key=REDACTED&Sig=REDACTED"; got.Endpoints[0] != want {
		t.Errorf("operator's client read endpoint %q, want %q", got.Endpoints[0], want)
	}
	if r := e.do(t, "GET", "/admin/v1/versions/chat:v9.0.0", adminSecret, nil); !strings.Contains(string(r.Body), "sk-q5ecret") {
		t.Errorf("admin's GET lacks the URL as written: %s", r.Body)
	}

	back := got.Version
	back.Version = "v9.0.1"
	_, err = e.Admin.RegisterVersion(context.Background(), back, "copied from an operator's output")
	wantErr(t, err, sluice.CodeInvalid, nil, "api_key=REDACTED", "real URL")
	r := e.do(t, "GET", "/admin/v1/versions/chat:v9.0.1", adminSecret, nil)
	r.want(t, http.StatusNotFound)
}

// TestServer_RedactsQuerySecretsWithEscapes: a secret query value holding
// a backslash (written \\ in JSON), an escaped-looking \u0026, %5C or
// unicode is hidden whole from viewers and operators in every answer. A
// value was hidden only up to its first backslash, the rest shown, and
// the parameters after it were not read at all. A quote is refused in an
// endpoint, so no value holds one.
func TestServer_RedactsQuerySecretsWithEscapes(t *testing.T) {
	e := mustRoleEnv(t)
	const secretURL = `https://10.0.0.9:8443/openai?api_key=sk\TAILONE&api-version=1&token=a\\b\u0026TAILTWO&sig=s%5C%22TAILTHREE&code=ünï€😀` + "\u2028" + `TAILFOUR&Signature=x\/TAILFIVE`
	v := sluice.Version{Model: "chat", Version: "v9.0.0", Endpoints: []string{secretURL}, Stage: sluice.StageStaging}
	e.MustRegister(t, v)
	tails := []string{"TAILONE", "TAILTWO", "TAILTHREE", "TAILFOUR", "TAILFIVE"}
	for _, tc := range roleCases {
		if tc.method != "GET" || !sluice.RoleViewer.Allows(tc.need) {
			continue
		}
		for _, c := range callers[2:] {
			r := e.do(t, "GET", tc.path, c.secret, nil)
			r.want(t, tc.ok)
			if c.role == sluice.RoleAdmin {
				continue
			}
			for _, secret := range tails {
				if strings.Contains(string(r.Body), secret) {
					t.Errorf("%s GET %s shows %q: %s", c.name, tc.path, secret, r.Body)
				}
			}
		}
	}
	got, err := e.Oper.Version(context.Background(), "chat:v9.0.0")
	if err != nil {
		t.Fatal(err)
	}
	if want := "https://10.0.0.9:8443/openai?api_key=REDACTED&api-version=1&token=REDACTED&sig=REDACTED&code=REDACTED&Signature=REDACTED"; got.Endpoints[0] != want {
		t.Errorf("operator's client read endpoint %q, want %q", got.Endpoints[0], want)
	}
	r := e.do(t, "GET", "/admin/v1/versions/chat:v9.0.0", adminSecret, nil)
	var admin sluice.Version
	if err := json.Unmarshal(r.Body, &admin); err != nil || len(admin.Endpoints) != 1 || admin.Endpoints[0] != secretURL {
		t.Errorf("admin's GET: %v %s, want the URL as written", err, r.Body)
	}
	back := got.Version
	back.Version = "v9.0.1"
	_, err = e.Admin.RegisterVersion(context.Background(), back, "copied from an operator's output")
	wantErr(t, err, sluice.CodeInvalid, nil, "REDACTED", "real URL")
	quoted := v
	quoted.Version, quoted.Endpoints = "v9.0.2", []string{`https://10.0.0.9:8443/openai?api_key=sk"TAILSIX`}
	_, err = e.Admin.RegisterVersion(context.Background(), quoted, "a quote in a query")
	wantErr(t, err, sluice.CodeInvalid, nil, "invalid endpoint")
}
