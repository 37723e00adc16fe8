package api

import (
	"encoding/json"
	"time"

	"github.com/sluicehq/sluice"
	"github.com/sluicehq/sluice/control"
)

// WhoAmI is the token a request was made with.
type WhoAmI struct {
	// Name is the token's name, which the audit log records as the actor.
	Name string `json:"name"`
	// Role is what the token may do.
	Role sluice.Role `json:"role"`
	// ExpiresAt is when the token stops working; left out when it never
	// does, so a client can warn its holder ahead of time.
	ExpiresAt time.Time `json:"expires_at,omitzero"`
}

// VersionView is a version as the API shows it: every field, with its full
// id.
type VersionView struct {
	// ID is the full version id, "model:version".
	ID string `json:"id"`
	// Version holds every field of the version, flattened into the JSON
	// object.
	sluice.Version
}

// ModelView is a model as the API shows it, with its versions.
type ModelView struct {
	// Name is the model name.
	Name string `json:"name"`
	// Description is free text.
	Description string `json:"description,omitempty"`
	// Policy routes requests for the bare name.
	Policy sluice.Policy `json:"policy"`
	// PolicyText is the policy rendered for people, such as
	// "split v1.1.0=95 v1.2.0=5".
	PolicyText string `json:"policy_text"`
	// Labels map a label to a version tag.
	Labels map[string]string `json:"labels,omitempty"`
	// Rules are the header rules, tried in order before the policy.
	Rules []sluice.Rule `json:"rules,omitempty"`
	// Serving lists the version tags the bare name is routed to now.
	Serving []string `json:"serving"`
	// UpdatedAt is when the routing last changed.
	UpdatedAt time.Time `json:"updated_at"`
	// Versions are the model's versions, oldest tag first.
	Versions []VersionView `json:"versions"`
	// Rollout is the ID of the model's rollout, running or ended (the one
	// GET /admin/v1/rollouts/{model} shows); "" when the model never had
	// one, where that GET answers 404. Always sent, so that a client can
	// tell "none" from an older gateway's answer, which lacks the field
	// (the dashboard then asks for the rollout as before).
	Rollout string `json:"rollout"`
}

// ModelList is the answer to GET /admin/v1/models.
type ModelList struct {
	// Revision is the registry revision shown.
	Revision int64 `json:"revision"`
	// Models are every model, by name.
	Models []ModelView `json:"models"`
}

// VersionList is the answer to GET /admin/v1/versions.
type VersionList struct {
	// Revision is the registry revision shown.
	Revision int64 `json:"revision"`
	// Versions are ordered by model, then oldest tag first.
	Versions []VersionView `json:"versions"`
}

// Result is what a change did.
type Result struct {
	// Revision is the registry revision after the change (before it, for a
	// dry run).
	Revision int64 `json:"revision"`
	// Changed is false when the change was a no-op.
	Changed bool `json:"changed"`
	// Created is true when a version was registered for the first time.
	Created bool `json:"created,omitempty"`
	// DryRun is true when nothing was committed.
	DryRun bool `json:"dry_run,omitempty"`
	// Audit holds the audit entries written (or, for a dry run, that would
	// be written).
	Audit []sluice.AuditEntry `json:"audit,omitempty"`
	// Rollouts are the rollouts an apply started because a model's target
	// version changed.
	Rollouts []sluice.Rollout `json:"rollouts,omitempty"`
	// Kept names the models whose policy, or stable or preview label, the
	// document set but a live rollout keeps until it ends; their other
	// labels were applied (sluice.ApplyDoc.KeepRolloutRouting).
	Kept []string `json:"kept,omitempty"`
	// KeptStages says which versions keep a stage the document would
	// take them back from, as "chat:v1.2.0 stays production (the file
	// says staging)" (sluice.ApplyDoc.KeepLaterStages).
	KeptStages []string `json:"kept_stages,omitempty"`
	// HeldTargets says, for each model whose declared target starts no
	// rollout because the model's last rollout was to that target and
	// ended without promoting it, why and how to try it again.
	HeldTargets []HeldTarget `json:"held_targets,omitempty"`
	// WouldStart are, for a dry run, the rollouts the apply would start
	// for the models' declared targets, each spec as the started rollout
	// would hold it, filled in against the registry the apply would leave:
	// the baseline, for a rollout: section naming no strategy the
	// planner's strategy and stages, without the analysis.guards a
	// planner's rolling leaves out (rollout.GuardsNotApplied), and the
	// defaults of what the section leaves out.
	WouldStart []sluice.RolloutSpec `json:"would_start,omitempty"`
	// Unreachable lists the endpoints an apply added that did not answer
	// a probe of the health check's path, made once by the gateway after
	// the commit; the apply stands.
	Unreachable []EndpointWarning `json:"unreachable,omitempty"`
}

