package replicas_test

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/sluicehq/sluice"
	"github.com/sluicehq/sluice/fakellm"
	flushes "github.com/sluicehq/sluice/fleet"
	"github.com/sluicehq/sluice/observe"
	"github.com/sluicehq/sluice/postgres"
	"github.com/sluicehq/sluice/postgres/pgtest"
)

// TestReplicas_LongStageSurvivesFleetRestart: a canary's stage has been
// live for 40 minutes when every replica of the fleet restarts (a rolling
// deploy of Sluice, a node pool upgrade). The request log holds every
// request of the stage; the observation flushes the fleet exchanges are
// kept for 15 minutes, so the table holds only the last 15 minutes of them.
// The restarted replicas must carry on the stage's whole sample: the
// candidate's requests since the stage started, each counted once, where
// they resumed with the last 15 minutes alone.
func TestReplicas_LongStageSurvivesFleetRestart(t *testing.T) {
	if testing.Short() {
		t.Skip("runs gateway processes (skipped under -short)")
	}
	sf := startSeedFleet(t)
	now := time.Now()
	stage := now.Add(-40 * time.Minute)
	sf.backdate(stage)
	// The former replicas' traffic: the baseline every second and the
	// candidate every 4 s since the stage began (and before it, which the
	// stage leaves out), logged by the replicas that served them, and
	// flushed by each a second after it ended; the table still holds the
	// flushes of the last 15 minutes.
	rows := seedTraffic(stage.Add(-5*time.Minute), now.Add(-2*time.Second))
	sf.log(rows)
	sf.flushed(rows, now.Add(-flushes.DefaultRetention+20*time.Second), func(o sluice.Observation) time.Time { return o.At.Add(time.Second) })

	sf.restartAll()
	sf.wantSample(rows, stage)
}

// TestReplicas_FleetSeedOverlapCountedOnce: where the flushes and the
// request log overlap, a replica that seeds counts each request once. The
// table holds flushes older than what the fleet keeps (every replica was
// down for a while, so none pruned them), and flushes that hold requests
// that arrived well before they were written (long streams, flushed when
// they ended); the request log holds all of them too.
func TestReplicas_FleetSeedOverlapCountedOnce(t *testing.T) {
	if testing.Short() {
		t.Skip("runs gateway processes (skipped under -short)")
	}
	sf := startSeedFleet(t)
	now := time.Now()
	stage := now.Add(-40 * time.Minute)
	sf.backdate(stage)
	rows := seedTraffic(stage.Add(time.Minute), now.Add(-2*time.Second))
	// One request in ten (those numbered ...7) was a long one, ended 6
	// minutes after it arrived: those that arrived 13 to 21 minutes ago
	// are in flushes of the last 15, on both sides of where the request
	// log's part ends.
	ended := func(o sluice.Observation) time.Time {
		if o.RequestID[len(o.RequestID)-1] == '7' {
			return o.At.Add(6 * time.Minute)
		}
		return o.At.Add(time.Second)
	}
	sf.log(rows)
	// Flushes written up to 25 minutes ago, not pruned.
	sf.flushed(rows, now.Add(-25*time.Minute), ended)

	sf.restartAll()
	sf.wantSample(rows, stage)
}

// TestReplicas_FleetSeedWaitsForFlushes: a replica's windows hold a long
// stage's sample once it has read both parts, the request log's and the
// flushes'; until then the rollout is not analysed and its status says it
// is seeding. The first read of the flushes is slow here (the table is
// locked): the request log's part alone lacks the last 13 minutes, on
// which a verdict would judge the candidate (a regression of the last
// minutes unseen) while the status said the sample was whole.
func TestReplicas_FleetSeedWaitsForFlushes(t *testing.T) {
	if testing.Short() {
		t.Skip("runs gateway processes (skipped under -short)")
	}
	sf := startSeedFleet(t)
	now := time.Now()
	stage := now.Add(-40 * time.Minute)
	sf.backdate(stage)
	rows := seedTraffic(stage.Add(-time.Minute), now.Add(-2*time.Second))
	sf.log(rows)
	sf.flushed(rows, now.Add(-flushes.DefaultRetention+20*time.Second), func(o sluice.Observation) time.Time { return o.At.Add(time.Second) })

	ctx := t.Context()
	tx, err := sf.conn.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := tx.Exec(ctx, "LOCK TABLE observation_batches IN ACCESS EXCLUSIVE MODE"); err != nil {
		t.Fatal(err)
	}
	rs := sf.f.start(2)
	// The request log is read once the first read of the flushes has
	// fixed the cut (a late one moves it: fleet.Windows.CutAt), so
	// neither replica reads it while the table is locked; a read of the
	// log here takes well under the wait.
	time.Sleep(3 * time.Second)
	for _, r := range rs {
		if strings.Contains(r.Log(), "its windows were filled again from the request log") {
			t.Errorf("%s read the request log before its first read of the flushes fixed the cut:\n%s", r.name, r.Log())
		}
		st, err := r.client.Rollout(ctx, "chat")
		if err != nil {
			t.Fatal(err)
		}
		if !st.Seeding {
			t.Errorf("%s says its windows are whole (a sample of %d) before it could read the fleet's flushes", r.name, st.StageSamples)
		}
	}
	if err := tx.Rollback(ctx); err != nil {
		t.Fatal(err)
	}
	sf.waitSeeded(rs)
	sf.wantSample(rows, stage)
}

