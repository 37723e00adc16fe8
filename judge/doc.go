// Package judge grades answers with an LLM-as-judge: an OpenAI-compatible
// chat completions endpoint is asked to score an answer to a prompt from 0
// to 10, and the grade, divided by 10, is recorded as a quality score of the
// version that gave the answer (source "judge" in observe).
//
// Grading is never on the request path. The proxy hands a sample of answers
// to Judge.Submit, which only enqueues them; a small pool of workers calls
// the judge model, and a full queue drops items (counted) rather than make
// the proxy wait. A judge answer without a readable score is dropped and
// counted too: nothing is recorded for it.
package judge
