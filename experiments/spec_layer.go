package experiments

// LayerSpec is the `layer:` section of a spec: the layer-pruning pipeline
// (specs/layer-lottery.md; pipeline_layer.go).
type LayerSpec struct{}

// defaultLayerSpec is LayerSpec's defaults.
func defaultLayerSpec() LayerSpec { return LayerSpec{} }
