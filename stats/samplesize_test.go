package stats

import "testing"

func TestSampleSizeTwoProportions_Reference(t *testing.T) {
	// Expected values: R 4.2.2, power.prop.test(p1, p2, power, sig.level =
	// 0.05)$n, rounded up: 685.596858065848, 905.365777966861,
	// 5141.30618303776.
	tests := []struct {
		name                        string
		baseline, mde, alpha, power float64
		want                        int
	}{
		{"Up5Points", 0.85, 0.05, 0.05, 0.8, 686},
		{"Down5Points", 0.85, -0.05, 0.05, 0.8, 906},
		{"ErrorRate10to12", 0.10, 0.02, 0.05, 0.9, 5142},
		{"ZeroMDE", 0.5, 0, 0.05, 0.8, 0},
		{"RateAboveOne", 0.98, 0.05, 0.05, 0.8, 0},
		{"BadAlpha", 0.5, 0.1, 0, 0.8, 0},
		{"BadPower", 0.5, 0.1, 0.05, 1, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := SampleSizeTwoProportions(tt.baseline, tt.mde, tt.alpha, tt.power); got != tt.want {
				t.Errorf("SampleSizeTwoProportions = %d, want %d", got, tt.want)
			}
		})
	}
}

func TestSampleSizeTwoMeans_Reference(t *testing.T) {
	// Expected values: R 4.2.2, power.t.test(delta, sd, power, sig.level)$n
	// (exact, noncentral t), rounded up: 63.7657637142739,
	// 16.7147681423283, 526.333371163415, 95.1036199871425.
	tests := []struct {
		name                  string
		sd, mde, alpha, power float64
		want                  int
	}{
		{"HalfSD", 1, 0.5, 0.05, 0.8, 64},
		{"OneSD", 1, 1, 0.05, 0.8, 17},
		{"Power90", 10, 2, 0.05, 0.9, 527},
		{"Alpha01", 1, 0.5, 0.01, 0.8, 96},
		{"NegativeMDE", 1, -0.5, 0.05, 0.8, 64},
		{"ZeroSD", 0, 0.5, 0.05, 0.8, 0},
		{"ZeroMDE", 1, 0, 0.05, 0.8, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := SampleSizeTwoMeans(tt.sd, tt.mde, tt.alpha, tt.power); got != tt.want {
				t.Errorf("SampleSizeTwoMeans = %d, want %d", got, tt.want)
			}
		})
	}
}
