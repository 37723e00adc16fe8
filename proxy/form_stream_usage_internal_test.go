package proxy

import (
	"bytes"
	"mime/multipart"
	"testing"
)

// TestWithFormStreamUsage: the part asking vLLM for a stream's usage is
// added before the form's closing delimiter, in its boundary, after the
// model's value was rewritten to a name of another length, and the form
// still reads as the client's fields plus stream_include_usage=true; a
// form that has the field already is noted so (formUsage), so the
// client's value is never doubled or overridden.
func TestWithFormStreamUsage(t *testing.T) {
	var b bytes.Buffer
	w := multipart.NewWriter(&b)
	fw, _ := w.CreateFormFile("file", "a.wav")
	fw.Write([]byte("RIFF....audio"))
	w.WriteField("model", "chat")
	w.WriteField("stream", "true")
	w.Close()
	ct := w.FormDataContentType()
	f, err := readFormFields(b.Bytes(), ct)
	if err != nil {
		t.Fatal(err)
	}
	if f.formUsage {
		t.Fatal("formUsage set for a form without the field")
	}
	up := appendFormModel(nil, b.Bytes(), f.model, "openai/whisper-large-v3-turbo")
	out := withFormStreamUsage(up, &f, len(up)-b.Len())
	form, err := multipart.NewReader(bytes.NewReader(out), w.Boundary()).ReadForm(1 << 20)
	if err != nil {
		t.Fatalf("the form sent does not read: %v\n%s", err, out)
	}
	for k, want := range map[string]string{"model": "openai/whisper-large-v3-turbo", "stream": "true", "stream_include_usage": "true"} {
		if got := form.Value[k]; len(got) != 1 || got[0] != want {
			t.Errorf("%s = %q, want [%q]", k, got, want)
		}
	}
	if len(form.File["file"]) != 1 {
		t.Errorf("the file part is lost: %s", out)
	}

	b.Reset()
	w = multipart.NewWriter(&b)
	w.WriteField("model", "chat")
	w.WriteField("stream_include_usage", "false")
	w.Close()
	if f, err := readFormFields(b.Bytes(), w.FormDataContentType()); err != nil || !f.formUsage {
		t.Errorf("a form with stream_include_usage: formUsage %v, err %v; want it noted", f.formUsage, err)
	}
}
