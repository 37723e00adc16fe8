package proxy

import (
	"bytes"
	"compress/flate"
	"compress/gzip"
	"compress/zlib"
	"errors"
	"io"
	"strconv"
	"strings"
)

// A streamed request answered with one whole answer (wholestream.go) may
// come encoded though the gateway asked for no encoding (it sends no
// Accept-Encoding: skipUpstreamHeader), from a cache or proxy in front of
// the model server that compresses whatever it sends. Passed on, the
// client's HTTP library decoded it, and the SDK read no event from the
// JSON: an empty stream and no error. So that answer is decoded here, on
// that path alone, with the encodings Go's standard library reads (gzip,
// deflate), and then judged and relayed as the unencoded one is; any
// other encoding is upstream_invalid, naming it. A whole answer to a
// request that did not stream is passed on encoded, as before: the
// client's library decodes it.

// maxDecodedAnswer bounds what an encoded whole answer may decode to: a
// few kilobytes of gzip can decode to gigabytes.
const maxDecodedAnswer = 64 << 20

// encodedAnswerError is an encoded whole answer to a streamed request
// that could not be decoded: an encoding other than gzip and deflate
// (enc), one that does not decode (err), or one larger than
// maxDecodedAnswer decoded.
type encodedAnswerError struct {
	enc string
	err error
}

func (e *encodedAnswerError) Error() string {
	s := "one whole body encoded as " + strconv.Quote(e.enc) + " instead of a stream, "
	switch {
	case e.err == errDecodedTooLarge:
		return s + "which decodes to more than " + strconv.Itoa(maxDecodedAnswer>>20) + " MiB"
	case e.err != nil:
		return s + "which does not decode (" + e.err.Error() + ")"
	}
	return s + "which Sluice cannot decode (it asks for no encoding, and reads gzip and deflate alone); have the backend, or the cache or proxy in front of it, answer unencoded"
}

var errDecodedTooLarge = errors.New("decoded answer too large")

// decodeWhole decodes got, a whole answer sent with the Content-Encoding
// values codings (applied in their order, so undone in reverse), into a
// buffer of p.bufs, which the caller puts back once done with out.
func (p *Proxy) decodeWhole(got []byte, codings []string) (bp *[]byte, out []byte, err error) {
	var list []string
	for _, v := range codings {
		for c := range strings.SplitSeq(v, ",") {
			if c = strings.ToLower(strings.TrimSpace(c)); c != "" && c != "identity" {
				list = append(list, c)
			}
		}
	}
	for _, c := range list {
		if c != "gzip" && c != "x-gzip" && c != "deflate" {
			return nil, nil, &encodedAnswerError{enc: c}
		}
	}
	// The buffers are held in locals: a return of the error sets the
	// named results to nil before the deferred function reads them.
	held := p.bufs.Get().(*[]byte)
	out = append((*held)[:0], got...)
	tmp := p.bufs.Get().(*[]byte)
	defer func() {
		*tmp = (*tmp)[:0]
		p.bufs.Put(tmp)
		if err != nil {
			*held = (*held)[:0]
			p.bufs.Put(held)
		}
	}()
	for i := len(list) - 1; i >= 0; i-- {
		var r io.Reader
		switch list[i] {
		case "deflate":
			// HTTP's deflate is zlib's format (RFC 9110 8.4.1.2); some
			// servers send the raw deflate stream, read as Go's
			// ReverseProxy clients would.
			if zr, zerr := zlib.NewReader(bytes.NewReader(out)); zerr == nil {
				r = zr
			} else {
				r = flate.NewReader(bytes.NewReader(out))
			}
		default:
			gr, gerr := gzip.NewReader(bytes.NewReader(out))
			if gerr != nil {
				return nil, nil, &encodedAnswerError{enc: list[i], err: gerr}
			}
			r = gr
		}
		buf := bytes.NewBuffer((*tmp)[:0])
		_, rerr := buf.ReadFrom(io.LimitReader(r, maxDecodedAnswer+1))
		*tmp = buf.Bytes()
		if rerr != nil {
			return nil, nil, &encodedAnswerError{enc: list[i], err: rerr}
		}
		if len(*tmp) > maxDecodedAnswer {
			return nil, nil, &encodedAnswerError{enc: list[i], err: errDecodedTooLarge}
		}
		// The two buffers swap, each kept by one of held and tmp (put
		// back once each, whichever return comes).
		out, *tmp = *tmp, out[:0]
		*held = out
	}
	return held, out, nil
}
