package config_test

import (
	"strings"
	"testing"

	"github.com/sluicehq/sluice/config"
)

// TestParse_MaxAudioBodyBytes: audio uploads have their own limit, 25 MiB
// by default (OpenAI's 25 MB audio files fit); a gateway that raised
// max_body_bytes above it for audio (as the README said to) keeps that
// limit for audio; a set value is used as given, and one too small is
// refused naming the key.
func TestParse_MaxAudioBodyBytes(t *testing.T) {
	for _, c := range []struct {
		text       string
		body, audi int64
	}{
		{"", 8 << 20, 25 << 20},
		{"max_body_bytes: 67108864\n", 64 << 20, 64 << 20},
		{"max_body_bytes: 1048576\n", 1 << 20, 25 << 20},
		{"max_audio_body_bytes: 52428800\n", 8 << 20, 50 << 20},
		{"max_body_bytes: 67108864\nmax_audio_body_bytes: 2048\n", 64 << 20, 2048},
	} {
		g, err := config.ParseGateway("sluice.yaml", []byte(c.text))
		if err != nil {
			t.Fatalf("%q: %v", c.text, err)
		}
		if g.MaxBodyBytes != c.body || g.MaxAudioBodyBytes != c.audi {
			t.Errorf("%q: max_body_bytes %d, max_audio_body_bytes %d; want %d, %d", c.text, g.MaxBodyBytes, g.MaxAudioBodyBytes, c.body, c.audi)
		}
	}
	_, err := config.ParseGateway("sluice.yaml", []byte("max_audio_body_bytes: 100\n"))
	if err == nil || !strings.Contains(err.Error(), "max_audio_body_bytes: 100 is too small") {
		t.Errorf("max_audio_body_bytes: 100 = %v, want refused naming the key", err)
	}
}

// TestParse_TranscriptionStreamUsage: a backends entry may ask for vLLM's
// stream usage without headers; an entry with neither is still refused,
// its message naming both.
func TestParse_TranscriptionStreamUsage(t *testing.T) {
	g, err := config.ParseGateway("sluice.yaml", []byte("backends:\n  - match: http://whisper.internal:8000\n    transcription_stream_usage: true\n"))
	if err != nil {
		t.Fatal(err)
	}
	if len(g.Backends) != 1 || !g.Backends[0].TranscriptionStreamUsage {
		t.Errorf("backends = %+v", g.Backends)
	}
	_, err = config.ParseGateway("sluice.yaml", []byte("backends:\n  - match: http://whisper.internal:8000\n"))
	if err == nil || !strings.Contains(err.Error(), "transcription_stream_usage") || !strings.Contains(err.Error(), "give at least one header") {
		t.Errorf("an entry with neither = %v", err)
	}
}
