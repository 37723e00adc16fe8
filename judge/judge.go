package judge

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"time"
	"unicode/utf8"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/tidwall/gjson"

	"github.com/sluicehq/sluice"
)

// Defaults of a Judge's zero fields.
const (
	// DefaultSampleRate is the fraction of answers graded when SampleRate
	// is zero.
	DefaultSampleRate = 0.05
	// DefaultQueue is how many items wait for a worker before Submit drops.
	DefaultQueue = 256
	// DefaultWorkers is how many grading calls run at once.
	DefaultWorkers = 2
	// DefaultTimeout bounds one grading call.
	DefaultTimeout = 60 * time.Second
	// DefaultKeepQueue is how many grades wait for Keep (the store)
	// before one is not stored.
	DefaultKeepQueue = 1024
	// DefaultKeepDrain bounds how long Close stores the grades waiting
	// for Keep (CloseContext takes a bound of its own).
	DefaultKeepDrain = 5 * time.Second
	// MaxPromptChars and MaxAnswerChars bound the text sent to the judge
	// (in bytes, cut at a character boundary).
	MaxPromptChars = 4000
	MaxAnswerChars = 8000
)

// Item is one answer to grade.
type Item struct {
	// RequestID is the request that produced the answer: the stored
	// grade's key (Keep), with Version.
	RequestID string
	// Model, Version and Category are where the grade is recorded.
	Model, Version, Category string
	// Route is how the version was chosen (sluice.Observation.Route; the
	// proxy gives "split" for a turn of a conversation the split began,
	// Observation.SplitConversation), recorded with the grade: the canary
	// analysis leaves out the grades of requests routed to a version on
	// purpose.
	Route string
	// Prompt is the last user message of the request (or its prompt).
	Prompt string
	// Answer is the generated text, possibly cut.
	Answer string
	// At is when the answer was served; the grade is recorded at At (now
	// when zero), so it lands in the analysis window of that moment.
	At time.Time
	// Shadow is true for the candidate's answer to a mirrored request.
	Shadow bool
}

// Judge grades a sample of answers asynchronously with an OpenAI-compatible
// model. Set the fields before the first Submit and do not change them
// afterwards; the workers start on the first Submit. The zero value of each
// field takes the default its comment names.
type Judge struct {
	// Endpoint is the base URL of the judge's OpenAI-compatible server,
	// with or without /v1 (http://judge:8000 or https://api.example/v1).
	// Required.
	Endpoint string
	// Model is the "model" sent to the judge. Required.
	Model string
	// APIKey, if set, is sent as a bearer token.
	APIKey string
	// SampleRate is the fraction of answers graded, in (0, 1]; zero means
	// DefaultSampleRate. Sample draws against it.
	SampleRate float64
	// Client sends the grading calls; nil means http.DefaultClient. Each
	// call is bounded by Timeout whatever the client's own timeout.
	Client *http.Client
	// Queue is how many items may wait; zero means DefaultQueue. Submit
	// drops items when it is full.
	Queue int
	// Workers is how many calls run at once; zero means DefaultWorkers.
	Workers int
	// Timeout bounds one grading call; zero means DefaultTimeout.
	Timeout time.Duration
	// Record receives each grade as a score in [0, 1] (the 0-10 grade over
	// 10), with the item's Route; observe.Recorder.QualityRecorder
	// (observe.SourceJudge) makes one. Nil records nothing (the counts
	// still move).
	Record func(model, version, category, route string, at time.Time, score float64)
	// Keep, if set, stores each grade Record was given (the store's
	// AddJudgeGrade), so that an A/B test's report drawn after a restart,
	// or by another leader, counts it as it counts users' ratings: the
	// windows Record feeds live in one process. It runs on a goroutine of
	// its own, fed by a queue of KeepQueue grades, not on the grading
	// workers: a store that hangs (each write up to its own bound) must
	// not stop the grading, whose scores the live analyses read from the
	// windows. A grade it fails to store, or that finds the queue full,
	// is counted (Stats.Unkept, OnUnkept); the grade is in the windows
	// still. Nil stores nothing.
	Keep func(ctx context.Context, g sluice.JudgeGrade) error
	// KeepQueue is how many grades may wait for Keep; zero means
	// DefaultKeepQueue.
	KeepQueue int
	// OnUnkept, if set, is called for each grade Keep did not store.
	OnUnkept func()

	start sync.Once
	stop  sync.Once
	queue chan Item
	done  chan struct{}
	wg    sync.WaitGroup

	keeps      chan sluice.JudgeGrade // to the keeper; nil without Keep
	keepCtx    context.Context        // the keeper's, cancelled when Close's bound ends
	keepCancel context.CancelFunc
	keepDone   chan struct{} // closed when the keeper has ended

	submitted, dropped, scored, unparsed, failed, unkept atomic.Int64
}

