package proxy

import (
	"net/http"
	"testing"

	"github.com/sluicehq/sluice"
)

// TestShadowQueueBoundedByBytes: the mirror queue holds at most
// maxShadowQueueBytes of request bodies (its length alone let a slow
// candidate and long prompts hold gigabytes); beyond, requests are dropped
// and counted, and a worker taking a job gives its bytes back.
func TestShadowQueueBoundedByBytes(t *testing.T) {
	p := &Proxy{}
	p.shadow.init(1024, 4)
	body := make([]byte, 8<<20)
	r, _ := http.NewRequest("POST", "/v1/chat/completions", nil)
	x := &exchange{r: r, body: body, keep: &keep{mirror: &shadowRule{}}}
	for range 10 {
		p.enqueueShadow(x, &sluice.Observation{})
	}
	if m, d := p.shadow.mirrored.Load(), p.shadow.dropped.Load(); m != 8 || d != 2 {
		t.Fatalf("mirrored %d, dropped %d of 10 bodies of 8 MiB; want 8 and 2 (64 MiB)", m, d)
	}
	j := <-p.shadow.queue // as a worker does
	p.shadow.queuedBytes.Add(-int64(len(j.body)))
	p.enqueueShadow(x, &sluice.Observation{})
	if m := p.shadow.mirrored.Load(); m != 9 {
		t.Errorf("after a worker took one: mirrored %d, want 9", m)
	}
}

// TestWithoutOwnCookies: a backend's cookies pass, except those under the
// dashboard's names.
func TestWithoutOwnCookies(t *testing.T) {
	in := []string{"AWSALB=abc; Path=/", "sluice_ui_session=evil; Path=/ui", " Sluice_x=1"}
	got := withoutOwnCookies(in)
	if len(got) != 1 || got[0] != "AWSALB=abc; Path=/" || len(in) != 3 {
		t.Errorf("withoutOwnCookies(%q) = %q", in, got)
	}
	if got := withoutOwnCookies([]string{"a=1"}); len(got) != 1 {
		t.Errorf("a backend cookie was dropped: %q", got)
	}
}
