package pipelines

import (
	"path/filepath"
	"testing"

	"github.com/prunebench/prunebench/experiments"
)

// Every paper config parses, expands its sweep and validates point by point,
// so that a renamed key or a value a pipeline no longer accepts fails here
// rather than in a researcher's run.
func TestPaperConfigsValidate(t *testing.T) {
	files, err := filepath.Glob("../papers/*.yaml")
	if err != nil || len(files) == 0 {
		t.Fatalf("no paper configs: %v", err)
	}
	for _, f := range files {
		specs, err := loadSweep(f, nil)
		if err != nil {
			t.Errorf("%s: %v", f, err)
			continue
		}
		for i, s := range specs {
			if _, err := experiments.Validate(s); err != nil {
				t.Errorf("%s point %d (%s): %v", f, i, s.Pipeline, err)
			}
		}
	}
}
