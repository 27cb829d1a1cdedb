package export

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"sort"
	"strconv"
	"strings"

	"go.yaml.in/yaml/v3"

	"github.com/prunebench/prunebench/experiments"
	"github.com/prunebench/prunebench/experiments/results"
	"github.com/prunebench/prunebench/nn"
	"github.com/prunebench/prunebench/nn/train"
	"github.com/prunebench/prunebench/share"
)

// Unit is a finished unit of a run (a level, or a branch off one) with its
// network rebuilt: the run's spec, the replicate's seed, and the final
// weights of the unit's checkpoint.
type Unit struct {
	// Output is the output folder, Hash the run's full hash, Dir the
	// unit's folder.
	Output, Hash, Dir string
	Replicate, Level  int
	Branch            string
	// Spec is the replicate's spec (the run's, with its seed).
	Spec experiments.Spec
	// Result is the unit's result file.
	Result results.Result
	// Net holds the unit's final weights, masks and shared arrays; no
	// optimizer is installed.
	Net nn.Net
	// Mapper is the share.Mapper of a shared (rps) unit, nil otherwise:
	// pass it as Options.Mapper.
	Mapper *share.Mapper
}

// Metadata names the unit: run, replicate, level, branch (when there is
// one), pipeline and method, for Options.Metadata.
func (u *Unit) Metadata() map[string]string {
	m := map[string]string{
		"run": u.Hash, "replicate": strconv.Itoa(u.Replicate), "level": strconv.Itoa(u.Level),
		"pipeline": u.Spec.Pipeline, "method": u.Result.Method,
	}
	if u.Branch != "" {
		m["branch"] = u.Branch
	}
	return m
}

// ResolveRun returns the full hash of the run that prefix names in output:
// a folder of output that holds spec.yaml and whose name is prefix or
// starts with it. No such run, or several, is an error that says so (and
// lists them).
func ResolveRun(output, prefix string) (string, error) {
	if prefix == "" {
		return "", errors.New("empty run name: give a run hash or its start (\"prunebench ls\" lists the runs)")
	}
	entries, err := os.ReadDir(output)
	if errors.Is(err, fs.ErrNotExist) {
		return "", fmt.Errorf("output folder %s does not exist (--output names the folder that holds the runs)", output)
	}
	if err != nil {
		return "", err
	}
	var runs []string
	for _, e := range entries {
		if !e.IsDir() || !strings.HasPrefix(e.Name(), prefix) {
			continue
		}
		if _, err := os.Stat(filepath.Join(output, e.Name(), "spec.yaml")); err != nil {
			continue
		}
		if e.Name() == prefix {
			return prefix, nil
		}
		runs = append(runs, e.Name())
	}
	sort.Strings(runs)
	switch len(runs) {
	case 0:
		return "", fmt.Errorf("no run %q in %s: no run folder there starts with it (\"prunebench ls --output %s\" lists the runs)", prefix, output, output)
	case 1:
		return runs[0], nil
	}
	const show = 10
	list := strings.Join(runs[:min(len(runs), show)], ", ")
	if len(runs) > show {
		list += ", ..."
	}
	return "", fmt.Errorf("run %q is ambiguous in %s: %s start with it; give more of the hash", prefix, output, list)
}

