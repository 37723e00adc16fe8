package config_test

import (
	"os"
	"strings"
	"testing"
)

// TestREADME_TableRowsOneLine: a Markdown table row ends at its line's
// end, so a row wrapped onto the next line cuts the table there and shows
// the rest of the row, and every row after it, as a paragraph of pipes.
// The API table's apply row was wrapped so (the apply's warnings), and
// the table rendered up to it and no further. Each line of README.md and
// HOUSE.md outside a code block that starts a row must end it.
func TestREADME_TableRowsOneLine(t *testing.T) {
	for _, path := range []string{"../README.md", "../HOUSE.md"} {
		b, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		fenced := false
		for i, line := range strings.Split(string(b), "\n") {
			if strings.HasPrefix(line, "```") {
				fenced = !fenced
			}
			if fenced || !strings.HasPrefix(line, "|") {
				continue
			}
			if !strings.HasSuffix(strings.TrimRight(line, " "), "|") {
				end := line
				if len(end) > 60 {
					end = "…" + end[len(end)-60:]
				}
				t.Errorf("%s:%d: a table row that does not end on its line (%q): join it with the lines after it, as a row ends at its line's end", path, i+1, end)
			}
		}
	}
}
