package main

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/sluicehq/sluice"
)

// TestCLI_EndpointCredentialsRedacted checks, against a live gateway, that
// a viewer's and an operator's sluice get shows a backend's URL without its
// credentials, an admin's with them, and that a model file carrying such a
// redacted URL back is refused with a message saying what to do, writing
// nothing.
func TestCLI_EndpointCredentialsRedacted(t *testing.T) {
	gw, admin := startGateway(t)
	ctx := context.Background()
	viewer, err := gw.CreateToken(ctx, "vic", sluice.RoleViewer, "test", "setup")
	if err != nil {
		t.Fatal(err)
	}
	operator, err := gw.CreateToken(ctx, "ops", sluice.RoleOperator, "test", "setup")
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	write := func(name, endpoint string) string {
		f := filepath.Join(dir, name)
		doc := "models:\n  - name: chat\n    versions:\n      - version: v1\n        endpoints: [\"" + endpoint + "\"]\n        stage: production\n"
		if err := os.WriteFile(f, []byte(doc), 0o644); err != nil {
			t.Fatal(err)
		}
		return f
	}
	as := func(token string, args ...string) []string {
		return append(args, "--server", gw.AdminURL(), "--token", token)
	}
	mustRun(t, as(admin, "apply", "-f", write("real.yaml", "http://svc:pa55word@127.0.0.1:9001"), "--reason", "setup")...)
	for _, tok := range []string{viewer, operator} {
		for _, args := range [][]string{{"get", "versions", "chat", "-o", "json"}, {"get", "models", "-o", "json"}, {"audit", "-o", "json"}} {
			out := mustRun(t, as(tok, args...)...)
			if strings.Contains(out, "pa55word") || strings.Contains(out, "svc:") {
				t.Errorf("sluice %s as a viewer or operator shows the credentials: %s", strings.Join(args, " "), out)
			}
			if !strings.Contains(out, "http://REDACTED@127.0.0.1:9001") {
				t.Errorf("sluice %s lacks the redacted URL: %s", strings.Join(args, " "), out)
			}
		}
	}
	if out := mustRun(t, as(admin, "get", "versions", "chat", "-o", "json")...); !strings.Contains(out, "http://svc:pa55word@127.0.0.1:9001") {
		t.Errorf("admin's sluice get lacks the URL as written: %s", out)
	}

	// The redacted URL written back, to a new model, is refused.
	f := write("copied.yaml", "http://REDACTED@127.0.0.1:9001")
	if err := os.WriteFile(f, []byte(strings.ReplaceAll(mustRead(t, f), "name: chat", "name: chat2")), 0o644); err != nil {
		t.Fatal(err)
	}
	_, errOut, code := run(t, as(admin, "apply", "-f", f, "--reason", "copied")...)
	if code == 0 || !strings.Contains(errOut, "REDACTED@") || !strings.Contains(errOut, "real URL") {
		t.Fatalf("apply of a redacted URL: exit %d, %s; want a refusal saying to write the real URL", code, errOut)
	}
	if out := mustRun(t, as(admin, "get", "models", "-o", "json")...); strings.Contains(out, "chat2") {
		t.Errorf("the refused apply wrote chat2: %s", out)
	}
}

func mustRead(t *testing.T, f string) string {
	t.Helper()
	b, err := os.ReadFile(f)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// TestCLI_EndpointQuerySecretsRedacted checks, against a live gateway, that
// a secret in a backend URL's query string is shown to admins only: a
// viewer's sluice get and audit show api_key=REDACTED and the api-version
// as written, and a model file carrying the redacted URL back is refused.
func TestCLI_EndpointQuerySecretsRedacted(t *testing.T) {
	gw, admin := startGateway(t)
	viewer, err := gw.CreateToken(context.Background(), "vic", sluice.RoleViewer, "test", "setup")
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	write := func(name, model, endpoint string) string {
		f := filepath.Join(dir, name)
		doc := "models:\n  - name: " + model + "\n    versions:\n      - version: v1\n        endpoints: [\"" + endpoint + "\"]\n        stage: production\n"
		if err := os.WriteFile(f, []byte(doc), 0o644); err != nil {
			t.Fatal(err)
		}
		return f
	}
	as := func(token string, args ...string) []string {
		return append(args, "--server", gw.AdminURL(), "--token", token)
	}
	const real = "http://127.0.0.1:9001/openai?api-version=2024-02-01&api_key=sk-cli5ecret"
	const shown = "http://127.0.0.1:9001/openai?api-version=2024-02-01\\u0026api_key=REDACTED"
	mustRun(t, as(admin, "apply", "-f", write("real.yaml", "chat", real), "--reason", "setup")...)
	for _, args := range [][]string{{"get", "versions", "chat", "-o", "json"}, {"audit", "-o", "json"}} {
		out := mustRun(t, as(viewer, args...)...)
		if strings.Contains(out, "sk-cli5ecret") {
			t.Errorf("sluice %s as a viewer shows the query's secret: %s", strings.Join(args, " "), out)
		}
		if !strings.Contains(out, shown) && !strings.Contains(out, strings.ReplaceAll(shown, "\\u0026", "&")) {
			t.Errorf("sluice %s lacks the redacted URL %s: %s", strings.Join(args, " "), shown, out)
		}
	}
	_, errOut, code := run(t, as(admin, "apply", "-f", write("copied.yaml", "chat2", strings.ReplaceAll(real, "sk-cli5ecret", "REDACTED")), "--reason", "copied")...)
	if code == 0 || !strings.Contains(errOut, "api_key=REDACTED") || !strings.Contains(errOut, "real URL") {
		t.Fatalf("apply of a redacted URL: exit %d, %s; want a refusal saying to write the real URL", code, errOut)
	}
	if out := mustRun(t, as(admin, "get", "models", "-o", "json")...); strings.Contains(out, "chat2") {
		t.Errorf("the refused apply wrote chat2: %s", out)
	}
}
