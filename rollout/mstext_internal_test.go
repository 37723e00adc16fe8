package rollout

import "testing"

// TestMsText: a rollback's timings read at the precision their size needs;
// a drain of 3 µs read "0.0 ms", as if nothing had been measured.
func TestMsText(t *testing.T) {
	for _, tc := range []struct {
		v    any
		want string
	}{
		{0.003, "3 µs"},
		{0.0, "0 µs"},
		{0.4567, "457 µs"},
		{1.0, "1.0 ms"},
		{17.54, "17.5 ms"},
		{1234.56, "1234.6 ms"},
		{nil, "an unrecorded time"},
	} {
		if got := msText(tc.v); got != tc.want {
			t.Errorf("msText(%v) = %q, want %q", tc.v, got, tc.want)
		}
	}
}
