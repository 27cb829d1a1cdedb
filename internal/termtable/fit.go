// Package termtable fits tablewriter tables to a terminal's width.
//
// A table wider than the terminal wraps every line and is unreadable, so
// Fit narrows the text columns (settings, meanings, errors) until the table
// fits, widest first, and leaves the columns of numbers whole: a number cut
// in two is misread. Text wraps at spaces; only when words alone are too
// wide does it break them, with tablewriter's own wrapping.
package termtable

import (
	"regexp"
	"strings"

	"github.com/olekukonko/tablewriter"
	"github.com/olekukonko/tablewriter/pkg/twwidth"
	"github.com/olekukonko/tablewriter/tw"
)

// padding is what tablewriter adds to a column's content: a space on each
// side. A column's width in tablewriter's ColMaxWidths includes it.
const padding = 2

// minBroken is the narrowest a text column gets when its words are broken:
// narrower columns hold a few letters a line and say nothing.
const minBroken = 6

// keepWhole is the longest word never broken: run names, unit names and
// model names are copied from tables and must stay on one line. A table
// whose columns of numbers and short words do not fit stays wider.
const keepWhole = 16

// Layout is how a table fits a width: the widths of the columns it narrows
// (padding included, as tablewriter's ColMaxWidths counts them) and the
// wrap mode of its cells.
type Layout struct {
	Widths map[int]int
	Wrap   int // tw.WrapNormal (at spaces) or tw.WrapBreak (inside words too)
	// Overflow says that the table stays wider than the width even so: its
	// numbers and short words alone do not fit.
	Overflow bool
}

// Configure applies the layout to a table's configuration (tablewriter's
// Table.Configure). A layout that narrows nothing changes nothing.
func (l Layout) Configure(c *tablewriter.Config) {
	if len(l.Widths) == 0 {
		return
	}
	widths := tw.NewMapper[int, int]()
	for col, w := range l.Widths {
		widths.Set(col, w)
	}
	c.Header.ColMaxWidths.PerColumn = widths
	c.Row.ColMaxWidths.PerColumn = widths
	c.Header.Formatting.AutoWrap = tw.WrapNormal
	c.Row.Formatting.AutoWrap = l.Wrap
}

// Fit lays out a table of header and rows, as tablewriter draws it with
// borders, to lines of at most width characters; width 0 or less means no
// limit. It narrows the widest column, one character at a time, until the
// table fits: a text column down to its longest word (its text wraps at
// spaces), a column of numbers down to its widest number (its header wraps).
// When that is not enough, it narrows the text columns further, widest
// first, down to minBroken, breaking their words longer than keepWhole.
//
// Numbers and short words are never cut: a table of more of them than
// width holds stays wider.
func Fit(width int, header []string, rows [][]string) Layout {
	cols := len(header)
	for _, r := range rows {
		cols = max(cols, len(r))
	}
	if width <= 0 || cols == 0 {
		return Layout{}
	}
	natural := make([]int, cols)   // the widest cell, header included
	cellsOnly := make([]int, cols) // the widest cell below the header
	longestWord := make([]int, cols)
	numeric := make([]bool, cols)
	for i := range numeric {
		numeric[i] = true
	}
	measure := func(i int, cell string, isHeader bool) {
		w := twwidth.Width(cell)
		natural[i] = max(natural[i], w)
		if isHeader {
			return
		}
		cellsOnly[i] = max(cellsOnly[i], w)
		for _, word := range strings.Fields(cell) {
			longestWord[i] = max(longestWord[i], twwidth.Width(word))
		}
		if !isNumber(cell) {
			numeric[i] = false
		}
	}
	for i, h := range header {
		measure(i, h, true)
	}
	for _, r := range rows {
		for i, cell := range r {
			measure(i, cell, false)
		}
	}
	for i, h := range header { // a header wraps at spaces, never inside a word
		for _, word := range strings.Fields(h) {
			longestWord[i] = max(longestWord[i], twwidth.Width(word))
		}
	}
	// Content widths, without padding and borders.
	content := width - (padding*cols + cols + 1)
	widths := append([]int(nil), natural...)
	total := func() int {
		s := 0
		for _, w := range widths {
			s += w
		}
		return s
	}
	// narrow lowers the widest of the columns that may shrink, one
	// character at a time, to floor(i) at the least, until the table fits;
	// it reports whether it does.
	narrow := func(may func(i int) bool, floor func(i int) int) bool {
		for total() > content {
			widest := -1
			for i := range widths {
				if may(i) && widths[i] > floor(i) && (widest < 0 || widths[i] > widths[widest]) {
					widest = i
				}
			}
			if widest < 0 {
				return false
			}
			widths[widest]--
		}
		return true
	}
	isText := func(i int) bool { return !numeric[i] }
	fits := narrow(func(int) bool { return true }, func(i int) int {
		if numeric[i] {
			return max(cellsOnly[i], longestWord[i])
		}
		return longestWord[i]
	})
	wrap := tw.WrapNormal
	if !fits {
		wrap = tw.WrapBreak
		narrow(isText, func(i int) int { return min(natural[i], max(minBroken, min(longestWord[i], keepWhole))) })
	}
	l := Layout{Widths: map[int]int{}, Wrap: wrap, Overflow: total() > content}
	for i, w := range widths {
		if w < natural[i] {
			l.Widths[i] = w + padding
		}
	}
	return l
}

// number matches a cell of a column of numbers: counts, percentages,
// ratios ("10.0×"), means with spreads ("97.81 ± 0.12 (n=2)"), ranges
// ("0.1–1"), fractions ("1200 / 266200") and durations ("1m2.5s"). A date
// and time ("2026-11-27 06:38:33") is text: it may wrap at its space.
var number = regexp.MustCompile(`^[-+]?[0-9][0-9.,/eE+\-×%±–()\sn=µmsh]*$`)

// isNumber reports whether a cell reads as a number; an empty cell and a
// dash (no value) are numbers of any column, and so is a dash with a count
// ("— (0/3)": none of three reached a value).
func isNumber(cell string) bool {
	cell = strings.TrimSpace(cell)
	switch cell {
	case "", "—", "-":
		return true
	}
	if count, ok := strings.CutPrefix(cell, "— "); ok {
		return strings.HasPrefix(count, "(") && number.MatchString("0 "+count)
	}
	return number.MatchString(cell)
}
