package termtable

import (
	"slices"
	"strings"
	"unicode/utf8"

	"github.com/olekukonko/tablewriter/tw"
)

// Hide leaves out the columns named in optional, in that order, while the
// table does not fit width with its words whole (Fit overflows or must
// break words), and returns the table and the names it left out. Numbers
// are never cut: a table that cannot fit shows fewer columns, whole, and
// the caller names them (Hidden) so that the reader knows to ask for the
// full width. Width 0 or less means no limit: nothing is left out.
func Hide(width int, header []string, rows [][]string, optional []string) ([]string, [][]string, []string) {
	if width <= 0 {
		return header, rows, nil
	}
	var hidden []string
	for _, name := range optional {
		if l := Fit(width, header, rows); !l.Overflow && l.Wrap != tw.WrapBreak {
			break
		}
		if c := slices.Index(header, name); c >= 0 {
			header, rows = DropColumn(header, rows, c)
			hidden = append(hidden, name)
		}
	}
	return header, rows, hidden
}

// Hidden is the line that names the columns Hide left out, wrapped to
// width; empty when it left none out.
func Hidden(hidden []string, width int) string {
	if len(hidden) == 0 {
		return ""
	}
	return WrapWords("not shown at this width: "+strings.Join(hidden, ", ")+" (--wide shows every column)", width)
}

// DropColumn returns the table without column c (copies; the arguments are
// not changed).
func DropColumn(header []string, rows [][]string, c int) ([]string, [][]string) {
	h := slices.Delete(slices.Clone(header), c, c+1)
	r := make([][]string, len(rows))
	for i, row := range rows {
		r[i] = slices.Delete(slices.Clone(row), c, c+1)
	}
	return h, r
}

// WrapWords breaks text into lines of at most width runes at spaces (a
// word longer than width stays whole on its own line).
func WrapWords(text string, width int) string {
	var lines []string
	line := ""
	for _, w := range strings.Fields(text) {
		switch {
		case line == "":
			line = w
		case width <= 0 || utf8.RuneCountInString(line)+1+utf8.RuneCountInString(w) <= width:
			line += " " + w
		default:
			lines = append(lines, line)
			line = w
		}
	}
	return strings.Join(append(lines, line), "\n")
}
