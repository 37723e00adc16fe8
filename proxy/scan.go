package proxy

import (
	"bytes"
	"unicode/utf16"
	"unicode/utf8"
)

// A minimal JSON walker for the few fields the proxy reads on the request
// path. gjson reads one path per scan and copies what it returns; a request
// body needs five fields and a stream chunk four, so walking the object
// once, keeping spans into the original bytes, costs a fraction (see
// bench/benchstat-scan.txt). The walker validates only what it walks; on
// anything it does not expect it reports !ok and the caller falls back to
// gjson, so odd but valid JSON is read exactly as before.

// jsonSpan is a value's bytes within the scanned document and where it
// starts.
type jsonSpan struct {
	raw   []byte
	start int
}

func isWS(c byte) bool { return c == ' ' || c == '\t' || c == '\n' || c == '\r' }

func skipWS(b []byte, i int) int {
	for i < len(b) && isWS(b[i]) {
		i++
	}
	return i
}

// skipString returns the index after the string starting at b[i] == '"',
// whether it holds escapes, and ok. It finds the closing quote with
// IndexByte, and walks escapes one by one only when there are any.
func skipString(b []byte, i int) (int, bool, bool) {
	j := i + 1
	// Keys and most values end before a call to IndexByte would pay off.
	for n := min(len(b), j+24); j < n; j++ {
		switch b[j] {
		case '"':
			return j + 1, false, true
		case '\\':
			return skipEscaped(b, i)
		}
	}
	q := bytes.IndexByte(b[j:], '"')
	if q < 0 {
		return 0, false, false
	}
	if bytes.IndexByte(b[j:j+q], '\\') < 0 {
		return j + q + 1, false, true
	}
	return skipEscaped(b, i)
}

// skipEscaped is skipString for a string that holds escapes.
func skipEscaped(b []byte, i int) (int, bool, bool) {
	for j := i + 1; j < len(b); j++ {
		switch b[j] {
		case '"':
			return j + 1, true, true
		case '\\':
			j++
			if j >= len(b) {
				return 0, false, false
			}
			switch b[j] {
			case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
			case 'u':
				if j+4 >= len(b) {
					return 0, false, false
				}
				for _, h := range b[j+1 : j+5] {
					if !('0' <= h && h <= '9' || 'a' <= h && h <= 'f' || 'A' <= h && h <= 'F') {
						return 0, false, false
					}
				}
				j += 4
			default:
				return 0, false, false // gjson reads invalid escapes its own way
			}
		}
	}
	return 0, false, false
}

// skipStringOK is skipString without its escapes flag.
func skipStringOK(b []byte, i int) (int, bool) {
	j, _, ok := skipString(b, i)
	return j, ok
}

// skipValue returns the index after the value starting at b[i].
func skipValue(b []byte, i int) (int, bool) { return skipValueImages(b, i, nil) }

// inlineImages counts the images a request body carries inline, as data
// URLs (a chat image_url's url, a Responses input_image's image_url:
// "data:image/png;base64,..."), for the estimate of its prompt
// (estimateTokens): their bytes, and the tokens they stand for.
type inlineImages struct {
	bytes, tokens int
}

// imageTokens is what an image sent inline is estimated at: 765 tokens,
// what OpenAI charges for a 1024×1024 image at high detail (85 for the
// image and 170 for each of its four 512-pixel tiles), where its base64's
// bytes over bytesPerToken would be 50,000 for a 150 KB JPEG. A
// smaller data URL is estimated at its bytes over bytesPerToken, as
// before, never more.
const imageTokens = 765