// ApplyResult is the answer to POST /admin/v1/apply: the Result, flattened
// into the JSON object, and what the document may have got wrong though it
// was applied (or, on a dry run, would be).
type ApplyResult struct {
	Result
	// Warnings are worked out by the gateway from the applied document: a
	// routing rule an earlier one shadows (sluice.ShadowedRules), valid
	// but never matched, and an endpoint the apply added that did not
	// answer its probe (Unreachable's messages). Always present, [] when
	// there are none: a gateway older than this field sends none, and a
	// client then works them out itself (the CLI does), where an empty
	// list means there is nothing to say.
	Warnings []string `json:"warnings"`
}

// HeldTarget is a model's declared target that an apply did not start a
// rollout to, because the model's last rollout was to that target and ended
// without promoting it.
type HeldTarget struct {
	// Model and Target are the model and the version its file declares.
	Model  string `json:"model"`
	Target string `json:"target"`
	// Rollout and Phase are the last rollout's id and how it ended.
	Rollout string       `json:"rollout"`
	Phase   sluice.Phase `json:"phase"`
	// Message says why nothing started and how to try the target again.
	Message string `json:"message"`
}

func resultOf(r control.Result) Result {
	return Result{Revision: r.Revision, Changed: r.Changed, Audit: r.Audit}
}

// ApplyRequest is the body of POST /admin/v1/apply.
type ApplyRequest struct {
	// Doc is the declarative document to apply.
	Doc sluice.ApplyDoc `json:"doc"`
	// Reason goes into the audit log; required.
	Reason string `json:"reason"`
	// DryRun computes and validates the change without committing it.
	DryRun bool `json:"dry_run,omitempty"`
	// IfRevision, when set, applies the document only if the registry is
	// still at that revision (the one a dry run or a read showed): a
	// change someone else made in between is a 409 instead of being
	// silently overwritten (labels, for one, are replaced whole).
	// Absent means any revision; 0 is the revision of an empty registry.
	IfRevision *int64 `json:"if_revision,omitempty"`
}

// RegisterRequest is the body of POST /admin/v1/versions.
type RegisterRequest struct {
	// Version is the version to register, with its model.
	Version sluice.Version `json:"version"`
	// Reason goes into the audit log; required.
	Reason string `json:"reason"`
}

// StageRequest is the body of PUT /admin/v1/versions/{id}/stage.
type StageRequest struct {
	// Stage is the new lifecycle stage.
	Stage sluice.Stage `json:"stage"`
	// SunsetAt is the announced retirement time of a deprecated version;
	// zero means none.
	SunsetAt time.Time `json:"sunset_at,omitzero"`
	// Reason goes into the audit log; required.
	Reason string `json:"reason"`
}

// PolicyRequest is the body of PUT /admin/v1/models/{model}/policy.
type PolicyRequest struct {
	// Policy replaces the model's policy; a split keeps its salt unless the
	// policy sets one.
	Policy sluice.Policy `json:"policy"`
	// Reason goes into the audit log; required.
	Reason string `json:"reason"`
}

// SplitRequest is the body of PUT /admin/v1/models/{model}/split.
type SplitRequest struct {
	// Weights are the versions' shares in percent; they sum to 100.
	Weights []sluice.Weight `json:"weights"`
	// Salt, when set, replaces the sticky-hash salt (rotating which users
	// land on which version); empty keeps the current one.
	Salt string `json:"salt,omitempty"`
	// Reason goes into the audit log; required.
	Reason string `json:"reason"`
}

// LabelRequest is the body of PUT /admin/v1/models/{model}/labels/{label}.
type LabelRequest struct {
	// Version is the version tag the label points at.
	Version string `json:"version"`
	// Reason goes into the audit log; required.
	Reason string `json:"reason"`
}

// LabelsRequest changes several labels of a model in one transaction.
type LabelsRequest struct {
	// Labels maps each label to change to the version tag it points at,
	// or to "" to remove it; labels not named are left as they are.
	Labels map[string]string `json:"labels"`
	// Reason goes into the audit log; required.
	Reason string `json:"reason"`
}

