package sluice

import (
	"context"
	"time"
)

// Store keeps the registry, the audit log, the request log, the admin
// tokens and the client keys issued through the API. Every method that
// writes is one transaction. The sqlite and postgres packages implement
// it; storetest is the conformance suite both pass.
type Store interface {
	// LoadRegistry returns the current registry.
	LoadRegistry(ctx context.Context) (*Registry, error)
	// Commit applies c in one transaction and returns the new revision
	// (c.BaseRevision+1). It fails with CodeConflict, writing nothing, when
	// the stored revision is not c.BaseRevision, or when a new version
	// already exists.
	Commit(ctx context.Context, c Change) (int64, error)
	// RolloutHistory returns the rollouts of q.Model matching q, newest
	// first: in the order they were last written, which for rollouts is
	// the order they started, as only a model's latest rollout changes;
	// with no q.Model, every model's, newest started first. A model with
	// no rollout, or none registered, has an empty history.
	RolloutHistory(ctx context.Context, q RolloutQuery) ([]Rollout, error)
	// Audit returns audit entries matching q.
	Audit(ctx context.Context, q AuditQuery) ([]AuditEntry, error)
	// CountAudit counts the audit entries matching q (its Limit and order
	// aside).
	CountAudit(ctx context.Context, q AuditQuery) (int, error)
	// AppendRequests adds request log rows in one transaction.
	AppendRequests(ctx context.Context, rows []Observation) error
	// Requests returns request log rows matching q, newest first.
	Requests(ctx context.Context, q RequestQuery) ([]Observation, error)
	// CountRequests counts the requests matching q that each version
	// answered: the request log rows, less those of attempts retried on
	// another version (Observation.Retried).
	CountRequests(ctx context.Context, q RequestQuery) ([]VersionCount, error)
	// RequestUsage sums the requests matching q per client key, model and
	// version, ordered by those in byte order: requests, errors, canceled
	// requests and tokens, with rows of attempts retried on another
	// version left out as CountRequests leaves them out. q.Limit is
	// ignored.
	RequestUsage(ctx context.Context, q RequestQuery) ([]UsageRow, error)
	// RequestCategory reports whether any row of model (of any model,
	// with model "") in the whole request log has category (not ""); when
	// none has, others are the categories the model's rows do hold, in
	// byte order, "" left out, up to the first RequestCategoriesListed+1
	// (one more than an answer lists, to say there are more). An empty answer to a query filtered by a
	// category no row has is a typo, not a quiet model: the API says so
	// with them.
	RequestCategory(ctx context.Context, model, category string) (found bool, others []string, err error)
	// PruneRequests deletes request log rows older than before and returns
	// how many it deleted.
	PruneRequests(ctx context.Context, before time.Time) (int64, error)
	// FeedbackStore keeps users' ratings of answers, pruned with the
	// request log (PruneRequests) by the time each arrived.
	FeedbackStore
	// GradeStore keeps the LLM judge's grades of answers, pruned with
	// the request log (PruneRequests) by the time each was taken.
	GradeStore
	// Tokens returns every admin token.
	Tokens(ctx context.Context) ([]Token, error)
	// PutToken creates a token and appends audit, in one transaction; a
	// token of that name already there is a CodeConflict and nothing is
	// written (two admins creating one name at once: one wins).
	PutToken(ctx context.Context, t Token, audit AuditEntry) error
	// DeleteToken removes a token and appends audit; CodeNotFound if absent.
	// With keepAdmin, deleting the last admin token the store holds that
	// has not expired (at audit.At, or now when that is zero: an expired
	// one administers nothing) is a CodeConflict (LastAdminToken) and
	// nothing is written. The check and
	// the delete are one transaction that serialises with other token
	// writes, so two admins deleting the last two admin tokens at once
	// cannot both succeed.
	DeleteToken(ctx context.Context, name string, keepAdmin bool, audit AuditEntry) error
	// TouchToken records that the token named name authenticated a request
	// at at: its LastUsedAt becomes at unless it is later already (another
	// replica's). No audit; a token that is gone is no error. Callers write
	// it at most once a minute per token, never on the request's path.
	TouchToken(ctx context.Context, name string, at time.Time) error
	// ClientKeys returns every client key issued through the admin API:
	// those in force by name (expired ones too), each with its retired
	// secrets (Retired: rotated out, each working until its Until), then
	// the revoked ones still kept (RevokedAt set; KeyTombstoneKeep), by
	// name and revoke. Each key's LastUsedAt is the latest any replica
	// wrote.
	ClientKeys(ctx context.Context) ([]StoredKey, error)
	// PutClientKey creates a client key and appends audit, in one
	// transaction that tells the other replicas (on a shared store); a key
	// in force of that name already there is a CodeConflict (KeyTaken),
	// and one with the same hash a CodeConflict too, and nothing is
	// written. A revoked key's name may be taken again; its secrets stay
	// revoked.
	PutClientKey(ctx context.Context, k StoredKey, audit AuditEntry) error
	// DeleteClientKey revokes the client key named name at audit.At and
	// appends audit, in one transaction that tells the other replicas: the
	// key leaves those in force and is kept as revoked, its secret and any
	// rotated-out ones refused as revoked from then on; CodeNotFound
	// (KeyNotFound) if no key in force has that name, writing nothing.
	// Tombstones older than KeyTombstoneKeep are pruned.
	DeleteClientKey(ctx context.Context, name string, audit AuditEntry) error
	// RotateClientKey gives the client key named name the secret of hash
	// at audit.At, keeping everything else (name, scope, limits, creation,
	// last use), and appends audit, in one transaction that tells the
	// other replicas. Its secret until now keeps working until graceUntil
	// (audit.At or earlier: at once), then is refused as rotated out;
	// secrets an earlier rotation retired stop by graceUntil too.
	// CodeNotFound (KeyNotFound) if no key in force has that name, and
	// CodeConflict if another key has that hash, writing nothing.
	RotateClientKey(ctx context.Context, name, hash string, graceUntil time.Time, audit AuditEntry) error
	// UpdateClientKey gives the client key in force named k.Name k's
	// settings (Models, RateLimit, Burst, TokensPerMinute, TokenBudget,
	// BudgetPeriod, ForceVersion, ExpiresAt), keeping its secret, retired
	// secrets, creation, last use and rotation, and appends audit, in one
	// transaction that tells the other replicas; only if that key is still
	// was (SameKeySettings: the same creation and settings), so that two
	// admins' changes of one key never lose one. CodeNotFound (KeyNotFound)
	// if no key in force has that name, CodeConflict (KeyChanged) if it is
	// no longer was, writing nothing.
	UpdateClientKey(ctx context.Context, was, k StoredKey, audit AuditEntry) error
	// TouchClientKey records that the client key named name, created at
	// created, authenticated a request at at: its LastUsedAt becomes at
	// unless it is later already (another replica's). No audit, no
	// notification; a key that is gone (or another of the same name) is
	// no error. Callers write it at most once a minute per key, never on
	// the request's path.
	TouchClientKey(ctx context.Context, name string, created, at time.Time) error
	// Close releases the store.
	Close() error
}