// add counts the string b[i:j] (its quotes included) when it is an
// image's data URL: it starts "data:image" and is the value of a member
// named url (a chat image_url's) or image_url (a Responses input_image's),
// as read back from b[i] no further than b[lo]. Any other string is text
// the backend tokenizes, whatever it starts with: a prefix test alone had
// a client send a 1 MB text part starting "data:image" charged 765 tokens
// for it when it cut the stream or abandoned the request. A key written
// with escapes is not recognized, and its image counted by its bytes.
func (im *inlineImages) add(b []byte, lo, i, j int) {
	s := b[i:j]
	if len(s) <= len(`"data:image"`) || string(s[1:len(`"data:image`)]) != "data:image" {
		return
	}
	k := skipSpaceBack(b, lo, i-1)
	if k < lo || b[k] != ':' {
		return
	}
	k = skipSpaceBack(b, lo, k-1) + 1
	if !bytes.HasSuffix(b[lo:k], []byte(`"url"`)) && !bytes.HasSuffix(b[lo:k], []byte(`"image_url"`)) {
		return
	}
	im.bytes += len(s)
	im.tokens += min((len(s)+bytesPerToken-1)/bytesPerToken, imageTokens)
}

// skipSpaceBack returns the index of the last byte of b at or before k,
// and not before lo, that is not JSON whitespace; lo-1 if there is none.
func skipSpaceBack(b []byte, lo, k int) int {
	for k >= lo && (b[k] == ' ' || b[k] == '\t' || b[k] == '\n' || b[k] == '\r') {
		k--
	}
	return k
}

// skipValueImages is skipValue that, when img is not nil, counts the
// inline images among the strings it passes (scanRequest: the body's one
// pass reads them, a compare of the string's start each).
func skipValueImages(b []byte, i int, img *inlineImages) (int, bool) {
	if i >= len(b) {
		return 0, false
	}
	switch c := b[i]; {
	case c == '"':
		// A lone string is no member's value here (a top-level one's
		// key is the caller's): no image, as gjson's count reads it.
		return skipStringOK(b, i)
	case c == '{' || c == '[':
		depth := 0
		for j := i; j < len(b); j++ {
			switch b[j] {
			case '"':
				k, _, ok := skipString(b, j)
				if !ok {
					return 0, false
				}
				if img != nil {
					img.add(b, i, j, k)
				}
				j = k - 1
			case '{', '[':
				depth++
			case '}', ']':
				depth--
				if depth == 0 {
					return j + 1, true
				}
			}
		}
		return 0, false
	case c == '-' || (c >= '0' && c <= '9'):
		j := i + 1
		for j < len(b) && (b[j] >= '0' && b[j] <= '9' || b[j] == '.' || b[j] == 'e' || b[j] == 'E' || b[j] == '+' || b[j] == '-') {
			j++
		}
		return j, true
	case c == 't':
		return i + 4, hasAt(b, i, "true")
	case c == 'f':
		return i + 5, hasAt(b, i, "false")
	case c == 'n':
		return i + 4, hasAt(b, i, "null")
	}
	return 0, false
}

func hasAt(b []byte, i int, s string) bool {
	return len(b)-i >= len(s) && string(b[i:i+len(s)]) == s
}

// What a member function of walkObject returns instead of the index after
// the value it read.
const (
	skipMember = -1 // walkObject skips the value
	failWalk   = -2 // the document is not what the walker handles
)

// walkObject calls fn for each member of the object at b[i] (after
// whitespace) with its key (unescaped keys only) and the index where its
// value starts. fn returns the index after the value when it read it
// itself, skipMember to have it skipped, or failWalk; and whether to go on
// (stopping is not a failure). walkObject returns the index after the
// object, or after the member it stopped at, and ok.
func walkObject(b []byte, i int, fn func(key []byte, v int) (int, bool)) (int, bool) {
	i = skipWS(b, i)
	if i >= len(b) || b[i] != '{' {
		return 0, false
	}
	i = skipWS(b, i+1)
	if i < len(b) && b[i] == '}' {
		return i + 1, true
	}
	for i < len(b) {
		if b[i] != '"' {
			return 0, false
		}
		end, esc, ok := skipString(b, i)
		if !ok || esc {
			return 0, false // escaped keys: let gjson decide
		}
		key := b[i+1 : end-1]
		i = skipWS(b, end)
		if i >= len(b) || b[i] != ':' {
			return 0, false
		}
		i = skipWS(b, i+1)
		if i >= len(b) {
			return 0, false
		}
		vend, more := fn(key, i)
		switch {
		case vend == failWalk:
			return 0, false
		case vend == skipMember:
			if vend, ok = skipValue(b, i); !ok {
				return 0, false
			}
		}
		if !more {
			return vend, true
		}
		i = skipWS(b, vend)
		if i >= len(b) {
			return 0, false
		}
		switch b[i] {
		case ',':
			i = skipWS(b, i+1)
		case '}':
			return i + 1, true
		default:
			return 0, false
		}
	}
	return 0, false
}

