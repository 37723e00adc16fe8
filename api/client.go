package api

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/sluicehq/sluice"
	"github.com/sluicehq/sluice/rollout"
)

// Client calls the admin API; the CLI is built on it. Every method returns
// a *sluice.Error when the server refuses, with the server's code, message
// and fields, so the caller can print the message as it is.
type Client struct {
	// BaseURL is the server's address, such as http://127.0.0.1:8080; the
	// /admin/v1/ paths are added to it.
	BaseURL string
	// Token is the bearer secret sent with every request.
	Token string
	// HTTP sends the requests; nil means a client with a 30 second timeout.
	HTTP *http.Client
	// Unreachable is added to the error of a server that cannot be reached:
	// where BaseURL came from and how to give another (the CLI names
	// --server and SLUICE_SERVER). Empty adds nothing.
	Unreachable string
}

// NewClient returns a Client for the server at baseURL using token.
func NewClient(baseURL, token string) *Client {
	return &Client{BaseURL: baseURL, Token: token}
}

var defaultHTTP = &http.Client{Timeout: 30 * time.Second}

// longHTTP sends the requests whose answer comes when long work ends (a
// fire drill sends traffic for up to a minute or two); the caller's
// context still bounds them.
var longHTTP = &http.Client{Timeout: 5 * time.Minute}

// do sends one request and decodes a 2xx answer into out (unless nil).
func (c *Client) do(ctx context.Context, method, path string, query url.Values, in, out any) (int, error) {
	var body io.Reader
	if in != nil {
		b, err := json.Marshal(in)
		if err != nil {
			return 0, fmt.Errorf("encode the request: %w", err)
		}
		body = bytes.NewReader(b)
	}
	u := strings.TrimRight(c.BaseURL, "/") + path
	if len(query) > 0 {
		u += "?" + query.Encode()
	}
	req, err := http.NewRequestWithContext(ctx, method, u, body)
	if err != nil {
		return 0, sluice.Errorf(sluice.CodeBadRequest, "invalid server address %q: %v: use a URL such as http://127.0.0.1:8080", c.BaseURL, err)
	}
	if in != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	req.Header.Set("Accept", "application/json")
	if c.Token != "" {
		req.Header.Set("Authorization", "Bearer "+c.Token)
	}
	hc := c.HTTP
	if hc == nil {
		hc = defaultHTTP
	}
	resp, err := hc.Do(req)
	if err != nil {
		if ctx.Err() != nil {
			return 0, ctx.Err()
		}
		msg := fmt.Sprintf("cannot reach the sluice server at %s: %v: check the server address and that the server runs", c.BaseURL, unwrapURLError(err))
		if c.Unreachable != "" {
			msg += "; " + c.Unreachable
		}
		return 0, &sluice.Error{Code: sluice.CodeUnavailable, Message: msg}
	}
	defer resp.Body.Close()
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return resp.StatusCode, decodeErrorResponse(resp)
	}
	if out == nil {
		_, _ = io.Copy(io.Discard, resp.Body)
		return resp.StatusCode, nil
	}
	if err := json.NewDecoder(resp.Body).Decode(out); err != nil {
		return resp.StatusCode, sluice.Errorf(sluice.CodeUpstream, "the server's answer to %s %s is not the expected JSON: %v: check that the address points at a sluice server of the same version", method, path, err)
	}
	return resp.StatusCode, nil
}

// unwrapURLError drops the *url.Error wrapper, whose message repeats the
// method and URL.
func unwrapURLError(err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		return ue.Err
	}
	return err
}

// decodeErrorResponse turns an error response into a *sluice.Error.
func decodeErrorResponse(resp *http.Response) error {
	b, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	var eb ErrorBody
	text := ""
	if err := json.Unmarshal(b, &eb); err == nil && eb.Error.Message != "" {
		code := eb.Error.Code
		if code == "" {
			code = eb.Error.Type
		}
		if known(code) {
			return &sluice.Error{Code: code, Message: eb.Error.Message, Fields: eb.Error.Fields}
		}
		// An OpenAI-shaped error whose code is none of Sluice's: another
		// server's (a model server's port given as --server), whose
		// message alone read as if Sluice had said it.
		text = eb.Error.Message
	}
	if text == "" {
		text = strings.TrimSpace(string(b))
	}
	if len(text) > 200 {
		text = text[:200] + "..."
	}
	return sluice.Errorf(sluice.CodeForStatus(resp.StatusCode), "the server answered %s: %s: check that the address points at a sluice server", resp.Status, text)
}

