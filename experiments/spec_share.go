package experiments

// RPSSpec is the `rps:` section of a spec: randomized parameter sharing
// (specs/rps.md; pipeline_rps.go).
type RPSSpec struct{}

// defaultRPSSpec is RPSSpec's defaults.
func defaultRPSSpec() RPSSpec { return RPSSpec{} }
