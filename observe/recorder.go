package observe

import (
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/sluicehq/sluice"
)

// Defaults of Options.
const (
	// DefaultWindowSize is how many recent observations a window keeps.
	DefaultWindowSize = 8192
	// DefaultVersionWindowSize is how many recent observations a version's
	// all-traffic window keeps.
	DefaultVersionWindowSize = 65536
	// DefaultMaxCategories is how many distinct categories a model may have
	// before further ones are folded into OtherCategory.
	DefaultMaxCategories = 32
)

// Category names the Recorder assigns itself.
const (
	// NoCategory is the category of observations whose Category is empty.
	// The empty string is reserved in queries for "every category".
	NoCategory = "none"
	// OtherCategory collects the categories of a model beyond
	// Options.MaxCategories, so that a client sending arbitrary categories
	// cannot grow the metrics or the windows without bound.
	OtherCategory = "other"
)

// Options configures a Recorder. The zero value is ready to use: each zero
// field takes the default its comment names.
type Options struct {
	// WindowSize is how many of the most recent observations are kept for
	// each (model, version, category) and for each (model, version) across
	// categories. Zero means DefaultWindowSize (8192). Each kept observation
	// takes 32 bytes; buffers grow as observations arrive, so a quiet series
	// costs little.
	WindowSize int
	// VersionWindowSize is how many recent observations are kept for each
	// (model, version) across categories: the all-traffic window the canary
	// analysis compares, which must span the busy baseline's traffic for as
	// long as the candidate's. Zero means DefaultVersionWindowSize (65536,
	// 2 MiB per version at most).
	VersionWindowSize int
	// MaxCategories is how many distinct categories are kept per model
	// (across its versions); observations of any further category are
	// recorded as OtherCategory, which does not count towards the limit.
	// Zero means DefaultMaxCategories (32).
	MaxCategories int
	// Now is the clock. It stamps observations whose At is zero and ends the
	// window over which Summary computes request rates. Nil means time.Now.
	Now func() time.Time
}

// Recorder keeps the Prometheus metrics and the in-process observation
// windows of the data plane. Record is safe for concurrent use; once a
// series has been seen it takes only the small lock of the series and that
// of its version's window across categories, never a lock shared by other
// versions or models. The queries and the Prometheus scrape copy what they
// need under those locks and are safe to call concurrently with Record.
//
// The metrics are plain counters and histograms kept per series under its
// lock and turned into Prometheus metrics at scrape time, which costs Record
// far less than the atomic operations of client_golang's own metric types.
//
// Model and Version are expected to come from the registry (the proxy
// resolves them before it records), so their number is bounded by it; the
// Recorder bounds only the categories, which clients choose.
type Recorder struct {
	opt Options
	reg *prometheus.Registry

	// models maps a model name to its state. It is copied on write under mu,
	// so Record reads it without locking.
	models atomic.Pointer[map[string]*modelState]
	// errClasses interns error classes to the small index an entry keeps;
	// index 0 is "" (no error). Copied on write under mu.
	errClasses atomic.Pointer[[]string]

	// mu serialises the creation of models, series and error classes, and
	// guards modelState.versions. Record takes it only for the first
	// observation of a series.
	mu sync.Mutex

	// started is when the Recorder was made (Options.Now): a summary's rate
	// over a window that began before it is over the time since, as the
	// Recorder saw nothing of the time before.
	started time.Time
}

// modelState is what the Recorder keeps of one model.
type modelState struct {
	name string
	// series maps (version, category) to the series; copied on write under
	// Recorder.mu.
	series atomic.Pointer[map[seriesKey]*series]
	// cats is the set of the model's categories (OtherCategory included once
	// used); copied on write under Recorder.mu.
	cats atomic.Pointer[map[string]struct{}]
	// full is set once cats holds MaxCategories categories other than
	// OtherCategory, so Record can fold an unknown category without a lock.
	full atomic.Bool
	// versions maps a version to its window across categories. Guarded by
	// Recorder.mu.
	versions map[string]*ring
	// seeded maps a version whose windows Seed filled to the time its rows
	// begin (see Recorder.observedFrom); nil when none was. Guarded by
	// Recorder.mu.
	seeded map[string]time.Time
}

