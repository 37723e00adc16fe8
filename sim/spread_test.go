package sim

import (
	"encoding/json"
	"strings"
	"testing"
)

// TestSpread_NoFloatNoise: the p95 of runs interpolated between two
// requests counts printed as 236.75000000000006 in sluice sim's JSON.
func TestSpread_NoFloatNoise(t *testing.T) {
	x := make([]float64, 0, 20)
	for i := range 20 {
		x = append(x, 0.1*float64(i)+230.05)
	}
	b, _ := json.Marshal(spread(x))
	if strings.Contains(string(b), "0000") || strings.Contains(string(b), "9999") {
		t.Errorf("spread = %s, want two decimals at most", b)
	}
}
