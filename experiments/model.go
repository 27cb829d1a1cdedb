package experiments

// Inline models: model.layers lists an architecture in the spec instead of
// naming a zoo model (nn/zoo/layers.go). A spec does one or the other; the
// layer list is part of the run's identity like any key, and a spec with a
// named model leaves it empty, so its run name is what it was before inline
// models existed.

import (
	"fmt"
	"reflect"

	"github.com/prunebench/prunebench/nn"
	"github.com/prunebench/prunebench/nn/zoo"
)

// layerSpecsType is the type of model.layers, which the spec decoder reads
// with zoo.ParseLayers rather than key by key.
var layerSpecsType = reflect.TypeOf([]zoo.LayerSpec(nil))

// Inline reports whether the spec lists its layers (model.layers).
func (m ModelSpec) Inline() bool { return len(m.Layers) > 0 }

// Label names the model in results and messages: the zoo name, or
// zoo.InlineName for an inline model.
func (m ModelSpec) Label() string {
	if m.Inline() {
		return zoo.InlineName
	}
	return m.Name
}

// Arch builds the spec's architecture on the data set's example shape and
// class count: the zoo model of that name with the spec's options, or the
// inline layers.
func (m ModelSpec) Arch(input []int, classes int) (*nn.Arch, error) {
	if m.Inline() {
		return zoo.BuildLayers("model.layers", m.Layers, input, classes)
	}
	a, err := zoo.Build(m.Name, zoo.Options{
		Input: input, Classes: classes, Widths: m.Widths,
		WidthMultiplier: m.WidthMultiplier, Shortcut: m.Shortcut,
	})
	if err != nil {
		return nil, fmt.Errorf("model: %w", err)
	}
	return a, nil
}

// DefaultInit is the initializer when model.init is empty: the zoo
// family's, or zoo.InlineInit for an inline model.
func (m ModelSpec) DefaultInit() string {
	if m.Inline() {
		return zoo.InlineInit
	}
	return zoo.DefaultInit(m.Name)
}

// validateInline refuses the zoo options next to a layer list: a name
// (both would say which network to build) and the options that resize a
// zoo model, which an inline model writes in its layers.
func (m ModelSpec) validateInline() error {
	switch {
	case m.Name != "":
		return fmt.Errorf("model.name = %q and model.layers are both set: name a zoo model or list its layers, not both", m.Name)
	case len(m.Widths) > 0:
		return fmt.Errorf("model.widths = %v: an inline model (model.layers) has its widths in its layers", m.Widths)
	case m.Shortcut != "":
		return fmt.Errorf("model.shortcut = %q: an inline model (model.layers) writes its shortcuts in its residual blocks", m.Shortcut)
	case m.WidthMultiplier != 1:
		return fmt.Errorf("model.width_multiplier = %v: not supported with model.layers; write the widths in the layers", m.WidthMultiplier)
	}
	return nil
}

// decodeLayers reads model.layers from the file's list of mappings. --set
// gives text, which cannot hold a list of mappings: the layers belong in
// the file.
func decodeLayers(key string, raw any) (reflect.Value, error) {
	if s, ok := raw.(string); ok {
		return reflect.Value{}, fmt.Errorf("%s = %q: a list of layer mappings cannot be set with --set; write model.layers in the spec file", key, s)
	}
	ls, err := zoo.ParseLayers(key, raw)
	if err != nil {
		return reflect.Value{}, err
	}
	return reflect.ValueOf(ls), nil
}
