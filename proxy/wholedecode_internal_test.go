package proxy

import (
	"bytes"
	"compress/gzip"
	"testing"
)

// TestDecodeWhole_Layers: "gzip, gzip" is undone in reverse; and a failure
// in a later layer puts each of the two buffers back once, never the same
// array twice (which would hand one array to two requests).
func TestDecodeWhole_Layers(t *testing.T) {
	gz := func(b []byte) []byte {
		var out bytes.Buffer
		w := gzip.NewWriter(&out)
		w.Write(b)
		w.Close()
		return out.Bytes()
	}
	p := &Proxy{}
	p.bufs.New = func() any { b := make([]byte, 0, 4<<10); return &b }
	answer := []byte(`{"object":"chat.completion"}`)
	bp, out, err := p.decodeWhole(gz(gz(answer)), []string{"gzip", "gzip"})
	if err != nil || !bytes.Equal(out, answer) {
		t.Fatalf("decoded %q, error %v; want %q", out, err, answer)
	}
	p.bufs.Put(bp)

	// The outer layer decodes, the inner does not.
	if _, _, err := p.decodeWhole(gz([]byte("\x1f\x8b\x08\x00not gzip")), []string{"gzip", "gzip"}); err == nil {
		t.Fatal("an inner layer that does not decode was decoded")
	}
	a, b := p.bufs.Get().(*[]byte), p.bufs.Get().(*[]byte)
	if cap(*a) > 0 && cap(*b) > 0 && &(*a)[:1][0] == &(*b)[:1][0] {
		t.Error("the failed decode put the same array back twice")
	}
}
