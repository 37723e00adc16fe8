package server

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	neturl "net/url"
	"time"

	"github.com/sluicehq/sluice"
	"github.com/sluicehq/sluice/config"
	"github.com/sluicehq/sluice/rollout"
)

// rolloutAPI adapts the rollout controller to the admin API, binding the
// fire drill's synthetic requests to this gateway's own data plane.
type rolloutAPI struct{ s *Server }

func (a rolloutAPI) Start(ctx context.Context, actor, reason string, spec sluice.RolloutSpec) (sluice.Rollout, error) {
	return a.s.Rollouts.Start(ctx, actor, reason, spec)
}

func (a rolloutAPI) Check(reg *sluice.Registry, spec sluice.RolloutSpec, reason string) (sluice.RolloutSpec, error) {
	return a.s.Rollouts.Check(reg, spec, reason)
}

func (a rolloutAPI) Act(ctx context.Context, actor, model string, kind rollout.EventKind, message string) (sluice.Rollout, error) {
	return a.s.Rollouts.Act(ctx, actor, model, kind, message)
}

func (a rolloutAPI) Conclude(ctx context.Context, actor, model, pick, reason string) (sluice.Rollout, error) {
	return a.s.Rollouts.Conclude(ctx, actor, model, pick, reason)
}

func (a rolloutAPI) StageSamples(r *sluice.Rollout) int { return a.s.Rollouts.StageSamples(r) }

func (a rolloutAPI) Seeding(r *sluice.Rollout) bool { return a.s.Rollouts.Seeding(r) }

func (a rolloutAPI) Drill(ctx context.Context, actor, reason, model, candidate string, percent float64) (rollout.DrillReport, error) {
	return a.s.Rollouts.Drill(ctx, actor, reason, model, candidate, percent, a.s.sendSynthetic)
}

// sendSynthetic sends one small chat request with a random sticky user
// through this gateway's data plane and returns the version that served it.
func (s *Server) sendSynthetic(ctx context.Context, model string) (string, error) {
	body := fmt.Sprintf(`{"model":%q,"user":"sluice-drill-%d","max_tokens":1,"messages":[{"role":"user","content":"sluice fire drill"}]}`, model, rand.Uint64())
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, s.URL()+"/v1/chat/completions", bytes.NewBufferString(body))
	if err != nil {
		return "", err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("X-Request-Category", "sluice-drill")
	if s.Keys != nil { // client keys are required: pass as the gateway itself
		req.Header.Set("Authorization", "Bearer "+s.drillSecret)
	}
	resp, err := s.synthClient.Do(req)
	if err != nil {
		return "", err
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return resp.Header.Get("X-Model-Version"), fmt.Errorf("status %d from %s", resp.StatusCode, resp.Header.Get("X-Model-Version"))
	}
	return resp.Header.Get("X-Model-Version"), nil
}

// unloadHook returns the unload webhook caller, or nil when none is set.
func unloadHook(url string) func(ctx context.Context, v *sluice.Version) error {
	if url == "" {
		return nil
	}
	client := &http.Client{Timeout: 10 * time.Second}
	return func(ctx context.Context, v *sluice.Version) error {
		body, _ := json.Marshal(map[string]any{"event": "unload", "version": v.ID(), "model": v.Model, "endpoints": v.Endpoints, "upstream_model": v.Upstream()})
		req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(body))
		if err != nil {
			return err
		}
		req.Header.Set("Content-Type", "application/json")
		resp, err := client.Do(req)
		if err != nil {
			var ue *neturl.Error
			if errors.As(err, &ue) {
				err = ue.Err // its message quotes the whole URL, which may hold a secret
			}
			return fmt.Errorf("POST %s: %w", rollout.SafeURL(url), err)
		}
		resp.Body.Close()
		if resp.StatusCode/100 != 2 {
			return fmt.Errorf("unload webhook %s answered %d", rollout.SafeURL(url), resp.StatusCode)
		}
		return nil
	}
}

// alertHook is the alert webhook w of the config.
func alertHook(w config.Webhook) rollout.Webhook {
	return rollout.Webhook{URL: w.URL, Format: w.Format, RoutingKey: w.RoutingKey, APIKey: w.APIKey, Severity: w.Severity, Events: w.Events}
}
