package sluice

import (
	"context"
	"fmt"
	"strings"
	"time"
)

// StoreDump is what a store holds but its request log, as it holds it:
// the registry at its revision, every rollout, the audit with its ids, the
// admin tokens (hashes), the client keys with their retired secrets,
// users' ratings and the LLM judge's grades.
// sluice store copy reads one from a store (Exporter) and writes it into
// an empty one (Importer), so that a gateway moved from SQLite to
// PostgreSQL (or back) keeps its history. What the fleet keeps at run
// time on PostgreSQL (replica beats, shared observation batches, shadow
// pairs, the request log's batch keys, leader locks) is no part of it.
type StoreDump struct {
	// Revision is the registry's revision.
	Revision int64
	// Models by name and Versions by id, as stored.
	Models   []Model
	Versions []Version
	// Rollouts holds every rollout, current and ended, in the order they
	// were last written (oldest first): a model's latest is its last.
	Rollouts []Rollout
	// Audit holds every audit entry by id, ids kept.
	Audit []AuditEntry
	// Tokens holds the admin tokens (their hashes, never a secret).
	Tokens []Token
	// ClientKeys holds the client keys in force, without Retired.
	ClientKeys []StoredKey
	// RetiredSecrets holds the secrets that are no longer a key's own:
	// rotated out (working until Until) and revoked.
	RetiredSecrets []RetiredSecretRow
	// Feedback holds users' stored ratings (FeedbackStore), every one
	// with a score: an A/B test waiting for late ratings reads its
	// report's from there, and each is its answer's one score. A claim
	// stored without a score (PostgreSQL, by a binary from before scores
	// were stored) is not copied.
	Feedback []Feedback
	// Grades holds the LLM judge's stored grades (GradeStore): an A/B
	// test waiting for late scores reads its report's from there too.
	Grades []JudgeGrade
}

// RetiredSecretRow is one secret a client key no longer has, as the stores
// keep it (client_key_retired).
type RetiredSecretRow struct {
	Hash, Name string
	// Kind is "rotated" or "revoked".
	Kind  string
	Until time.Time
	// Key is the revoked key's settings (JSON) on the row of the secret
	// it had when it was revoked; "" otherwise.
	Key string
}

// StoreCounts is how much of each kind a store holds, for sluice store
// copy's emptiness check and its summary.
type StoreCounts struct {
	Revision       int64
	Models         int64
	Versions       int64
	Rollouts       int64
	Audit          int64
	Tokens         int64
	ClientKeys     int64
	RetiredSecrets int64
	// Ratings counts users' ratings with a score (StoreDump.Feedback).
	Ratings int64
	// Grades counts the judge's grades (StoreDump.Grades).
	Grades   int64
	Requests int64
}

// Counts returns what d holds (its request log aside).
func (d *StoreDump) Counts() StoreCounts {
	return StoreCounts{
		Revision: d.Revision, Models: int64(len(d.Models)), Versions: int64(len(d.Versions)),
		Rollouts: int64(len(d.Rollouts)), Audit: int64(len(d.Audit)), Tokens: int64(len(d.Tokens)),
		ClientKeys: int64(len(d.ClientKeys)), RetiredSecrets: int64(len(d.RetiredSecrets)),
		Ratings: int64(len(d.Feedback)), Grades: int64(len(d.Grades)),
	}
}

// Kinds lists c's kinds with their counts, in a fixed order, the request
// log last: the rows of sluice store copy's summary.
func (c StoreCounts) Kinds() []StoreKind {
	return []StoreKind{
		{"registry revision", c.Revision},
		{"models", c.Models},
		{"versions", c.Versions},
		{"rollouts", c.Rollouts},
		{"audit entries", c.Audit},
		{"admin tokens", c.Tokens},
		{"client keys", c.ClientKeys},
		{"retired key secrets", c.RetiredSecrets},
		{"users' ratings", c.Ratings},
		{"judge grades", c.Grades},
		{"requests", c.Requests},
	}
}

// StoreKind is one kind of what a store holds and how many.
type StoreKind struct {
	Name  string
	Count int64
}

// Held says what of c but its request log, users' ratings and the judge's
// grades is there ("" for nothing), such as "3 models, 12 audit entries":
// what makes a store not empty for Importer.Import. The ratings and grades
// go with the request log (PruneRequests deletes them all), which a copy
// that stopped half-way leaves behind.
func (c StoreCounts) Held() string {
	var held []string
	for _, k := range c.Kinds() {
		if k.Name == "requests" || k.Name == "users' ratings" || k.Name == "judge grades" || k.Count == 0 {
			continue
		}
		if k.Name == "registry revision" {
			held = append(held, fmt.Sprintf("registry revision %d", k.Count))
			continue
		}
		held = append(held, fmt.Sprintf("%d %s", k.Count, k.Name))
	}
	return strings.Join(held, ", ")
}

// Exporter reads a whole store, for sluice store copy. Both stores
// implement it.
type Exporter interface {
	// Export returns everything the store holds but its request log.
	Export(ctx context.Context) (*StoreDump, error)
	// ExportRequests calls fn with the request log's rows at or after
	// since (zero: all of them), in the order they were appended, in
	// batches of at most n rows, each read in a transaction of its own;
	// an error from fn ends it and is returned.
	ExportRequests(ctx context.Context, since time.Time, n int, fn func([]Observation) error) error
	// Counts returns how much of each kind the store holds.
	Counts(ctx context.Context) (StoreCounts, error)
}

// Importer writes a StoreDump into an empty store, keeping its ids and
// times (Commit would make new revisions and audit ids). Both stores
// implement it; the request log is written with AppendRequests, which
// keeps every row as given.
type Importer interface {
	Exporter
	// Import writes d in one transaction: the revision, models,
	// versions, rollouts in d's order, the audit with d's ids (the next
	// entry committed gets the next id), tokens, client keys and their
	// retired secrets, and users' ratings. It refuses a store that holds
	// anything but request log rows and ratings (CodeConflict, naming
	// what it holds, writing nothing).
	Import(ctx context.Context, d *StoreDump) error
}

// NotEmpty is Importer.Import's error for a store that holds what held
// says (StoreCounts.Held).
func NotEmpty(where, held string) error {
	return Errorf(CodeConflict, "store %s is not empty: it holds %s; copy into a new, empty store (a new SQLite file, or a new PostgreSQL database or schema)", where, held)
}
