package fakellm

import (
	"bufio"
	"bytes"
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"image/png"
	"io"
	"mime/multipart"
	"strings"
	"testing"
)

// form writes a multipart form: fields alternate names and values, a name
// starting "@" is a file part of that name with the value as its bytes.
func form(fields ...string) (string, string) {
	var b bytes.Buffer
	mw := multipart.NewWriter(&b)
	for i := 0; i+1 < len(fields); i += 2 {
		if name, ok := strings.CutPrefix(fields[i], "@"); ok {
			fw, _ := mw.CreateFormFile(name, "in.bin")
			fw.Write([]byte(fields[i+1]))
			continue
		}
		mw.WriteField(fields[i], fields[i+1])
	}
	mw.Close()
	return b.String(), mw.FormDataContentType()
}

// wavOf is seconds of silent 16-bit mono WAV at 24 kHz.
func wavOf(seconds float64) string {
	samples := int(seconds * speechRate)
	return string(append(wavHeader(samples), make([]byte, 2*samples)...))
}

// TestServer_Transcriptions: /v1/audio/transcriptions answers the form
// the SDKs send with a transcript as long as the audio takes to say (a 2 s
// WAV: 5 words), in each response_format: json with gpt-4o-transcribe's
// token usage (20 audio tokens, 5 out), verbose_json with whisper-1's
// segments and duration usage, text, srt and vtt as plain text; streamed,
// as transcript.text.delta events and transcript.text.done with the text
// and usage. /v1/audio/translations answers the same text without usage
// and does not stream. What it cannot take is a 400, another model a 404.
func TestServer_Transcriptions(t *testing.T) {
	s := MustStart(t, Config{Model: "whisper", StrictModel: true})
	c := newClient(t)
	audio := wavOf(2)
	send := func(path string, fields ...string) (int, string, string) {
		t.Helper()
		body, ctype := form(fields...)
		resp := post(t, c, s.URL()+path, body, "Content-Type", ctype)
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, resp.Header.Get("Content-Type"), string(b)
	}
	want := GeneratedText(5)

	status, ctype, body := send("/v1/audio/transcriptions", "@file", audio, "model", "whisper")
	var js struct {
		Text  string
		Usage map[string]any
	}
	json.Unmarshal([]byte(body), &js)
	usage := js.Usage
	if status != 200 || ctype != "application/json" || js.Text != want || usage["type"] != "tokens" || usage["input_tokens"] != 20.0 || usage["output_tokens"] != 5.0 || usage["total_tokens"] != 25.0 {
		t.Errorf("json: %d %s %s", status, ctype, body)
	}
	status, _, body = send("/v1/audio/transcriptions", "@file", audio, "model", "whisper", "response_format", "verbose_json")
	var verbose struct {
		Task     string
		Duration float64
		Text     string
		Segments []struct{ Start, End float64 }
		Usage    map[string]any
	}
	json.Unmarshal([]byte(body), &verbose)
	if status != 200 || verbose.Task != "transcribe" || verbose.Duration != 2 || verbose.Text != want || len(verbose.Segments) != 1 || verbose.Segments[0].End != 2 ||
		verbose.Usage["type"] != "duration" || verbose.Usage["seconds"] != 2.0 {
		t.Errorf("verbose_json: %d %s", status, body)
	}
	for format, whole := range map[string]string{
		"text": want + "\n",
		"srt":  "1\n00:00:00,000 --> 00:00:02,000\n" + want + "\n\n",
		"vtt":  "WEBVTT\n\n00:00:00.000 --> 00:00:02.000\n" + want + "\n\n",
	} {
		if status, ctype, body := send("/v1/audio/transcriptions", "@file", audio, "model", "whisper", "response_format", format); status != 200 || ctype != "text/plain; charset=utf-8" || body != whole {
			t.Errorf("%s: %d %s %q, want %q", format, status, ctype, body, whole)
		}
	}

	status, ctype, body = send("/v1/audio/transcriptions", "@file", audio, "model", "whisper", "stream", "true")
	var deltas strings.Builder
	var types []string
	var done struct {
		Text  string
		Usage map[string]any
	}
	sc := bufio.NewScanner(strings.NewReader(body))
	for sc.Scan() {
		data, ok := strings.CutPrefix(sc.Text(), "data: ")
		if !ok {
			continue
		}
		var ev struct{ Type, Delta string }
		json.Unmarshal([]byte(data), &ev)
		types = append(types, ev.Type)
		deltas.WriteString(ev.Delta)
		if ev.Type == "transcript.text.done" {
			json.Unmarshal([]byte(data), &done)
		}
	}
	if status != 200 || ctype != "text/event-stream" || len(types) != 6 || types[0] != "transcript.text.delta" || types[5] != "transcript.text.done" ||
		deltas.String() != want || done.Text != want || done.Usage["input_tokens"] != 20.0 {
		t.Errorf("stream: %d %s %s", status, ctype, body)
	}

	status, _, body = send("/v1/audio/translations", "@file", audio, "model", "whisper")
	if status != 200 || body != `{"text":"`+want+`"}` {
		t.Errorf("translation: %d %s", status, body)
	}
	// Another file's length: bytes at 32 kbit/s (8000 bytes, 2 s).
	if _, _, body := send("/v1/audio/translations", "@file", strings.Repeat("\xff", 8000), "model", "whisper", "response_format", "text"); body != want+"\n" {
		t.Errorf("an MP3's translation %q, want 5 words", body)
	}

	for _, bad := range []struct {
		path   string
		fields []string
		status int
		says   string
	}{
		{"/v1/audio/transcriptions", []string{"model", "whisper"}, 400, "file"},
		{"/v1/audio/transcriptions", []string{"@file", audio, "model", "whisper", "response_format", "mp3"}, 400, "response_format"},
		{"/v1/audio/transcriptions", []string{"@file", audio, "model", "whisper", "response_format", "srt", "stream", "true"}, 400, "streamed"},
		{"/v1/audio/translations", []string{"@file", audio, "model", "whisper", "stream", "true"}, 400, "does not stream"},
		{"/v1/audio/transcriptions", []string{"@file", audio, "model", "other"}, 404, "other"},
	} {
		if status, _, body := send(bad.path, bad.fields...); status != bad.status || !strings.Contains(body, bad.says) {
			t.Errorf("%s %v: %d %s, want %d saying %s", bad.path, bad.fields[len(bad.fields)-2:], status, body, bad.status, bad.says)
		}
	}
	if resp := post(t, c, s.URL()+"/v1/audio/transcriptions", `{"model":"whisper"}`); resp.StatusCode != 400 {
		t.Errorf("a JSON body: %d, want 400", resp.StatusCode)
	}
}

