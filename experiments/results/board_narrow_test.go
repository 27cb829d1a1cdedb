package results

import (
	"bytes"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/prunebench/prunebench/internal/termtable"
)

func TestWrapWords(t *testing.T) {
	for _, c := range []struct {
		text  string
		width int
		want  string
	}{
		{"a bb ccc", 4, "a bb\nccc"},
		{"a bb ccc", 8, "a bb ccc"},
		{"aaaaaa b", 3, "aaaaaa\nb"},
		{"  one   two ", 20, "one two"},
	} {
		if got := termtable.WrapWords(c.text, c.width); got != c.want {
			t.Errorf("WrapWords(%q, %d) = %q, want %q", c.text, c.width, got, c.want)
		}
	}
}

// TestWriteBoardNarrow: a board of one model and data set whose entries
// differ in long spec settings does not fit 100 columns as it is. At width
// 100 the constant keys go above the table, the settings merge into one
// column, and derived columns are left out and named below it; every line
// fits, and the accuracies are whole. At width 0 (--wide) nothing changes.
func TestWriteBoardNarrow(t *testing.T) {
	rs := boardRows()
	var keep []Result
	for _, r := range rs {
		if r.Model != "lenet" {
			continue
		}
		switch r.Method {
		case "imp":
			r.Settings = `{"pipeline":"imp","prune.imp_rate":"0.5","prune.imp_rounds":"4","prune.rewind":"rewind:100it","training.lr_schedule":"cosine"}`
		case "snip":
			r.Settings = `{"pipeline":"pai","prune.criterion":"snip","prune.scoring_batches":"10"}`
		default:
			r.Settings = `{"pipeline":"train"}`
		}
		keep = append(keep, r)
	}
	var wide, narrow bytes.Buffer
	if err := WriteBoard(&wide, keep, BoardOptions{}); err != nil {
		t.Fatal(err)
	}
	if err := WriteBoard(&narrow, keep, BoardOptions{Width: 100}); err != nil {
		t.Fatal(err)
	}
	widest := func(s string) int {
		w := 0
		for _, l := range strings.Split(s, "\n") {
			w = max(w, utf8.RuneCountInString(l))
		}
		return w
	}
	if w := widest(wide.String()); w <= 100 {
		t.Fatalf("the full board is %d wide: the test needs one wider than 100", w)
	}
	out := narrow.String()
	if w := widest(out); w > 100 {
		t.Errorf("at width 100 the board is %d wide:\n%s", w, out)
	}
	lines := strings.Split(out, "\n")
	if lines[0] != "model lenet, dataset mnist" {
		t.Errorf("first line %q, want the constant keys", lines[0])
	}
	for _, want := range []string{"settings", "pipeline=imp", "prune.rewind=rewind:100it", "98.00 ± 1.00", "not shown at this width: sparsity, compression"} {
		if !strings.Contains(out, want) {
			t.Errorf("narrow board lacks %q:\n%s", want, out)
		}
	}
	if strings.Contains(out, "↩") {
		t.Errorf("narrow board breaks words:\n%s", out)
	}
	for _, want := range []string{"sparsity", "compression", "prune.rewind"} {
		if !strings.Contains(wide.String(), want) {
			t.Errorf("wide board lacks column %q", want)
		}
	}
	if strings.Contains(wide.String(), "not shown") {
		t.Errorf("the wide board hides columns:\n%s", wide.String())
	}
}