// OpenUnit opens a finished unit of the run that run (a hash or a unique
// prefix of one) names in output, and rebuilds its network: the net the
// run's spec builds (experiments.Prepare, on the spec's engine, which loads
// the data set for its shape), shared as the unit was (a shared unit's
// rps.yaml gives the ratio, tiles, scales and tensors; the spec's rps
// section the rest), then the state of the unit's checkpoint, without its
// optimizer state.
//
// Errors name what is missing and what exists: an unknown or ambiguous
// run, a replicate, level or branch the run does not have, a unit without
// result.yaml (not finished), a checkpoint of another unit or one that
// does not fit the network. Units whose network is not the spec's (layer
// pruning's rebuilt network) are refused with an error that says so.
func OpenUnit(output, run string, replicate, level int, branch string) (*Unit, error) {
	hash, err := ResolveRun(output, run)
	if err != nil {
		return nil, err
	}
	u := &Unit{Output: output, Hash: hash, Replicate: replicate, Level: level, Branch: branch}
	root := filepath.Join(output, hash)
	rep := &experiments.Replicate{Hash: hash, Index: replicate, Dir: filepath.Join(root, fmt.Sprintf("replicate_%d", replicate))}
	if !isDir(rep.Dir) {
		return nil, fmt.Errorf("run %s has no replicate %d (%s): its replicates are %s", hash, replicate, rep.Dir, listDirs(root, "replicate_"))
	}
	levelDir := rep.UnitDir(level, "")
	if !isDir(levelDir) {
		return nil, fmt.Errorf("run %s replicate %d has no level %d (%s): its levels are %s", hash, replicate, level, levelDir, listDirs(rep.Dir, "level_"))
	}
	u.Dir = rep.UnitDir(level, branch)
	what := fmt.Sprintf("run %s replicate %d level %d", hash, replicate, level)
	if branch != "" {
		if !isDir(u.Dir) {
			return nil, fmt.Errorf("%s has no branch %q (%s): its branches are %s", what, branch, u.Dir, listDirs(levelDir, "branch_"))
		}
		what += " branch " + branch
	}
	if u.Result, err = results.ReadFile(filepath.Join(u.Dir, results.FileName)); errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("%s has not finished: %s has no %s (export a finished unit, or run the spec to the end first)", what, u.Dir, results.FileName)
	} else if err != nil {
		return nil, err
	}
	if _, err := os.Stat(filepath.Join(u.Dir, "layer.yaml")); err == nil {
		return nil, fmt.Errorf("%s: a layer-pruning unit trains a rebuilt network, not the spec's (see its layer.yaml); exporting it is not supported", what)
	}
	spec, err := experiments.LoadRunSpec(output, hash)
	if err != nil {
		return nil, err
	}
	spec.Seed += uint64(replicate)
	if width, ok, err := narrowWidth(u.Dir); err != nil {
		return nil, err
	} else if ok {
		spec.Model.WidthMultiplier = width
	}
	u.Spec = spec
	ckPath := filepath.Join(u.Dir, experiments.CheckpointFile)
	ck, err := train.LoadCheckpoint(ckPath)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("%s finished, but its checkpoint %s is missing", what, ckPath)
	} else if err != nil {
		return nil, err
	}
	if want := rep.UnitName(level, branch); ck.Identity != "" && ck.Identity != want {
		return nil, fmt.Errorf("checkpoint %s belongs to %q, not to %q (copied from another folder?)", ckPath, ck.Identity, want)
	}
	p, err := experiments.Prepare(spec)
	if err != nil {
		return nil, fmt.Errorf("%s: building its network from %s: %w", what, filepath.Join(root, "spec.yaml"), err)
	}
	u.Net = p.Net
	if isShared(ck.State) {
		if u.Mapper, err = shareUnit(u, p.Arch); err != nil {
			return nil, err
		}
	}
	st := nn.NewState()
	st.Counters = ck.State.Counters
	for name, v := range ck.State.Tensors {
		if !strings.HasPrefix(name, "opt/") {
			st.Tensors[name] = v
		}
	}
	if err := u.Net.SetState(st); err != nil {
		return nil, fmt.Errorf("checkpoint %s does not fit model %s built from the run's spec: %w", ckPath, spec.Model.Name, err)
	}
	return u, nil
}

// isShared reports whether a State has shared arrays.
func isShared(s *nn.State) bool {
	for name := range s.Counters {
		if strings.HasPrefix(name, "shared/") {
			return true
		}
	}
	return false
}

// rpsInfo is what OpenUnit reads of a shared unit's rps.yaml.
type rpsInfo struct {
	Mapper string    `yaml:"mapper"`
	Scope  string    `yaml:"scope"`
	Mode   string    `yaml:"mode"`
	Rho    float64   `yaml:"rho"`
	BlockK int       `yaml:"block_k"`
	BlockN int       `yaml:"block_n"`
	Shared []string  `yaml:"shared_tensors"`
	Scales []float64 `yaml:"scales"`
}

