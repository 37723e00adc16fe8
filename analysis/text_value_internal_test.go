package analysis

import "testing"

// What the user sees: a rollout against a fast backend (a local model
// server, fakellm, a small model on a GPU) rolled back with "latency p50:
// 6 ms vs 0 ms (+1875%, threshold +20%)": a baseline of 0.29 ms printed as
// 0 ms, so the reason contradicted its own percentage. Values under 10 in
// their unit keep two significant digits; larger ones stay whole.
func TestValue_SmallValuesKeepTheirDigits(t *testing.T) {
	for _, tc := range []struct {
		def  metricDef
		x    float64
		want string
	}{
		{mP50, 0.2862, "0.29 ms"},
		{mP50, 5.652, "5.7 ms"},
		{mP50, 0, "0 ms"},
		{mP99, 748.4, "748 ms"},
		{mP95, 12.6, "13 ms"},
		{mTokens, 7.52, "7.5 tokens"},
		{mTokens, 120.4, "120 tokens"},
		{mChars, 8, "8 chars"},
		{mErrors, 0.2746, "27.5%"},
		{mQuality, 0.9, "0.90"},
	} {
		r := &row{def: &tc.def}
		if got := value(r, tc.x); got != tc.want {
			t.Errorf("value(%s, %v) = %q, want %q", tc.def.name, tc.x, got, tc.want)
		}
	}
}