// series is what the Recorder keeps of one (model, version, category): its
// window and metrics under one small lock, and a pointer to the window of
// the version across categories.
type series struct {
	model, version, category string

	all *ring

	// mu guards w, stats, reqs and quality. Record holds it for a few tens
	// of nanoseconds; Window and the Prometheus scrape for a copy.
	mu      sync.Mutex
	w       window
	stats   seriesStats
	reqs    []*reqStats // per status class, error class and route
	quality qualityWindow
}

// seriesKey names a series within a model.
type seriesKey struct {
	version, category string
}

// maxErrClasses bounds the interned error classes; an entry keeps the index
// in a byte.
const maxErrClasses = 255

// drainCutIdx is the index of sluice.ClassDrainCut among a Recorder's
// error classes, interned first (New), so that counting an entry
// (Counts.add) tells a drain cut from a client's cancel without its name.
const drainCutIdx = 1

// badRequestIdx is the index of sluice.ClassBadRequest, interned second,
// so that Counts.add counts it apart as it does a drain cut.
const badRequestIdx = 2

// New returns a Recorder with its own Prometheus registry, which also holds
// the Go runtime and process collectors.
func New(opt Options) *Recorder {
	if opt.WindowSize <= 0 {
		opt.WindowSize = DefaultWindowSize
	}
	if opt.VersionWindowSize <= 0 {
		opt.VersionWindowSize = DefaultVersionWindowSize
	}
	if opt.MaxCategories <= 0 {
		opt.MaxCategories = DefaultMaxCategories
	}
	if opt.Now == nil {
		opt.Now = time.Now
	}
	reg := prometheus.NewRegistry()
	reg.MustRegister(
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
	)
	r := &Recorder{opt: opt, reg: reg, started: opt.Now()}
	models := map[string]*modelState{}
	r.models.Store(&models)
	classes := []string{"", sluice.ClassDrainCut, sluice.ClassBadRequest} // drainCutIdx, badRequestIdx
	r.errClasses.Store(&classes)
	reg.MustRegister(newCollector(r), newQualityCollector(r))
	return r
}

// Registry returns the Recorder's Prometheus registry, so that other
// collectors (such as a RequestLog) are exported by the same Handler.
func (r *Recorder) Registry() *prometheus.Registry { return r.reg }

// Started returns when the Recorder was made (Options.Now), which
// Summarize takes as when this process began to observe.
func (r *Recorder) Started() time.Time { return r.started }

// Handler returns the HTTP handler that serves the registry in the
// Prometheus exposition format, for /metrics.
func (r *Recorder) Handler() http.Handler {
	return promhttp.InstrumentMetricHandler(r.reg,
		promhttp.HandlerFor(r.reg, promhttp.HandlerOpts{Registry: r.reg}))
}

// Record adds one observation to the metrics and to the windows of its
// (model, version, category) and of its (model, version). An observation
// whose At is zero is stamped with Options.Now. Record does not keep o.
func (r *Recorder) Record(o *sluice.Observation) {
	s := r.seriesOf(o)
	at := o.At
	if at.IsZero() {
		at = r.opt.Now()
	}
	e := newEntry(at.UnixNano(), o)

	s.mu.Lock()
	q, errIdx := s.reqLocked(r, o)
	q.duration.observe(o.Latency.Seconds())
	q.requests++
	s.stats.add(o)
	e.errIdx = errIdx
	s.w.add(&e)
	s.mu.Unlock()
	s.all.add(&e)
}

