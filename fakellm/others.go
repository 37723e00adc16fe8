package fakellm

import (
	"bytes"
	"encoding/json"
	"hash/fnv"
	"math"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode"
)

// The endpoints whose answers are not generated text: vLLM's /v1/rerank
// and /v1/score (a cross-encoder), and the OpenAI API's /v1/moderations,
// /v1/images/generations (edits and variations: media.go, variations.go),
// /v1/audio/speech and /v1/audio/transcriptions and translations
// (transcribe.go). Each answers in the shape
// those servers use, deterministically from its input, with the latency
// and failures of the request's category (X-Fake-Latency-Ms and
// X-Fake-Status too). They are not on a benchmark's hot path, so their
// bodies are decoded with encoding/json.

// jsonPrelude does what each JSON endpoint here does first: count and
// decode the request (begin), draw its outcome, wait its latency and fail
// as drawn. It returns false when the request has been answered or
// abandoned.
func (s *Server) jsonPrelude(w http.ResponseWriter, r *http.Request, st *reqState) (uint64, bool) {
	run, cfg := s.run.Load(), s.state.Load()
	if run.stopped() {
		panic(http.ErrAbortHandler)
	}
	if !s.begin(w, r, run, cfg, st) {
		return 0, false
	}
	o, seq := s.draw(r, cfg, st)
	if !s.pause(r, st, run, o.Latency) {
		return 0, false
	}
	if !o.OK() {
		writeFailure(w, st, &o)
		return 0, false
	}
	return seq, true
}

// writeJSON answers with v as JSON.
func writeJSON(w http.ResponseWriter, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		http.Error(w, "fakellm: "+err.Error(), http.StatusInternalServerError)
		return
	}
	w.Header()["Content-Type"] = ctJSON
	_, _ = w.Write(b)
}

// badRequest answers a request the endpoint cannot take.
func badRequest(w http.ResponseWriter, st *reqState, msg string) {
	writeError(w, st, http.StatusBadRequest, "invalid_request_error", "", "fakellm: "+msg)
}

// modelName is the model the answer names: the request's, else the
// server's.
func modelName(st *reqState) string {
	var m string
	_ = json.Unmarshal(st.model, &m)
	return m
}

// textItems decodes a string or an array of them; with objects allowed,
// an array item may also be an object with a "text" (a Cohere or Jina
// document).
func textItems(raw json.RawMessage, objects bool) ([]string, bool) {
	raw = bytes.TrimSpace(raw)
	var one string
	if len(raw) > 0 && raw[0] == '"' {
		if json.Unmarshal(raw, &one) != nil {
			return nil, false
		}
		return []string{one}, true
	}
	var items []json.RawMessage
	if json.Unmarshal(raw, &items) != nil || len(items) == 0 {
		return nil, false
	}
	out := make([]string, 0, len(items))
	for _, it := range items {
		var doc struct {
			Text *string `json:"text"`
		}
		switch {
		case json.Unmarshal(it, &one) == nil:
			out = append(out, one)
		case objects && json.Unmarshal(it, &doc) == nil && doc.Text != nil:
			out = append(out, *doc.Text)
		default:
			return nil, false
		}
	}
	return out, true
}

// lowerWords returns the lower-cased words of s.
func lowerWords(s string) []string {
	return strings.FieldsFunc(strings.ToLower(s), func(r rune) bool { return !unicode.IsLetter(r) && !unicode.IsDigit(r) })
}

// hash01 returns a number in [0, 1) drawn from the strings given.
func hash01(parts ...string) float64 {
	h := fnv.New64a()
	for _, p := range parts {
		_, _ = h.Write([]byte(p))
		_, _ = h.Write([]byte{0})
	}
	return float64(splitmix(h.Sum64())>>11) / (1 << 53)
}

// relevance is the fake cross-encoder: the share of the query's words the
// document holds, with a little noise drawn from the pair, in (0, 1). A
// document that answers the query in its words ranks above one that does
// not.
func relevance(query, doc string) float64 {
	q, d := lowerWords(query), lowerWords(doc)
	hit := 0
	for _, w := range q {
		if slices.Contains(d, w) {
			hit++
		}
	}
	share := 0.0
	if len(q) > 0 {
		share = float64(hit) / float64(len(q))
	}
	return math.Round((0.01+0.9*share+0.08*hash01(query, doc))*1e6) / 1e6
}

