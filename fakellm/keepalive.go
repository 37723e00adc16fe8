package fakellm

import (
	"bytes"
	"compress/gzip"
	"compress/zlib"
	"net/http"
	"strings"
)

// keepAliveWriter sends a keep-alive block (": keep-alive" and a blank
// line, as sse-starlette's ping and OpenRouter send one) before each write
// of an event stream's events (Config.KeepAlive): before the first event
// and between events, what a client, or a gateway in front of it, must
// read through. Answers that are not event streams pass as they are.
type keepAliveWriter struct {
	http.ResponseWriter
}

// keepAliveBlock is a comment alone in its block, ended by a blank line.
var keepAliveBlock = []byte(": keep-alive\n\n")

func (k *keepAliveWriter) Write(b []byte) (int, error) {
	if strings.HasPrefix(k.Header().Get("Content-Type"), "text/event-stream") {
		if _, err := k.ResponseWriter.Write(keepAliveBlock); err != nil {
			return 0, err
		}
		k.Flush()
	}
	return k.ResponseWriter.Write(b)
}

// Flush flushes the answer so far, when the writer underneath can.
func (k *keepAliveWriter) Flush() {
	if fl, ok := k.ResponseWriter.(http.Flusher); ok {
		fl.Flush()
	}
}

// encodeBody returns b encoded as enc ("gzip" or "deflate", HTTP's
// zlib-wrapped deflate), as a compressing cache sends a whole answer
// (Behavior.IgnoreStreamEncoding).
func encodeBody(enc string, b []byte) []byte {
	var out bytes.Buffer
	if enc == EncodingDeflate {
		w := zlib.NewWriter(&out)
		_, _ = w.Write(b)
		_ = w.Close()
	} else {
		w := gzip.NewWriter(&out)
		_, _ = w.Write(b)
		_ = w.Close()
	}
	return out.Bytes()
}