// eachKey calls fn with each member of the object at b[i] and its value;
// fn returns false to stop. It returns the index after the object and ok.
func eachKey(b []byte, i int, fn func(key []byte, v jsonSpan) bool) (int, bool) {
	return eachKeyImages(b, i, nil, fn)
}

// eachKeyImages is eachKey that counts the inline images in the values
// it passes into img, when not nil (skipValueImages).
func eachKeyImages(b []byte, i int, img *inlineImages, fn func(key []byte, v jsonSpan) bool) (int, bool) {
	return walkObject(b, i, func(key []byte, v int) (int, bool) {
		end, ok := skipValueImages(b, v, img)
		if !ok {
			return failWalk, false
		}
		return end, fn(key, jsonSpan{raw: b[v:end], start: v})
	})
}

// walkFirst reads the array at b[i] with first for its first element,
// skips the others, and returns the index after the array.
func walkFirst(b []byte, i int, first func(v int) int) int {
	i = skipWS(b, i+1)
	if i >= len(b) {
		return failWalk
	}
	if b[i] == ']' {
		return i + 1
	}
	end := first(i)
	if end == skipMember {
		var ok bool
		if end, ok = skipValue(b, i); !ok {
			return failWalk
		}
	}
	if end < 0 {
		return failWalk
	}
	for {
		i = skipWS(b, end)
		if i >= len(b) {
			return failWalk
		}
		switch b[i] {
		case ']':
			return i + 1
		case ',':
			var ok bool
			if end, ok = skipValue(b, skipWS(b, i+1)); !ok {
				return failWalk
			}
		default:
			return failWalk
		}
	}
}

// stringAt returns the end of the string at b[i], to be read, and whether
// it has escapes, or failWalk.
func stringAt(b []byte, i int) (int, bool) {
	end, esc, ok := skipString(b, i)
	if !ok || hasControl(b[i:end]) {
		return failWalk, false
	}
	return end, esc
}

// hasControl reports whether v holds a control character, where gjson
// stops reading a string.
func hasControl(v []byte) bool {
	for _, c := range v {
		if c < 0x20 {
			return true
		}
	}
	return false
}

func isString(v []byte) bool { return len(v) >= 2 && v[0] == '"' }

// appendUnescaped appends the contents of the JSON string v (quotes
// included) to dst, decoding escapes as gjson does.
func appendUnescaped(dst, v []byte) []byte { return appendUnescapedMax(dst, v, -1) }

// appendUnescapedMax is appendUnescaped that stops once dst holds max bytes
// or more (max < 0: no limit).
func appendUnescapedMax(dst, v []byte, max int) []byte {
	s := v[1 : len(v)-1]
	for i := 0; i < len(s) && (max < 0 || len(dst) < max); i++ {
		c := s[i]
		if c != '\\' {
			dst = append(dst, c)
			continue
		}
		i++
		if i >= len(s) {
			break
		}
		switch s[i] {
		case 'n':
			dst = append(dst, '\n')
		case 't':
			dst = append(dst, '\t')
		case 'r':
			dst = append(dst, '\r')
		case 'b':
			dst = append(dst, '\b')
		case 'f':
			dst = append(dst, '\f')
		case 'u':
			r, n := hex4(s, i+1)
			i += n
			r, i = lowSurrogate(s, r, i)
			dst = utf8.AppendRune(dst, r) // a lone surrogate becomes U+FFFD
		default: // \" \\ \/
			dst = append(dst, s[i])
		}
	}
	return dst
}

