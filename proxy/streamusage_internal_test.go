package proxy

import (
	"strings"
	"testing"

	"github.com/sluicehq/sluice"
)

// TestStreamUsage_Scan: the last usage member of an event stream passed
// through is read whatever reads it arrives in (every split of it in two
// and in one-byte reads), tokens from OpenAI's transcript.text.done and
// vLLM's last transcription.chunk, none from whisper-1's duration or a
// null, and not from a "usage" that is a string's value.
func TestStreamUsage_Scan(t *testing.T) {
	for _, tc := range []struct {
		name, stream string
		in, out      int
	}{
		{"OpenAI", "data: {\"type\":\"transcript.text.delta\",\"delta\":\"Hi\"}\n\n" +
			"data: {\"type\":\"transcript.text.done\",\"text\":\"Hi there\",\"usage\":{\"type\":\"tokens\",\"input_tokens\":14,\"input_token_details\":{\"audio_tokens\":14},\"output_tokens\":45,\"total_tokens\":59}}\n\n", 14, 45},
		{"vLLM", "data: {\"object\":\"transcription.chunk\",\"choices\":[{\"delta\":{\"content\":\"Hi\"}}],\"usage\":null}\n\n" +
			"data: {\"object\":\"transcription.chunk\",\"choices\":[],\"usage\" : {\"prompt_tokens\":7,\"completion_tokens\":3,\"total_tokens\":10}}\r\n\r\ndata: [DONE]\r\n\r\n", 7, 3},
		{"Duration", "data: {\"type\":\"transcript.text.done\",\"text\":\"x\",\"usage\":{\"type\":\"duration\",\"seconds\":9}}\n\n", 0, 0},
		{"NoNewline", "data: {\"type\":\"speech.audio.done\",\"usage\":{\"input_tokens\":2,\"output_tokens\":5}}", 2, 5},
		{"StringValue", "data: {\"text\":\"\\\"usage\\\"\",\"k\":\"usage\"}\n\n", 0, 0},
		{"LastWins", "data: {\"usage\":{\"prompt_tokens\":1,\"completion_tokens\":1}}\n\ndata: {\"usage\":{\"prompt_tokens\":1,\"completion_tokens\":9}}\n\n", 1, 9},
		{"LongLine", "data: {\"usage\":{\"input_tokens\":4,\"output_tokens\":6},\"b64_json\":\"" + strings.Repeat("A", 3*maxUsageBytes) + "\"}\n\n", 4, 6},
	} {
		t.Run(tc.name, func(t *testing.T) {
			check := func(how string, reads [][]byte) {
				t.Helper()
				var s streamUsage
				for _, r := range reads {
					s.scan(r)
				}
				var o sluice.Observation
				s.apply(&o)
				if o.InputTokens != tc.in || o.OutputTokens != tc.out {
					t.Errorf("%s: tokens %d/%d, want %d/%d", how, o.InputTokens, o.OutputTokens, tc.in, tc.out)
				}
			}
			b := []byte(tc.stream)
			check("whole", [][]byte{b})
			for i := range len(b) {
				check("split at "+string(rune('0'+i%10)), [][]byte{b[:i:i], b[i:]})
			}
			var ones [][]byte
			for i := range b {
				ones = append(ones, b[i:i+1])
			}
			check("bytewise", ones)
		})
	}
}
