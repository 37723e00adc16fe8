package server

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	neturl "net/url"
	"slices"
	"strings"
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
func (a rolloutAPI) StageSample(r *sluice.Rollout) (samples, requests int) {
	return a.s.Rollouts.StageSample(r)
}

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
// registry gives the registry in force when the hook is called, whose
// other live versions say which of the candidate's servers stay in use.
func unloadHook(url string, registry func() *sluice.Registry) func(ctx context.Context, v *sluice.Version) error {
	if url == "" {
		return nil
	}
	client := &http.Client{Timeout: 10 * time.Second}
	return func(ctx context.Context, v *sluice.Version) error {
		body, _ := json.Marshal(unloadBody(v, registry()))
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

// unloadBody is what the unload webhook is sent for the candidate v:
// event, model, version (as chat:v1.2.0), upstream_model and endpoints,
// as ever, and shared_endpoints and shared_with (added: a hook reading
// only the first five works as before). Every URL is the endpoint as
// registered without its credentials: the user:password@ dropped and a
// secret query parameter's value (sluice.SecretQueryParam) replaced by
// REDACTED, as a hook's receiver logs what it is sent and needs none of
// them to find the server.
//
// An endpoint is shared when another live version (of any model; not
// retired, and not a candidate an earlier rollback unloaded) has an
// endpoint on the same server: scheme, host and port, whatever the path
// or credentials, since a vLLM serving several adapters is reached at one
// address under different paths and keys. shared_with names those
// versions per shared endpoint. A hook must not stop a shared endpoint's
// server (the stable version may serve from it): unload upstream_model
// there instead. Erring towards "shared" (two paths behind one proxy) at
// worst leaves a server running.
func unloadBody(v *sluice.Version, reg *sluice.Registry) map[string]any {
	var unloaded map[string]string
	if reg != nil {
		unloaded = rollout.Unloaded(reg)
	}
	endpoints := make([]string, len(v.Endpoints))
	shared := []string{}
	with := map[string][]string{}
	for i, e := range v.Endpoints {
		endpoints[i] = withoutCredentials(e)
		if reg == nil {
			continue
		}
		server := serverOf(e)
		if server == "" {
			continue
		}
		var users []string
		for id, o := range reg.Versions {
			if id == v.ID() || o.Stage == sluice.StageRetired || unloaded[id] != "" {
				continue
			}
			if slices.ContainsFunc(o.Endpoints, func(oe string) bool { return serverOf(oe) == server }) {
				users = append(users, id)
			}
		}
		if len(users) > 0 {
			slices.Sort(users)
			shared = append(shared, endpoints[i])
			with[endpoints[i]] = users
		}
	}
	return map[string]any{"event": "unload", "version": v.ID(), "model": v.Model, "upstream_model": v.Upstream(),
		"endpoints": endpoints, "shared_endpoints": shared, "shared_with": with}
}

// withoutCredentials is the endpoint e without its user:password@ and
// with the value of each secret query parameter REDACTED.
func withoutCredentials(e string) string {
	u, err := neturl.Parse(e)
	if err != nil {
		return "(an endpoint URL that does not parse)"
	}
	u.User = nil
	u.RawQuery = sluice.RedactQuery(u.RawQuery)
	return u.String()
}

// serverOf is the server an endpoint URL reaches: its scheme, host (lower
// case) and port (the scheme's default when it gives none); "" for a URL
// that does not parse.
func serverOf(e string) string {
	u, err := neturl.Parse(e)
	if err != nil || u.Host == "" {
		return ""
	}
	scheme := strings.ToLower(u.Scheme)
	port := u.Port()
	if port == "" {
		port = map[string]string{"http": "80", "https": "443"}[scheme]
	}
	return scheme + "://" + net.JoinHostPort(strings.ToLower(u.Hostname()), port)
}

// alertHook is the alert webhook w of the config.
func alertHook(w config.Webhook) rollout.Webhook {
	return rollout.Webhook{URL: w.URL, Format: w.Format, RoutingKey: w.RoutingKey, APIKey: w.APIKey, Severity: w.Severity, Events: w.Events}
}