// Stats counts what a Judge did with the items it was given.
type Stats struct {
	// Submitted counts the items accepted into the queue.
	Submitted int64 `json:"submitted"`
	// Dropped counts the items Submit dropped because the queue was full
	// (or the Judge was closed).
	Dropped int64 `json:"dropped"`
	// Scored counts the items graded and recorded.
	Scored int64 `json:"scored"`
	// Unparsed counts the judge answers without a readable 0-10 score.
	Unparsed int64 `json:"unparsed"`
	// Failed counts the grading calls that failed (network, status, body).
	Failed int64 `json:"failed"`
	// Unkept counts the grades recorded that Keep did not store (it
	// failed, or its queue was full).
	Unkept int64 `json:"unkept,omitempty"`
}

// Sample reports whether the next answer should be graded, a draw against
// SampleRate. It is cheap enough for the request path.
func (j *Judge) Sample() bool {
	rate := j.SampleRate
	if rate == 0 {
		rate = DefaultSampleRate
	}
	return rate >= 1 || rand.Float64() < rate
}

// Submit queues item for grading without blocking; when the queue is full
// the item is dropped and counted.
func (j *Judge) Submit(item Item) {
	j.start.Do(j.run)
	select {
	case <-j.done:
		j.dropped.Add(1)
		return
	default:
	}
	select {
	case j.queue <- item:
		j.submitted.Add(1)
	default:
		j.dropped.Add(1)
	}
}

// Close stops the workers, abandoning queued items, waits for the calls
// in progress to end, and stores the grades waiting for Keep, for up to
// DefaultKeepDrain.
func (j *Judge) Close() {
	ctx, cancel := context.WithTimeout(context.Background(), DefaultKeepDrain)
	defer cancel()
	j.CloseContext(ctx)
}

// CloseContext is Close with the grades waiting for Keep stored until ctx
// ends; those left then are counted as not kept.
func (j *Judge) CloseContext(ctx context.Context) {
	j.start.Do(j.run)
	j.stop.Do(func() {
		close(j.done)
		j.wg.Wait()
		if j.keeps != nil {
			close(j.keeps) // the workers, its only senders, have ended
		}
	})
	j.wg.Wait()
	if j.keeps == nil {
		return
	}
	select {
	case <-j.keepDone:
	case <-ctx.Done():
		j.keepCancel()
		<-j.keepDone
	}
	j.keepCancel()
}

// Stats returns the counts so far.
func (j *Judge) Stats() Stats {
	return Stats{
		Submitted: j.submitted.Load(), Dropped: j.dropped.Load(), Scored: j.scored.Load(),
		Unparsed: j.unparsed.Load(), Failed: j.failed.Load(), Unkept: j.unkept.Load(),
	}
}

func (j *Judge) run() {
	q := j.Queue
	if q <= 0 {
		q = DefaultQueue
	}
	n := j.Workers
	if n <= 0 {
		n = DefaultWorkers
	}
	j.queue = make(chan Item, q)
	j.done = make(chan struct{})
	if j.Keep != nil {
		kq := j.KeepQueue
		if kq <= 0 {
			kq = DefaultKeepQueue
		}
		j.keeps = make(chan sluice.JudgeGrade, kq)
		j.keepDone = make(chan struct{})
		j.keepCtx, j.keepCancel = context.WithCancel(context.Background())
		go j.keeper()
	}
	ctx, cancel := context.WithCancel(context.Background())
	go func() { <-j.done; cancel() }()
	for range n {
		j.wg.Go(func() {
			for {
				select {
				case <-j.done:
					return
				case it := <-j.queue:
					j.grade(ctx, it)
				}
			}
		})
	}
}

// grade asks the judge for one grade and records it.
func (j *Judge) grade(ctx context.Context, it Item) {
	text, err := j.Ask(ctx, it.Prompt, it.Answer)
	if err != nil {
		if ctx.Err() == nil {
			j.failed.Add(1)
		}
		return
	}
	g, ok := ParseScore(text)
	if !ok {
		j.unparsed.Add(1)
		return
	}
	j.scored.Add(1)
	at := it.At
	if at.IsZero() {
		at = time.Now()
	}
	if j.Record != nil {
		j.Record(it.Model, it.Version, it.Category, it.Route, at, g/10)
	}
	if j.keeps != nil {
		select {
		case j.keeps <- sluice.JudgeGrade{RequestID: it.RequestID, Model: it.Model, Version: it.Version, Category: it.Category,
			Route: it.Route, AnsweredAt: at, Score: g / 10, At: time.Now()}:
		default:
			j.notKept()
		}
	}
}

