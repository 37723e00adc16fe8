package proxy

import (
	"crypto/rand"
	"encoding/hex"
	"strconv"
	"strings"
	"sync/atomic"
	"time"
)

// Request ids are a random per-process prefix and a number that holds the
// second the id was given and the low bits of a per-process counter:
// req_<12 hex>_<number in base 36>. Unique across replicas without
// coordination (the prefix), within a process as long as it gives fewer
// than 2^28 ids in one second of its clock (the counter), and cheap to
// make: no clock reading of their own (the request's start is read
// anyway). The second tells another replica, which must find the id's
// answer in the fleet's request log, how long its row can still be on the
// way (issueBound): an id of a second no replica's answer can still be
// waited for is answered at once.
//
// The shape is the one a gateway gave before ids held a time (the number
// was the counter alone), so a replica of an earlier release takes a new
// id for another process's, as it is, and waits for its row as before. A
// number of 2^56 or more tells the timed ids from those: an earlier
// counter would have to have counted 7 × 10^16 requests.
var (
	idPrefix  = randomPrefix()
	idCounter atomic.Uint64
)

const (
	// idCounterBits are the counter's bits in an id's number, under the
	// second.
	idCounterBits = 28
	idCounterMask = 1<<idCounterBits - 1
	// idMinSecond and idMaxSecond bound the second an id holds (clamped
	// there: a test's clock before 1978): at least 2^28, so that a timed
	// id's number is at least 2^56, and under 2^36, so that it fits 64
	// bits.
	idMinSecond = 1 << 28
	idMaxSecond = 1<<36 - 1
)

func randomPrefix() string {
	var b [6]byte
	rand.Read(b[:])
	return "req_" + hex.EncodeToString(b[:])
}

// idSecond is the second a request id given at at holds.
func idSecond(at time.Time) uint64 {
	return uint64(min(max(at.Unix(), idMinSecond), idMaxSecond))
}

// newRequestID returns a new request id for a request that started at
// at, and the counter value in it.
func newRequestID(at time.Time) (string, uint64) {
	n := idCounter.Add(1)
	var buf [40]byte
	out := append(buf[:0], idPrefix...)
	out = append(out, '_')
	out = strconv.AppendUint(out, idSecond(at)<<idCounterBits|n&idCounterMask, 36)
	return string(out), n
}

// parseRequestID returns the counter value of an id this process made and
// the second it holds; ok is false for any other string, including
// another spelling of one it made (a leading zero, an upper-case digit):
// an id names its request one way, as newRequestID writes it, since a
// fleet's feedback claim is made under the id as sent, and an alias would
// rate one answer twice. The id holds the counter's low bits: n is the
// last counter value given with those bits, which the feedback ring's
// slot confirms by the second (feedbackRing.claim).
func parseRequestID(id string) (n, sec uint64, ok bool) {
	rest, found := strings.CutPrefix(id, idPrefix)
	if !found || len(rest) < 2 || rest[0] != '_' {
		return 0, 0, false
	}
	v, ok := parseCounter(rest[1:])
	if !ok || v>>idCounterBits < idMinSecond {
		return 0, 0, false
	}
	last, low := idCounter.Load(), v&idCounterMask
	return last - (last-low)&idCounterMask, v >> idCounterBits, true
}

// parseCounter reads a request id's number, written in base 36 with
// lower-case digits and no leading zero; ok is false for any other
// spelling, and for 0, which no request has.
func parseCounter(s string) (n uint64, ok bool) {
	if len(s) == 0 || s[0] == '0' {
		return 0, false
	}
	for i := 0; i < len(s); i++ {
		if c := s[i]; c >= 'A' && c <= 'Z' {
			return 0, false
		}
	}
	n, err := strconv.ParseUint(s, 36, 64)
	return n, err == nil
}

// otherProcessID says whether id, which this process did not make, is in
// the shape of a request id of another gateway process (a prefix of its
// own: another replica, or this gateway before a restart) rather than no
// id of Sluice's at all (the answer body's "chatcmpl-…", a typo).
// Feedback's 404 names which, as "unknown" alone read as "too old" to a
// user holding the id of an answer a minute old. timed says whether the
// id holds the second it was given (sec), as every id since they do;
// one without (an earlier release's) is answered as before.
func otherProcessID(id string) (sec uint64, timed, ok bool) {
	rest, found := strings.CutPrefix(id, "req_")
	if !found || len(rest) < len(idPrefix)-len("req_")+2 {
		return 0, false, false
	}
	hexPart, count := rest[:len(idPrefix)-len("req_")], rest[len(idPrefix)-len("req_"):]
	if _, err := hex.DecodeString(hexPart); err != nil || hexPart != strings.ToLower(hexPart) || count[0] != '_' {
		return 0, false, false
	}
	v, ok := parseCounter(count[1:])
	if !ok {
		return 0, false, false
	}
	if sec = v >> idCounterBits; sec >= idMinSecond {
		return sec, true, true
	}
	return 0, false, true
}
