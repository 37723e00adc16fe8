package bench

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"strconv"
	"sync"
	"sync/atomic"
	"time"
)

// The Go load generator speaks just enough HTTP/1.1 over its own keep-alive
// connections to cost little more than wrk: a request is one write of
// bytes prepared in a reused buffer, the answer is parsed in place, and
// nothing is allocated per request. It is used for streams (wrk cannot time
// chunks), for the open-loop runs at a fixed rate, and for non-streamed
// requests when wrk is not installed.

// epoch is the origin of the monotonic nanosecond clock the load generator
// and the stamping backends share.
var epoch = time.Now()

func nanotime() int64 { return int64(time.Since(epoch)) }

// request is what a load run sends: a POST of body to path on addr, with
// the header lines in header (each ending in CRLF, Host included), plus a
// user header whose value cycles over users distinct ids.
type request struct {
	addr       string
	path       string
	header     string
	body       []byte
	userHeader string
	users      int
	// stream marks a streamed request: the answer is read event by event
	// and each of the first tokens events is timed against the backend's
	// stamps.
	stream bool
	tokens int
}

// loadResult is what one load run measured.
type loadResult struct {
	// Requests counts the exchanges in the measured window, answered (any
	// status) or failed; Errors the non-2xx answers and failed exchanges,
	// so Requests-Errors is the successful answers.
	Requests, Errors int64
	// Elapsed is the measured window.
	Elapsed time.Duration
	// Latency is from writing the request to the answer's last byte.
	Latency hist
	// TTFT is from writing the request to the first event of a stream.
	TTFT hist
	// Chunk is, for each timed stream event, the time from the backend's
	// write to its arrival at the client.
	Chunk hist
	// ChunkLost counts timed events whose backend stamp was not found.
	ChunkLost int64
	// FirstError is the first error seen, for the log.
	FirstError string
}

func (r *loadResult) merge(o *loadResult) {
	r.Requests += o.Requests
	r.Errors += o.Errors
	r.Latency.merge(&o.Latency)
	r.TTFT.merge(&o.TTFT)
	r.Chunk.merge(&o.Chunk)
	r.ChunkLost += o.ChunkLost
	if r.FirstError == "" {
		r.FirstError = o.FirstError
	}
}

// conn is one keep-alive client connection.
type conn struct {
	addr   string
	c      net.Conn
	br     *bufio.Reader
	wb     []byte
	closed bool
	// events holds the arrival times of the current stream's events.
	events []int64
}

func dial(addr string) (*conn, error) {
	c, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		return nil, err
	}
	return &conn{addr: addr, c: c, br: bufio.NewReaderSize(c, 32<<10), wb: make([]byte, 0, 4096)}, nil
}

func (c *conn) close() {
	if c != nil && c.c != nil {
		c.c.Close()
	}
}

var errProtocol = errors.New("malformed HTTP response")

// exchange sends rq for user n (and stream id sid) and reads the answer.
// It returns the status; for streams c.events holds the event times.
func (c *conn) exchange(rq *request, n int, sid uint64) (int, error) {
	b := c.wb[:0]
	b = append(b, "POST "...)
	b = append(b, rq.path...)
	b = append(b, " HTTP/1.1\r\n"...)
	b = append(b, rq.header...)
	b = append(b, rq.userHeader...)
	b = append(b, ": user-"...)
	b = strconv.AppendInt(b, int64(n), 10)
	b = append(b, "\r\n"...)
	if sid != 0 {
		b = append(b, streamHeader+": "...)
		b = strconv.AppendUint(b, sid, 10)
		b = append(b, "\r\n"...)
	}
	b = append(b, "Content-Length: "...)
	b = strconv.AppendInt(b, int64(len(rq.body)), 10)
	b = append(b, "\r\n\r\n"...)
	b = append(b, rq.body...)
	c.wb = b
	if _, err := c.c.Write(b); err != nil {
		return 0, err
	}
	return c.readResponse(rq.stream)
}