// lowSurrogate joins a high surrogate r, whose escape ends at s[i], with
// the low surrogate escaped right after it, as gjson does; it returns the
// rune and the index of the last byte read.
func lowSurrogate(s []byte, r rune, i int) (rune, int) {
	if r >= 0xD800 && r < 0xDC00 && i+6 < len(s) && s[i+1] == '\\' && s[i+2] == 'u' {
		if r2, _ := hex4(s, i+3); r2 >= 0xDC00 && r2 < 0xE000 {
			return utf16.DecodeRune(r, r2), i + 6
		}
	}
	return r, i
}

func hex4(s []byte, i int) (rune, int) {
	if i+4 > len(s) {
		return utf8.RuneError, len(s) - i
	}
	var r rune
	for _, c := range s[i : i+4] {
		switch {
		case '0' <= c && c <= '9':
			r = r<<4 | rune(c-'0')
		case 'a' <= c && c <= 'f':
			r = r<<4 | rune(c-'a'+10)
		case 'A' <= c && c <= 'F':
			r = r<<4 | rune(c-'A'+10)
		default:
			return utf8.RuneError, 4
		}
	}
	return r, 4
}

// unescapedLen is len(appendUnescaped(nil, v)), counted without a copy.
func unescapedLen(v []byte, esc bool) int {
	if !esc {
		return len(v) - 2
	}
	s := v[1 : len(v)-1]
	n := 0
	for i := 0; i < len(s); i++ {
		if s[i] != '\\' {
			n++
			continue
		}
		i++
		if i >= len(s) {
			break
		}
		if s[i] != 'u' {
			n++
			continue
		}
		r, k := hex4(s, i+1)
		i += k
		r, i = lowSurrogate(s, r, i)
		if l := utf8.RuneLen(r); l > 0 {
			n += l
		} else {
			n += 3 // encoded as U+FFFD
		}
	}
	return n
}

// chunkFields is what the proxy reads from one streamed event.
type chunkFields struct {
	// text is choices[0].delta.content or, when the delta has no content,
	// choices[0].text: a JSON string (quotes included), or nil when it is
	// absent or not a string. textEsc says it holds escapes.
	text    []byte
	textEsc bool
	// finish is choices[0].finish_reason when it is a string.
	finish []byte
	// hasError is true when the event has a top-level "error" that is
	// not null; nullError when it is null (no error: chunkFields' reader
	// drops it for the SDKs that take any "error" for one).
	hasError, nullError bool
	// toolCall is true when choices[0]'s inner object (message or delta)
	// has a non-empty "tool_calls" array or a "function_call" object: the
	// answer calls a tool, whatever its finish reason says ("stop" when the
	// request forced the tool with tool_choice, as OpenAI and vLLM answer).
	toolCall bool
	// unmeasured is the bytes (unescaped) of what choices[0]'s inner
	// object carries besides its content: the reasoning text
	// (reasoning_content, or reasoning: the longer, as a backend may send
	// both) and the tool calls' arguments. text, which the analysis
	// measures as the answer's length, leaves them out; the estimate of an
	// answer cut before its usage counts them (estimateTokens).
	unmeasured int
	// notFirst is true when choices[0] is another choice than the first
	// (its "index" is not 0): with n > 1 a stream's chunks each carry one
	// choice, and only the first choice is measured, as for whole answers.
	notFirst bool
	// model is the top-level "model" when it is a string and the caller
	// asked for it (a traced attempt's gen_ai.response.model), else nil;
	// modelEsc says it holds escapes.
	model    []byte
	modelEsc bool
}

// modelAt reads, for scanChunk and scanAnswer, a "model" member's value at
// b[v] into f when want is set and it is the first such member (gjson reads
// the first of duplicate keys); it returns the index after it, skipMember
// or failWalk.
func modelAt(b []byte, v int, f *chunkFields, want bool, seen *bool) int {
	if !want || *seen {
		return skipMember
	}
	*seen = true
	if b[v] != '"' {
		return skipMember
	}
	end, esc := stringAt(b, v)
	if end > 0 {
		f.model, f.modelEsc = b[v:end], esc
	}
	return end
}

