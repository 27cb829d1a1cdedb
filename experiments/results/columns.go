package results

import (
	"fmt"
	"math"
	"reflect"
	"strconv"
	"strings"
	"time"

	"github.com/prunebench/prunebench/internal/registry"
)

// The results table has one column per field of Result, named by the
// field's yaml tag (the name result.yaml uses too), in field order. This one
// description drives the store (its INSERT, SELECT and WHERE clauses, and
// the schema check of TestStoreSchemaMatchesResult) and the boards and plots
// (grouping keys, line keys), so a new Result field is a new column
// everywhere once a migration adds it to the table.
//
// Two kinds of field are not keys: Metrics, a map kept as one JSON column
// (colMetrics), is stored and compared (Diff) with the row but is no
// filter, grouping key or line key, since it holds many values; and a
// field tagged store:"-" (Curve) is no column of the results table at all:
// it has a table of its own (curves), written by Put and read on demand.
type column struct {
	name  string
	kind  columnKind
	index int // field index in Result
}

type columnKind int

const (
	colText     columnKind = iota // string
	colInt                        // int, int64
	colUint                       // uint64, stored as its int64 bits
	colReal                       // float64, NULL for NaN
	colDuration                   // time.Duration, nanoseconds
	colTime                       // time.Time, storeTimeLayout, NULL for zero
	colMetrics                    // map[string]float64, encodeMetrics's JSON
)

// columns describes the fields of Result stored in the results table, in
// order; keyColumns are those that filters, boards and plots take by name
// (every column but the metrics).
var columns = func() []column {
	t := reflect.TypeOf(Result{})
	cols := make([]column, 0, t.NumField())
	for i := range t.NumField() {
		f := t.Field(i)
		if f.Tag.Get("store") == "-" {
			continue
		}
		name, _, _ := strings.Cut(f.Tag.Get("yaml"), ",")
		if name == "" || name == "-" {
			panic("results: Result." + f.Name + " has no yaml name, so no column")
		}
		c := column{name: name, index: i}
		switch {
		case f.Type == reflect.TypeOf(time.Duration(0)):
			c.kind = colDuration
		case f.Type == reflect.TypeOf(time.Time{}):
			c.kind = colTime
		case f.Type.Kind() == reflect.String:
			c.kind = colText
		case f.Type.Kind() == reflect.Int || f.Type.Kind() == reflect.Int64:
			c.kind = colInt
		case f.Type.Kind() == reflect.Uint64:
			c.kind = colUint
		case f.Type.Kind() == reflect.Float64:
			c.kind = colReal
		case f.Type == reflect.TypeOf(map[string]float64(nil)):
			c.kind = colMetrics
		default:
			panic("results: no column kind for Result." + f.Name + " of type " + f.Type.String())
		}
		cols = append(cols, c)
	}
	return cols
}()

var keyColumns = func() []column {
	var cols []column
	for _, c := range columns {
		if c.kind != colMetrics {
			cols = append(cols, c)
		}
	}
	return cols
}()

// Columns lists the results table's columns that store filters, board
// groups and plot lines take: the yaml names of the scalar Result fields,
// in field order.
func Columns() []string {
	names := make([]string, len(keyColumns))
	for i, c := range keyColumns {
		names[i] = c.name
	}
	return names
}

// columnList lists the key columns, for messages.
func columnList() string { return strings.Join(Columns(), ", ") }

// sqlColumnList lists every column of the results table that Result
// fills, for INSERT and SELECT.
func sqlColumnList() string {
	names := make([]string, len(columns))
	for i, c := range columns {
		names[i] = c.name
	}
	return strings.Join(names, ", ")
}

func columnByName(name string) (column, bool) {
	for _, c := range keyColumns {
		if c.name == name {
			return c, true
		}
	}
	return column{}, false
}

// unknownColumn explains a name that is not a column, suggesting the
// closest one; what says where it was given ("results", "board: grouping
// key").
func unknownColumn(what, k string) error {
	hint := ""
	if best := registry.Closest(k, Columns()); best != "" {
		hint = fmt.Sprintf(" (did you mean %q?)", best)
	}
	return fmt.Errorf("%s: unknown column %q%s; the columns are %s", what, k, hint, columnList())
}

// text is the value of the column in r as text, for grouping: reals with 6
// significant digits, durations and times in their usual forms.
func (c column) text(r *Result) string {
	v := reflect.ValueOf(r).Elem().Field(c.index)
	switch c.kind {
	case colText:
		return v.String()
	case colInt:
		return strconv.FormatInt(v.Int(), 10)
	case colUint:
		return strconv.FormatUint(v.Uint(), 10)
	case colReal:
		return strconv.FormatFloat(v.Float(), 'g', 6, 64)
	case colDuration:
		return time.Duration(v.Int()).String()
	case colTime:
		if t := v.Interface().(time.Time); !t.IsZero() {
			return t.UTC().Format(time.RFC3339)
		}
		return ""
	case colMetrics:
		return encodeMetrics(v.Interface().(map[string]float64))
	}
	panic("unreachable")
}

// value is the SQL value of a Result field.
func (c column) value(f reflect.Value) any {
	switch c.kind {
	case colText:
		return f.String()
	case colInt, colDuration:
		return f.Int()
	case colUint:
		return int64(f.Uint())
	case colReal:
		if x := f.Float(); !math.IsNaN(x) {
			return x
		}
		return nil
	case colTime:
		if t := f.Interface().(time.Time); !t.IsZero() {
			return t.UTC().Format(storeTimeLayout)
		}
		return nil
	case colMetrics:
		return encodeMetrics(f.Interface().(map[string]float64))
	}
	panic("unreachable")
}

// condition is the WHERE term and arguments of "c = value".
func (c column) condition(value string) (string, []any, error) {
	bad := func(want string) error {
		return fmt.Errorf("results: %s=%q: want %s", c.name, value, want)
	}
	v := strings.TrimSpace(value)
	switch c.kind {
	case colText:
		return c.name + " = ?", []any{value}, nil
	case colInt:
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil {
			return "", nil, bad("an integer")
		}
		return c.name + " = ?", []any{n}, nil
	case colUint:
		n, err := strconv.ParseUint(v, 10, 64)
		if err != nil {
			return "", nil, bad("an unsigned integer")
		}
		return c.name + " = ?", []any{int64(n)}, nil
	case colDuration:
		if n, err := strconv.ParseInt(v, 10, 64); err == nil {
			return c.name + " = ?", []any{n}, nil
		}
		d, err := time.ParseDuration(v)
		if err != nil {
			return "", nil, bad(`a duration such as "1m30s" or nanoseconds`)
		}
		return c.name + " = ?", []any{int64(d)}, nil
	case colReal:
		x, err := strconv.ParseFloat(v, 64)
		switch {
		case err != nil:
			return "", nil, bad("a number")
		case math.IsNaN(x):
			return c.name + " IS NULL", nil, nil
		case math.IsInf(x, 0):
			return c.name + " = ?", []any{x}, nil
		}
		return "abs(" + c.name + " - ?) <= ?", []any{x, floatTolerance * math.Abs(x)}, nil
	case colTime:
		t, err := time.Parse(time.RFC3339Nano, v)
		if err != nil {
			return "", nil, bad("an RFC 3339 time such as 2025-01-02T15:04:05Z")
		}
		return c.name + " = ?", []any{t.UTC().Format(storeTimeLayout)}, nil
	}
	panic("unreachable")
}