// RulesRequest is the body of PUT /admin/v1/models/{model}/rules.
type RulesRequest struct {
	// Rules replace the model's header rules; an empty list removes them.
	Rules []sluice.Rule `json:"rules"`
	// Reason goes into the audit log; required.
	Reason string `json:"reason"`
}

// ReasonRequest is the body of the DELETE endpoints and of the rollout
// actions (promote, pause, resume, abort, undo).
type ReasonRequest struct {
	// Reason goes into the audit log; required.
	Reason string `json:"reason"`
}

// TokenRequest is the body of POST /admin/v1/tokens.
type TokenRequest struct {
	// Name identifies the token's holder in the audit log.
	Name string `json:"name"`
	// Role is viewer, operator or admin.
	Role sluice.Role `json:"role"`
	// ExpiresAt is when the token stops working; it must be later than
	// now. Left out, the token never expires.
	ExpiresAt time.Time `json:"expires_at,omitzero"`
	// Reason goes into the audit log; required.
	Reason string `json:"reason"`
}

// TokenView describes an admin token without its secret.
type TokenView struct {
	// Name identifies the token's holder.
	Name string `json:"name"`
	// Role is what the token may do.
	Role sluice.Role `json:"role"`
	// CreatedAt is when it was created; zero for static tokens.
	CreatedAt time.Time `json:"created_at,omitzero"`
	// Source is "config" for static tokens, "store" for the ones created
	// through the API.
	Source string `json:"source"`
	// ExpiresAt is when the token stops working; left out when it never
	// does (static tokens never do).
	ExpiresAt time.Time `json:"expires_at,omitzero"`
	// Expired is true once ExpiresAt has passed, by the server's clock.
	Expired bool `json:"expired,omitempty"`
	// LastUsedAt is when the token last authenticated a request; left out
	// when it never has, and for static tokens, whose use is not kept. It
	// is written at most once a minute per token and replica, so it may be
	// up to a minute behind.
	LastUsedAt time.Time `json:"last_used_at,omitzero"`
}

// TokenList is the answer to GET /admin/v1/tokens.
type TokenList struct {
	// Tokens are the static tokens, then the stored ones, each by name.
	Tokens []TokenView `json:"tokens"`
}

// CreatedToken is the answer to POST /admin/v1/tokens: the only time the
// secret is shown.
type CreatedToken struct {
	// TokenView describes the new token, flattened into the JSON object.
	TokenView
	// Secret is the bearer token to send; it is not stored and cannot be
	// shown again.
	Secret string `json:"secret"`
	// Warning says what went wrong after the token was stored (this
	// gateway could not reload its tokens: the token works once they are
	// read again, within the token cache's 30 s), so the secret is still
	// shown rather than lost.
	Warning string `json:"warning,omitempty"`
}

// AuditList is the answer to GET /admin/v1/audit.
type AuditList struct {
	// Entries are the matching audit entries.
	Entries []sluice.AuditEntry `json:"entries"`
	// Truncated is true when more entries matched than the limit let
	// through: narrow the query (since, until, action) or raise the limit.
	Truncated bool `json:"truncated,omitempty"`
	// Excluded counts the entries that matched the other filters but were
	// left out by exclude_action (the whole range, not only the span the
	// entries listed cover); zero without exclude_action.
	Excluded int `json:"excluded,omitempty"`
}

// RequestList is the answer to GET /admin/v1/requests.
type RequestList struct {
	// Requests are the matching request log rows, newest first.
	Requests []sluice.Observation `json:"requests"`
	// Truncated is true when more rows matched than the limit let through:
	// narrow the query (since, until, version) or raise the limit.
	Truncated bool `json:"truncated,omitempty"`
}

// Usage grouping: what GET /admin/v1/usage sums per (?by=).
const (
	// UsageByKey sums per client key.
	UsageByKey = "key"
	// UsageByModel sums per client key and model.
	UsageByModel = "model"
	// UsageByVersion sums per client key, model and version.
	UsageByVersion = "version"
)

