package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/prunebench/prunebench/experiments"
	"github.com/prunebench/prunebench/export"
)

// exportRun trains a tiny IMP run with one round and a random_reinit
// branch off level 1, and returns its output folder and hash.
func exportRun(t *testing.T) (out, hash string) {
	t.Helper()
	dir := t.TempDir()
	spec := filepath.Join(dir, "imp.yaml")
	out = filepath.Join(dir, "runs")
	yaml := `dataset: {name: synthetic, shape: [1, 4, 4], classes: 3, train_size: 60, test_size: 30, val_size: 12}
model: {name: mlp, widths: [8]}
training: {steps: 2ep, batch_size: 12, lr: 0.01, eval_every: 2it}
pipeline: imp
prune: {imp_rate: 0.5, imp_rounds: 1, branches: [random_reinit]}
output: ` + out + "\n"
	if err := os.WriteFile(spec, []byte(yaml), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := run(t, "run", spec, "-q"); err != nil {
		t.Fatal(err)
	}
	s, err := experiments.LoadSpec(spec, nil)
	if err != nil {
		t.Fatal(err)
	}
	return out, experiments.Hash(s)
}

func TestExportCommand(t *testing.T) {
	out, hash := exportRun(t)
	cases := []struct {
		format, level, branch string
		masked                bool
	}{
		{"dense", "0", "", false},
		{"dense", "1", "", true},
		{"bitmask", "1", "", true},
		{"bitmask", "1", "random_reinit", true},
	}
	for _, c := range cases {
		t.Run(c.format+"/level_"+c.level+"/"+c.branch, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "net.safetensors")
			args := []string{"export", hash[:6], "--output", out, "--level", c.level, "--format", c.format, "-o", path}
			if c.branch != "" {
				args = append(args, "--branch", c.branch)
			}
			_, stderr, err := runWithStderr(t, args...)
			if err != nil {
				t.Fatal(err)
			}
			if !strings.Contains(stderr, "wrote "+path+" (prunebench-"+c.format) || !strings.Contains(stderr, "level "+c.level) {
				t.Errorf("stderr %q", stderr)
			}
			f, err := export.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			md := f.Metadata
			if md["run"] != hash || md["level"] != c.level || md["replicate"] != "0" || md["branch"] != c.branch || md["pipeline"] != "imp" {
				t.Errorf("metadata %v", md)
			}
			rep, err := f.Report()
			if err != nil {
				t.Fatal(err)
			}
			if (rep.Density < 1) != c.masked {
				t.Errorf("density %v, masked %v", rep.Density, c.masked)
			}
			u, err := export.OpenUnit(out, hash, 0, 0, "")
			if err != nil {
				t.Fatal(err)
			}
			if err := export.Load(u.Net, f); err != nil {
				t.Fatal(err)
			}
		})
	}
}

func TestExportCommandRefused(t *testing.T) {
	out, hash := exportRun(t)
	for _, name := range []string{"ab12cd", "ab12ef"} {
		os.MkdirAll(filepath.Join(out, name), 0o755)
		os.WriteFile(filepath.Join(out, name, "spec.yaml"), []byte("seed: 1\n"), 0o644)
	}
	os.MkdirAll(filepath.Join(out, hash, "replicate_0", "level_4"), 0o755) // started, not finished
	dir := t.TempDir()
	file := filepath.Join(dir, "net.safetensors")
	cases := []struct {
		name string
		args []string
		want []string
	}{
		{"no file", []string{hash}, []string{"-o FILE is required"}},
		{"format", []string{hash, "--format", "csr", "-o", file}, []string{`--format "csr": want dense or bitmask`}},
		{"missing folder", []string{hash, "-o", filepath.Join(dir, "no", "net.safetensors")}, []string{"folder " + filepath.Join(dir, "no") + " does not exist"}},
		{"unknown run", []string{"ffff99", "-o", file}, []string{`no run "ffff99" in ` + out}},
		{"ambiguous run", []string{"ab12", "-o", file}, []string{`run "ab12" is ambiguous`, "ab12cd, ab12ef"}},
		{"missing output", []string{hash, "-o", file, "--output", filepath.Join(dir, "elsewhere")}, []string{"output folder " + filepath.Join(dir, "elsewhere") + " does not exist"}},
		{"level", []string{hash, "--level", "9", "-o", file}, []string{"has no level 9", "its levels are 0, 1, 4"}},
		{"replicate", []string{hash, "--replicate", "2", "-o", file}, []string{"has no replicate 2", "its replicates are 0"}},
		{"branch", []string{hash, "--level", "1", "--branch", "scratch", "-o", file}, []string{`has no branch "scratch"`, "random_reinit"}},
		{"unfinished", []string{hash, "--level", "4", "-o", file}, []string{"level 4 has not finished", "result.yaml"}},
		{"negative level", []string{hash, "--level", "-1", "-o", file}, []string{"--level = -1: want an integer from 0"}},
		{"two runs", []string{hash, hash, "-o", file}, []string{"accepts 1 arg"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			args := append([]string{"export"}, c.args...)
			if !strings.Contains(strings.Join(c.args, " "), "--output") {
				args = append(args, "--output", out)
			}
			_, err := run(t, args...)
			wantError(t, "export", err, c.want...)
		})
	}
	if entries, _ := os.ReadDir(dir); len(entries) != 0 {
		t.Errorf("refused exports left %v in %s", entries, dir)
	}
}

// TestExportCommandRPS exports a shared (rps) unit as its array and mapper,
// and with --materialize as dense virtual weights, which is larger.
func TestExportCommandRPS(t *testing.T) {
	dir := t.TempDir()
	spec := filepath.Join(dir, "rps.yaml")
	out := filepath.Join(dir, "runs")
	yaml := `dataset: {name: synthetic, shape: [1, 6, 6], classes: 3, train_size: 60, test_size: 30, val_size: 12}
model: {name: mlp, widths: [16]}
training: {steps: 2ep, batch_size: 12, lr: 0.01, eval_every: 2it}
pipeline: rps
prune: {compression: 8}
output: ` + out + "\n"
	if err := os.WriteFile(spec, []byte(yaml), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := run(t, "run", spec, "-q"); err != nil {
		t.Fatal(err)
	}
	s, err := experiments.LoadSpec(spec, nil)
	if err != nil {
		t.Fatal(err)
	}
	hash := experiments.Hash(s)
	size := map[bool]int64{}
	for _, materialize := range []bool{false, true} {
		path := filepath.Join(dir, "net.safetensors")
		args := []string{"export", hash, "--output", out, "-o", path}
		if materialize {
			args = append(args, "--materialize")
		}
		if _, err := run(t, args...); err != nil {
			t.Fatal(err)
		}
		f, err := export.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		_, hasArray := f.Tensor("shared/rps")
		_, hasMeta := f.Metadata[export.KeyShared]
		if hasArray == materialize || hasMeta == materialize {
			t.Errorf("materialize %v: shared/rps %v, rps metadata %v", materialize, hasArray, hasMeta)
		}
		fi, _ := os.Stat(path)
		size[materialize] = fi.Size()
	}
	if size[false] >= size[true] {
		t.Errorf("shared file %d bytes, materialized %d", size[false], size[true])
	}
}
