package fakellm

import (
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"mime"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// errNotForm refuses a body that is not a multipart form where the API
// takes one.
var errNotForm = errors.New("the request must be multipart/form-data, as the OpenAI SDKs send it")

// formBoundary returns the boundary of r's body when it is a multipart
// form.
func formBoundary(r *http.Request) (string, bool) {
	mt, params, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
	return params["boundary"], err == nil && mt == "multipart/form-data"
}

// audioRequest is what a transcription's or a translation's form says.
type audioRequest struct {
	// file is the audio file's bytes; hasFile says the form had one.
	file           []byte
	hasFile        bool
	prompt         string
	language       string
	responseFormat string
	stream         bool
	// includeUsage is vLLM's stream_include_usage field.
	includeUsage bool
}

// audioTokensPerSecond is how many input tokens a second of audio counts
// (gpt-4o-transcribe's usage counts its audio in tokens).
const audioTokensPerSecond = 10

// transcriptions serves /v1/audio/transcriptions and, with translate,
// /v1/audio/translations from the form the OpenAI SDKs send (a "file",
// "model", "response_format", "stream", "prompt", "language"). The
// transcript is as many words as the audio takes to say (2.5 a second, as
// speech makes them: a WAV's length from its header, any other file's at
// 32 kbit/s), deterministic from that length. response_format json (the
// default) answers {"text"} with a transcription's usage in tokens (its
// audio at 10 a second and its prompt in, its words out), as
// gpt-4o-transcribe does (a translation's JSON has none, as whisper-1's);
// verbose_json answers as whisper-1 (duration, segments, and a
// transcription's usage in seconds); text, srt and vtt answer plain text.
// A transcription with "stream" true sends transcript.text.delta events,
// a word each at the drawn time to first token and token interval, then
// transcript.text.done with the text and usage, as gpt-4o-transcribe
// streams. Failures come after the drawn latency, as chat's do.
func (s *Server) transcriptions(w http.ResponseWriter, r *http.Request, translate bool) {
	run, cfg := s.run.Load(), s.state.Load()
	if run.stopped() {
		panic(http.ErrAbortHandler)
	}
	st := getState()
	defer putState(st)
	var req audioRequest
	form := func(*reqState) error { return errNotForm }
	if boundary, ok := formBoundary(r); ok {
		form = func(st *reqState) error { return readAudioForm(st, boundary, &req) }
	}
	if !s.beginWith(w, r, run, cfg, st, form) {
		return
	}
	start := time.Now()
	o, _ := s.draw(r, cfg, st)
	format := req.responseFormat
	if format == "" {
		format = "json"
	}
	switch {
	case !req.hasFile:
		badRequest(w, st, `a transcription takes a "file" of audio`)
		return
	case format != "json" && format != "verbose_json" && format != "text" && format != "srt" && format != "vtt":
		badRequest(w, st, `response_format is "json", "verbose_json", "text", "srt" or "vtt", not `+strconv.Quote(format))
		return
	case req.stream && translate:
		badRequest(w, st, "a translation does not stream: leave stream out")
		return
	case req.stream && format != "json":
		badRequest(w, st, `a streamed transcription comes as json: leave response_format out`)
		return
	}
	if !o.OK() {
		if s.pause(r, st, run, time.Until(start.Add(o.Latency))) {
			writeFailure(w, st, &o)
		}
		return
	}
	seconds := audioSeconds(req.file)
	nwords := max(int(math.Round(seconds*speechWordsPerSec)), 1)
	text := GeneratedText(nwords)
	audioIn := int(math.Ceil(seconds * audioTokensPerSecond))
	textIn := 0
	if req.prompt != "" {
		textIn = textTokens(req.prompt)
	}
	usage := map[string]any{
		"type": "tokens", "input_tokens": audioIn + textIn, "output_tokens": nwords, "total_tokens": audioIn + textIn + nwords,
		"input_token_details": map[string]int{"text_tokens": textIn, "audio_tokens": audioIn},
	}
	if req.stream && cfg.cfg.TranscriptionStream == "vllm" {
		var u map[string]any
		if req.includeUsage {
			u = map[string]any{"prompt_tokens": audioIn + textIn, "completion_tokens": nwords, "total_tokens": audioIn + textIn + nwords}
		}
		s.transcriptStreamVLLM(w, r, run, st, start, &o, text, u)
		return
	}
	if req.stream {
		s.transcriptStream(w, r, run, st, start, &o, text, usage)
		return
	}
	if !s.pause(r, st, run, time.Until(start.Add(o.Latency))) {
		return
	}
	task, language := "transcribe", req.language
	if translate {
		task, language = "translate", "english"
	} else if language == "" {
		language = "english"
	}
	switch format {
	case "json":
		ans := map[string]any{"text": text}
		if !translate {
			ans["usage"] = usage
		}
		writeJSON(w, ans)
	case "verbose_json":
		ans := map[string]any{"task": task, "language": language, "duration": seconds, "text": text, "segments": segments(text, seconds)}
		if !translate {
			ans["usage"] = map[string]any{"type": "duration", "seconds": int(math.Ceil(seconds))}
		}
		writeJSON(w, ans)
	default:
		w.Header()["Content-Type"] = ctText
		_, _ = io.WriteString(w, subtitles(format, text, seconds))
	}
}

// transcriptStream sends text as transcript.text.delta events, a word
// each, the first at o's time to first token from start and one a token
// interval after another, then transcript.text.done with the whole text
// and usage.
func (s *Server) transcriptStream(w http.ResponseWriter, r *http.Request, run *runState, st *reqState, start time.Time, o *Outcome, text string, usage map[string]any) {
	h := w.Header()
	h["Content-Type"] = ctSSE
	h["Cache-Control"] = noCache
	fl, _ := w.(http.Flusher)
	words := strings.Fields(text)
	for i, word := range words {
		if (i == 0 || o.TokenInterval > 0) && !s.pause(r, st, run, time.Until(start.Add(o.TTFT+time.Duration(i)*o.TokenInterval))) {
			return
		}
		if i > 0 {
			word = " " + word
		}
		b, _ := json.Marshal(map[string]any{"type": "transcript.text.delta", "delta": word})
		if _, err := fmt.Fprintf(w, "data: %s\n\n", b); err != nil {
			return
		}
		if fl != nil {
			fl.Flush()
		}
	}
	b, _ := json.Marshal(map[string]any{"type": "transcript.text.done", "text": text, "usage": usage})
	_, _ = fmt.Fprintf(w, "data: %s\n\n", b)
}

// transcriptStreamVLLM sends text as vLLM streams a transcription:
// transcription.chunk objects with a word each as choices[0].delta.content
// (at o's times, as transcriptStream), the last with finish_reason stop,
// then, when usage is not nil (the form asked stream_include_usage=true),
// a chunk with no choices and usage in prompt_tokens, completion_tokens
// and total_tokens, then data: [DONE].
func (s *Server) transcriptStreamVLLM(w http.ResponseWriter, r *http.Request, run *runState, st *reqState, start time.Time, o *Outcome, text string, usage map[string]any) {
	h := w.Header()
	h["Content-Type"] = ctSSE
	h["Cache-Control"] = noCache
	fl, _ := w.(http.Flusher)
	id, created, model := "trsc-"+strconv.FormatUint(uint64(start.UnixNano()), 36), start.Unix(), json.RawMessage(st.model)
	words := strings.Fields(text)
	for i, word := range words {
		if (i == 0 || o.TokenInterval > 0) && !s.pause(r, st, run, time.Until(start.Add(o.TTFT+time.Duration(i)*o.TokenInterval))) {
			return
		}
		if i > 0 {
			word = " " + word
		}
		var finish any
		if i == len(words)-1 {
			finish = "stop"
		}
		b, _ := json.Marshal(map[string]any{"id": id, "object": "transcription.chunk", "created": created, "model": model,
			"choices": []map[string]any{{"delta": map[string]any{"content": word}, "finish_reason": finish, "stop_reason": nil}}})
		if _, err := fmt.Fprintf(w, "data: %s\n\n", b); err != nil {
			return
		}
		if fl != nil {
			fl.Flush()
		}
	}
	if usage != nil {
		b, _ := json.Marshal(map[string]any{"id": id, "object": "transcription.chunk", "created": created, "model": model, "choices": []any{}, "usage": usage})
		_, _ = fmt.Fprintf(w, "data: %s\n\n", b)
	}
	_, _ = io.WriteString(w, "data: [DONE]\n\n")
}

// maxAudioSeconds bounds the length audioSeconds gives a file: two hours,
// more than a 25 MB upload (OpenAI's limit) of speech at 32 kbit/s plays,
// so that a WAV header claiming a byte rate of 1 does not ask a
// transcript of millions of words.
const maxAudioSeconds = 2 * 3600

// audioSeconds is how long the audio in file plays: a WAV's data over its
// byte rate, from its header; any other file's bytes at 32 kbit/s (speech's
// MP3); half a second at least, maxAudioSeconds at most.
func audioSeconds(file []byte) float64 {
	sec := float64(len(file)) / 4000
	if len(file) >= 44 && string(file[:4]) == "RIFF" && string(file[8:12]) == "WAVE" {
		if rate := binary.LittleEndian.Uint32(file[28:32]); rate > 0 {
			sec = float64(len(file)-44) / float64(rate)
		}
	}
	return min(max(sec, 0.5), maxAudioSeconds)
}

// segmentWords is how many words a verbose_json segment or a subtitle cue
// holds.
const segmentWords = 12

// segments cuts text into whisper-1's verbose_json segments, spread evenly
// over seconds.
func segments(text string, seconds float64) []map[string]any {
	words := strings.Fields(text)
	var out []map[string]any
	for i := 0; i < len(words); i += segmentWords {
		j := min(i+segmentWords, len(words))
		out = append(out, map[string]any{
			"id": len(out), "seek": 0, "start": seconds * float64(i) / float64(len(words)), "end": seconds * float64(j) / float64(len(words)),
			"text": " " + strings.Join(words[i:j], " "), "tokens": []int{}, "temperature": 0.0,
			"avg_logprob": -0.2, "compression_ratio": 1.2, "no_speech_prob": 0.01,
		})
	}
	return out
}

// subtitles writes text as response_format asks: "text" as it is, "srt"
// or "vtt" as cues of segmentWords words spread evenly over seconds.
func subtitles(format, text string, seconds float64) string {
	if format == "text" {
		return text + "\n"
	}
	var b strings.Builder
	if format == "vtt" {
		b.WriteString("WEBVTT\n\n")
	}
	for _, seg := range segments(text, seconds) {
		if format == "srt" {
			fmt.Fprintf(&b, "%d\n", seg["id"].(int)+1)
		}
		fmt.Fprintf(&b, "%s --> %s\n%s\n\n", cueTime(seg["start"].(float64), format), cueTime(seg["end"].(float64), format), strings.TrimSpace(seg["text"].(string)))
	}
	return b.String()
}

// cueTime writes a subtitle cue's time: HH:MM:SS,mmm in srt, with a dot in
// vtt.
func cueTime(sec float64, format string) string {
	ms := int(math.Round(sec * 1000))
	sep := ","
	if format == "vtt" {
		sep = "."
	}
	return fmt.Sprintf("%02d:%02d:%02d%s%03d", ms/3600000, ms/60000%60, ms/1000%60, sep, ms%1000)
}

// readAudioForm reads a transcription's or a translation's multipart form
// from st.body into req, and its model field into st.req.Model.
func readAudioForm(st *reqState, boundary string, req *audioRequest) error {
	return readFormParts(st, boundary, func(name string, file bool, v []byte) error {
		if file {
			if name == "file" {
				req.file, req.hasFile = v, true
			}
			return nil
		}
		val := string(v)
		switch name {
		case "prompt":
			req.prompt = val
		case "language":
			req.language = val
		case "response_format":
			req.responseFormat = val
		case "stream":
			b, err := formBool(name, val)
			req.stream = b
			return err
		case "stream_include_usage":
			b, err := formBool(name, val)
			req.includeUsage = b
			return err
		}
		return nil
	})
}
