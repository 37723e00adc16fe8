package fakellm

import (
	"bytes"
	"errors"
	"fmt"
)

// request holds the fields of a model request that the server looks at.
// The byte slices point into the request body. It is filled by parseRequest,
// a small hand-written JSON scanner: encoding/json accounted for most of the
// handler's time and all its allocations, and the fake must not be the
// bottleneck of a proxy benchmark.
type request struct {
	// Model is the raw JSON value of "model" (a quoted string), or nil.
	Model               []byte
	Stream              bool
	IncludeUsage        bool
	MaxTokens           int
	MaxCompletionTokens int
	// N is the number of choices asked for (chat and completions' "n");
	// 0 when the body does not say, which is 1. HasN says it did.
	N    int
	HasN bool
	// PromptBytes is the length of the prompt text: the message contents
	// of a chat request, or the prompt of a text completion.
	PromptBytes int
	// Input is the raw JSON value of an embeddings request's "input".
	Input          []byte
	Dimensions     int
	EncodingFormat []byte // raw JSON string
	// Tool is the name of the first tool a chat request offers, as a raw
	// JSON string (tools[0].function.name, or functions[0].name), or nil
	// when it offers none; defaultTool when the tool has no name. ToolsOff
	// is set by tool_choice or function_call "none".
	Tool     []byte
	ToolsOff bool
	// MaxOutputTokens is a Responses request's max_output_tokens.
	MaxOutputTokens int
	// PreviousID is a Responses request's previous_response_id, a raw
	// JSON string, or nil.
	PreviousID []byte
	// NoStore is set by a Responses request's "store": false: its answer
	// is not kept for a later previous_response_id.
	NoStore bool
}

// defaultTool names a tool offered without a name.
var defaultTool = []byte(`"tool"`)

// offersTool returns the name of the tool the request offers and may
// call, or nil.
func (r *request) offersTool() []byte {
	if r.ToolsOff {
		return nil
	}
	return r.Tool
}

// maxDepth bounds nesting so a hostile body cannot exhaust the stack.
const maxDepth = 512

var errSyntax = errors.New("invalid JSON")

// jsonScanner walks a JSON document. Every method starts at s.i, skips
// leading white space, and leaves s.i just past what it consumed.
type jsonScanner struct {
	b     []byte
	i     int
	depth int
}

// parseRequest fills req from a JSON request body. It checks the syntax of
// the whole document, not just the fields it keeps.
func parseRequest(body []byte, req *request) error {
	*req = request{}
	s := jsonScanner{b: body}
	err := s.object(func(key []byte) error {
		switch string(key) {
		case "model":
			v, err := s.value()
			if err == nil && v[0] != '"' && !isNull(v) {
				return errors.New(`"model" must be a string`)
			}
			if !isNull(v) {
				req.Model = v
			}
			return err
		case "stream":
			if err := s.want("stream", "true or false", 't', 'f'); err != nil {
				return err
			}
			return s.boolean(&req.Stream)
		case "stream_options":
			if err := s.want("stream_options", `an object, such as {"include_usage": true}`, '{'); err != nil {
				return err
			}
			return s.optObject(func(key []byte) error {
				if string(key) == "include_usage" {
					return s.boolean(&req.IncludeUsage)
				}
				return s.skip()
			})
		case "max_tokens":
			return s.integer("max_tokens", &req.MaxTokens)
		case "n":
			// null is the default, as the API takes it.
			req.HasN = s.peek() != 'n'
			return s.integer("n", &req.N)
		case "max_completion_tokens":
			return s.integer("max_completion_tokens", &req.MaxCompletionTokens)
		case "dimensions":
			return s.integer("dimensions", &req.Dimensions)
		case "messages":
			if err := s.want("messages", `a list of messages, such as [{"role": "user", "content": "hi"}]`, '['); err != nil {
				return err
			}
			return s.optArray(func() error {
				if err := s.want("messages", `a list of objects, such as [{"role": "user", "content": "hi"}]`, '{'); err != nil {
					return err
				}
				return s.optObject(func(key []byte) error {
					if string(key) != "content" {
						return s.skip()
					}
					v, err := s.value()
					req.PromptBytes += rawTextLen(v)
					return err
				})
			})
		case "prompt":
			v, err := s.value()
			req.PromptBytes += rawTextLen(v)
			return err
		case "input":
			v, err := s.value()
			req.Input = v
			return err
		case "instructions":
			v, err := s.value()
			req.PromptBytes += rawTextLen(v)
			return err
		case "max_output_tokens":
			return s.integer("max_output_tokens", &req.MaxOutputTokens)
		case "previous_response_id":
			v, err := s.value()
			if err == nil && len(v) > 2 && v[0] == '"' {
				req.PreviousID = v
			}
			return err
		case "store":
			v, err := s.value()
			req.NoStore = string(v) == "false"
			return err
		case "encoding_format":
			v, err := s.value()
			req.EncodingFormat = v
			return err
		case "tools", "functions":
			legacy := string(key) == "functions"
			if err := s.want(string(key), "a list of tools", '['); err != nil {
				return err
			}
			return s.optArray(func() error {
				if req.Tool != nil {
					return s.skip()
				}
				req.Tool = defaultTool
				return s.toolName(legacy, &req.Tool)
			})
		case "tool_choice", "function_call":
			v, err := s.value()
			if string(v) == `"none"` {
				req.ToolsOff = true
			}
			return err
		default:
			return s.skip()
		}
	})
	if err != nil {
		return err
	}
	if s.ws(); s.i != len(s.b) {
		return s.fail()
	}
	return nil
}

