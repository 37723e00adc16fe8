package server_test

import (
	"context"
	"errors"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/openai/openai-go"
	"github.com/openai/openai-go/option"

	"github.com/sluicehq/sluice"
	"github.com/sluicehq/sluice/api"
	"github.com/sluicehq/sluice/config"
	"github.com/sluicehq/sluice/fakellm"
	"github.com/sluicehq/sluice/server"
)

// Secrets of the config file's tokens in TestGateway_FileTokenExpires:
// none may reach an answer or the log.
const (
	fileOpsSecret = "file-ops-secret-5e0c9b7a21d4"
	fileCISecret  = "file-ci-secret-8d13f6a0c2b9"
)

// TestGateway_FileTokenExpires: an admin token in the config file had no
// expiry (the key expires was refused as unknown): a token handed to a
// contractor or a CI job through the file worked until someone edited the
// file. Now tokens[i].expires takes a time or a date; the gateway warns in
// its log, at start and at each reload, of a file token expiring within 7
// days; the token list shows its expiry; once expired it is refused as a
// stored token is (401 "the admin token NAME expired at T: ask an admin
// for a new one") on the admin API and, used as an API key, on the data
// plane, never echoing its secret; and a reload (what SIGHUP runs) with a
// later expiry lets it in again.
func TestGateway_FileTokenExpires(t *testing.T) {
	var mu sync.Mutex
	now := time.Date(2026, 11, 20, 9, 0, 0, 0, time.UTC)
	clock := func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
	setNow := func(t time.Time) { mu.Lock(); now = t; mu.Unlock() }
	b := MustBackend(t, fakellm.Config{})
	dir := t.TempDir()
	cfgFile := filepath.Join(dir, "sluice.yaml")
	writeCfg := func(ciExpires string) {
		t.Helper()
		text := "listen: 127.0.0.1:0\nstore: " + filepath.Join(dir, "sluice.db") + "\n" +
			"client_keys:\n  - {name: app, secret: " + appKey + "}\n" +
			"tokens:\n" +
			"  - {name: ops, role: admin, secret: " + fileOpsSecret + "}\n" +
			"  - {name: ci-file, role: operator, secret: " + fileCISecret + ", expires: \"" + ciExpires + "\"}\n"
		if err := os.WriteFile(cfgFile, []byte(text), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	expires := now.Add(time.Hour)
	writeCfg(expires.Format(time.RFC3339))
	cfg, err := config.LoadGateway(cfgFile)
	if err != nil {
		t.Fatal(err)
	}
	var logs syncBuffer
	ctx := context.Background()
	gw, err := server.New(ctx, server.Options{Config: cfg, Now: clock, Logger: slog.New(slog.NewTextHandler(&logs, nil))})
	if err != nil {
		t.Fatal(err)
	}
	if err := gw.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { gw.Shutdown(context.Background()) })
	if _, err := gw.Control.Do(ctx, "test", "setup", func(e *sluice.Edit) error {
		return e.Apply(chatDoc(map[string]string{"v1.0.0": b.URL()}, nil, nil))
	}); err != nil {
		t.Fatal(err)
	}
	mark := 0 // the log since the last reload
	since := func() string { return logs.String()[mark:] }
	soon := func(what string) {
		t.Helper()
		log := since()
		for _, want := range []string{"expires soon", "token=ci-file", "key=tokens[1].expires"} {
			if !strings.Contains(log, want) {
				t.Errorf("%s: the log does not say %q:\n%s", what, want, log)
			}
		}
		if strings.Contains(log, "token=ops") {
			t.Errorf("%s: the log warns of ops, which never expires:\n%s", what, log)
		}
	}
	soon("at start")

	admin := &api.Client{BaseURL: gw.AdminURL(), Token: fileOpsSecret}
	ci := &api.Client{BaseURL: gw.AdminURL(), Token: fileCISecret}
	listed := func() api.TokenView {
		t.Helper()
		ts, err := admin.Tokens(ctx)
		if err != nil {
			t.Fatalf("token list: %v", err)
		}
		for _, v := range ts {
			if v.Name == "ci-file" {
				return v
			}
		}
		t.Fatalf("ci-file is not in the token list: %+v", ts)
		return api.TokenView{}
	}
	if v := listed(); v.Source != "config" || !v.ExpiresAt.Equal(expires) || v.Expired {
		t.Errorf("listed %+v; want source config, expiring at %v, not expired", v, expires)
	}
	if who, err := ci.WhoAmI(ctx); err != nil || !who.ExpiresAt.Equal(expires) {
		t.Errorf("whoami of ci-file: %+v, %v; want it to say when it expires", who, err)
	}
	client := openai.NewClient(option.WithBaseURL(gw.URL()+"/v1/"), option.WithAPIKey(fileCISecret), option.WithMaxRetries(0))
	ask := func() error {
		_, err := client.Chat.Completions.New(ctx, openai.ChatCompletionNewParams{Model: "chat",
			Messages: []openai.ChatCompletionMessageParamUnion{openai.UserMessage("hello")}})
		return err
	}
	if err := ask(); err != nil {
		t.Fatalf("the data plane before ci-file expired: %v", err)
	}

	setNow(expires)
	wantExpired := []string{"the admin token ci-file expired at 2026-11-20T10:00:00Z", "ask an admin for a new one", "config file"}
	var apiErr *openai.Error
	if err := ask(); !errors.As(err, &apiErr) || apiErr.StatusCode != 401 {
		t.Errorf("the data plane with ci-file expired: %v, want a 401", err)
	} else {
		for _, want := range wantExpired {
			if !strings.Contains(apiErr.Message, want) {
				t.Errorf("the data plane's 401 says %q; want it to say %q", apiErr.Message, want)
			}
		}
		if strings.Contains(apiErr.RawJSON(), fileCISecret) {
			t.Errorf("the 401 echoes the secret: %s", apiErr.RawJSON())
		}
	}
	if _, err := ci.WhoAmI(ctx); sluice.ErrorCode(err) != sluice.CodeUnauthorized {
		t.Errorf("the admin API with ci-file expired: %v, want a 401", err)
	} else {
		for _, want := range wantExpired {
			if !strings.Contains(sluice.ErrorMessage(err), want) {
				t.Errorf("the admin API's 401 says %q; want it to say %q", sluice.ErrorMessage(err), want)
			}
		}
	}
	if v := listed(); !v.Expired {
		t.Errorf("listed %+v after its expiry; want it marked expired", v)
	}

	// The file gives it three more days: a reload lets it in again, and
	// warns again.
	later := expires.Add(72 * time.Hour)
	writeCfg(later.Format("2006-01-02T15:04"))
	mark = len(logs.String())
	if ncfg, _, _, ok := gw.ReloadConfig(ctx, cfgFile, config.Override{}); ncfg == nil || !ok {
		t.Fatalf("reload: applied %v; log:\n%s", ok, logs.String())
	}
	soon("at the reload")
	if err := ask(); err != nil {
		t.Errorf("the data plane after a reload gave ci-file a later expiry: %v", err)
	}
	if who, err := ci.WhoAmI(ctx); err != nil || !who.ExpiresAt.Equal(later) {
		t.Errorf("whoami after the reload: %+v, %v; want it to expire at %v", who, err, later)
	}
	if v := listed(); v.Expired || !v.ExpiresAt.Equal(later) {
		t.Errorf("listed %+v after the reload; want it expiring at %v", v, later)
	}
	// A date far off: no warning.
	writeCfg("2027-06-01")
	mark = len(logs.String())
	if _, _, _, ok := gw.ReloadConfig(ctx, cfgFile, config.Override{}); !ok {
		t.Fatalf("reload: %s", logs.String())
	}
	if strings.Contains(since(), "expires soon") {
		t.Errorf("a token expiring in months is warned of:\n%s", since())
	}
	for _, s := range []string{fileCISecret, fileOpsSecret} {
		if strings.Contains(logs.String(), s) {
			t.Errorf("the log holds a secret")
		}
	}
}