// UsageReport is the answer to GET /admin/v1/usage: what each client key
// used over a window, summed from the request log of the whole fleet.
// Requests refused before routing (a 401, 403, 404, 429, or a body that
// is not JSON) are not in the request log: /metrics counts them
// (sluice_client_key_requests_total, sluice_client_key_refused_total).
type UsageReport struct {
	// Since and Until bound the window (inclusive since, exclusive
	// until); Since is absent for the whole log, and Until is the time of
	// the answer when the query gave none.
	Since *time.Time `json:"since,omitempty"`
	Until time.Time  `json:"until"`
	// By is the grouping: key, model or version.
	By string `json:"by"`
	// Replica and NoReplica are the query's replica filter, said back: a
	// gateway older than it ignores ?replica= and sums every replica's
	// requests, and a client tells that answer by their absence.
	Replica   string `json:"replica,omitempty"`
	NoReplica bool   `json:"no_replica,omitempty"`
	// Rows are the sums, ordered by key (the requests without one, key
	// "", first), model and version; Model is set with by=model or
	// version, Version with by=version.
	Rows []sluice.UsageRow `json:"rows"`
	// Total sums every row.
	Total sluice.UsageRow `json:"total"`
}

// RoutingAt answers "which version served this model at time At", as
// reconstructed from the audit log and the request log.
type RoutingAt struct {
	// Model is the model asked about.
	Model string `json:"model"`
	// At is the time asked about, in UTC.
	At time.Time `json:"at"`
	// Policy, Labels and Rules are the routing in force at At.
	Policy sluice.Policy     `json:"policy"`
	Labels map[string]string `json:"labels,omitempty"`
	Rules  []sluice.Rule     `json:"rules,omitempty"`
	// PolicyText is the policy rendered for people.
	PolicyText string `json:"policy_text"`
	// Serving lists the version tags the bare name was routed to at At: the
	// split's members, the pinned version, or the newest production one.
	Serving []string `json:"serving"`
	// Latest is the newest production version at At (whatever the policy);
	// empty when there was none.
	Latest string `json:"latest,omitempty"`
	// Stages maps each version tag registered by At to its stage then.
	Stages map[string]sluice.Stage `json:"stages"`
	// Since is when this routing took effect, and Entry the audit entry
	// that set it.
	Since time.Time         `json:"since"`
	Entry sluice.AuditEntry `json:"entry"`
	// WindowStart and WindowEnd bound the request log counts (At ± 5m),
	// WindowEnd at most the time of the answer.
	WindowStart time.Time `json:"window_start"`
	WindowEnd   time.Time `json:"window_end"`
	// WindowEndsNow is set when At + 5m was still to come: WindowEnd is
	// then the time of the answer, and the window shorter than asked.
	WindowEndsNow bool `json:"window_ends_now,omitempty"`
	// Requests counts the logged requests per version in the window.
	Requests []sluice.VersionCount `json:"requests"`
}

// ShadowPairList is the answer to GET /admin/v1/shadow/{model}/pairs: a
// page of the shadow pairs the replica that answers keeps in memory.
type ShadowPairList struct {
	// Model is the model asked about.
	Model string `json:"model"`
	// Shadowing is the candidate version tag this replica mirrors the
	// model's requests to now, and Fraction the share mirrored; "" and 0
	// when no shadow run is mirroring.
	Shadowing string  `json:"shadowing,omitempty"`
	Fraction  float64 `json:"fraction,omitempty"`
	// Replica names the replica whose pairs these are, on a shared store
	// that does not keep them (shadow.store_pairs false: each replica keeps
	// the pairs of the requests it mirrored); "" for a gateway on its own
	// and for the fleet's pairs (Fleet).
	Replica string `json:"replica,omitempty"`
	// Fleet is true when the pairs are every replica's, read from the
	// shared store: each pair names the replica that made it, and its seq
	// is the same on every replica.
	Fleet bool `json:"fleet,omitempty"`
	// Kept is how many pairs are kept at most, across models (the newest
	// 500): by this gateway, or by the shared store for the fleet.
	Kept int `json:"kept"`
	// Pairs match the query, newest first.
	Pairs []sluice.ShadowPair `json:"pairs"`
	// Truncated is true when more pairs match than the limit let through;
	// NextBefore is then the before that asks for the next page.
	Truncated  bool  `json:"truncated,omitempty"`
	NextBefore int64 `json:"next_before,omitempty"`
	// TextsWithheld is true when the prompts, answer texts and tool calls'
	// arguments (not the tools' names) were left out because the token is
	// a viewer's (WithholdTexts): like the request log, what a
	// viewer reads says how requests went, never what users wrote or were
	// told.
	TextsWithheld bool `json:"texts_withheld,omitempty"`
}

