package results

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"reflect"
	"regexp"
	"strings"

	"go.yaml.in/yaml/v3"

	"github.com/prunebench/prunebench/internal/atomicfile"
)

// FileName is the name of a unit's result file, written last in its folder:
// its presence means the unit finished.
const FileName = "result.yaml"

// A result file is a first line "format: 2", the Result as YAML, and a
// last line "checksum: " with the SHA-256 of every byte before it, so that
// a file cut short or edited is never believed. Files written before the
// format line existed have neither line; ReadFile accepts them when their
// required fields are there (a cut that removes the last field, finished,
// shows).
const formatLine = "format: 2\n"

var checksumLine = regexp.MustCompile(`(?m)^checksum: ([0-9a-f]{64})\n?\z`)

// WriteFile writes r to path atomically, with its checksum.
func WriteFile(path string, r Result) error {
	fields, err := yaml.Marshal(r)
	if err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	body := append([]byte(formatLine), fields...)
	sum := sha256.Sum256(body)
	return atomicfile.Write(path, func(f *os.File) error {
		if _, err := f.Write(body); err != nil {
			return err
		}
		_, err := fmt.Fprintf(f, "checksum: %s\n", hex.EncodeToString(sum[:]))
		return err
	})
}

// ReadFile reads a result file and checks it: the checksum when the file
// has one, then the fields every result has. Every error names the file;
// a missing file satisfies errors.Is(err, os.ErrNotExist).
func ReadFile(path string) (Result, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return Result{}, err
	}
	body := data
	if bytes.HasPrefix(data, []byte(formatLine)) {
		m := checksumLine.FindSubmatchIndex(data)
		if m == nil {
			return Result{}, fmt.Errorf("%s has no valid checksum line: it was cut short or edited", path)
		}
		body = data[:m[0]]
		sum := sha256.Sum256(body)
		if hex.EncodeToString(sum[:]) != string(data[m[2]:m[3]]) {
			return Result{}, fmt.Errorf("%s does not match its checksum: it was cut short or edited", path)
		}
	}
	var r Result
	if err := yaml.Unmarshal(body, &r); err != nil {
		return Result{}, fmt.Errorf("%s is not a result file: %v", path, err)
	}
	if len(body) == len(data) && (r.Experiment != "" || r.Settings != "") {
		// Versions without the format line wrote neither field.
		return Result{}, fmt.Errorf("%s has lost its format line: it was edited", path)
	}
	if err := r.check(); err != nil {
		return Result{}, fmt.Errorf("%s: %w", path, err)
	}
	return r, nil
}

// check reports the fields a finished result must have.
func (r Result) check() error {
	var missing []string
	for _, f := range []struct {
		name string
		ok   bool
	}{
		{"spec_hash", len(r.SpecHash) == 12},
		{"pipeline", r.Pipeline != ""},
		{"method", r.Method != ""},
		{"dataset", r.Dataset != ""},
		{"model", r.Model != ""},
		{"backend", r.Backend != ""},
		{"density", r.Density > 0 && r.Density <= 1},
		{"params_total", r.ParamsTotal > 0},
		{"version", r.Version != ""},
		{"finished", !r.Finished.IsZero()},
	} {
		if !f.ok {
			missing = append(missing, f.name)
		}
	}
	if len(missing) > 0 {
		return fmt.Errorf("not a complete result: missing or invalid %s (a file cut short or edited)", strings.Join(missing, ", "))
	}
	return nil
}

// Diff names the first column in which a and b differ, with both values,
// or returns "" when they are the same result as the store keeps it
// (reals compare as stored, NaN equal to NaN; times to the nanosecond).
// Columns listed in ignore are not compared.
//
// The metrics are a column: they compare as their stored JSON, so a file
// and a store row that disagree on one metric differ ("metrics: ..."). The
// curves are not compared: a store row read by Results or Run carries no
// curve (boards must not read them), and the curve is stored with its row
// in one transaction from the same Result, so the row's agreement stands
// for the curve's; the file's checksum guards the file's curve.
func Diff(a, b Result, ignore ...string) string {
	va, vb := reflect.ValueOf(a), reflect.ValueOf(b)
	for _, c := range columns {
		if ignoreColumn(c.name, ignore) {
			continue
		}
		x, y := c.value(va.Field(c.index)), c.value(vb.Field(c.index))
		if !reflect.DeepEqual(x, y) {
			return fmt.Sprintf("%s: %v against %v", c.name, show(x), show(y))
		}
	}
	return ""
}

func ignoreColumn(name string, ignore []string) bool {
	for _, i := range ignore {
		if i == name {
			return true
		}
	}
	return false
}

func show(v any) string {
	if v == nil {
		return "NaN or empty"
	}
	return fmt.Sprint(v)
}

// ErrMismatch is wrapped by the errors of a result file that does not
// belong where it is, or disagrees with the store.
var ErrMismatch = errors.New("result does not match")
