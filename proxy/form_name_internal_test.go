package proxy

import "testing"

// TestEncodedName: a name* parameter, in any case or continued, is found;
// a filename* is not one.
func TestEncodedName(t *testing.T) {
	for cd, want := range map[string]bool{
		`form-data; name="prompt"; name*=''model`:                    true,
		`form-data; name="prompt";NAME*=latin-1''model`:              true,
		`form-data; name="x"; name*0="mo"; name*1="del"`:             true,
		`form-data; name="file"; filename*=UTF-8''%C3%A9t%C3%A9.wav`: false,
		`form-data; name="file"; filename="a.wav"`:                   false,
		`form-data; name="model"`:                                    false,
	} {
		if got := encodedName(cd); got != want {
			t.Errorf("encodedName(%s) = %v, want %v", cd, got, want)
		}
	}
}