// seedFleet is a fleet of two replicas on a store of their own with a
// canary of chat's v1.1.0 under way, and the test's own connection to the
// store.
type seedFleet struct {
	t     *testing.T
	f     *fleet
	dsn   string
	st    *postgres.Store
	conn  *pgx.Conn
	ro    sluice.Rollout
	stage time.Time
}

// startSeedFleet starts two replicas, starts the canary (10%, an analysis
// every hour that waits for a million requests, so nothing but the test
// moves it), waits until both route by it, and kills both, as a node pool
// upgrade would.
func startSeedFleet(t *testing.T) *seedFleet {
	t.Helper()
	b := fakellm.New(fakellm.Config{})
	if err := b.Start("127.0.0.1:0"); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(b.Close)
	dir := t.TempDir()
	models := filepath.Join(dir, "models.yaml")
	os.WriteFile(models, []byte(strings.ReplaceAll(modelsYAML, "BACKEND", b.URL())), 0o644)
	dsn := pgtest.Schema(t)
	f := &fleet{t: t, dir: dir, cfg: writeFleetConfig(dir, models, ""), dsn: dsn, backend: b}
	rs := f.start(2)
	ro, err := rs[0].client.StartRollout(t.Context(), sluice.RolloutSpec{
		Model: "chat", Candidate: "v1.1.0", Baseline: "v1.0.0", Strategy: sluice.StrategyCanary, CanaryPercent: 10,
		Analysis: sluice.AnalysisSpec{Interval: sluice.Duration(time.Hour), MinSamples: 1_000_000},
		Warmup:   sluice.WarmupSpec{Skip: true},
	}, "a long stage")
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range rs {
		waitPhase(t, r, ro.ID, 20*time.Second, sluice.PhaseProgressing)
	}
	for _, r := range rs {
		r.Kill()
	}
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	st, err := postgres.Open(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close(context.Background()) })
	return &seedFleet{t: t, f: f, dsn: dsn, st: st, conn: conn, ro: ro}
}

// backdate has the rollout's candidate gone live, and its stage started,
// at stage.
func (sf *seedFleet) backdate(stage time.Time) {
	sf.t.Helper()
	sf.stage = stage.UTC()
	ctx := sf.t.Context()
	var doc string
	sf.query(ctx, "SELECT doc FROM rollouts WHERE id = $1", []any{sf.ro.ID}, &doc)
	var r map[string]any
	if err := json.Unmarshal([]byte(doc), &r); err != nil {
		sf.t.Fatal(err)
	}
	for _, k := range []string{"started_at", "live_at", "stage_started_at"} {
		if _, ok := r[k]; !ok {
			sf.t.Fatalf("the rollout's document has no %s: %s", k, doc)
		}
		r[k] = sf.stage.Format(time.RFC3339Nano)
	}
	b, _ := json.Marshal(r)
	sf.exec(ctx, "UPDATE rollouts SET doc = $1, started_at = $2 WHERE id = $3", string(b), sf.stage, sf.ro.ID)
	// What the replicas served and flushed while the test set up is none
	// of the stage's traffic.
	sf.exec(ctx, "DELETE FROM requests")
	sf.exec(ctx, "DELETE FROM observation_batches")
}

// seedTraffic is the fleet's requests from from to to: the baseline's
// every second, the candidate's every 4 s, each arriving at an odd
// nanosecond, served by one of two former replicas in turn.
func seedTraffic(from, to time.Time) []sluice.Observation {
	var rows []sluice.Observation
	i := 0
	for at := from; at.Before(to); at = at.Add(time.Second) {
		v := "v1.0.0"
		if i%4 == 0 {
			v = "v1.1.0"
		}
		rows = append(rows, sluice.Observation{RequestID: fmt.Sprintf("r-%d", i), At: at.Add(time.Duration(i%997) * 1013 * time.Nanosecond).UTC(),
			Model: "chat", Version: v, Route: "split", Endpoint: "/v1/chat/completions", Status: 200,
			Latency: 20 * time.Millisecond, OutputTokens: 10, ResponseChars: 40, Replica: fmt.Sprintf("former-%d", i%2)})
		i++
	}
	return rows
}

// log writes rows to the request log, as the replicas that served them
// did.
func (sf *seedFleet) log(rows []sluice.Observation) {
	sf.t.Helper()
	if err := sf.st.AppendRequests(sf.t.Context(), rows); err != nil {
		sf.t.Fatal(err)
	}
}