// textTokens estimates the tokens of texts, as the prompt of a chat is.
func textTokens(texts ...string) int {
	n := 0
	for _, t := range texts {
		n += max(EstimateTokens(len(t)), 1)
	}
	return n
}

type rerankDoc struct {
	Text string `json:"text"`
}

type rerankResult struct {
	Index          int        `json:"index"`
	Document       *rerankDoc `json:"document,omitempty"`
	RelevanceScore float64    `json:"relevance_score"`
}

// rerank serves vLLM's /v1/rerank (Jina's and Cohere's bodies: query,
// documents as strings or {"text"} objects, top_n, return_documents): the
// documents by relevance, highest first, with usage.total_tokens, all of
// it input (each document is read with the query).
func (s *Server) rerank(w http.ResponseWriter, r *http.Request) {
	st := getState()
	defer putState(st)
	seq, ok := s.jsonPrelude(w, r, st)
	if !ok {
		return
	}
	var req struct {
		Query           *string         `json:"query"`
		Documents       json.RawMessage `json:"documents"`
		TopN            int             `json:"top_n"`
		ReturnDocuments *bool           `json:"return_documents"`
	}
	if err := json.Unmarshal(st.body, &req); err != nil {
		badRequest(w, st, "invalid rerank request: "+err.Error())
		return
	}
	docs, ok := textItems(req.Documents, true)
	if req.Query == nil || !ok || req.Documents[0] != '[' {
		badRequest(w, st, `rerank takes "query" (a string) and "documents" (a non-empty array of strings or {"text": ...} objects)`)
		return
	}
	results := make([]rerankResult, len(docs))
	tokens := 0
	for i, d := range docs {
		results[i] = rerankResult{Index: i, RelevanceScore: relevance(*req.Query, d)}
		if req.ReturnDocuments == nil || *req.ReturnDocuments {
			results[i].Document = &rerankDoc{Text: d}
		}
		tokens += textTokens(*req.Query, d)
	}
	slices.SortStableFunc(results, func(a, b rerankResult) int {
		switch {
		case a.RelevanceScore > b.RelevanceScore:
			return -1
		case a.RelevanceScore < b.RelevanceScore:
			return 1
		}
		return 0
	})
	if req.TopN > 0 && req.TopN < len(results) {
		results = results[:req.TopN]
	}
	writeJSON(w, map[string]any{
		"id":      "rerank-fake-" + strconv.FormatUint(seq, 10),
		"model":   modelName(st),
		"usage":   map[string]int{"total_tokens": tokens},
		"results": results,
	})
}

// score serves vLLM's /v1/score: text_1 and text_2, each a string or an
// array of them, scored pairwise (one text_1 against every text_2, or
// arrays of the same length item by item), in vLLM's "data" of "score"
// objects with usage.prompt_tokens.
func (s *Server) score(w http.ResponseWriter, r *http.Request) {
	st := getState()
	defer putState(st)
	seq, ok := s.jsonPrelude(w, r, st)
	if !ok {
		return
	}
	var req struct {
		Text1 json.RawMessage `json:"text_1"`
		Text2 json.RawMessage `json:"text_2"`
	}
	if err := json.Unmarshal(st.body, &req); err != nil {
		badRequest(w, st, "invalid score request: "+err.Error())
		return
	}
	t1, ok1 := textItems(req.Text1, false)
	t2, ok2 := textItems(req.Text2, false)
	if !ok1 || !ok2 {
		badRequest(w, st, `score takes "text_1" and "text_2", each a string or a non-empty array of strings`)
		return
	}
	if len(t1) == 1 {
		t1 = slices.Repeat(t1, len(t2))
	}
	if len(t1) != len(t2) {
		badRequest(w, st, "text_1 has "+strconv.Itoa(len(t1))+" items and text_2 "+strconv.Itoa(len(t2))+": give one text_1, or as many as text_2")
		return
	}
	type scoreData struct {
		Index  int     `json:"index"`
		Object string  `json:"object"`
		Score  float64 `json:"score"`
	}
	data := make([]scoreData, len(t1))
	tokens := 0
	for i := range t1 {
		data[i] = scoreData{Index: i, Object: "score", Score: relevance(t1[i], t2[i])}
		tokens += textTokens(t1[i], t2[i])
	}
	writeJSON(w, map[string]any{
		"id":      "score-fake-" + strconv.FormatUint(seq, 10),
		"object":  "list",
		"created": time.Now().Unix(),
		"model":   modelName(st),
		"data":    data,
		"usage":   map[string]int{"prompt_tokens": tokens, "total_tokens": tokens, "completion_tokens": 0},
	})
}

