package fakellm

import (
	"bytes"
	"encoding/base64"
	"encoding/binary"
	"hash/fnv"
	"math"
	"net/http"
	"strconv"
)

// embeddings serves /v1/embeddings. Each input (a string, or an array of
// token ids) gets a unit vector drawn from a generator seeded by a hash of
// the input, so equal inputs always embed equally. Latency and failures
// follow the behaviour of the request's category.
func (s *Server) embeddings(w http.ResponseWriter, r *http.Request) {
	run, cfg := s.run.Load(), s.state.Load()
	if run.stopped() {
		panic(http.ErrAbortHandler)
	}
	st := getState()
	defer putState(st)
	if !s.begin(w, r, run, cfg, st) {
		return
	}
	o, _ := s.draw(r, cfg, st)
	if !s.pause(r, st, run, o.Latency) {
		return
	}
	if !o.OK() {
		writeFailure(w, st, &o)
		return
	}
	dims := st.req.Dimensions
	if dims <= 0 {
		dims = cfg.cfg.EmbeddingDims
	}
	if dims > maxEmbeddingDims {
		writeError(w, st, http.StatusBadRequest, "invalid_request_error", "", "fakellm: dimensions must be at most "+strconv.Itoa(maxEmbeddingDims))
		return
	}
	if !st.splitInput() {
		writeError(w, st, http.StatusBadRequest, "invalid_request_error", "", "fakellm: input must be a non-empty string, array of strings or array of token arrays")
		return
	}
	b64 := string(st.req.EncodingFormat) == `"base64"`
	b := append(st.out[:0], `{"object":"list","data":[`...)
	tokens := 0
	for i, item := range st.items {
		tokens += itemTokens(item)
		vec := st.embed(item, dims)
		if i > 0 {
			b = append(b, ',')
		}
		b = append(b, `{"object":"embedding","index":`...)
		b = strconv.AppendInt(b, int64(i), 10)
		b = append(b, `,"embedding":`...)
		if b64 {
			b = appendBase64Floats(b, vec, st)
		} else {
			b = append(b, '[')
			for j, v := range vec {
				if j > 0 {
					b = append(b, ',')
				}
				b = strconv.AppendFloat(b, float64(float32(v)), 'g', -1, 32)
			}
			b = append(b, ']')
		}
		b = append(b, '}')
	}
	b = append(b, `],"model":`...)
	b = append(b, st.model...)
	b = append(b, `,"usage":{"prompt_tokens":`...)
	b = strconv.AppendInt(b, int64(tokens), 10)
	b = append(b, `,"total_tokens":`...)
	b = strconv.AppendInt(b, int64(tokens), 10)
	b = append(b, "}}"...)
	st.out = b
	w.Header()["Content-Type"] = ctJSON
	_, _ = w.Write(b)
}

// splitInput sets st.items to the raw JSON of each input to embed: one
// string, an array of strings, one array of token ids, or an array of them.
func (st *reqState) splitInput() bool {
	raw := st.req.Input
	st.items = st.items[:0]
	switch {
	case len(raw) == 0 || isNull(raw):
		return false
	case raw[0] == '[':
		items, err := arrayItems(raw, st.items)
		st.items = items
		if err != nil || len(items) == 0 {
			return false
		}
		if c := items[0][0]; c == '-' || (c >= '0' && c <= '9') {
			st.items = append(items[:0], raw) // one input given as token ids
		}
		return true
	case raw[0] == '"':
		st.items = append(st.items, raw)
		return true
	}
	return false
}

// itemTokens estimates the tokens of one raw input.
func itemTokens(item []byte) int {
	if len(item) > 0 && item[0] == '[' {
		return bytes.Count(item, []byte(",")) + 1
	}
	return max(EstimateTokens(rawTextLen(item)), 1)
}

// embed returns the unit vector of one input, in st.vec.
func (st *reqState) embed(item []byte, dims int) []float64 {
	h := fnv.New64a()
	_, _ = h.Write(item)
	sum := h.Sum64()
	st.pcg.Seed(sum, splitmix(sum))
	if cap(st.vec) < dims {
		st.vec = make([]float64, dims)
	}
	vec := st.vec[:dims]
	norm := 0.0
	for i := range vec {
		vec[i] = st.rng.NormFloat64()
		norm += vec[i] * vec[i]
	}
	if norm = math.Sqrt(norm); norm > 0 {
		for i := range vec {
			vec[i] /= norm
		}
	}
	return vec
}

// appendBase64Floats appends vec as a JSON string of base64-encoded
// little-endian float32s, the encoding_format=base64 the OpenAI SDKs use.
func appendBase64Floats(b []byte, vec []float64, st *reqState) []byte {
	raw := st.head[:0]
	for _, v := range vec {
		raw = binary.LittleEndian.AppendUint32(raw, math.Float32bits(float32(v)))
	}
	st.head = raw
	b = append(b, '"')
	b = base64.StdEncoding.AppendEncode(b, raw)
	return append(b, '"')
}