// flushed writes, as two former replicas' observation flushes, each row
// whose flush (a second after it ended: ended) is at or after keptFrom,
// one flush at the end of each minute of each replica, stamped with when
// it was written.
func (sf *seedFleet) flushed(rows []sluice.Observation, keptFrom time.Time, ended func(sluice.Observation) time.Time) {
	sf.t.Helper()
	ctx := sf.t.Context()
	now := time.Now()
	byMinute := map[string]map[time.Time][]sluice.Observation{}
	for _, o := range rows {
		at := ended(o).Add(time.Second)
		if at.Before(keptFrom) {
			continue
		}
		m := byMinute[o.Replica]
		if m == nil {
			m = map[time.Time][]sluice.Observation{}
			byMinute[o.Replica] = m
		}
		flush := at.Truncate(time.Minute).Add(time.Minute)
		if flush.After(now) {
			flush = now // a flush stamped in the future would hold the readers' horizon there
		}
		m[flush] = append(m[flush], o)
	}
	for name, m := range byMinute {
		rec := observe.New(observe.Options{})
		w := flushes.New(flushes.Options{Recorder: rec, Store: sf.st, Replica: name})
		var times []time.Time
		for at := range m {
			times = append(times, at)
		}
		slices.SortFunc(times, time.Time.Compare)
		for seq, at := range times {
			for i := range m[at] {
				o := m[at][i]
				rec.Record(&o)
			}
			if err := w.Flush(ctx); err != nil {
				sf.t.Fatal(err)
			}
			sf.exec(ctx, "UPDATE observation_batches SET flushed_at = $1 WHERE replica = $2 AND seq = $3", at, w.Replica(), seq+1)
		}
	}
}

// restartAll starts two replicas again on the store and waits until both
// have read the rollout's requests back.
func (sf *seedFleet) restartAll() {
	sf.t.Helper()
	rs := sf.f.start(2)
	for _, r := range rs {
		sf.waitLog(r)
	}
	sf.waitSeeded(rs)
}

// waitLog waits until r says it has read the rollout's requests back from
// the request log.
func (sf *seedFleet) waitLog(r *replica) {
	sf.t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for !strings.Contains(r.Log(), "its windows were filled again from the request log") {
		if time.Now().After(deadline) {
			sf.t.Fatalf("%s did not read the rollout's requests back from the request log:\n%s", r.name, r.Log())
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// waitSeeded waits until each of rs says the rollout's windows are whole
// (its status no longer seeding).
func (sf *seedFleet) waitSeeded(rs []*replica) {
	sf.t.Helper()
	for _, r := range rs {
		deadline := time.Now().Add(30 * time.Second)
		for {
			st, err := r.client.Rollout(sf.t.Context(), "chat")
			if err != nil {
				sf.t.Fatal(err)
			}
			if !st.Seeding {
				break
			}
			if time.Now().After(deadline) {
				sf.t.Fatalf("%s still says it is seeding 30 s after it started:\n%s", r.name, r.Log())
			}
			time.Sleep(50 * time.Millisecond)
		}
	}
}

// wantSample checks that every live replica's stage sample is the
// candidate's requests since the stage started, each once, and that its
// fleet summary since then counts each version's requests once.
func (sf *seedFleet) wantSample(rows []sluice.Observation, stage time.Time) {
	sf.t.Helper()
	want := map[string]int64{}
	for _, o := range rows {
		if !o.At.Before(stage) {
			want[o.Version]++
		}
	}
	for _, r := range sf.f.alive() {
		st, err := r.client.Rollout(sf.t.Context(), "chat")
		if err != nil {
			sf.t.Fatal(err)
		}
		if int64(st.StageSamples) != want["v1.1.0"] {
			sf.t.Errorf("%s: the stage's sample is %d requests to the candidate, want the %d since the stage started 40 minutes ago", r.name, st.StageSamples, want["v1.1.0"])
		}
		raw, err := r.client.Summary(sf.t.Context(), "chat", stage.Format(time.RFC3339Nano))
		if err != nil {
			sf.t.Fatal(err)
		}
		var sum []observe.VersionSummary
		if err := json.Unmarshal(raw, &sum); err != nil {
			sf.t.Fatalf("summary %s: %v", raw, err)
		}
		got := map[string]int64{}
		for _, v := range sum {
			got[v.Version] = v.Requests
		}
		for _, v := range []string{"v1.0.0", "v1.1.0"} {
			if got[v] != want[v] {
				sf.t.Errorf("%s: %s served %d requests since the stage started by the fleet's windows, want %d", r.name, v, got[v], want[v])
			}
		}
	}
}

func (sf *seedFleet) exec(ctx context.Context, sql string, args ...any) {
	sf.t.Helper()
	if _, err := sf.conn.Exec(ctx, sql, args...); err != nil {
		sf.t.Fatalf("%s: %v", sql, err)
	}
}

func (sf *seedFleet) query(ctx context.Context, sql string, args []any, dest ...any) {
	sf.t.Helper()
	if err := sf.conn.QueryRow(ctx, sql, args...).Scan(dest...); err != nil {
		sf.t.Fatalf("%s: %v", sql, err)
	}
}