// toolName scans one element of a tools array (or, legacy, of functions)
// and sets *name to its function's name when it has one: the chat shape's
// function.name, or the Responses shape's name.
func (s *jsonScanner) toolName(legacy bool, name *[]byte) error {
	if s.peek() != '{' {
		return s.skip()
	}
	named := func(key []byte) error {
		if string(key) != "name" {
			return s.skip()
		}
		v, err := s.value()
		if err == nil && len(v) > 2 && v[0] == '"' {
			*name = v
		}
		return err
	}
	if legacy {
		return s.object(named)
	}
	return s.object(func(key []byte) error {
		if string(key) == "name" {
			// A Responses tool: {"type": "function", "name": ...}.
			return named(key)
		}
		if string(key) != "function" || s.peek() != '{' {
			return s.skip()
		}
		return s.object(named)
	})
}

func (s *jsonScanner) fail() error {
	return fmt.Errorf("%w at byte %d", errSyntax, s.i)
}

func (s *jsonScanner) ws() {
	for s.i < len(s.b) {
		switch s.b[s.i] {
		case ' ', '\t', '\n', '\r':
			s.i++
		default:
			return
		}
	}
}

// peek returns the next non-space byte, or 0 at the end.
func (s *jsonScanner) peek() byte {
	s.ws()
	if s.i < len(s.b) {
		return s.b[s.i]
	}
	return 0
}

// object scans an object, calling field with each raw key (without quotes)
// positioned before its value; field must consume the value.
func (s *jsonScanner) object(field func(key []byte) error) error {
	if s.peek() != '{' {
		return s.fail()
	}
	if s.depth++; s.depth > maxDepth {
		return s.fail()
	}
	s.i++
	if s.peek() == '}' {
		s.i++
		s.depth--
		return nil
	}
	for {
		if s.peek() != '"' {
			return s.fail()
		}
		start := s.i
		if err := s.str(); err != nil {
			return err
		}
		key := s.b[start+1 : s.i-1]
		if s.peek() != ':' {
			return s.fail()
		}
		s.i++
		if err := field(key); err != nil {
			return err
		}
		switch s.peek() {
		case ',':
			s.i++
		case '}':
			s.i++
			s.depth--
			return nil
		default:
			return s.fail()
		}
	}
}

// optObject is object, also accepting null.
func (s *jsonScanner) optObject(field func(key []byte) error) error {
	if s.peek() == 'n' {
		return s.literal("null")
	}
	return s.object(field)
}

// optArray scans an array (or null), calling elem before each element;
// elem must consume it.
func (s *jsonScanner) optArray(elem func() error) error {
	switch s.peek() {
	case 'n':
		return s.literal("null")
	case '[':
	default:
		return s.fail()
	}
	if s.depth++; s.depth > maxDepth {
		return s.fail()
	}
	s.i++
	if s.peek() == ']' {
		s.i++
		s.depth--
		return nil
	}
	for {
		if err := elem(); err != nil {
			return err
		}
		switch s.peek() {
		case ',':
			s.i++
		case ']':
			s.i++
			s.depth--
			return nil
		default:
			return s.fail()
		}
	}
}