func esc(s string) string { return url.PathEscape(s) }

// WhoAmI returns the token the client authenticates with.
func (c *Client) WhoAmI(ctx context.Context) (WhoAmI, error) {
	var out WhoAmI
	_, err := c.do(ctx, "GET", "/admin/v1/whoami", nil, nil, &out)
	return out, err
}

// Models returns every model with its versions.
func (c *Client) Models(ctx context.Context) (ModelList, error) {
	var out ModelList
	_, err := c.do(ctx, "GET", "/admin/v1/models", nil, nil, &out)
	return out, err
}

// Model returns one model with its versions.
func (c *Client) Model(ctx context.Context, name string) (ModelView, error) {
	var out ModelView
	_, err := c.do(ctx, "GET", "/admin/v1/models/"+esc(name), nil, nil, &out)
	return out, err
}

// Versions returns the versions of model, or of every model when model is
// empty.
func (c *Client) Versions(ctx context.Context, model string) (VersionList, error) {
	var q url.Values
	if model != "" {
		q = url.Values{"model": {model}}
	}
	var out VersionList
	_, err := c.do(ctx, "GET", "/admin/v1/versions", q, nil, &out)
	return out, err
}

// Version returns one version by its full id, "model:version".
func (c *Client) Version(ctx context.Context, id string) (VersionView, error) {
	var out VersionView
	_, err := c.do(ctx, "GET", "/admin/v1/versions/"+esc(id), nil, nil, &out)
	return out, err
}

// Apply applies a declarative document; with dryRun it only computes and
// validates the change.
func (c *Client) Apply(ctx context.Context, doc sluice.ApplyDoc, reason string, dryRun bool) (ApplyResult, error) {
	return c.ApplyIf(ctx, doc, reason, dryRun, -1)
}

// ApplyIf is Apply that succeeds only while the registry is at revision
// ifRevision (negative: any; 0 is an empty registry's), answering a
// conflict otherwise.
func (c *Client) ApplyIf(ctx context.Context, doc sluice.ApplyDoc, reason string, dryRun bool, ifRevision int64) (ApplyResult, error) {
	var out ApplyResult
	req := ApplyRequest{Doc: doc, Reason: reason, DryRun: dryRun}
	if ifRevision >= 0 {
		req.IfRevision = &ifRevision
	}
	_, err := c.do(ctx, "POST", "/admin/v1/apply", nil, req, &out)
	return out, err
}

// RegisterVersion registers v (with its Model set). Result.Created is false
// when an identical version was already registered.
func (c *Client) RegisterVersion(ctx context.Context, v sluice.Version, reason string) (Result, error) {
	var out Result
	_, err := c.do(ctx, "POST", "/admin/v1/versions", nil, RegisterRequest{Version: v, Reason: reason}, &out)
	return out, err
}

// SetStage moves version id ("model:version") to stage; sunset is the
// announced retirement time of a deprecated version (zero: none).
func (c *Client) SetStage(ctx context.Context, id string, stage sluice.Stage, sunset time.Time, reason string) (Result, error) {
	var out Result
	_, err := c.do(ctx, "PUT", "/admin/v1/versions/"+esc(id)+"/stage", nil, StageRequest{Stage: stage, SunsetAt: sunset, Reason: reason}, &out)
	return out, err
}

// SetPolicy replaces model's routing policy.
func (c *Client) SetPolicy(ctx context.Context, model string, p sluice.Policy, reason string) (Result, error) {
	var out Result
	_, err := c.do(ctx, "PUT", "/admin/v1/models/"+esc(model)+"/policy", nil, PolicyRequest{Policy: p, Reason: reason}, &out)
	return out, err
}

// SetSplit sets model's policy to a weighted split; an empty salt keeps the
// current one.
func (c *Client) SetSplit(ctx context.Context, model string, weights []sluice.Weight, salt, reason string) (Result, error) {
	var out Result
	_, err := c.do(ctx, "PUT", "/admin/v1/models/"+esc(model)+"/split", nil, SplitRequest{Weights: weights, Salt: salt, Reason: reason}, &out)
	return out, err
}

// SetLabel points model's label at version tag.
func (c *Client) SetLabel(ctx context.Context, model, label, version, reason string) (Result, error) {
	var out Result
	_, err := c.do(ctx, "PUT", "/admin/v1/models/"+esc(model)+"/labels/"+esc(label), nil, LabelRequest{Version: version, Reason: reason}, &out)
	return out, err
}