// scanChunk reads an event's payload in one pass; !ok means the payload is
// not what the walker handles and gjson must read it. wantModel reads its
// "model" too.
func scanChunk(b []byte, wantModel bool) (f chunkFields, ok bool) {
	seenChoices, seenModel, seenError := false, false, false
	_, ok = walkObject(b, 0, func(key []byte, v int) (int, bool) {
		switch string(key) {
		case "model":
			return modelAt(b, v, &f, wantModel, &seenModel), true
		case "choices":
			if seenChoices {
				break // gjson reads the first of duplicate keys
			}
			seenChoices = true
			return choicesAt(b, v, &f, "delta"), true
		case "error":
			if !seenError { // gjson reads the first of duplicate keys
				seenError = true
				f.nullError = b[v] == 'n'
				f.hasError = !f.nullError
			}
		}
		return skipMember, true
	})
	return f, ok
}

// choicesAt reads the choices value at b[v] (its first element's text and
// finish reason) and returns the index after it, skipMember or failWalk.
func choicesAt(b []byte, v int, f *chunkFields, inner string) int {
	switch b[v] {
	case '{':
		return failWalk // gjson reads "choices.0" as a key
	case '[':
		return walkFirst(b, v, func(e int) int {
			if b[e] != '{' {
				return skipMember
			}
			return choiceAt(b, e, f, inner)
		})
	}
	return skipMember
}

// choiceAt reads a choice object at b[i]: the text in inner.content (inner
// is "delta" for chunks, "message" for whole answers), else text, and
// finish_reason. It returns the index after the object or failWalk.
func choiceAt(b []byte, i int, f *chunkFields, inner string) int {
	var content, text []byte
	var contentEsc, textEsc bool
	contentSeen, textSeen, finishSeen, innerSeen := false, false, false, false
	toolsSeen, fnSeen := false, false // as gjson, the first of duplicate keys counts
	reasoning, reasoningAlt := -1, -1 // reasoning_content's and reasoning's bytes
	end, ok := walkObject(b, i, func(key []byte, v int) (int, bool) {
		switch string(key) {
		case inner:
			if innerSeen {
				break
			}
			innerSeen = true
			if b[v] != '{' {
				break
			}
			end, ok := walkObject(b, v, func(k []byte, dv int) (int, bool) {
				switch string(k) {
				case "tool_calls":
					if toolsSeen || b[dv] != '[' {
						toolsSeen = true
						return skipMember, true
					}
					toolsSeen = true
					f.toolCall = nonEmptyArray(b, dv) || f.toolCall
					return callsArgsAt(b, dv, &f.unmeasured), true
				case "function_call":
					if fnSeen || b[dv] != '{' {
						fnSeen = true
						return skipMember, true
					}
					fnSeen = true
					f.toolCall = true
					return callArgsAt(b, dv, &f.unmeasured), true
				case "reasoning_content":
					if reasoning < 0 {
						return reasoningAt(b, dv, &reasoning), true
					}
					return skipMember, true
				case "reasoning":
					if reasoningAlt < 0 {
						return reasoningAt(b, dv, &reasoningAlt), true
					}
					return skipMember, true
				}
				if string(k) != "content" || contentSeen {
					return skipMember, true
				}
				contentSeen = true
				if b[dv] != '"' {
					return skipMember, true
				}
				end, esc := stringAt(b, dv)
				if end > 0 {
					content, contentEsc = b[dv:end], esc
				}
				return end, true
			})
			if !ok {
				return failWalk, false
			}
			return end, true
		case "text":
			if textSeen || b[v] != '"' {
				textSeen = true
				break
			}
			textSeen = true
			end, esc := stringAt(b, v)
			if end > 0 {
				text, textEsc = b[v:end], esc
			}
			return end, true
		case "index":
			if b[v] >= '1' && b[v] <= '9' {
				f.notFirst = true
			}
		case "finish_reason":
			if finishSeen || b[v] != '"' {
				finishSeen = true
				break
			}
			finishSeen = true
			end, _ := stringAt(b, v)
			if end > 0 {
				f.finish = b[v:end]
			}
			return end, true
		}
		return skipMember, true
	})
	if !ok {
		return failWalk
	}
	f.unmeasured += max(reasoning, reasoningAlt, 0)
	// As gjson's delta.content, else text: a delta content that exists but
	// is not a string (null) still wins, and reads as "".
	if contentSeen {
		f.text, f.textEsc = content, contentEsc
	} else {
		f.text, f.textEsc = text, textEsc
	}
	return end
}

