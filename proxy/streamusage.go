package proxy

import (
	"bytes"

	"github.com/tidwall/gjson"

	"github.com/sluicehq/sluice"
)

// usageKey is the member an event stream's usage is read from.
const usageKey = `"usage"`

// maxUsageBytes bounds what streamUsage keeps of a usage member's value: a
// usage object is a few hundred bytes, and the rest of its line (an
// image's base64 after it) is not needed.
const maxUsageBytes = 4 << 10

// streamUsage reads the token counts of an event stream passed through
// unread (relayRaw): a transcription's transcript.text.done, vLLM's last
// transcription.chunk (with stream_include_usage), an image's
// *.completed event, speech's speech.audio.done. Each carries a "usage"
// object, the last one the answer's; the stream's bytes are searched for
// the member (bytes.Index, so an image's megabytes of base64 cost a scan),
// and only its value, up to the end of its line, is kept and read. Where
// the member holds no tokens ({"type": "duration", "seconds": …}, as
// whisper-1 reports, or null) nothing is counted. It keeps the end of the
// last read, so a member split between reads is found too.
type streamUsage struct {
	// carry is the end of the last read that may begin usageKey (ncarry
	// bytes of it), in the struct, as joining it to the next read is done
	// on the stack: a read is often an event or less.
	carry  [len(usageKey) - 1]byte
	ncarry int
	// value is the usage member's value so far, from its colon, while
	// collecting.
	value      []byte
	collecting bool
	// in and out are the last usage's tokens; found says one was read.
	in, out int
	found   bool
}

// scan reads b, the next bytes of the stream.
func (s *streamUsage) scan(b []byte) {
	for len(b) > 0 {
		if s.collecting {
			// The line's end is looked for within what may still be kept.
			look := b[:min(len(b), maxUsageBytes-len(s.value))]
			end := bytes.IndexAny(look, "\r\n")
			if end < 0 {
				s.value = append(s.value, look...)
				if len(s.value) == maxUsageBytes {
					s.end()
				}
				b = b[len(look):]
				continue
			}
			s.value = append(s.value, look[:end]...)
			s.end()
			b = b[end:]
			continue
		}
		if s.ncarry > 0 {
			var j [2 * len(s.carry)]byte
			n := copy(j[:], s.carry[:s.ncarry])
			joined := j[:n+copy(j[n:], b)]
			s.ncarry = 0
			if i := bytes.Index(joined, []byte(usageKey)); i >= 0 {
				s.begin()
				b = b[i+len(usageKey)-n:]
				continue
			}
			if len(b) < len(s.carry) {
				// A read shorter than the key: all of it is in joined.
				s.ncarry = copy(s.carry[:], joined[max(0, len(joined)-len(s.carry)):])
				return
			}
		}
		i := bytes.Index(b, []byte(usageKey))
		if i < 0 {
			s.ncarry = copy(s.carry[:], b[max(0, len(b)-len(s.carry)):])
			return
		}
		s.begin()
		b = b[i+len(usageKey):]
	}
}

// begin starts collecting a usage member's value, in one buffer for the
// stream of a usage object's size, so that small reads do not grow it by
// steps.
func (s *streamUsage) begin() {
	if s.value == nil {
		s.value = make([]byte, 0, 512)
	}
	s.collecting, s.value = true, s.value[:0]
}

// end reads the usage member collected, if any: at its line's end, at its
// bound, or at the stream's end. Only an object is parsed (vLLM sends
// "usage": null in every chunk but the last).
func (s *streamUsage) end() {
	if !s.collecting {
		return
	}
	s.collecting = false
	v := bytes.TrimLeft(s.value, " \t")
	if len(v) == 0 || v[0] != ':' {
		return // "usage" as a value, not a member's name
	}
	if v = bytes.TrimLeft(v[1:], " \t"); len(v) == 0 || v[0] != '{' {
		return
	}
	u := gjson.ParseBytes(v)
	if !u.IsObject() {
		return
	}
	s.in, s.out = usageTokens(u)
	s.found = true
}

// apply puts the last usage read into obs.
func (s *streamUsage) apply(obs *sluice.Observation) {
	s.end()
	if s.found {
		obs.InputTokens, obs.OutputTokens = s.in, s.out
	}
}