// SetLabels changes several of model's labels in one transaction: each
// maps to the version tag it points at, or to "" to remove it.
func (c *Client) SetLabels(ctx context.Context, model string, labels map[string]string, reason string) (Result, error) {
	var out Result
	_, err := c.do(ctx, "PATCH", "/admin/v1/models/"+esc(model)+"/labels", nil, LabelsRequest{Labels: labels, Reason: reason}, &out)
	return out, err
}

// DeleteLabel removes model's label.
func (c *Client) DeleteLabel(ctx context.Context, model, label, reason string) (Result, error) {
	var out Result
	_, err := c.do(ctx, "DELETE", "/admin/v1/models/"+esc(model)+"/labels/"+esc(label), nil, ReasonRequest{Reason: reason}, &out)
	return out, err
}

// SetRules replaces model's header rules; an empty list removes them.
func (c *Client) SetRules(ctx context.Context, model string, rules []sluice.Rule, reason string) (Result, error) {
	if rules == nil {
		rules = []sluice.Rule{}
	}
	var out Result
	_, err := c.do(ctx, "PUT", "/admin/v1/models/"+esc(model)+"/rules", nil, RulesRequest{Rules: rules, Reason: reason}, &out)
	return out, err
}

// Routes returns the server's current routing table, as the JSON it sent.
func (c *Client) Routes(ctx context.Context) (json.RawMessage, error) {
	var out json.RawMessage
	_, err := c.do(ctx, "GET", "/admin/v1/routes", nil, nil, &out)
	return out, err
}

// ModelRoutes returns model's entry of the server's current routing table
// (one object, as the JSON it sent); an unknown model is a CodeNotFound
// error.
func (c *Client) ModelRoutes(ctx context.Context, model string) (json.RawMessage, error) {
	var out json.RawMessage
	_, err := c.do(ctx, "GET", "/admin/v1/routes/"+esc(model), nil, nil, &out)
	return out, err
}

// Summary returns model's live per-version metrics since a time, which may
// be RFC 3339 or a duration ago ("1h"); empty means the last hour.
func (c *Client) Summary(ctx context.Context, model, since string) (json.RawMessage, error) {
	var q url.Values
	if since != "" {
		q = url.Values{"since": {since}}
	}
	var out json.RawMessage
	_, err := c.do(ctx, "GET", "/admin/v1/summary/"+esc(model), q, nil, &out)
	return out, err
}

// Audit returns the audit entries matching q, at most q.Limit of them
// (DefaultLimit when 0); ListAudit also says whether more matched.
func (c *Client) Audit(ctx context.Context, q sluice.AuditQuery) ([]sluice.AuditEntry, error) {
	out, err := c.ListAudit(ctx, q)
	return out.Entries, err
}

// ListAudit returns the audit entries matching q and whether the limit cut
// the list.
func (c *Client) ListAudit(ctx context.Context, q sluice.AuditQuery) (AuditList, error) {
	v := url.Values{}
	setQuery(v, "model", q.Model)
	setQuery(v, "action", q.Action)
	for _, x := range q.ExcludeActions {
		v.Add("exclude_action", x)
	}
	setQuery(v, "q", q.Text)
	setTime(v, "since", q.Since)
	setTime(v, "until", q.Until)
	if q.Limit > 0 {
		v.Set("limit", strconv.Itoa(q.Limit))
	}
	if q.Ascending {
		v.Set("order", "asc")
	}
	var out AuditList
	_, err := c.do(ctx, "GET", "/admin/v1/audit", v, nil, &out)
	return out, err
}

// AuditAt answers which version served model at time at: the routing then
// in force and the requests logged around it.
func (c *Client) AuditAt(ctx context.Context, model string, at time.Time) (RoutingAt, error) {
	var out RoutingAt
	q := url.Values{"model": {model}, "at": {at.UTC().Format(time.RFC3339Nano)}}
	_, err := c.do(ctx, "GET", "/admin/v1/audit/at", q, nil, &out)
	return out, err
}

// Requests returns the request log rows matching q, newest first, at most
// q.Limit of them (DefaultLimit when 0); ListRequests also says whether more
// matched.
func (c *Client) Requests(ctx context.Context, q sluice.RequestQuery) ([]sluice.Observation, error) {
	out, err := c.ListRequests(ctx, q)
	return out.Requests, err
}