// KeyRequest is the body of POST /admin/v1/keys: a data plane client key
// to issue, with the settings a config file's client_keys entry has.
type KeyRequest struct {
	// Name identifies the key in the request log, /metrics and sluice
	// usage; it shares one namespace with the config file's keys.
	Name string `json:"name"`
	// Models the key may use, by model name; empty means every model.
	Models []string `json:"models,omitempty"`
	// RateLimit is the requests per second allowed; 0 means no limit.
	RateLimit float64 `json:"rate_limit,omitempty"`
	// Burst is how many requests may come at once above the rate; 0
	// means the rate rounded up, at least 1.
	Burst int `json:"burst,omitempty"`
	// TokensPerMinute is how many tokens the key's answers may use a
	// minute; 0 means no limit.
	TokensPerMinute int64 `json:"tokens_per_minute,omitempty"`
	// TokenBudget is how many tokens (prompt and answer) the key may use
	// in each BudgetPeriod, across every replica; 0 means no budget. The
	// two go together.
	TokenBudget int64 `json:"token_budget,omitempty"`
	// BudgetPeriod is day, week or month: calendar periods in UTC (a
	// week from Monday, a month from the 1st).
	BudgetPeriod string `json:"budget_period,omitempty"`
	// ForceVersion lets the key use the force-version header.
	ForceVersion bool `json:"force_version,omitempty"`
	// ExpiresAt is when the key stops working; it must be later than now.
	// Left out, the key never expires.
	ExpiresAt time.Time `json:"expires_at,omitzero"`
	// Reason goes into the audit log; required.
	Reason string `json:"reason"`
}

// KeyView describes a client key without its secret or hash.
type KeyView struct {
	sluice.StoredKey
	// Source is "config" for the config file's keys, "store" for the ones
	// issued through the API.
	Source string `json:"source"`
	// Expired is true once ExpiresAt has passed, by the server's clock.
	Expired bool `json:"expired,omitempty"`
	// Revoked is true for a key revoked (sluice key delete), listed only
	// when asked for (?all=true), with its revoked_at.
	Revoked bool `json:"revoked,omitempty"`
	// Shadowed is true for a key issued through the API whose name or
	// secret a config file key took since: the file's key wins, so this
	// one's secret is refused (401) until it is revoked (sluice key delete)
	// or the file's key renamed.
	Shadowed bool `json:"shadowed,omitempty"`
	// GraceUntil is, after a rotation with a grace, when the key's old
	// secret stops working; absent once it has.
	GraceUntil time.Time `json:"grace_until,omitzero"`
	// BudgetUsed is, for a key with a token budget, the tokens it used in
	// its current period as the answering replica last summed them from
	// the request log (every BudgetInterval); absent before the period's
	// first sum there.
	BudgetUsed *int64 `json:"budget_used,omitempty"`
	// BudgetResetsAt is, for a key with a token budget, when its current
	// period ends and its use starts again from 0.
	BudgetResetsAt time.Time `json:"budget_resets_at,omitzero"`
	// LimitShare is, for a key with a limit (rate_limit or
	// tokens_per_minute) when several live replicas share its limits
	// (KeyList.LimitReplicas), the answering replica's share of them,
	// between 0 and 1: it admits the key at that fraction of each limit,
	// weighted by where the key's requests arrive (1/LimitReplicas for a
	// key with none). Another replica answers with its own share. Absent
	// for a key without a limit, and on a replica alone.
	LimitShare float64 `json:"limit_share,omitempty"`
}

// KeyUpdateRequest is the body of PATCH /admin/v1/keys/{name}: a JSON
// merge patch (RFC 7386) of a client key issued through the API. A field
// left out keeps its value; null removes it, as 0 (or "", [] or false)
// does: every model, no limit, no budget, never expires. Removing the
// token_budget removes its budget_period too, and removing the
// rate_limit its burst, unless the patch gives them. The key's secret,
// name, creation, last use and what it used of its limits and budget are
// kept.
type KeyUpdateRequest struct {
	// Models the key may use, by model name; [] or null for every model.
	Models Optional[[]string] `json:"models,omitzero"`
	// RateLimit is the requests per second allowed; 0 or null for none.
	RateLimit Optional[float64] `json:"rate_limit,omitzero"`
	// Burst is how many requests may come at once above the rate; 0 or
	// null for the rate rounded up.
	Burst Optional[int] `json:"burst,omitzero"`
	// TokensPerMinute is how many tokens the key's answers may use a
	// minute; 0 or null for no limit.
	TokensPerMinute Optional[int64] `json:"tokens_per_minute,omitzero"`
	// TokenBudget is how many tokens the key may use a BudgetPeriod; 0 or
	// null for no budget.
	TokenBudget Optional[int64] `json:"token_budget,omitzero"`
	// BudgetPeriod is day, week or month.
	BudgetPeriod Optional[string] `json:"budget_period,omitzero"`
	// ForceVersion lets the key use the force-version header.
	ForceVersion Optional[bool] `json:"force_version,omitzero"`
	// ExpiresAt is when the key stops working, later than now; null for
	// never.
	ExpiresAt Optional[time.Time] `json:"expires_at,omitzero"`
	// Reason goes into the audit log; required.
	Reason string `json:"reason"`
}

