package report

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/prunebench/prunebench/experiments/results"
)

func TestSlug(t *testing.T) {
	for _, c := range []struct{ in, want string }{
		{"lenet-300-100-mnist", "lenet-300-100-mnist"},
		{"conv<2> on/cifar", "conv-2-on-cifar"},
		{"../..", "unnamed"},
		{"", "unnamed"},
	} {
		if got := slug(c.in); got != c.want {
			t.Errorf("slug(%q) = %q, want %q", c.in, got, c.want)
		}
	}
}

func TestWrite(t *testing.T) {
	rs := []results.Result{
		{SpecHash: "a1", Method: "dense", Model: "mlp", Dataset: "mnist", Experiment: "e", Density: 1, BestTestAcc: 0.9, Seed: 0},
		{SpecHash: "a2", Method: "dense", Model: "mlp", Dataset: "mnist", Experiment: "e", Density: 1, BestTestAcc: 0.92, Seed: 1,
			Metrics: map[string]float64{"t_grok": 1500}},
		{SpecHash: "b1", Method: "snip", Model: "mlp", Dataset: "mnist", Experiment: "s", Density: 0.1, BestTestAcc: 0.8, Level: 1},
	}
	dir := filepath.Join(t.TempDir(), "new", "site")
	pages, err := Write(dir, rs, Options{Title: "<b>mine</b>"})
	if err != nil {
		t.Fatal(err)
	}
	if len(pages) != 1+1+3 {
		t.Errorf("%d pages, want index, one group and three runs: %v", len(pages), pages)
	}
	index, err := os.ReadFile(filepath.Join(dir, "index.html"))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(index), "&lt;b&gt;mine&lt;/b&gt;") {
		t.Error("the title is not escaped")
	}
	group, _ := os.ReadFile(filepath.Join(dir, "groups", "mlp-mnist.html"))
	// No best_iter recorded: no t* plot; one replicate of snip; a metric
	// one of the two dense runs records, as the board shows it.
	for _, want := range []string{"mlp-mnist-accuracy.svg", "80.00 (n=1)", "91.00 ± 1.41", "t_grok", "1500 (n=1)"} {
		if !strings.Contains(string(group), want) {
			t.Errorf("the group page lacks %q", want)
		}
	}
	if strings.Contains(string(group), "tstar") {
		t.Error("a t* plot without any early-stopping iteration")
	}
}

func TestWriteErrors(t *testing.T) {
	file := filepath.Join(t.TempDir(), "file")
	if err := os.WriteFile(file, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	rs := []results.Result{{SpecHash: "a", Model: "m", Dataset: "d", Density: 1}}
	for _, c := range []struct {
		name, dir string
		rs        []results.Result
		want      string
	}{
		{"no results", t.TempDir(), nil, "no results"},
		{"folder not creatable", filepath.Join(file, "site"), rs, "cannot create the site's folder " + filepath.Join(file, "site")},
	} {
		_, err := Write(c.dir, c.rs, Options{})
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: error %v, want one containing %q", c.name, err, c.want)
		}
	}
}