func (c *conn) readResponse(stream bool) (int, error) {
	c.events = c.events[:0]
	line, err := c.br.ReadSlice('\n')
	if err != nil {
		return 0, err
	}
	if len(line) < 12 || !bytes.HasPrefix(line, []byte("HTTP/1.")) {
		return 0, errProtocol
	}
	status, err := strconv.Atoi(string(line[9:12]))
	if err != nil {
		return 0, errProtocol
	}
	length, chunked := int64(-1), false
	for {
		line, err = c.br.ReadSlice('\n')
		if err != nil {
			return status, err
		}
		if len(line) <= 2 {
			break
		}
		i := bytes.IndexByte(line, ':')
		if i < 0 {
			return status, errProtocol
		}
		k, v := line[:i], bytes.TrimSpace(line[i+1:])
		switch {
		case asciiEqualFold(k, "content-length"):
			length, err = strconv.ParseInt(string(v), 10, 64)
			if err != nil {
				return status, errProtocol
			}
		case asciiEqualFold(k, "transfer-encoding"):
			chunked = bytes.Contains(bytes.ToLower(v), []byte("chunked"))
		case asciiEqualFold(k, "connection"):
			if asciiEqualFold(v, "close") {
				c.closed = true
			}
		}
	}
	if status == 204 || status == 304 || status/100 == 1 {
		return status, nil
	}
	var sc sseScan
	switch {
	case chunked:
		for {
			line, err = c.br.ReadSlice('\n')
			if err != nil {
				return status, err
			}
			if j := bytes.IndexByte(line, ';'); j >= 0 {
				line = line[:j]
			}
			size, err := strconv.ParseInt(string(bytes.TrimSpace(line)), 16, 64)
			if err != nil {
				return status, errProtocol
			}
			if size == 0 {
				for { // trailers
					line, err = c.br.ReadSlice('\n')
					if err != nil {
						return status, err
					}
					if len(line) <= 2 {
						return status, nil
					}
				}
			}
			if err := c.body(size, stream, &sc); err != nil {
				return status, err
			}
			if _, err := c.br.Discard(2); err != nil {
				return status, err
			}
		}
	case length >= 0:
		return status, c.body(length, stream, &sc)
	default:
		c.closed = true
		return status, c.body(1<<62, stream, &sc)
	}
}

// body consumes n bytes of body; for streams it timestamps each event end
// (a blank line) with the time the bytes holding it were read.
func (c *conn) body(n int64, stream bool, sc *sseScan) error {
	if !stream {
		_, err := c.br.Discard(int(min(n, 1<<40)))
		if err == io.EOF && n == 1<<62 {
			return nil
		}
		return err
	}
	for n > 0 {
		if _, err := c.br.Peek(1); err != nil {
			if err == io.EOF && n >= 1<<62 {
				return nil
			}
			return err
		}
		k := int(min(int64(c.br.Buffered()), n))
		p, _ := c.br.Peek(k)
		now := nanotime()
		for _, ch := range p {
			if sc.feed(ch) {
				c.events = append(c.events, now)
			}
		}
		c.br.Discard(k)
		n -= int64(k)
	}
	return nil
}

// sseScan finds the blank lines that end server-sent events.
type sseScan struct{ atLineStart bool }

func (s *sseScan) feed(ch byte) (eventEnd bool) {
	switch ch {
	case '\r':
		return false
	case '\n':
		end := s.atLineStart
		s.atLineStart = true
		return end
	}
	s.atLineStart = false
	return false
}

func asciiEqualFold(b []byte, s string) bool {
	if len(b) != len(s) {
		return false
	}
	for i := range len(b) {
		c := b[i]
		if 'A' <= c && c <= 'Z' {
			c += 'a' - 'A'
		}
		if c != s[i] {
			return false
		}
	}
	return true
}

// worker runs exchanges on one connection, redialling after errors.
type worker struct {
	rq     *request
	stamps *stamps
	res    loadResult
	c      *conn
	user   int
	// mu guards writes of c (on a dial or a close, not per request) so
	// that cutStuck may read it from another goroutine.
	mu sync.Mutex
}

// setConn sets the worker's connection.
func (w *worker) setConn(c *conn) {
	w.mu.Lock()
	w.c = c
	w.mu.Unlock()
}

// waitOrCut waits for the workers to stop; an exchange still stuck after
// 15 s (a gateway that never answers) has its connection cut, so that a run
// always ends.
func waitOrCut(wg *sync.WaitGroup, workers []*worker) {
	done := make(chan struct{})
	go func() { wg.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(15 * time.Second):
		for _, w := range workers {
			w.mu.Lock()
			if c := w.c; c != nil && c.c != nil {
				c.c.SetDeadline(time.Now())
			}
			w.mu.Unlock()
		}
		<-done
	}
}

// one sends one request and records it when record is set. Its latency and
// time to first token are timed from sched (nanotime), the moment an open
// loop's schedule meant it to be sent, or from the write when sched is 0.
func (w *worker) one(record bool, sched int64) {
	if w.c == nil || w.c.closed {
		w.c.close()
		c, err := dial(w.rq.addr)
		if err != nil {
			w.fail(record, err)
			time.Sleep(10 * time.Millisecond)
			return
		}
		w.setConn(c)
	}
	w.user = (w.user + 7919) % w.rq.users
	var sid uint64
	if w.rq.stream && w.stamps != nil {
		sid = w.stamps.next()
	}
	start := nanotime()
	if sched != 0 {
		start = min(start, sched)
	}
	status, err := w.c.exchange(w.rq, w.user, sid)
	end := nanotime()
	if err != nil {
		w.c.close()
		w.setConn(nil)
		w.fail(record, err)
		return
	}
	if !record {
		return
	}
	w.res.Requests++
	if status < 200 || status > 299 {
		w.res.Errors++
		if w.res.FirstError == "" {
			w.res.FirstError = "HTTP " + strconv.Itoa(status)
		}
	}
	w.res.Latency.add(end - start)
	if w.rq.stream && len(w.c.events) > 0 {
		w.res.TTFT.add(w.c.events[0] - start)
		if sid != 0 {
			n := min(len(w.c.events), w.rq.tokens)
			lost := w.stamps.delays(sid, w.c.events[:n], &w.res.Chunk)
			w.res.ChunkLost += int64(lost)
		}
	}
}