// ListRequests returns the request log rows matching q, newest first, and
// whether the limit cut the list.
func (c *Client) ListRequests(ctx context.Context, q sluice.RequestQuery) (RequestList, error) {
	v := requestValues(q)
	setQuery(v, "request_id", q.RequestID)
	if q.Limit > 0 {
		v.Set("limit", strconv.Itoa(q.Limit))
	}
	var out RequestList
	_, err := c.do(ctx, "GET", "/admin/v1/requests", v, nil, &out)
	return out, err
}

// Usage sums the request log rows matching q (its Limit and RequestID
// aside) per client key, and per model or version with by
// (UsageByModel, UsageByVersion; "" is UsageByKey).
func (c *Client) Usage(ctx context.Context, q sluice.RequestQuery, by string) (UsageReport, error) {
	v := requestValues(q)
	setQuery(v, "by", by)
	var out UsageReport
	_, err := c.do(ctx, "GET", "/admin/v1/usage", v, nil, &out)
	return out, err
}

// Tokens lists the admin tokens (never their secrets).
func (c *Client) Tokens(ctx context.Context) ([]TokenView, error) {
	var out TokenList
	_, err := c.do(ctx, "GET", "/admin/v1/tokens", nil, nil, &out)
	return out.Tokens, err
}

// CreateToken creates a token and returns its secret, which is shown only
// this once.
func (c *Client) CreateToken(ctx context.Context, name string, role sluice.Role, reason string) (CreatedToken, error) {
	return c.CreateTokenWith(ctx, TokenRequest{Name: name, Role: role, Reason: reason})
}

// CreateTokenWith creates the token req describes (with an expiry, say)
// and returns its secret, which is shown only this once.
func (c *Client) CreateTokenWith(ctx context.Context, req TokenRequest) (CreatedToken, error) {
	var out CreatedToken
	_, err := c.do(ctx, "POST", "/admin/v1/tokens", nil, req, &out)
	return out, err
}

// DeleteToken deletes a token created through the API.
func (c *Client) DeleteToken(ctx context.Context, name, reason string) error {
	_, err := c.do(ctx, "DELETE", "/admin/v1/tokens/"+esc(name), nil, ReasonRequest{Reason: reason}, nil)
	return err
}

// requestValues is the query of the request log's filters in q that
// requestFilter reads (not its RequestID or Limit).
func requestValues(q sluice.RequestQuery) url.Values {
	v := url.Values{}
	setQuery(v, "model", q.Model)
	setQuery(v, "version", q.Version)
	setQuery(v, "key", q.ClientKey)
	if q.NoClientKey {
		v.Set("no_key", "true")
	}
	setQuery(v, "replica", q.Replica)
	if q.NoReplica {
		v.Set("no_replica", "true")
	}
	if q.Failed {
		v.Set("failed", "true")
	}
	if q.RetryBudgetSpent != nil {
		v.Set("retry_budget_spent", strconv.FormatBool(*q.RetryBudgetSpent))
	}
	setQuery(v, "category", q.Category)
	setQuery(v, "route", q.Route)
	setTime(v, "since", q.Since)
	setTime(v, "until", q.Until)
	return v
}

func setQuery(v url.Values, key, val string) {
	if val != "" {
		v.Set(key, val)
	}
}

func setTime(v url.Values, key string, t time.Time) {
	if !t.IsZero() {
		v.Set(key, t.UTC().Format(time.RFC3339Nano))
	}
}

// Rollouts lists each model's latest rollout (of model only, if set).
func (c *Client) Rollouts(ctx context.Context, model string) ([]sluice.Rollout, error) {
	var out RolloutList
	q := url.Values{}
	if model != "" {
		q.Set("model", model)
	}
	_, err := c.do(ctx, "GET", "/admin/v1/rollouts", q, nil, &out)
	return out.Rollouts, err
}

// Rollout returns model's latest rollout with its latest verdict.
func (c *Client) Rollout(ctx context.Context, model string) (RolloutStatus, error) {
	var out RolloutStatus
	_, err := c.do(ctx, "GET", "/admin/v1/rollouts/"+esc(model), nil, nil, &out)
	return out, err
}

