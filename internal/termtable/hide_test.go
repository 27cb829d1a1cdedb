package termtable

import (
	"slices"
	"testing"
)

// TestHide: a table of k columns of 10-character words is k·(10+2) + k+1
// characters wide: 53 for 4, 40 for 3, 27 for 2. Hide leaves out optional
// columns in their order until it fits with its words whole: one at width
// 40, two at width 30, none at 60 or with no limit.
func TestHide(t *testing.T) {
	header := []string{"aaaaaaaaaa", "bbbbbbbbbb", "cccccccccc", "dddddddddd"}
	rows := [][]string{{"0123456789", "0123456789", "0123456789", "0123456789"}}
	for _, c := range []struct {
		width  int
		hidden []string
	}{
		{40, []string{"cccccccccc"}},
		{30, []string{"cccccccccc", "aaaaaaaaaa"}},
		{60, nil},
		{0, nil},
	} {
		h, r, hidden := Hide(c.width, header, rows, []string{"cccccccccc", "aaaaaaaaaa", "bbbbbbbbbb"})
		if !slices.Equal(hidden, c.hidden) {
			t.Errorf("width %d: hid %v, want %v", c.width, hidden, c.hidden)
		}
		if len(h) != 4-len(c.hidden) || len(r[0]) != len(h) {
			t.Errorf("width %d: %d header and %d row columns left", c.width, len(h), len(r[0]))
		}
		if c.width > 0 {
			if l := Fit(c.width, h, r); l.Overflow {
				t.Errorf("width %d: the table still overflows", c.width)
			}
		}
	}
	if got := Hidden(nil, 80); got != "" {
		t.Errorf("Hidden(nil) = %q", got)
	}
	if got := Hidden([]string{"x", "y"}, 80); got != "not shown at this width: x, y (--wide shows every column)" {
		t.Errorf("Hidden = %q", got)
	}
}
