package results

import (
	"encoding/json"
	"fmt"
	"math"
	"reflect"
	"sort"
	"strconv"
	"strings"

	"go.yaml.in/yaml/v3"
)

// CurvePoint is one evaluation of a unit's learning curve. Accuracies are
// fractions; a split that was not evaluated is NaN: the training accuracy
// unless the spec sets training.eval_train: true, the validation split of a
// run without one, the test split of a point between evaluations whose
// test pass was skipped. TrainLoss is the mean minibatch loss since the
// previous point (every run has it). Density is the network's density over
// its prunable set at the point: it changes during training for gradual
// pruning (gmp, granet, dst) and is the unit's density otherwise.
type CurvePoint struct {
	Step      int     `yaml:"step"`
	TrainLoss float64 `yaml:"train_loss"`
	TrainAcc  float64 `yaml:"train_acc"`
	ValLoss   float64 `yaml:"val_loss"`
	ValAcc    float64 `yaml:"val_acc"`
	TestLoss  float64 `yaml:"test_loss"`
	TestAcc   float64 `yaml:"test_acc"`
	Density   float64 `yaml:"density"`
}

// MarshalYAML writes a point on one line, as a flow mapping
// ({step: 500, train_loss: 0.31, ...}): a curve of a thousand points stays
// a thousand lines of result.yaml. NaN is written .nan, as YAML spells it,
// and read back as NaN.
func (p CurvePoint) MarshalYAML() (any, error) {
	type plain CurvePoint // without this method
	var n yaml.Node
	if err := n.Encode(plain(p)); err != nil {
		return nil, err
	}
	n.Style = yaml.FlowStyle
	return &n, nil
}

// curveColumn is a column of the curves table: a field of CurvePoint,
// named by its yaml tag, as the results table's columns are.
type curveColumn struct {
	name  string
	index int
	real  bool // float64, NULL for NaN; otherwise the step, an INTEGER
}

// curveColumns describes CurvePoint's fields, in order: the curves table
// has the unit's key (spec_hash, replicate, level, branch) and these.
var curveColumns = func() []curveColumn {
	t := reflect.TypeOf(CurvePoint{})
	cols := make([]curveColumn, t.NumField())
	for i := range t.NumField() {
		f := t.Field(i)
		name, _, _ := strings.Cut(f.Tag.Get("yaml"), ",")
		switch f.Type.Kind() {
		case reflect.Float64:
			cols[i] = curveColumn{name: name, index: i, real: true}
		case reflect.Int:
			cols[i] = curveColumn{name: name, index: i}
		default:
			panic("results: no curve column kind for CurvePoint." + f.Name + " of type " + f.Type.String())
		}
	}
	return cols
}()

func curveColumnList() string {
	names := make([]string, len(curveColumns))
	for i, c := range curveColumns {
		names[i] = c.name
	}
	return strings.Join(names, ", ")
}

// encodeMetrics is the metrics column's text: a JSON object with sorted
// keys, numbers in their shortest exact form, null for NaN and the strings
// "+Inf" and "-Inf" for the infinities, which JSON has no numbers for; ""
// for no metrics.
func encodeMetrics(m map[string]float64) string {
	if len(m) == 0 {
		return ""
	}
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var b strings.Builder
	b.WriteByte('{')
	for i, k := range keys {
		if i > 0 {
			b.WriteByte(',')
		}
		name, _ := json.Marshal(k)
		b.Write(name)
		b.WriteByte(':')
		switch x := m[k]; {
		case math.IsNaN(x):
			b.WriteString("null")
		case math.IsInf(x, 1):
			b.WriteString(`"+Inf"`)
		case math.IsInf(x, -1):
			b.WriteString(`"-Inf"`)
		default:
			b.WriteString(strconv.FormatFloat(x, 'g', -1, 64))
		}
	}
	b.WriteByte('}')
	return b.String()
}

// decodeMetrics reads the metrics column's text (encodeMetrics); "" and
// "{}" are no metrics.
func decodeMetrics(text string) (map[string]float64, error) {
	if text == "" {
		return nil, nil
	}
	var raw map[string]any
	if err := json.Unmarshal([]byte(text), &raw); err != nil {
		return nil, fmt.Errorf("metrics %q: want a JSON object of numbers: %w", text, err)
	}
	if len(raw) == 0 {
		return nil, nil
	}
	m := make(map[string]float64, len(raw))
	for k, v := range raw {
		switch x := v.(type) {
		case nil:
			m[k] = math.NaN()
		case float64:
			m[k] = x
		case string:
			f, err := strconv.ParseFloat(x, 64)
			if err != nil || !math.IsInf(f, 0) {
				return nil, fmt.Errorf("metrics %q: %s = %q: want a number, null (NaN), \"+Inf\" or \"-Inf\"", text, k, x)
			}
			m[k] = f
		default:
			return nil, fmt.Errorf("metrics %q: %s = %v: want a number, null (NaN), \"+Inf\" or \"-Inf\"", text, k, v)
		}
	}
	return m, nil
}