// UpdatedKey is the answer to PATCH /admin/v1/keys/{name}: the key as it
// is now (never its secret) and what the update changed.
type UpdatedKey struct {
	// KeyView describes the key, flattened into the JSON object.
	KeyView
	// Changed names the fields the update changed, in the request's
	// field order; empty when the key already had every value given
	// (then nothing is written, nor audited).
	Changed []string `json:"changed"`
	// Warning says what went wrong after the change was stored (this
	// gateway could not read its keys again).
	Warning string `json:"warning,omitempty"`
	// Warnings are what the change may have got wrong, though it was
	// made: a model it names that is not registered, as on create.
	Warnings []string `json:"warnings,omitempty"`
}

// KeyRotateRequest is the body of POST /admin/v1/keys/{name}/rotate.
type KeyRotateRequest struct {
	// Grace is how long the key's secret until now keeps working beside
	// the new one, such as "1h" or "2d" (at most 7 days); left out or
	// "0", it stops at once.
	Grace string `json:"grace,omitempty"`
	// Reason goes into the audit log; required.
	Reason string `json:"reason"`
}

// KeyList is the answer to GET /admin/v1/keys.
type KeyList struct {
	// Keys are the config file's keys, then the stored ones, each by name.
	Keys []KeyView `json:"keys"`
	// Required says whether the data plane requires a key (client_keys or
	// require_client_keys): a stored key is accepted only then.
	Required bool `json:"required"`
	// LimitReplicas is how many live replicas share each key's rate_limit,
	// burst and tokens_per_minute, as the answering replica last counted
	// them: each enforces a share weighted by where the key's requests
	// arrive (an even share for a key with none), so the fleet allows a
	// key about the limits listed; each limited key's limit_share is the
	// answering replica's share. Left out for one replica (the whole
	// limits).
	LimitReplicas int `json:"limit_replicas,omitempty"`
	// Replica names the answering replica (as its audit entries and beats
	// do) when LimitReplicas is given: the limit_share it lists is its own.
	Replica string `json:"replica,omitempty"`
}

// StartedRollout answers a rollout's start: the rollout, flattened into
// the JSON object as before, and what its settings may have got wrong
// though it started (a stage without a hold, which moves on as soon as its
// analysis passes), so that a client of the API hears what the CLI says.
type StartedRollout struct {
	sluice.Rollout
	Warnings []string `json:"warnings,omitempty"`
}

// UnmarshalJSON reads the rollout with its own decoder (which the
// embedding would otherwise promote for the whole object, dropping
// warnings) and the warnings beside it.
func (s *StartedRollout) UnmarshalJSON(b []byte) error {
	if err := json.Unmarshal(b, &s.Rollout); err != nil {
		return err
	}
	var w struct {
		Warnings []string `json:"warnings"`
	}
	if err := json.Unmarshal(b, &w); err != nil {
		return err
	}
	s.Warnings = w.Warnings
	return nil
}

// CreatedKey is the answer to POST /admin/v1/keys and to
// POST /admin/v1/keys/{name}/rotate: the only time the secret is shown.
type CreatedKey struct {
	// KeyView describes the new key, flattened into the JSON object.
	KeyView
	// Secret is the API key to send (the OpenAI SDKs' api_key); it is not
	// stored and cannot be shown again.
	Secret string `json:"secret"`
	// Warning says what went wrong after the key was stored (this gateway
	// could not read its keys again), so the secret is still shown.
	Warning string `json:"warning,omitempty"`
	// Warnings are what the key's settings may have got wrong, though
	// the key was made: a model it names that is not registered (a typo,
	// or a model yet to come).
	Warnings []string `json:"warnings,omitempty"`
}
