package proxy

import (
	"crypto/rand"
	"encoding/hex"
	"strconv"
	"strings"
	"sync/atomic"
)

// Request ids are a random per-process prefix and a counter: unique across
// replicas without coordination, and cheap to make.
var (
	idPrefix  = randomPrefix()
	idCounter atomic.Uint64
)

func randomPrefix() string {
	var b [6]byte
	rand.Read(b[:])
	return "req_" + hex.EncodeToString(b[:])
}

// newRequestID returns a new request id and the counter value in it.
func newRequestID() (string, uint64) {
	n := idCounter.Add(1)
	var buf [40]byte
	out := append(buf[:0], idPrefix...)
	out = append(out, '_')
	out = strconv.AppendUint(out, n, 36)
	return string(out), n
}

// parseRequestID returns the counter value of an id this process made; ok
// is false for any other string, including another spelling of one it
// made (a leading zero, an upper-case digit): an id names its request one
// way, as newRequestID writes it, since a fleet's feedback claim is made
// under the id as sent, and an alias would rate one answer twice.
func parseRequestID(id string) (n uint64, ok bool) {
	rest, found := strings.CutPrefix(id, idPrefix)
	if !found || len(rest) < 2 || rest[0] != '_' {
		return 0, false
	}
	return parseCounter(rest[1:])
}

// parseCounter reads a request id's counter, written in base 36 with
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
// user holding the id of an answer a minute old.
func otherProcessID(id string) bool {
	rest, found := strings.CutPrefix(id, "req_")
	if !found || len(rest) < len(idPrefix)-len("req_")+2 {
		return false
	}
	hexPart, count := rest[:len(idPrefix)-len("req_")], rest[len(idPrefix)-len("req_"):]
	if _, err := hex.DecodeString(hexPart); err != nil || hexPart != strings.ToLower(hexPart) || count[0] != '_' {
		return false
	}
	_, ok := parseCounter(count[1:])
	return ok
}
