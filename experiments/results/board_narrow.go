package results

import (
	"fmt"
	"slices"
	"strings"

	"github.com/prunebench/prunebench/internal/termtable"
)

// narrowBoard reshapes a board table that does not fit width characters,
// in three steps, each taken only while the table still overflows:
//
//  1. key columns with one value in every row (a board of one model and
//     data set) leave the table for a line above it;
//  2. the key columns after the first (the spec keys that tell entries
//     apart) merge into one "settings" column of key=value words, which
//     wraps;
//  3. the columns derived from others or least read leave the table, in
//     the order of hideOrder and then the metric columns (metrics, the
//     last first), until it fits without breaking words, and a line below
//     it names them.
//
// The board's numbers are never cut or abbreviated: what does not fit is
// left out whole and named, and --wide (width 0) or the csv format shows
// every column. It returns the table, the number of its key columns (the
// first ones, left-aligned), and the lines to print above and below it.
func narrowBoard(width, nkeys int, header []string, rows [][]string, metrics []string) (h []string, r [][]string, keys int, above, below string) {
	h, r = header, rows
	if width <= 0 || !termtable.Fit(width, h, r).Overflow {
		return h, r, nkeys, "", ""
	}
	// 1. Constant keys, the first (the method) excepted: it names the rows.
	var constant []string
	if len(r) > 1 {
		for c := nkeys - 1; c >= 1; c-- {
			if allEqual(r, c) {
				constant = append([]string{h[c] + " " + r[0][c]}, constant...)
				h, r = termtable.DropColumn(h, r, c)
				nkeys--
			}
		}
	}
	if len(constant) > 0 {
		above = termtable.WrapWords(strings.Join(constant, ", "), width)
	}
	// 2. One settings column.
	if nkeys > 2 && termtable.Fit(width, h, r).Overflow {
		merged := make([][]string, len(r))
		for i, row := range r {
			var kv []string
			for c := 1; c < nkeys; c++ {
				if row[c] != "" {
					kv = append(kv, h[c]+"="+row[c])
				}
			}
			merged[i] = append([]string{row[0], strings.Join(kv, " ")}, row[nkeys:]...)
		}
		h = append([]string{h[0], "settings"}, h[nkeys:]...)
		r = merged
		nkeys = 2
	}
	// 3. Hidden columns, until the table fits with its words whole.
	// A metric was asked for, or is one of a few the results record: it
	// leaves after the board's own columns.
	order := slices.Clone(hideOrder)
	for i := len(metrics) - 1; i >= 0; i-- {
		order = append(order, metrics[i])
	}
	h, r, hidden := termtable.Hide(width, h, r, order)
	if len(hidden) > 0 {
		below = termtable.WrapWords(fmt.Sprintf("not shown at this width: %s (--wide or --format csv shows every column)", strings.Join(hidden, ", ")), width)
	}
	return h, r, nkeys, above, below
}

// hideOrder is the order in which narrowBoard leaves columns out: those
// that restate another (sparsity and compression are the density; the
// nonzero FLOPs follow the nonzero parameters) before those a reader
// compares runs by.
var hideOrder = []string{"sparsity", "compression", "params", "FLOPs (nonzero)", "wall time", "nonzero", "t* (it)", "final test acc (%)"}

func allEqual(rows [][]string, c int) bool {
	for _, row := range rows[1:] {
		if row[c] != rows[0][c] {
			return false
		}
	}
	return true
}
