package proxy

import "github.com/sluicehq/sluice"

// bytesPerToken is the rule of thumb an estimate divides by: about four
// bytes of English text to a token under the BPE tokenizers of GPT, Llama
// and Qwen (OpenAI's own guidance). It is an estimate, not a count: code,
// other languages and numbers take more tokens per byte, and a prompt's
// JSON (keys, quotes, roles) fewer than its bytes would say.
const bytesPerToken = 4

// estimateTokens fills o's tokens with an estimate when the answer ended
// without the backend's usage after text reached the client: a stream the
// client hung up on or the backend broke off before its last chunk (which
// alone carries usage), or an answer from a backend that reports none.
// The backend generated those tokens (and a hosted one billed them), so
// leaving them at 0 let a client escape its tokens_per_minute and
// token_budget by closing every stream a chunk early.
//
// The output is what was relayed, in bytes over bytesPerToken, rounded
// up: the text (o.ResponseChars) and unmeasured, the reasoning text
// (reasoning_content, reasoning) and the tool calls' arguments, all of
// which the walker reads anyway (chunkFields.unmeasured; a Responses
// answer's, the gjson reads of its events and output: responses.go); the
// input is the request body's bytes over bytesPerToken (its inline images
// apart: img below). A few integer operations, at the end of such an
// answer only. The body stands for the prompt as the
// backend sees it: it holds the tools' schemas and the messages' roles,
// which a template puts in the prompt too, as well as JSON's punctuation,
// which it does not (see README, "Token budgets", for how far off it is).
// o is marked TokensEstimated, so the request log, sluice requests and
// sluice usage say so and the analysis leaves it out of a version's
// measured tokens. A reasoning model cut while it still thinks, or an agent
// that closes each stream at its call's finish_reason, is so charged for
// what it received, which it was not while the text alone was counted.
//
// abandoned is a request the client left after it was sent to the backend
// (canceled, not while its connection was dialled) before anything of the
// answer was counted: a whole answer it did not wait for, a stream it left
// before its first token. Its prompt is charged (the output 0): the backend
// read the prompt at least (the prefill, the dearest part of a long
// prompt), and a client that abandoned each request just before its answer
// would otherwise have had the backend's work for nothing against its
// limits. Its output is not known (vLLM stops generating when the gateway
// closes the connection), so it is not guessed; OpenAI and LiteLLM bill a
// canceled whole request in full, since they generate it all. An answer
// with none of these (an error, a request refused before it was sent,
// audio or an image) is not estimated: nothing the walker counts measures
// it.
//
// img are the images the body carries inline (data URLs, base64): each is
// estimated at imageTokens (or its bytes over bytesPerToken when fewer),
// not its base64's bytes, which counted a photo as tens of thousands of tokens
// where a vision model charges hundreds; the rest of the body is counted
// by its bytes. The body's one pass counted them (scanRequest).
func estimateTokens(o *sluice.Observation, bodyBytes int, img inlineImages, unmeasured int, abandoned bool) {
	if o.InputTokens != 0 || o.OutputTokens != 0 {
		return
	}
	out := int(o.ResponseChars) + unmeasured
	if out <= 0 && !o.ToolCall && !abandoned {
		return
	}
	o.InputTokens = (bodyBytes-img.bytes+bytesPerToken-1)/bytesPerToken + img.tokens
	o.OutputTokens = (out + bytesPerToken - 1) / bytesPerToken
	o.TokensEstimated = true
}