// TestServer_ImageVariations: /v1/images/variations answers an image
// file with n images of the size asked, drawn from the image's bytes (the
// same image, the same colours), the image counted as input tokens.
func TestServer_ImageVariations(t *testing.T) {
	s := MustStart(t, Config{Model: "dall-e-2"})
	c := newClient(t)
	vary := func(image string) (string, int) {
		t.Helper()
		body, ctype := form("@image", image, "model", "dall-e-2", "n", "2", "size", "32x32")
		var got struct {
			Data []struct {
				B64JSON string `json:"b64_json"`
			}
			Usage struct {
				InputTokens int `json:"input_tokens"`
			}
		}
		decode(t, post(t, c, s.URL()+"/v1/images/variations", body, "Content-Type", ctype), 200, &got)
		if len(got.Data) != 2 {
			t.Fatalf("variations %+v", got)
		}
		raw, _ := base64.StdEncoding.DecodeString(got.Data[0].B64JSON)
		img, err := png.Decode(bytes.NewReader(raw))
		if err != nil || img.Bounds().Dx() != 32 {
			t.Fatalf("variation: %v", err)
		}
		r, g, b, _ := img.At(0, 0).RGBA()
		return string(binary.BigEndian.AppendUint32(nil, r<<16|g<<8|b)), got.Usage.InputTokens
	}
	c1, in := vary("an image")
	c2, _ := vary("an image")
	c3, _ := vary("another image")
	if c1 != c2 || c1 == c3 || in != 2 {
		t.Errorf("colours %x %x %x, input tokens %d: want the same image's alike, another's apart, and 2 tokens", c1, c2, c3, in)
	}
	body, ctype := form("model", "dall-e-2")
	if resp := post(t, c, s.URL()+"/v1/images/variations", body, "Content-Type", ctype); resp.StatusCode != 400 {
		t.Errorf("no image: %d, want 400", resp.StatusCode)
	}
}

// TestAudioSeconds_Bounded: a WAV whose header claims a byte rate of 1
// plays, by its header, a second a byte: a 2 MiB upload asked a
// 128 MB verbose_json transcript of fakellm and grew it by a gigabyte.
// The length is bounded at maxAudioSeconds, as a real server bounds its
// input.
func TestAudioSeconds_Bounded(t *testing.T) {
	h := wavHeader(1 << 20)
	binary.LittleEndian.PutUint32(h[28:32], 1) // the byte rate
	wav := append(h, make([]byte, 2<<20)...)
	if got := audioSeconds(wav); got > maxAudioSeconds {
		t.Errorf("audioSeconds = %v, want %v at most", got, maxAudioSeconds)
	}
	if got := audioSeconds(make([]byte, 1<<30>>4)); got > maxAudioSeconds {
		t.Errorf("a 64 MiB file: audioSeconds = %v, want %v at most", got, maxAudioSeconds)
	}
}