// RolloutHistory returns a page of model's rollouts, newest first, ended
// ones included (every model's, newest started first, when model is
// empty): at most limit (DefaultHistoryLimit when 0), those before the
// rollout of id before when it is set (the previous page's NextBefore).
func (c *Client) RolloutHistory(ctx context.Context, model, before string, limit int) (RolloutList, error) {
	q := url.Values{"history": {"true"}}
	setQuery(q, "model", model)
	setQuery(q, "before", before)
	if limit > 0 {
		q.Set("limit", strconv.Itoa(limit))
	}
	var out RolloutList
	_, err := c.do(ctx, "GET", "/admin/v1/rollouts", q, nil, &out)
	return out, err
}

// RolloutByID returns model's rollout id, the latest or an ended one
// before it, as Rollout returns the latest.
func (c *Client) RolloutByID(ctx context.Context, model, id string) (RolloutStatus, error) {
	var out RolloutStatus
	_, err := c.do(ctx, "GET", "/admin/v1/rollouts/"+esc(model), url.Values{"id": {id}}, nil, &out)
	return out, err
}

// StartRollout starts a rollout.
func (c *Client) StartRollout(ctx context.Context, spec sluice.RolloutSpec, reason string) (sluice.Rollout, error) {
	out, err := c.StartRolloutWarned(ctx, spec, reason)
	return out.Rollout, err
}

// StartRolloutWarned is StartRollout with the warnings of the answer.
func (c *Client) StartRolloutWarned(ctx context.Context, spec sluice.RolloutSpec, reason string) (StartedRollout, error) {
	var out StartedRollout
	_, err := c.do(ctx, "POST", "/admin/v1/rollouts", nil, StartRolloutRequest{Spec: spec, Reason: reason}, &out)
	return out, err
}

// RolloutAction sends promote, pause, resume, abort or undo to model's
// rollout.
func (c *Client) RolloutAction(ctx context.Context, model, action, reason string) (sluice.Rollout, error) {
	var out sluice.Rollout
	_, err := c.do(ctx, "POST", "/admin/v1/rollouts/"+esc(model)+"/"+esc(action), nil, ReasonRequest{Reason: reason}, &out)
	return out, err
}

// ShadowPairs returns a page of the shadow pairs of model that the replica
// answering keeps, matching q (q.Model is ignored), newest first: at most
// q.Limit (DefaultPairLimit when 0); ask for the next page with q.Before
// set to the answer's NextBefore.
func (c *Client) ShadowPairs(ctx context.Context, model string, q sluice.ShadowPairQuery) (ShadowPairList, error) {
	v := url.Values{}
	setQuery(v, "category", q.Category)
	setQuery(v, "refusal", q.Refusal)
	setQuery(v, "error", q.Error)
	setQuery(v, "tool_call", q.ToolCall)
	if q.Differ {
		v.Set("differ", "true")
	}
	if q.Before > 0 {
		v.Set("before", strconv.FormatInt(q.Before, 10))
	}
	if q.Limit > 0 {
		v.Set("limit", strconv.Itoa(q.Limit))
	}
	var out ShadowPairList
	_, err := c.do(ctx, "GET", "/admin/v1/shadow/"+esc(model)+"/pairs", v, nil, &out)
	return out, err
}

// Replicas returns the gateway's live replicas (GET /admin/v1/replicas).
func (c *Client) Replicas(ctx context.Context) (ReplicaList, error) {
	var out ReplicaList
	_, err := c.do(ctx, "GET", "/admin/v1/replicas", nil, nil, &out)
	return out, err
}

// ConcludeRollout ends model's A/B test on the arm pick names
// ("candidate" or "baseline"), with reason.
func (c *Client) ConcludeRollout(ctx context.Context, model, pick, reason string) (sluice.Rollout, error) {
	var out sluice.Rollout
	_, err := c.do(ctx, "POST", "/admin/v1/rollouts/"+esc(model)+"/conclude", nil, ConcludeRequest{Pick: pick, Reason: reason}, &out)
	return out, err
}

// Plan returns the update planner's recommendation for moving model to
// version to (from its stable version when from is empty), with the
// rollout's analysis.guards (none when empty).
func (c *Client) Plan(ctx context.Context, model, to, from string, guards []string) (rollout.Plan, error) {
	return c.PlanFor(ctx, model, to, from, "", guards)
}

// PlanFor is Plan for a rollout whose start would name strategy ("" for
// the planner's), which decides whether its guards would be judged.
func (c *Client) PlanFor(ctx context.Context, model, to, from string, strategy sluice.Strategy, guards []string) (rollout.Plan, error) {
	return c.PlanStart(ctx, model, to, from, sluice.RolloutSpec{Strategy: strategy}, guards)
}

