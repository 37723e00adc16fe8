package proxy

import (
	"strconv"
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

// vllmChunks is a vLLM transcription stream of n chunks, each with its
// "usage": null, the last chunk's usage counting tokens.
func vllmChunks(n int) []byte {
	ev := "data: {\"id\":\"trsc-1\",\"object\":\"transcription.chunk\",\"created\":1,\"model\":\"w\",\"choices\":[{\"delta\":{\"content\":\" word\"},\"finish_reason\":null}],\"usage\":null}\n\n"
	return []byte(strings.Repeat(ev, n) + "data: {\"object\":\"transcription.chunk\",\"choices\":[],\"usage\":{\"prompt_tokens\":31,\"completion_tokens\":3,\"total_tokens\":34}}\n\ndata: [DONE]\n\n")
}

// scanIn scans stream in reads of size bytes.
func scanIn(s *streamUsage, stream []byte, size int) {
	for b := stream; len(b) > 0; {
		n := min(size, len(b))
		s.scan(b[:n])
		b = b[n:]
	}
}

// TestStreamUsage_Allocs: reading a stream's usage allocates a few times
// per stream, not per event or per read: vLLM sends "usage": null in each
// chunk, and the relay reads as the backend flushes, an event or less at
// a time. It allocated once per chunk (the null parsed from a copy) and
// once per read (the key's bytes split between reads joined on the heap).
func TestStreamUsage_Allocs(t *testing.T) {
	stream := vllmChunks(1000)
	for _, size := range []int{len(stream), 4096, 37, 5} {
		a := testing.AllocsPerRun(5, func() {
			var s streamUsage
			scanIn(&s, stream, size)
			var o sluice.Observation
			s.apply(&o)
			if o.InputTokens != 31 || o.OutputTokens != 3 {
				t.Fatalf("reads of %d: tokens %d/%d, want 31/3", size, o.InputTokens, o.OutputTokens)
			}
		})
		if a > 3 {
			t.Errorf("reads of %d: %v allocations for a stream of 1000 chunks, want 3 at most", size, a)
		}
	}
}

func BenchmarkStreamUsage_Scan(b *testing.B) {
	stream := vllmChunks(100)
	for _, size := range []int{4096, 160} {
		b.Run(strconv.Itoa(size), func(b *testing.B) {
			b.ReportAllocs()
			b.SetBytes(int64(len(stream)))
			for b.Loop() {
				var s streamUsage
				scanIn(&s, stream, size)
			}
		})
	}
}