// keeper stores the grades the workers queue, one after another, until
// Close closes the queue.
func (j *Judge) keeper() {
	defer close(j.keepDone)
	for g := range j.keeps {
		if err := j.Keep(j.keepCtx, g); err != nil {
			j.notKept()
		}
	}
}

// notKept counts a grade Keep did not store.
func (j *Judge) notKept() {
	j.unkept.Add(1)
	if j.OnUnkept != nil {
		j.OnUnkept()
	}
}

// systemPrompt tells the judge how to grade.
const systemPrompt = "You are an impartial grader of AI assistant answers. Rate how well the answer responds to the user's prompt, " +
	"judging correctness, helpfulness, completeness and clarity. An unjustified refusal or an empty answer scores 0; a perfect answer scores 10. " +
	"Reply with one line only, in the form \"Score: N\", where N is an integer from 0 to 10."

// Ask sends one grading request for answer to prompt and returns the
// judge's raw reply text. Grade parsing is left to ParseScore.
func (j *Judge) Ask(ctx context.Context, prompt, answer string) (string, error) {
	timeout := j.Timeout
	if timeout <= 0 {
		timeout = DefaultTimeout
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	user := "Prompt:\n<<<\n" + cut(prompt, MaxPromptChars) + "\n>>>\n\nAnswer:\n<<<\n" + cut(answer, MaxAnswerChars) + "\n>>>"
	body, err := json.Marshal(map[string]any{
		"model": j.Model,
		"messages": []map[string]string{
			{"role": "system", "content": systemPrompt},
			{"role": "user", "content": user},
		},
		"temperature": 0,
		"max_tokens":  64,
	})
	if err != nil {
		return "", err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, chatURL(j.Endpoint), bytes.NewReader(body))
	if err != nil {
		return "", fmt.Errorf("judge endpoint %q: %w", j.Endpoint, err)
	}
	req.Header.Set("Content-Type", "application/json")
	if j.APIKey != "" {
		req.Header.Set("Authorization", "Bearer "+j.APIKey)
	}
	c := j.Client
	if c == nil {
		c = http.DefaultClient
	}
	resp, err := c.Do(req)
	if err != nil {
		return "", fmt.Errorf("call judge: %w", err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return "", fmt.Errorf("read judge answer: %w", err)
	}
	if resp.StatusCode != http.StatusOK {
		return "", fmt.Errorf("judge answered %s: %s", resp.Status, cut(string(b), 200))
	}
	content := gjson.GetBytes(b, "choices.0.message.content")
	if content.Type != gjson.String {
		return "", fmt.Errorf("judge answer has no choices[0].message.content")
	}
	return content.Str, nil
}

// chatURL returns the chat completions URL of an endpoint written with or
// without /v1.
func chatURL(endpoint string) string {
	endpoint = strings.TrimSuffix(endpoint, "/")
	if strings.HasSuffix(endpoint, "/v1") {
		return endpoint + "/chat/completions"
	}
	return endpoint + "/v1/chat/completions"
}

// cut returns s cut to at most n bytes, at a character boundary.
func cut(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n]
}

// Collector returns the Prometheus collector of the Judge's counts:
// sluice_judge_items_total{result} with result submitted, dropped, scored,
// unparsed or failed.
func (j *Judge) Collector() prometheus.Collector { return collector{j} }

var itemsDesc = prometheus.NewDesc("sluice_judge_items_total",
	"Answers handed to the LLM-as-judge, by what became of them: submitted (queued), dropped (queue full), scored, unparsed (no 0-10 score in the judge's reply) or failed (the call failed).",
	[]string{"result"}, nil)

type collector struct{ j *Judge }

func (c collector) Describe(ch chan<- *prometheus.Desc) { ch <- itemsDesc }

func (c collector) Collect(ch chan<- prometheus.Metric) {
	s := c.j.Stats()
	for _, kv := range []struct {
		k string
		v int64
	}{{"submitted", s.Submitted}, {"dropped", s.Dropped}, {"scored", s.Scored}, {"unparsed", s.Unparsed}, {"failed", s.Failed}} {
		ch <- prometheus.MustNewConstMetric(itemsDesc, prometheus.CounterValue, float64(kv.v), kv.k)
	}
}
