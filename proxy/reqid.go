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
// is false for any other string.
func parseRequestID(id string) (n uint64, ok bool) {
	rest, found := strings.CutPrefix(id, idPrefix)
	if !found || len(rest) < 2 || rest[0] != '_' {
		return 0, false
	}
	n, err := strconv.ParseUint(rest[1:], 36, 64)
	return n, err == nil && n > 0
}