func (w *worker) fail(record bool, err error) {
	if !record {
		return
	}
	w.res.Requests++
	w.res.Errors++
	if w.res.FirstError == "" {
		w.res.FirstError = err.Error()
	}
}

// closedLoop runs conc workers, each sending its next request as soon as
// the last is answered, for warmup then d; only d is measured.
func closedLoop(ctx context.Context, rq *request, st *stamps, conc int, warmup, d time.Duration) *loadResult {
	var measuring, stop atomic.Bool
	workers := make([]*worker, conc)
	var wg sync.WaitGroup
	for i := range workers {
		w := &worker{rq: rq, stamps: st, user: i * 104729 % max(rq.users, 1)}
		workers[i] = w
		wg.Go(func() {
			defer w.c.close()
			for !stop.Load() && ctx.Err() == nil {
				rec := measuring.Load()
				w.one(rec, 0)
			}
		})
	}
	sleepCtx(ctx, warmup)
	t0 := nanotime()
	measuring.Store(true)
	sleepCtx(ctx, d)
	measuring.Store(false)
	elapsed := time.Duration(nanotime() - t0)
	stop.Store(true)
	waitOrCut(&wg, workers)
	res := &loadResult{Elapsed: elapsed}
	for _, w := range workers {
		res.merge(&w.res)
	}
	return res
}

// openLoop sends rate requests per second spread over conns connections,
// each on its own fixed schedule, for warmup then d. A connection that
// falls behind its schedule sends at once; latency is timed from when the
// schedule meant the request to be sent, so a request that waited behind a
// slow one counts its wait (no coordinated omission: timed from the write,
// a stall delayed the sends that would have seen it, and the tail was
// understated).
func openLoop(ctx context.Context, rq *request, st *stamps, rate float64, conns int, warmup, d time.Duration) *loadResult {
	if rate <= 0 {
		return &loadResult{FirstError: "rate is zero"}
	}
	conns = max(1, conns)
	interval := time.Duration(float64(time.Second) * float64(conns) / rate)
	var measuring, stop atomic.Bool
	workers := make([]*worker, conns)
	var wg sync.WaitGroup
	t0 := time.Now()
	for i := range workers {
		w := &worker{rq: rq, stamps: st, user: i * 104729 % max(rq.users, 1)}
		workers[i] = w
		offset := time.Duration(int64(interval) * int64(i) / int64(conns))
		wg.Go(func() {
			defer w.c.close()
			next := t0.Add(offset)
			for !stop.Load() && ctx.Err() == nil {
				if wait := time.Until(next); wait > 0 {
					time.Sleep(wait)
				}
				sched := int64(next.Sub(epoch))
				next = next.Add(interval)
				w.one(measuring.Load(), sched)
			}
		})
	}
	sleepCtx(ctx, warmup)
	m0 := nanotime()
	measuring.Store(true)
	sleepCtx(ctx, d)
	measuring.Store(false)
	elapsed := time.Duration(nanotime() - m0)
	stop.Store(true)
	waitOrCut(&wg, workers)
	res := &loadResult{Elapsed: elapsed}
	for _, w := range workers {
		res.merge(&w.res)
	}
	return res
}

func sleepCtx(ctx context.Context, d time.Duration) {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
	case <-ctx.Done():
	}
}

// probe sends one request and checks that it is answered with 2xx, so a
// gateway that does not route is caught before it is measured.
func probe(rq *request, st *stamps) error {
	c, err := dial(rq.addr)
	if err != nil {
		return err
	}
	defer c.close()
	c.c.SetDeadline(time.Now().Add(10 * time.Second))
	var sid uint64
	if rq.stream && st != nil {
		sid = st.next()
	}
	status, err := c.exchange(rq, 1, sid)
	if err != nil {
		return err
	}
	if status/100 != 2 {
		return fmt.Errorf("HTTP %d", status)
	}
	if rq.stream && len(c.events) < rq.tokens {
		return fmt.Errorf("stream had %d events, want at least %d", len(c.events), rq.tokens)
	}
	return nil
}