// seriesOf returns the series o belongs to, creating it on first use.
func (r *Recorder) seriesOf(o *sluice.Observation) *series {
	ms := (*r.models.Load())[o.Model]
	if ms == nil {
		ms = r.addModel(o.Model)
	}
	cat := o.Category
	if cat == "" {
		cat = NoCategory
	}
	m := *ms.series.Load()
	if s := m[seriesKey{o.Version, cat}]; s != nil {
		return s
	}
	if ms.full.Load() {
		if _, known := (*ms.cats.Load())[cat]; !known {
			if s := m[seriesKey{o.Version, OtherCategory}]; s != nil {
				return s
			}
		}
	}
	return r.addSeries(ms, o.Version, cat)
}

// addModel returns the state of model, creating it.
func (r *Recorder) addModel(model string) *modelState {
	r.mu.Lock()
	defer r.mu.Unlock()
	old := *r.models.Load()
	if ms := old[model]; ms != nil {
		return ms
	}
	ms := &modelState{name: model, versions: map[string]*ring{}}
	series := map[seriesKey]*series{}
	ms.series.Store(&series)
	cats := map[string]struct{}{}
	ms.cats.Store(&cats)
	models := make(map[string]*modelState, len(old)+1)
	for k, v := range old {
		models[k] = v
	}
	models[model] = ms
	r.models.Store(&models)
	return ms
}

// addSeries returns the series of (version, cat) in ms, folding cat into
// OtherCategory when the model has too many, and creating it.
func (r *Recorder) addSeries(ms *modelState, version, cat string) *series {
	r.mu.Lock()
	defer r.mu.Unlock()
	cats := *ms.cats.Load()
	if _, known := cats[cat]; !known {
		n := len(cats)
		if _, ok := cats[OtherCategory]; ok {
			n--
		}
		if n >= r.opt.MaxCategories {
			cat = OtherCategory
		}
		if _, known := cats[cat]; !known {
			next := make(map[string]struct{}, len(cats)+1)
			for k := range cats {
				next[k] = struct{}{}
			}
			next[cat] = struct{}{}
			ms.cats.Store(&next)
			if cat != OtherCategory && n+1 >= r.opt.MaxCategories {
				ms.full.Store(true)
			}
		}
	}

	old := *ms.series.Load()
	key := seriesKey{version, cat}
	if s := old[key]; s != nil {
		return s
	}
	all := ms.versions[version]
	if all == nil {
		all = newRing(r.opt.VersionWindowSize)
		ms.versions[version] = all
	}
	s := &series{
		model: ms.name, version: version, category: cat,
		all:   all,
		w:     newWindow(r.opt.WindowSize),
		stats: newSeriesStats(),
	}
	next := make(map[seriesKey]*series, len(old)+1)
	for k, v := range old {
		next[k] = v
	}
	next[key] = s
	ms.series.Store(&next)
	return s
}

// internErrClass returns the index of an error class, adding it; classes
// beyond maxErrClasses share the index of "other".
func (r *Recorder) internErrClass(class string) uint8 {
	if class == "" {
		return 0
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	old := *r.errClasses.Load()
	for i, c := range old {
		if c == class {
			return uint8(i)
		}
	}
	if len(old) >= maxErrClasses-1 {
		class = "other"
		for i, c := range old {
			if c == class {
				return uint8(i)
			}
		}
	}
	next := append(old[:len(old):len(old)], class)
	r.errClasses.Store(&next)
	return uint8(len(next) - 1)
}

// Forget drops the windows of a version of a model and its Prometheus
// series, such as when the version is retired. A Record of the version
// racing with Forget may be lost; a later one starts afresh (the Prometheus
// counters then restart from zero, which rate() takes as a reset).
func (r *Recorder) Forget(model, version string) {
	r.mu.Lock()
	if ms := (*r.models.Load())[model]; ms != nil {
		delete(ms.versions, version)
		old := *ms.series.Load()
		next := make(map[seriesKey]*series, len(old))
		for k, v := range old {
			if k.version != version {
				next[k] = v
			}
		}
		ms.series.Store(&next)
	}
	r.mu.Unlock()
}
