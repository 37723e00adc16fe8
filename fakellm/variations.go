package fakellm

import (
	"hash/fnv"
	"net/http"
	"time"
)

// imageVariations serves /v1/images/variations as imageEdits serves an
// edit, from the form the OpenAI SDKs send (an "image" file, "model", "n",
// "size", "response_format", "user"): n images of one colour drawn from
// the image's bytes, as there is no prompt, with the image counted as
// input tokens. It does not stream, as the API's does not.
func (s *Server) imageVariations(w http.ResponseWriter, r *http.Request) {
	run, cfg := s.run.Load(), s.state.Load()
	if run.stopped() {
		panic(http.ErrAbortHandler)
	}
	st := getState()
	defer putState(st)
	req := imageRequest{variation: true}
	form := func(*reqState) error { return errNotForm }
	if boundary, ok := formBoundary(r); ok {
		form = func(st *reqState) error { return readEditForm(st, boundary, &req) }
	}
	if !s.beginWith(w, r, run, cfg, st, form) {
		return
	}
	start := time.Now()
	o, _ := s.draw(r, cfg, st)
	if len(req.images) == 0 {
		badRequest(w, st, `an image variation takes an "image" file`)
		return
	}
	req.Stream, req.PartialImages = false, 0
	s.answerImages(w, r, run, st, &o, &req, "image_variation", start)
}

// fnv64 is the FNV-1a hash of b.
func fnv64(b []byte) uint64 {
	h := fnv.New64a()
	_, _ = h.Write(b)
	return h.Sum64()
}
