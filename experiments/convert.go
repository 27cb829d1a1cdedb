package experiments

import (
	"fmt"
	"math"
	"reflect"
	"strconv"
	"strings"
)

// decodeValue converts a key's raw value, as YAML or --set gives it (a
// string, int, float64, bool, list or nil), to a value of the key's type.
// It is strict where viper's weak decoding was lenient, and speaks in spec
// keys and plain words:
//   - whole-number keys refuse fractions (batch_size: 60.5) and values out
//     of range;
//   - number keys refuse NaN and ±Inf, which mean nothing as a setting;
//   - true/false keys take true or false;
//   - list keys take a YAML list or, from --set, comma-separated values;
//   - text keys take any scalar as written.
func decodeValue(key string, raw any, t reflect.Type) (reflect.Value, error) {
	if t == layerSpecsType && raw != nil && reflect.TypeOf(raw) != t {
		return decodeLayers(key, raw)
	}
	if raw != nil && reflect.TypeOf(raw) == t && t.Kind() != reflect.Float64 {
		return reflect.ValueOf(raw), nil // already typed (a default); floats are checked below
	}
	switch t.Kind() {
	case reflect.Pointer:
		if raw == nil {
			return reflect.Zero(t), nil
		}
		v, err := decodeValue(key, raw, t.Elem())
		if err != nil {
			return v, err
		}
		p := reflect.New(t.Elem())
		p.Elem().Set(v)
		return p, nil
	case reflect.Slice:
		return decodeList(key, raw, t)
	}
	if raw == nil {
		return reflect.Zero(t), nil // `key: null` leaves a scalar at its zero value
	}
	bad := func(want string) (reflect.Value, error) {
		return reflect.Value{}, fmt.Errorf("%s = %s: want %s", key, describe(raw), want)
	}
	rv := reflect.ValueOf(raw)
	switch t.Kind() {
	case reflect.String:
		switch rv.Kind() {
		case reflect.String, reflect.Bool, reflect.Int, reflect.Int64, reflect.Uint64, reflect.Float64:
			return reflect.ValueOf(scalarText(raw)).Convert(t), nil
		}
		return bad("text")
	case reflect.Bool:
		switch x := raw.(type) {
		case bool:
			return reflect.ValueOf(x), nil
		case string:
			if b, err := strconv.ParseBool(strings.TrimSpace(x)); err == nil {
				return reflect.ValueOf(b), nil
			}
		}
		return bad("true or false")
	case reflect.Int, reflect.Int64:
		n, ok := wholeNumber(raw, math.MinInt64, math.MaxInt64)
		if !ok {
			return bad("a whole number")
		}
		return reflect.ValueOf(n).Convert(t), nil
	case reflect.Uint64:
		n, ok := wholeNumber(raw, 0, math.MaxInt64)
		if !ok {
			return bad("a whole number ≥ 0")
		}
		return reflect.ValueOf(uint64(n)), nil
	case reflect.Float64:
		var x float64
		switch y := raw.(type) {
		case float64:
			x = y
		case int:
			x = float64(y)
		case int64:
			x = float64(y)
		case uint64:
			x = float64(y)
		case string:
			f, err := strconv.ParseFloat(strings.TrimSpace(y), 64)
			if err != nil {
				return bad("a number")
			}
			x = f
		default:
			return bad("a number")
		}
		if math.IsNaN(x) || math.IsInf(x, 0) {
			return bad("a finite number")
		}
		return reflect.ValueOf(x), nil
	}
	panic(fmt.Sprintf("experiments: key %s has a type the spec decoder does not know: %v", key, t))
}

// decodeList decodes a list key from a YAML list or a comma-separated
// string. A string in brackets, "[a, b]" (a YAML flow list typed on the
// command line), is the list of what is inside.
func decodeList(key string, raw any, t reflect.Type) (reflect.Value, error) {
	var items []any
	switch x := raw.(type) {
	case nil:
		return reflect.Zero(t), nil
	case string:
		if in, ok := strings.CutPrefix(strings.TrimSpace(x), "["); ok {
			if in, ok = strings.CutSuffix(in, "]"); ok {
				x = in
			}
		}
		if strings.TrimSpace(x) != "" {
			for _, p := range strings.Split(x, ",") {
				items = append(items, strings.TrimSpace(p))
			}
		}
	default:
		rv := reflect.ValueOf(raw)
		if rv.Kind() != reflect.Slice {
			return reflect.Value{}, fmt.Errorf("%s = %s: want a list", key, describe(raw))
		}
		for i := range rv.Len() {
			items = append(items, rv.Index(i).Interface())
		}
	}
	out := reflect.MakeSlice(t, len(items), len(items))
	for i, it := range items {
		v, err := decodeValue(fmt.Sprintf("%s[%d]", key, i), it, t.Elem())
		if err != nil {
			return reflect.Value{}, err
		}
		out.Index(i).Set(v)
	}
	return out, nil
}

// wholeNumber reads an integer in [lo, hi] from an int, an integral float
// or a decimal string.
func wholeNumber(raw any, lo, hi int64) (int64, bool) {
	var f float64
	switch x := raw.(type) {
	case int:
		return int64(x), int64(x) >= lo && int64(x) <= hi
	case int64:
		return x, x >= lo && x <= hi
	case uint64:
		return int64(x), x <= uint64(hi) && int64(x) >= lo
	case float64:
		f = x
	case string:
		s := strings.TrimSpace(x)
		if n, err := strconv.ParseInt(s, 10, 64); err == nil {
			return n, n >= lo && n <= hi
		}
		var err error
		if f, err = strconv.ParseFloat(s, 64); err != nil {
			return 0, false
		}
	default:
		return 0, false
	}
	if f != math.Trunc(f) || f < float64(lo) || f >= float64(hi) || math.IsNaN(f) {
		return 0, false
	}
	return int64(f), true
}

// scalarText is a scalar as a spec writes it.
func scalarText(raw any) string {
	if f, ok := raw.(float64); ok {
		return strconv.FormatFloat(f, 'g', -1, 64)
	}
	return fmt.Sprint(raw)
}

// describe shows a raw value in an error: text quoted, lists and mappings
// in YAML's flow style, never as Go types.
func describe(raw any) string {
	switch x := raw.(type) {
	case string:
		return strconv.Quote(x)
	case []any:
		parts := make([]string, len(x))
		for i, e := range x {
			parts[i] = describe(e)
		}
		return "[" + strings.Join(parts, ", ") + "]"
	case map[string]any:
		return "a mapping"
	case nil:
		return "null"
	}
	return scalarText(raw)
}