// PlanStart is PlanFor for a start that also sets the candidate's share
// or an A/B test's sample (start's Strategy, CanaryPercent and ABSamples;
// the rest is not sent).
func (c *Client) PlanStart(ctx context.Context, model, to, from string, start sluice.RolloutSpec, guards []string) (rollout.Plan, error) {
	var out rollout.Plan
	q := url.Values{"to": {to}}
	if start.Strategy != "" {
		q.Set("strategy", string(start.Strategy))
	}
	if start.CanaryPercent != 0 {
		q.Set("canary_percent", strconv.FormatFloat(start.CanaryPercent, 'g', -1, 64))
	}
	if start.ABSamples != 0 {
		q.Set("ab_samples", strconv.Itoa(start.ABSamples))
	}
	if from != "" {
		q.Set("from", from)
	}
	if len(guards) > 0 {
		q.Set("guards", strings.Join(guards, ","))
	}
	_, err := c.do(ctx, "GET", "/admin/v1/plan/"+esc(model), q, nil, &out)
	return out, err
}

// Drill runs a fire drill of model's rollback with candidate at percent.
func (c *Client) Drill(ctx context.Context, model, candidate string, percent float64, reason string) (rollout.DrillReport, error) {
	var out rollout.DrillReport
	long := *c
	if long.HTTP == nil {
		long.HTTP = longHTTP
	}
	_, err := long.do(ctx, "POST", "/admin/v1/drills", nil, DrillRequest{Model: model, To: candidate, Percent: percent, Reason: reason}, &out)
	return out, err
}

// TestAlerts sends a test alert of severity ("" for info) to every alert
// webhook of the gateway's config and returns what each did.
func (c *Client) TestAlerts(ctx context.Context, severity, reason string) (AlertTestResult, error) {
	var out AlertTestResult
	_, err := c.do(ctx, "POST", "/admin/v1/alerts/test", nil, AlertTestRequest{Severity: severity, Reason: reason}, &out)
	return out, err
}

// known reports whether code is one of Sluice's error codes, which every
// error of its admin API carries.
func known(code sluice.Code) bool {
	return code == sluice.CodeInternal || code.HTTPStatus() != http.StatusInternalServerError
}

// Keys lists the data plane client keys: the config file's and those
// issued through the API (never a secret or hash).
func (c *Client) Keys(ctx context.Context) (KeyList, error) {
	return c.KeysAll(ctx, false)
}

// KeysAll is Keys, with the revoked keys the store still keeps when all
// is set.
func (c *Client) KeysAll(ctx context.Context, all bool) (KeyList, error) {
	var out KeyList
	path := "/admin/v1/keys"
	if all {
		path += "?all=true"
	}
	_, err := c.do(ctx, "GET", path, nil, nil, &out)
	return out, err
}

// RotateKey gives a client key issued through the API a new secret,
// returned only this once; its old secret keeps working for req.Grace.
func (c *Client) RotateKey(ctx context.Context, name string, req KeyRotateRequest) (CreatedKey, error) {
	var out CreatedKey
	_, err := c.do(ctx, "POST", "/admin/v1/keys/"+esc(name)+"/rotate", nil, req, &out)
	return out, err
}

// UpdateKey changes the settings req gives of a client key issued through
// the API, keeping its secret; fields req leaves out keep their value.
func (c *Client) UpdateKey(ctx context.Context, name string, req KeyUpdateRequest) (UpdatedKey, error) {
	var out UpdatedKey
	_, err := c.do(ctx, "PATCH", "/admin/v1/keys/"+esc(name), nil, req, &out)
	return out, err
}

// CreateKey issues the client key req describes and returns its secret,
// which is shown only this once.
func (c *Client) CreateKey(ctx context.Context, req KeyRequest) (CreatedKey, error) {
	var out CreatedKey
	_, err := c.do(ctx, "POST", "/admin/v1/keys", nil, req, &out)
	return out, err
}

// DeleteKey revokes a client key issued through the API.
func (c *Client) DeleteKey(ctx context.Context, name, reason string) error {
	_, err := c.do(ctx, "DELETE", "/admin/v1/keys/"+esc(name), nil, ReasonRequest{Reason: reason}, nil)
	return err
}
