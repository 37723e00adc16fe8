package proxy

import "bytes"

// commentBlocks drops, from an event stream passed through as it arrives
// (a Responses stream fetched by id, the images and speech event streams:
// relayRaw, serveResponseByID), the blank lines that end a block of
// comments alone (a keep-alive: ": ping", then a blank line) and any other
// blank line outside an event, as relayStream does for the chat,
// completions and Responses streams it reads: the SSE standard dispatches
// no event there, but openai-go (v1.12) takes such a blank line for an
// event with no data and fails the stream ("unexpected end of JSON
// input"). The comments themselves pass (they keep the client's
// connection alive), and every event's bytes pass as they came, its
// ending blank line too. It keeps only where the last read ended, so a
// line split between reads is judged as one; the streams it reads are not
// chat's, so chat's path pays nothing for it.
type commentBlocks struct {
	// mid: the last read ended within a line (not at its start).
	mid bool
	// inEvent: a field line (not a comment) came since the last blank
	// line: the next blank line ends an event, and passes.
	inEvent bool
	// afterCR: the last read ended with a line's \r; a \n first in the
	// next read is the rest of that line's end and goes where it went
	// (dropCR: dropped).
	afterCR, dropCR bool
	// events counts the events ended (their blank line passed).
	events int64
}

// appendEnd appends to b what ends the line and the event the stream left
// open where it was cut off, so that an event of the gateway's written
// next (an error event) stands alone: nothing after a comment or an
// ended event, whose blank line would make a block of no data, which
// openai-go fails on; a line's end for a line cut short; a blank line for
// an event left open (\r after a line ended by \r, which a \n would only
// complete).
func (c *commentBlocks) appendEnd(b []byte) []byte {
	if c.mid {
		b = append(b, '\n')
	}
	if c.inEvent {
		if c.afterCR && !c.mid {
			return append(b, '\r')
		}
		b = append(b, '\n')
	}
	return b
}

// filter returns b without the blank lines outside events, compacted in
// place (b's bytes are overwritten; the result shares b's array).
func (c *commentBlocks) filter(b []byte) []byte {
	w, i := 0, 0
	keep := func(j int) { // b[i:j] passes
		w += copy(b[w:], b[i:j])
		i = j
	}
	for i < len(b) {
		if c.afterCR {
			c.afterCR = false
			if b[i] == '\n' {
				if c.dropCR {
					i++
				} else {
					keep(i + 1)
				}
				continue
			}
		}
		if !c.mid {
			switch b[i] {
			case '\r', '\n':
				// A blank line: an event's end passes, any other is
				// dropped.
				pass := c.inEvent
				c.inEvent = false
				if b[i] == '\r' {
					c.afterCR, c.dropCR = true, !pass
				}
				if pass {
					c.events++
					keep(i + 1)
				} else {
					i++
				}
				continue
			case ':':
			default:
				c.inEvent = true
			}
			c.mid = true
		}
		j := bytes.IndexAny(b[i:], "\r\n")
		if j < 0 {
			keep(len(b))
			break
		}
		j += i
		c.mid = false
		c.afterCR, c.dropCR = b[j] == '\r', false
		keep(j + 1)
	}
	return b[:w]
}
