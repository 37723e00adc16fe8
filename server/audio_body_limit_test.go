package server_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/openai/openai-go"
	"github.com/openai/openai-go/option"

	"github.com/sluicehq/sluice/config"
	"github.com/sluicehq/sluice/fakellm"
)

// TestGateway_AudioBodyLimit: README ("Endpoints whose answers are not
// text"). A 20 MB Whisper upload (OpenAI takes up to 25 MB) got a 413 on
// a gateway with the default limits, since max_body_bytes (8 MiB) bounded
// every path. Audio now has its own default, max_audio_body_bytes (25
// MiB), on both HTTP servers: the upload is transcribed, a JSON body of
// the same size is still refused at max_body_bytes, and an upload over
// the audio limit is refused naming max_audio_body_bytes (before the body
// is sent, when the client asks with Expect: 100-continue).
func TestGateway_AudioBodyLimit(t *testing.T) {
	b := MustBackend(t, fakellm.Config{Model: "up-v1.0.0", StrictModel: true})
	wav := testWAV(416) // 19,968,044 bytes: 6 min 56 s at 24 kHz
	for _, srv := range []string{"fasthttp", "net/http"} {
		t.Run(strings.ReplaceAll(srv, "/", ""), func(t *testing.T) {
			gw, _ := mustGatewayWith(t, func(c *config.Gateway) { c.HTTPServer = srv }, nil,
				chatDoc(map[string]string{"v1.0.0": b.URL()}, nil, nil))
			client := openai.NewClient(option.WithBaseURL(gw.URL()+"/v1/"), option.WithAPIKey("x"), option.WithMaxRetries(0))
			ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
			defer cancel()
			tr, err := client.Audio.Transcriptions.New(ctx, openai.AudioTranscriptionNewParams{Model: "chat", File: openai.File(bytes.NewReader(wav), "speech.wav", "audio/wav")})
			if err != nil {
				t.Fatalf("a %d-byte upload with the default limits: %v", len(wav), err)
			}
			if len(tr.Text) == 0 {
				t.Fatal("the transcript is empty")
			}

			// A JSON body of 9 MB: max_body_bytes as before.
			big := `{"model":"chat","messages":[{"role":"user","content":"` + strings.Repeat("a", 9_000_000) + `"}]}`
			_, err = client.Chat.Completions.New(ctx, openai.ChatCompletionNewParams{}, option.WithRequestBody("application/json", []byte(big)))
			tooLarge(t, err, "max_body_bytes", "max_audio_body_bytes")

			// Over the audio limit.
			huge := testWAV(560) // 26,880,044 bytes
			_, err = client.Audio.Transcriptions.New(ctx, openai.AudioTranscriptionNewParams{Model: "chat", File: openai.File(bytes.NewReader(huge), "speech.wav", "audio/wav")})
			tooLarge(t, err, "max_audio_body_bytes", "")
			_, err = client.Audio.Translations.New(ctx, openai.AudioTranslationNewParams{Model: "chat", File: openai.File(bytes.NewReader(huge), "speech.wav", "audio/wav")})
			tooLarge(t, err, "max_audio_body_bytes", "")

			// Announced with Expect: 100-continue: a 413 before the body
			// over the audio limit, a 100 Continue for one under it.
			for _, c := range []struct {
				length string
				want   int
			}{{"27000000", http.StatusRequestEntityTooLarge}, {"20000000", http.StatusContinue}} {
				conn, br := dialT(t, gw.Addr())
				io.WriteString(conn, "POST /v1/audio/transcriptions HTTP/1.1\r\nHost: sluice\r\nContent-Type: multipart/form-data; boundary=x\r\nExpect: 100-continue\r\nContent-Length: "+c.length+"\r\n\r\n")
				resp, err := http.ReadResponse(br, nil)
				if err != nil {
					t.Fatal(err)
				}
				body, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<10))
				if resp.StatusCode != c.want || (c.want == http.StatusRequestEntityTooLarge && !strings.Contains(string(body), "raise max_audio_body_bytes")) {
					t.Errorf("Content-Length %s with Expect: 100-continue: %d %s, want %d", c.length, resp.StatusCode, body, c.want)
				}
			}
		})
	}
}

// tooLarge checks that err is a 413 whose message names setting to raise
// (and not other, when given).
func tooLarge(t *testing.T, err error, setting, other string) {
	t.Helper()
	var apiErr *openai.Error
	if !errors.As(err, &apiErr) || apiErr.StatusCode != http.StatusRequestEntityTooLarge {
		t.Fatalf("err = %v, want a 413", err)
	}
	if !strings.Contains(apiErr.Message, "raise "+setting) || (other != "" && strings.Contains(apiErr.Message, other)) {
		t.Errorf("the 413 says %q, want it to name %s", apiErr.Message, setting)
	}
}