// moderationCategories are the OpenAI moderation categories, in its order.
var moderationCategories = []string{
	"harassment", "harassment/threatening", "hate", "hate/threatening", "illicit", "illicit/violent",
	"self-harm", "self-harm/instructions", "self-harm/intent", "sexual", "sexual/minors",
	"violence", "violence/graphic",
}

// imageCategories are the categories OpenAI's omni moderation applies to
// images as well as text.
var imageCategories = map[string]bool{
	"self-harm": true, "self-harm/instructions": true, "self-harm/intent": true,
	"sexual": true, "violence": true, "violence/graphic": true,
}

// FlagWords are the words that get an input flagged by fakellm's
// moderation, by category: a text holding one scores 0.9 or more in it.
var FlagWords = map[string][]string{
	"harassment": {"idiot", "loser"},
	"hate":       {"hate"},
	"illicit":    {"meth", "counterfeit"},
	"self-harm":  {"suicide"},
	"violence":   {"kill", "murder", "stab"},
}

// moderations serves /v1/moderations: one result per input (a string, an
// array of strings, or one array of text and image_url parts), flagged in
// a category when its text holds one of FlagWords' words for it; every
// other score is small and drawn from the text.
func (s *Server) moderations(w http.ResponseWriter, r *http.Request) {
	st := getState()
	defer putState(st)
	seq, ok := s.jsonPrelude(w, r, st)
	if !ok {
		return
	}
	var req struct {
		Input json.RawMessage `json:"input"`
	}
	if err := json.Unmarshal(st.body, &req); err != nil {
		badRequest(w, st, "invalid moderation request: "+err.Error())
		return
	}
	type input struct {
		text  string
		image bool
	}
	var inputs []input
	if texts, ok := textItems(req.Input, false); ok {
		for _, t := range texts {
			inputs = append(inputs, input{text: t})
		}
	} else {
		// One multi-modal input: text and image_url parts.
		var parts []struct {
			Type string `json:"type"`
			Text string `json:"text"`
		}
		if json.Unmarshal(req.Input, &parts) != nil || len(parts) == 0 {
			badRequest(w, st, `moderations take "input": a string, an array of strings, or an array of {"type": "text"} and {"type": "image_url"} parts`)
			return
		}
		var in input
		for _, p := range parts {
			switch p.Type {
			case "text":
				in.text += p.Text + "\n"
			case "image_url":
				in.image = true
			default:
				badRequest(w, st, `a moderation input part's "type" is "text" or "image_url", not `+strconv.Quote(p.Type))
				return
			}
		}
		inputs = append(inputs, in)
	}
	results := make([]map[string]any, len(inputs))
	for i, in := range inputs {
		ws := lowerWords(in.text)
		cats, scores, applied := map[string]bool{}, map[string]float64{}, map[string][]string{}
		flagged := false
		for _, c := range moderationCategories {
			score := 0.01 * hash01(c, in.text)
			base, _, _ := strings.Cut(c, "/")
			if base == c {
				for _, fw := range FlagWords[c] {
					if slices.Contains(ws, fw) {
						score = 0.9 + 0.09*hash01(c, in.text)
						break
					}
				}
			}
			score = math.Round(score*1e6) / 1e6
			cats[c], scores[c] = score >= 0.5, score
			flagged = flagged || score >= 0.5
			applied[c] = []string{"text"}
			if in.image && imageCategories[c] {
				applied[c] = append(applied[c], "image")
			}
		}
		results[i] = map[string]any{"flagged": flagged, "categories": cats, "category_scores": scores, "category_applied_input_types": applied}
	}
	writeJSON(w, map[string]any{"id": "modr-fake-" + strconv.FormatUint(seq, 10), "model": modelName(st), "results": results})
}