// reasoningAt reads a reasoning text's value at b[v], its length in bytes
// into *n when it is a string; it returns the index after the value,
// skipMember or failWalk.
func reasoningAt(b []byte, v int, n *int) int {
	*n = 0
	if b[v] != '"' {
		return skipMember
	}
	end, esc := stringAt(b, v)
	if end > 0 {
		*n = unescapedLen(b[v:end], esc)
	}
	return end
}

// callsArgsAt adds to *n the bytes of the arguments of each tool call in
// the tool_calls array at b[v] and returns the index after the array or
// failWalk. A stream sends a call's arguments in pieces, each chunk's
// calls holding the piece (and its index) alone.
func callsArgsAt(b []byte, v int, n *int) int {
	i := skipWS(b, v+1)
	if i < len(b) && b[i] == ']' {
		return i + 1
	}
	for i < len(b) {
		var end int
		if b[i] == '{' {
			seen := false // as gjson, the first of duplicate keys counts
			end, _ = walkObject(b, i, func(key []byte, fv int) (int, bool) {
				if string(key) != "function" || seen {
					return skipMember, true
				}
				seen = true
				if b[fv] != '{' {
					return skipMember, true
				}
				return callArgsAt(b, fv, n), true
			})
		} else {
			end, _ = skipValue(b, i)
		}
		if end <= 0 {
			return failWalk
		}
		i = skipWS(b, end)
		if i >= len(b) {
			return failWalk
		}
		switch b[i] {
		case ']':
			return i + 1
		case ',':
			i = skipWS(b, i+1)
		default:
			return failWalk
		}
	}
	return failWalk
}

// callArgsAt adds to *n the bytes of the "arguments" of the function
// object at b[v] (the text of a string, as OpenAI sends them; the JSON of
// anything else, as some servers send an object) and returns the index
// after the object or failWalk.
func callArgsAt(b []byte, v int, n *int) int {
	seen := false
	end, ok := walkObject(b, v, func(key []byte, av int) (int, bool) {
		if string(key) != "arguments" || seen {
			return skipMember, true
		}
		seen = true
		if b[av] == '"' {
			end, esc := stringAt(b, av)
			if end > 0 {
				*n += unescapedLen(b[av:end], esc)
			}
			return end, true
		}
		end, ok := skipValue(b, av)
		if !ok {
			return failWalk, false
		}
		if b[av] != 'n' { // null
			*n += end - av
		}
		return end, true
	})
	if !ok {
		return failWalk
	}
	return end
}

// answerFields is what the proxy reads from a whole (non-streamed) answer:
// choices[0].message.content (else choices[0].text) and finish_reason, and
// the usage value.
type answerFields struct {
	chunkFields
	usage []byte
	// choices is set when the answer has a "choices" member, errorObject
	// when its "object" is "error" (vLLM's ErrorResponse): with hasError,
	// what tells an error sent with a 200 (wholeAnswerError).
	choices, errorObject bool
}

// scanAnswer reads a whole answer in one pass; !ok means gjson must.
// wantModel reads its "model" too.
func scanAnswer(b []byte, wantModel bool) (f answerFields, ok bool) {
	seenChoices, seenUsage, seenModel, seenError, seenObject := false, false, false, false, false
	_, ok = walkObject(b, 0, func(key []byte, v int) (int, bool) {
		switch string(key) {
		case "model":
			return modelAt(b, v, &f.chunkFields, wantModel, &seenModel), true
		case "choices":
			if seenChoices {
				break
			}
			seenChoices, f.choices = true, true
			return choicesAt(b, v, &f.chunkFields, "message"), true
		case "error":
			if !seenError { // gjson reads the first of duplicate keys
				seenError = true
				f.hasError = b[v] != 'n'
			}
		case "object":
			if !seenObject {
				seenObject = true
				f.errorObject = bytes.HasPrefix(b[v:], []byte(`"error"`))
			}
		case "usage":
			if seenUsage {
				break
			}
			seenUsage = true
			end, ok := skipValue(b, v)
			if !ok {
				return failWalk, false
			}
			f.usage = b[v:end]
			return end, true
		}
		return skipMember, true
	})
	return f, ok
}

