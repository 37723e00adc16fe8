package server

import (
	"context"
	"maps"
	"strings"
	"sync"
	"time"

	"github.com/sluicehq/sluice"
	"github.com/sluicehq/sluice/proxy"
)

// Token budgets (a client key's token_budget a budget_period) hold across
// the fleet: every replica, in the background, sums each budgeted key's
// tokens in its current period from the request log (on PostgreSQL the
// log every replica writes; on SQLite the one gateway's) and tells its
// KeySet (SetBudgetUsed), which refuses a key whose sum reached its
// budget until the period ends. The data plane never reads the store for
// it. The sums come every BudgetInterval, at once after the keys are read
// again (a reload, an issued key), and at a period's end; the period's
// end lets a key in by itself, before the next sum.
//
// Between two sums, the KeySet adds this process's own answers' tokens
// to the sum as they end (chargeTokens), so a key is refused here as soon
// as they reach its budget. So a key may overshoot its budget by its
// requests in flight when the budget is reached (their tokens are counted
// when they end), plus what it uses through other replicas between two
// sums (BudgetInterval) and what their request logs have not written yet
// (request_log.flush_interval). This replica's own rows are written
// before each sum (SumBudgets waits for them).

// BudgetInterval is how often a replica sums the budgeted keys' tokens.
const BudgetInterval = 10 * time.Second

// budgetTimeout bounds one round of sums: a month of a large request log
// takes a while.
const budgetTimeout = 30 * time.Second

// budgets is the server's state of the budget sums.
type budgets struct {
	// kick asks for a sum at once (after the keys were read again).
	kick chan struct{}
	// every is BudgetInterval, or Options.BudgetInterval in tests.
	every time.Duration
	// failing is set while sums fail, so that an outage is logged once.
	failing bool
	// sumMu serializes the sums (the loop's, and a test's SumBudgets),
	// and guards settled: by period kind, what was summed up to a mark.
	sumMu   sync.Mutex
	settled map[string]*settledSum
	mu      sync.Mutex // guards warned
	// warned holds the keys whose period is longer than the request
	// log's retention, as last logged.
	warned string
}

// kickBudgets asks the budget loop for a sum at once.
func (s *Server) kickBudgets() {
	select {
	case s.budget.kick <- struct{}{}:
	default:
	}
}

// runBudgets sums the budgeted keys' tokens until ctx ends.
func (s *Server) runBudgets(ctx context.Context) {
	for {
		s.sumBudgetsLogged(ctx)
		wait := s.budget.every
		// At a period's end, the new period's sum at once (the key is
		// let in already; its use then shows from the start).
		now := s.now()
		for _, b := range s.ClientKeys().Budgets() {
			if _, end := sluice.BudgetPeriod(b.Period, now); end.Sub(now) < wait {
				wait = max(end.Sub(now)+10*time.Millisecond, 10*time.Millisecond)
			}
		}
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return
		case <-s.budget.kick:
		case <-t.C:
		}
		t.Stop()
	}
}

// sumBudgetsLogged sums the budgets and logs a failure once per outage;
// on a failure every key keeps the state of the last sum.
func (s *Server) sumBudgetsLogged(ctx context.Context) {
	sctx, cancel := context.WithTimeout(ctx, budgetTimeout)
	err := s.SumBudgets(sctx)
	cancel()
	switch {
	case ctx.Err() != nil:
	case err != nil && !s.budget.failing:
		s.budget.failing = true
		s.logger.Warn("cannot sum the client keys' token budgets from the request log; each key keeps what the last sum found (spent or not) until a sum works, and a spent key is let in at its period's end", "err", err)
	case err == nil && s.budget.failing:
		s.budget.failing = false
		s.logger.Info("the client keys' token budgets are summed again")
	}
}

