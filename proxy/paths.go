package proxy

import "net/http"

// The API paths the proxy routes by the "model" of a JSON body. Chat,
// completions and the Responses API answer with generated text, which the
// proxy reads (usage, finish reason, refusals, tool calls, the heuristic
// quality score, the judge). The others answer with something else (vectors,
// scores, labels, images, audio bytes): they are routed, retried, measured
// (latency, status, errors, usage when their JSON carries it), logged and
// mirrored as those are, but nothing in their answers is read as text.
const (
	pathChat        = "/v1/chat/completions"
	pathCompletions = "/v1/completions"
	// pathResponses is in body.go.
	pathEmbeddings  = "/v1/embeddings"
	pathRerank      = "/v1/rerank" // vLLM's (Jina- and Cohere-shaped bodies)
	pathScore       = "/v1/score"  // vLLM's
	pathModerations = "/v1/moderations"
	pathImages      = "/v1/images/generations"
	pathSpeech      = "/v1/audio/speech" // answers with audio bytes
	// pathImageEdits, pathImageVariations, pathTranscriptions and
	// pathTranslations, which take forms, are in form.go.
)

// servedPaths is what the 404 of an unknown path lists: every path the
// data plane serves, the model list's one model and a stored response's
// (responses_byid.go) too.
const servedPaths = "Sluice serves POST " + pathChat + ", " + pathCompletions + ", " + pathResponses + ", " +
	pathEmbeddings + ", " + pathRerank + ", " + pathScore + ", " + pathModerations + ", " + pathImages + ", " +
	pathImageEdits + ", " + pathImageVariations + ", " + pathSpeech + ", " + pathTranscriptions + ", " + pathTranslations + " and " + pathFeedback + "; GET /v1/models and /v1/models/{model}; and a stored response's " +
	pathResponsesByID + "{id} (GET, DELETE), " + pathResponsesByID + "{id}/cancel (POST) and " +
	pathResponsesByID + "{id}/input_items (GET)"

// pathFeedback is the feedback endpoint's path (feedback.go).
const pathFeedback = "/v1/feedback"

// unmetered reports whether r spends none of its client key's rate_limit:
// feedback (POST /v1/feedback), which takes one score per answer, so is
// bounded by the answers, which spent it, and the model list (GET
// /v1/models and /v1/models/{model}), which generates nothing. Charged,
// an app at its limit lost its users' ratings to 429s, and the ratings
// took the tokens its next inference request needed. Two string
// comparisons, most ending at the length.
func unmetered(r *http.Request) bool {
	p := r.URL.Path
	if p == pathFeedback {
		return r.Method == http.MethodPost
	}
	const models = "/v1/models"
	return len(p) >= len(models) && p[:len(models)] == models && (len(p) == len(models) || p[len(models)] == '/') && r.Method == http.MethodGet
}

// isInferencePath reports whether path is one of the inference endpoints
// the proxy serves with a body naming the model: ServeHTTP's first case,
// and the requests whose client-key token Admit takes (keys.go).
func isInferencePath(path string) bool {
	switch path {
	case pathChat, pathCompletions, pathResponses, pathEmbeddings, pathRerank, pathScore, pathModerations, pathImages, pathImageEdits, pathImageVariations,
		pathSpeech, pathTranscriptions, pathTranslations:
		return true
	}
	return false
}

// isTextPath reports whether path's answers are generated text, which the
// proxy reads (refusals, tool calls, quality scores, the judge).
func isTextPath(path string) bool {
	switch path {
	case pathChat, pathCompletions, pathResponses:
		return true
	}
	return false
}
