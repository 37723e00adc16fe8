package server

import (
	"bufio"
	"strings"
	"testing"
	"unsafe"

	"github.com/valyala/fasthttp"
)

// The proxy keeps a request's category (the feedback ring holds the last
// 100,000, the request log, the windows' series keys), so the category
// value must not be a part of the string that holds all the request's
// header values: kept, it would keep every value of the request alive,
// the client's API key among them.
func TestFront_CategoryValueHasItsOwnMemory(t *testing.T) {
	raw := "POST /v1/chat/completions HTTP/1.1\r\nHost: sluice\r\nAuthorization: Bearer sk-secret-key\r\n" +
		"X-Request-Category: support\r\nX-Other: " + strings.Repeat("o", 500) + "\r\nContent-Length: 0\r\n\r\n"
	var h fasthttp.RequestHeader
	if err := h.Read(bufio.NewReader(strings.NewReader(raw))); err != nil {
		t.Fatal(err)
	}
	hdr := requestHeader(&h, "X-Request-Category")
	if got := hdr.Get("X-Request-Category"); got != "support" {
		t.Fatalf("category %q", got)
	}
	span := func(s string) (uintptr, uintptr) {
		p := uintptr(unsafe.Pointer(unsafe.StringData(s)))
		return p, p + uintptr(len(s))
	}
	lo, hi := ^uintptr(0), uintptr(0)
	for k, vs := range hdr {
		if k == "X-Request-Category" {
			continue
		}
		for _, v := range vs {
			a, b := span(v)
			lo, hi = min(lo, a), max(hi, b)
		}
	}
	if a, b := span(hdr.Get("X-Request-Category")); a < hi && b > lo {
		t.Fatalf("the category value lies in the memory of the other header values (%#x-%#x in %#x-%#x)", a, b, lo, hi)
	}
}
