package config_test

import (
	"strings"
	"testing"

	"github.com/sluicehq/sluice/config"
)

// What the user does: indents a line of the config or a model file with a
// tab, as an editor set for Makefiles or Go does.
// What must happen: the error names the line and says YAML indents with
// spaces. It gave yaml's "found character that cannot start any token", and
// without a line at all for a tab on the first line.
func TestParse_TabIndentSaysSo(t *testing.T) {
	for text, want := range map[string]string{
		"timeouts:\n\tconnect: 5s\n":                            "sluice.yaml: line 2 is indented with a tab: YAML indents with spaces only; replace the tab with spaces",
		"\tlisten: 127.0.0.1:8080\n":                            "sluice.yaml: line 1 is indented with a tab: YAML indents with spaces only",
		"listen: 127.0.0.1:8080\nrequest_log:\n \tkeep: true\n": "sluice.yaml: line 3 is indented with a tab",
	} {
		_, err := config.ParseGateway("sluice.yaml", []byte(text))
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("ParseGateway(%q) = %v; want an error containing %q", text, err, want)
		}
	}
	_, err := config.ParseApplyDoc("models.yaml", []byte("models:\n  - name: chat\n\t  description: x\n"))
	if want := "models.yaml: line 3 is indented with a tab"; err == nil || !strings.Contains(err.Error(), want) {
		t.Errorf("ParseApplyDoc with a tab: %v; want an error containing %q", err, want)
	}
	// A tab after a colon is YAML's separator, not an indent: it loads.
	if _, err := config.ParseGateway("sluice.yaml", []byte("listen:\t127.0.0.1:8080\n")); err != nil {
		t.Errorf("a tab after the colon: %v", err)
	}
}

// What the user does: writes a percent with its sign, percent: "5%" in a
// split, or a fraction key as a percent, sample_rate: 5%.
// What must happen: the error says to write the number of percent (5), or
// for a fraction the fraction (0.05). It said "write it as digits, such as
// 0.5" for both, which for a split's percent is half a percent.
func TestParse_PercentSignSaysWhatToWrite(t *testing.T) {
	_, err := config.ParseApplyDoc("models.yaml", []byte("models:\n  - name: chat\n    policy: {kind: split, split: [{version: v1, percent: 95}, {version: v2, percent: 5%}]}\n"))
	want := "models[0].policy.split[1].percent (line 3): 5% is not a number: write the percent without its sign, such as 5 for 5%"
	if err == nil || !strings.Contains(err.Error(), want) {
		t.Errorf("percent: 5%%: %v; want %q", err, want)
	}
	_, err = config.ParseGateway("sluice.yaml", []byte("judge:\n  sample_rate: 5%\n"))
	want = "judge.sample_rate (line 2): 5% is not a number: write it as a fraction from 0 to 1, such as 0.05 for 5%"
	if err == nil || !strings.Contains(err.Error(), want) {
		t.Errorf("sample_rate: 5%%: %v; want %q", err, want)
	}
}