// requestFields are the spans scanRequest finds.
type requestFields struct {
	model              jsonSpan
	modelEsc, hasModel bool
	user               []byte // a JSON string or nil
	userEsc            bool
	stream             bool
	hasOptions         bool
	usageAsked         bool
	category           []byte // a JSON string or nil
	dupModel           bool   // "model" appears more than once
	dupStream          string // the stream key that appears more than once, or ""
	// tools is set by a non-empty tools or functions array, noTools by
	// tool_choice or function_call "none" (see fields.toolsOffered).
	tools, noTools bool
	// The Responses API's previous_response_id and safety_identifier
	// (JSON strings or nil), and its "store": false.
	prevID, safetyID   []byte
	prevEsc, safetyEsc bool
	noStore            bool
	// images are the images sent inline, counted in the same pass.
	images inlineImages
}

// scanRequest reads a request body's routing fields in one pass over its
// top level; !ok means gjson must read it.
func scanRequest(b []byte) (r requestFields, ok bool) {
	inner := true
	var seen [8]bool
	once := func(i int) bool {
		if seen[i] {
			return false
		}
		seen[i] = true
		return true
	}
	_, ok = eachKeyImages(b, 0, &r.images, func(key []byte, v jsonSpan) bool {
		if bytes.IndexByte(key, '\\') >= 0 {
			// An escaped key ("mod\u0065l" is "model" to a backend):
			// gjson reads those.
			inner = false
			return false
		}
		switch string(key) {
		case "model":
			if !once(0) {
				r.dupModel = true
			} else {
				r.model, r.hasModel = v, true
				if isString(v.raw) && !hasControl(v.raw) {
					_, r.modelEsc, _ = skipString(v.raw, 0)
				} else {
					inner = false // gjson reports the type, or cuts the string
				}
			}
		case "user":
			inner = stringMember(v.raw, once(1), &r.user, &r.userEsc)
		case "previous_response_id":
			inner = stringMember(v.raw, once(5), &r.prevID, &r.prevEsc)
		case "safety_identifier":
			inner = stringMember(v.raw, once(6), &r.safetyID, &r.safetyEsc)
		case "store":
			if once(7) {
				r.noStore = string(v.raw) == "false"
			}
		case "stream":
			if once(2) {
				r.stream = string(v.raw) == "true"
			} else {
				r.dupStream = keyStream
			}
		case "stream_options":
			if once(3) {
				r.hasOptions = true
				if len(v.raw) > 0 && v.raw[0] == '{' {
					seenUsage := false
					_, good := eachKey(v.raw, 0, func(k []byte, ov jsonSpan) bool {
						if bytes.IndexByte(k, '\\') >= 0 {
							inner = false // an escaped key: gjson reads those
							return false
						}
						if string(k) == "include_usage" {
							if seenUsage {
								r.dupStream = keyIncludeUsage
								return false
							}
							seenUsage = true
							r.usageAsked = string(ov.raw) == "true"
						}
						return true
					})
					inner = inner && good
				} else {
					inner = false
				}
			} else {
				r.dupStream = keyStreamOptions
			}
		case "tools", "functions":
			if nonEmptyArray(v.raw, 0) {
				r.tools = true
			}
		case "tool_choice", "function_call":
			if isString(v.raw) && hasControl(v.raw) {
				inner = false // gjson cuts the string
			} else if isNone(v.raw) {
				r.noTools = true
			}
		case "metadata":
			if once(4) && len(v.raw) > 0 && v.raw[0] == '{' {
				_, good := eachKey(v.raw, 0, func(k []byte, mv jsonSpan) bool {
					if string(k) == "category" {
						if isString(mv.raw) {
							if hasControl(mv.raw) {
								inner = false
							}
							r.category = mv.raw
						}
						return false
					}
					return true
				})
				inner = inner && good
			}
		}
		return inner
	})
	if !r.stream {
		// Like the gjson reading: stream_options counts only for streams.
		r.hasOptions, r.usageAsked = false, false
	}
	return r, ok && inner
}