// shareUnit shares u's net as the unit was trained: the mapper of the
// spec's rps section at the ratio, tiles and tensors of the unit's
// rps.yaml, with the hash seed of the replicate, and its scales.
func shareUnit(u *Unit, arch *nn.Arch) (*share.Mapper, error) {
	path := filepath.Join(u.Dir, "rps.yaml")
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("the checkpoint of %s holds shared arrays, and its rps.yaml (the mapper's settings) cannot be read: %w", u.Dir, err)
	}
	var info rpsInfo
	if err := yaml.Unmarshal(data, &info); err != nil {
		return nil, fmt.Errorf("%s: %v", path, err)
	}
	cfg, ok := shareConfig(u.Spec.Config)
	if !ok {
		return nil, fmt.Errorf("the checkpoint of %s holds shared arrays, and pipeline %s has no rps section", u.Dir, u.Spec.Pipeline)
	}
	cfg.Ratio, cfg.Seed = info.Rho, nn.SeedFor(u.Spec.Seed, nn.NSHash)
	if cfg.Mapper == share.ROAST {
		cfg.BlockK, cfg.BlockN = info.BlockK, info.BlockN
	}
	for _, c := range []struct{ key, spec, file string }{{"mapper", cfg.Mapper, info.Mapper}, {"scope", cfg.Scope, info.Scope}, {"mode", cfg.Mode, info.Mode}} {
		if c.spec != c.file {
			return nil, fmt.Errorf("%s says rps.%s = %s, the run's spec %s", path, c.key, c.file, c.spec)
		}
	}
	ts := share.SharedTensors(share.Tensors(arch), cfg.ModuleLimit)
	names := make([]string, len(ts))
	for i, t := range ts {
		names[i] = t.Param.Name
	}
	if !slices.Equal(names, info.Shared) {
		return nil, fmt.Errorf("%s shares %v, the run's spec selects %v", path, info.Shared, names)
	}
	mp, err := share.NewMapper(ts, cfg)
	if err != nil {
		return nil, fmt.Errorf("rebuilding the mapper of %s: %w", u.Dir, err)
	}
	if len(info.Scales) != mp.NumLayers() {
		return nil, fmt.Errorf("%s has %d scales for %d shared tensors", path, len(info.Scales), mp.NumLayers())
	}
	if err := mp.Apply(u.Net, info.Scales, nil); err != nil {
		return nil, err
	}
	return mp, nil
}

// shareConfig finds the share.Config among the sections of a pipeline's
// configuration (the rps section).
func shareConfig(p experiments.Pipeline) (share.Config, bool) {
	v := reflect.ValueOf(p)
	for v.Kind() == reflect.Pointer || v.Kind() == reflect.Interface {
		if v.IsNil() {
			return share.Config{}, false
		}
		v = v.Elem()
	}
	if v.Kind() != reflect.Struct {
		return share.Config{}, false
	}
	want := reflect.TypeFor[share.Config]()
	for i := range v.NumField() {
		if f := v.Field(i); f.Type() == want {
			return f.Interface().(share.Config), true
		}
	}
	return share.Config{}, false
}

// narrowWidth is the width multiplier a unit's narrow.yaml records (the
// narrow pipeline solves it), and whether there is one.
func narrowWidth(dir string) (float64, bool, error) {
	path := filepath.Join(dir, "narrow.yaml")
	data, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return 0, false, nil
	} else if err != nil {
		return 0, false, err
	}
	var info struct {
		WidthMultiplier float64 `yaml:"width_multiplier"`
	}
	if err := yaml.Unmarshal(data, &info); err != nil || !(info.WidthMultiplier > 0) {
		return 0, false, fmt.Errorf("%s: no width_multiplier > 0 (%v)", path, err)
	}
	return info.WidthMultiplier, true, nil
}

func isDir(path string) bool {
	fi, err := os.Stat(path)
	return err == nil && fi.IsDir()
}

// listDirs lists the suffixes of the folders of dir named prefix<suffix>,
// sorted (numerically when they are numbers), or "none".
func listDirs(dir, prefix string) string {
	entries, _ := os.ReadDir(dir)
	var names []string
	for _, e := range entries {
		if s, ok := strings.CutPrefix(e.Name(), prefix); ok && e.IsDir() {
			names = append(names, s)
		}
	}
	if len(names) == 0 {
		return "none"
	}
	slices.SortFunc(names, func(a, b string) int {
		x, errA := strconv.Atoi(a)
		y, errB := strconv.Atoi(b)
		if errA == nil && errB == nil {
			return x - y
		}
		return strings.Compare(a, b)
	})
	return strings.Join(names, ", ")
}