// SumBudgets sums, from the request log, each budgeted key's tokens
// (prompt and answer) in its current period, one query per period, and
// tells the keys in force. The budget loop calls it; tests may too.
func (s *Server) SumBudgets(ctx context.Context) error {
	bs := s.ClientKeys().Budgets()
	if len(bs) == 0 {
		return nil
	}
	now := s.now()
	byPeriod := map[string][]proxy.Budget{}
	var short []string
	for _, b := range bs {
		byPeriod[b.Period] = append(byPeriod[b.Period], b)
		if start, end := sluice.BudgetPeriod(b.Period, now); s.retention() > 0 && end.Sub(start) > s.retention() {
			short = append(short, b.Name)
		}
	}
	s.budget.mu.Lock()
	w := strings.Join(short, ", ")
	changed := w != s.budget.warned
	s.budget.warned = w
	s.budget.mu.Unlock()
	if changed {
		if w != "" {
			s.logger.Warn("the request log's retention is shorter than these keys' budget periods: their use older than the retention is pruned and not counted; set request_log.retention to 744h (31 days) or keep: true", "keys", w, "retention", s.retention())
		}
	}
	// What this process charged to each key before the sums: the sums
	// hold it, so only what it charges from now on is added to them. The
	// sums hold it once the request log has written it (an answer's row
	// is queued before its tokens are charged): a sum read before would
	// find less than the key used and reopen a key this process spent,
	// so they wait for the log (Sync), and fail with it.
	local := s.ClientKeys().BudgetSumStarts()
	if err := s.Log.Sync(ctx); err != nil {
		return err
	}
	type sum struct {
		b     proxy.Budget
		start time.Time
		used  int64
	}
	var sums []sum
	s.budget.sumMu.Lock()
	defer s.budget.sumMu.Unlock()
	for period, keys := range byPeriod {
		start, _ := sluice.BudgetPeriod(period, now)
		filter := ""
		if len(keys) == 1 {
			filter = keys[0].Name
		}
		used, err := s.sumPeriod(ctx, period, start, filter, now)
		if err != nil {
			return err
		}
		for _, b := range keys {
			sums = append(sums, sum{b, start, used[b.Name]})
		}
	}
	// The keys in force now: a reload during the sums has carried the
	// last state over, and is followed by a sum of its own.
	ks := s.ClientKeys()
	for _, u := range sums {
		ks.SetBudgetUsed(u.b.Name, u.b.Period, u.start, u.used, local[u.b.Name])
	}
	return nil
}

// budgetSettle is how old a request log row must be for a sum to keep
// it (settled) rather than read it again at each sum: the log writes a
// row within its flush interval, a failed batch within about a minute of
// retries.
const budgetSettle = 2 * time.Minute

// budgetResum is how often a period is summed again from its start,
// which takes in rows the log wrote later than budgetSettle (another
// replica's clock behind, a store outage's retries).
const budgetResum = 10 * time.Minute

// settledSum is a period's use summed from the request log up to mark:
// each sum then reads only the rows since mark, not the whole period (a
// month of a large log every BudgetInterval, on every replica).
type settledSum struct {
	start, mark, full time.Time // the period's start; settled up to mark; summed from start at full
	key               string    // the one key summed, "" for all
	used              map[string]int64
}

// sumPeriod returns each key's tokens (prompt and answer) in the period
// of kind period that starts at start, from the request log: what was
// settled (summed again from the start every budgetResum) plus the rows
// since. key, when not "", sums that key alone. Called with sumMu held.
func (s *Server) sumPeriod(ctx context.Context, period string, start time.Time, key string, now time.Time) (map[string]int64, error) {
	if s.budget.settled == nil {
		s.budget.settled = map[string]*settledSum{}
	}
	read := func(since, until time.Time, into map[string]int64) error {
		rows, err := s.Store.RequestUsage(ctx, sluice.RequestQuery{ClientKey: key, Since: since, Until: until})
		for _, r := range rows {
			into[r.ClientKey] += r.InputTokens + r.OutputTokens
		}
		return err
	}
	mark := now.Add(-budgetSettle)
	if mark.Before(start) {
		mark = start
	}
	c := s.budget.settled[period]
	if c == nil || !c.start.Equal(start) || c.key != key || now.Sub(c.full) >= budgetResum || now.Before(c.full) {
		// From the period's start: the first sum, a new period or key,
		// or the time to take in rows the log wrote late.
		fresh := &settledSum{start: start, mark: mark, full: now, key: key, used: map[string]int64{}}
		if mark.After(start) {
			if err := read(start, mark, fresh.used); err != nil {
				return nil, err
			}
		}
		c = fresh
		s.budget.settled[period] = c
	} else if mark.After(c.mark) {
		more := map[string]int64{}
		if err := read(c.mark, mark, more); err != nil {
			return nil, err
		}
		for k, n := range more {
			c.used[k] += n
		}
		c.mark = mark
	}
	used := maps.Clone(c.used)
	if err := read(c.mark, time.Time{}, used); err != nil {
		return nil, err
	}
	return used, nil
}

// retention is how long the request log keeps rows; 0 for ever.
func (s *Server) retention() time.Duration {
	if s.Config.RequestLog.Keep {
		return 0
	}
	return s.Config.RequestLog.Retention
}

// keyBudget returns what the key named name used of its token budget in
// the current period and when that ends, for the admin API's key list.
func (s *Server) keyBudget(name string) (int64, time.Time, bool) {
	return s.ClientKeys().BudgetUsed(name, s.now())
}