// stringMember keeps the string value raw of a member in *dst, with
// whether it has escapes, when first is true (the first of duplicate keys,
// as gjson reads) and it is a string. It returns false, for gjson to read
// the body, when the string holds a control character (gjson cuts it).
func stringMember(raw []byte, first bool, dst *[]byte, esc *bool) bool {
	if !first || !isString(raw) {
		return true
	}
	if hasControl(raw) {
		return false
	}
	*dst = raw
	_, *esc, _ = skipString(raw, 0)
	return true
}

// isNone reports whether the JSON value v is the string "none", escaped or
// not ("\u006eone" is "none" to gjson and to a backend).
func isNone(v []byte) bool {
	if string(v) == `"none"` {
		return true
	}
	// Each of the four letters escaped as \u00XX at the most.
	if !isString(v) || len(v) > 2+4*6 || bytes.IndexByte(v, '\\') < 0 {
		return false
	}
	var b [8]byte
	return string(appendUnescapedMax(b[:0], v, 5)) == "none"
}

// nonEmptyArray reports whether the array at b[i] ('[') has an element;
// false when b[i] is not a '['.
func nonEmptyArray(b []byte, i int) bool {
	if i >= len(b) || b[i] != '[' {
		return false
	}
	j := skipWS(b, i+1)
	return j < len(b) && b[j] != ']'
}

// usageCounts is what the proxy reads from a usage object.
type usageCounts struct {
	prompt, completion, cached int64
	// cacheReported: prompt_tokens_details.cached_tokens is a number.
	cacheReported bool
}

// scanUsage reads the usage object u in one pass, as usageInto reads it by
// gjson. It declines (!ok) anything but plain integers in the fields it
// reads and an object or no prompt_tokens_details, so that gjson decides
// how to read a float, a string or a null there. As gjson does, it reads
// the first of duplicate keys.
func scanUsage(u []byte) (c usageCounts, ok bool) {
	var seenPrompt, seenCompletion bool
	_, ok = walkObject(u, 0, func(key []byte, v int) (int, bool) {
		switch string(key) {
		case "prompt_tokens":
			if !seenPrompt {
				seenPrompt = true
				return intAt(u, v, &c.prompt), true
			}
		case "completion_tokens":
			if !seenCompletion {
				seenCompletion = true
				return intAt(u, v, &c.completion), true
			}
		case "prompt_tokens_details":
			// gjson reads a path through duplicate keys into the next
			// one when the first lacks the rest of the path, so a later
			// object is read until one has cached_tokens.
			if !c.cacheReported {
				return detailsAt(u, v, &c), true
			}
		}
		return skipMember, true
	})
	return c, ok
}

// detailsAt reads cached_tokens from the prompt_tokens_details object at
// u[v] and returns the index after the object, or failWalk.
func detailsAt(u []byte, v int, c *usageCounts) int {
	if u[v] != '{' {
		return failWalk
	}
	seen := false
	end, ok := walkObject(u, v, func(key []byte, w int) (int, bool) {
		if string(key) != "cached_tokens" || seen {
			return skipMember, true
		}
		seen = true
		end := intAt(u, w, &c.cached)
		c.cacheReported = end != failWalk
		return end, true
	})
	if !ok {
		return failWalk
	}
	return end
}

// intAt reads the plain integer at b[i] (an optional minus and at most 18
// digits, so it fits an int64 and gjson reads the same value) into n, and
// returns the index after it, or failWalk for any other value.
func intAt(b []byte, i int, n *int64) int {
	end, ok := skipValue(b, i)
	if !ok {
		return failWalk
	}
	digits := b[i:end]
	neg := len(digits) > 0 && digits[0] == '-'
	if neg {
		digits = digits[1:]
	}
	if len(digits) == 0 || len(digits) > 18 {
		return failWalk
	}
	var x int64
	for _, d := range digits {
		if d < '0' || d > '9' {
			return failWalk
		}
		x = x*10 + int64(d-'0')
	}
	if neg {
		x = -x
	}
	*n = x
	return end
}