// value scans any value and returns its raw bytes.
func (s *jsonScanner) value() ([]byte, error) {
	s.ws()
	start := s.i
	err := s.skip()
	return s.b[start:s.i], err
}

// skip scans any value.
func (s *jsonScanner) skip() error {
	switch c := s.peek(); {
	case c == '"':
		return s.str()
	case c == '{':
		return s.object(func([]byte) error { return s.skip() })
	case c == '[':
		return s.optArray(s.skip)
	case c == 't':
		return s.literal("true")
	case c == 'f':
		return s.literal("false")
	case c == 'n':
		return s.literal("null")
	case c == '-' || (c >= '0' && c <= '9'):
		return s.number()
	default:
		return s.fail()
	}
}

// str scans a string, s.i being at its opening quote.
func (s *jsonScanner) str() error {
	for i := s.i + 1; i < len(s.b); i++ {
		switch c := s.b[i]; {
		case c == '"':
			s.i = i + 1
			return nil
		case c == '\\':
			i++ // the escaped byte; \uXXXX's digits are plain bytes
		case c < 0x20:
			s.i = i
			return s.fail()
		}
	}
	s.i = len(s.b)
	return s.fail()
}

func (s *jsonScanner) literal(lit string) error {
	if !bytes.HasPrefix(s.b[s.i:], []byte(lit)) {
		return s.fail()
	}
	s.i += len(lit)
	return nil
}

// number scans a number loosely: an optional minus, then digits, dots,
// exponents and signs, with at least one digit.
func (s *jsonScanner) number() error {
	start := s.i
	if s.b[s.i] == '-' {
		s.i++
	}
	digits := 0
	for ; s.i < len(s.b); s.i++ {
		c := s.b[s.i]
		if c >= '0' && c <= '9' {
			digits++
		} else if c != '.' && c != 'e' && c != 'E' && c != '+' && c != '-' {
			break
		}
	}
	if digits == 0 {
		s.i = start
		return s.fail()
	}
	return nil
}

func (s *jsonScanner) boolean(dst *bool) error {
	switch s.peek() {
	case 't':
		*dst = true
		return s.literal("true")
	case 'f':
		*dst = false
		return s.literal("false")
	case 'n':
		return s.literal("null")
	}
	return s.fail()
}

// want returns an error naming field when the value at s.i is well-formed
// JSON of another kind than those starting with one of first (or null),
// as vLLM names the field of a value of the wrong type: a body that is
// JSON, told "invalid JSON", sends its sender looking for what broke it on
// the way (a gateway in front). nil otherwise, and a value that is not
// JSON is left to the scan that follows, which says so.
func (s *jsonScanner) want(field, what string, first ...byte) error {
	c := s.peek()
	if c == 'n' {
		return nil
	}
	for _, f := range first {
		if c == f {
			return nil
		}
	}
	if _, err := (&jsonScanner{b: s.b, i: s.i, depth: s.depth}).value(); err != nil {
		return nil
	}
	return fmt.Errorf("%q must be %s", field, what)
}

// integer scans an integer (or null) into dst.
func (s *jsonScanner) integer(name string, dst *int) error {
	v, err := s.value()
	if err != nil || isNull(v) {
		return err
	}
	n, neg := 0, false
	if v[0] == '-' {
		neg, v = true, v[1:]
	}
	for _, c := range v {
		if c < '0' || c > '9' || n > 1<<40 {
			return fmt.Errorf("%q must be an integer", name)
		}
		n = n*10 + int(c-'0')
	}
	if neg {
		n = -n
	}
	*dst = n
	return nil
}

// arrayItems appends the raw elements of a JSON array to dst.
func arrayItems(raw []byte, dst [][]byte) ([][]byte, error) {
	s := jsonScanner{b: raw}
	err := s.optArray(func() error {
		v, err := s.value()
		dst = append(dst, v)
		return err
	})
	return dst, err
}

func isNull(v []byte) bool { return string(v) == "null" }

// rawTextLen is the length of a raw JSON value without string quotes; null
// counts as empty.
func rawTextLen(raw []byte) int {
	if len(raw) >= 2 && raw[0] == '"' {
		return len(raw) - 2
	}
	if isNull(raw) {
		return 0
	}
	return len(raw)
}
