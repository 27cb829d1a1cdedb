package experiments

import (
	"context"
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prunebench/prunebench/experiments/results"
	"github.com/prunebench/prunebench/internal/atomicfile"
	"github.com/prunebench/prunebench/internal/slurm"
	"github.com/prunebench/prunebench/internal/unitlock"
	"github.com/prunebench/prunebench/nn"
	"github.com/prunebench/prunebench/nn/train"
)

// Callback is a training callback (train.Callback), re-exported so pipelines
// and the CLI need not import nn for it.
type Callback = train.Callback

// Version is the prunebench version recorded with every result; the CLI
// sets it from its build.
var Version = "dev"

// RunOptions are the knobs of RunSpec that are not part of the experiment.
type RunOptions struct {
	// Watch, when set, is called when a unit (a level or branch of a
	// replicate) starts training; the callbacks it returns are passed to
	// training (a progress bar), and done is called when the unit ends.
	Watch func(u UnitInfo) (cbs []Callback, done func())
	// Store, when set, is used instead of opening <output>/results.db
	// (a sweep shares one).
	Store *results.Store
	// Rerun trains units whose folder lost its result.yaml although the
	// store holds their result (a folder deleted by hand), replacing the
	// stored result. Without it such a unit is an error, so nothing stored
	// is overwritten by accident.
	Rerun bool
	// Jobs is how many replicates train at once (each on one goroutine;
	// 0 or 1: one after the other). Watch must then be safe for concurrent
	// use.
	Jobs int
	// Replicates, when set, runs only these replicates (the units a sweep
	// hands out); nil runs them all.
	Replicates []int
	// NoStore writes each unit's result.yaml and not the store: what the
	// tasks of an array job do, since SQLite's WAL does not work on the
	// cluster file systems (NFS, Lustre) their nodes share; Collect
	// ingests the files later. RunSpec then returns the results from the
	// files, and finished units are checked against their folder only.
	NoStore bool
	// NoWait makes RunSpec return a *unitlock.HeldError for a replicate
	// that another live process is training, instead of waiting until it
	// is free and then running it (which skips what that process
	// finished). A sweep sets it for its first pass over its units.
	NoWait bool
	// Notify receives what a user should be told as it happens: a stale
	// lock taken over, a replicate waiting for another process. Nil drops
	// the messages.
	Notify func(msg string)
}

// notify sends msg to o.Notify, if set.
func (o RunOptions) notify(format string, args ...any) {
	if o.Notify != nil {
		o.Notify(fmt.Sprintf(format, args...))
	}
}

// UnitInfo names a unit for progress displays.
type UnitInfo struct {
	Replicate, Replicates, Level int
	Branch                       string
}

// Label is a short description such as "replicate 1/3 level 0".
func (u UnitInfo) Label() string {
	l := fmt.Sprintf("replicate %d/%d level %d", u.Replicate+1, u.Replicates, u.Level)
	if u.Branch != "" {
		l += " " + u.Branch
	}
	return l
}

// Replicate is one replicate of a run, handed to Pipeline.Run.
type Replicate struct {
	// Spec is the run's spec with Seed set to this replicate's master seed.
	Spec  Spec
	Index int
	// Hash is the run name; Dir is <output>/<hash>/replicate_<Index>.
	Hash string
	Dir  string

	store   *results.Store // nil with RunOptions.NoStore
	backend nn.Backend     // looked up once per run
	watch   func(UnitInfo) ([]Callback, func())
	rerun   bool
	// finished collects the results of the replicate's units as Unit
	// returns them.
	finished []results.Result
}

// CheckpointFile is the name of a unit's checkpoint in its folder.
const CheckpointFile = "checkpoint.gob"

// UnitName names a unit of the replicate, as its checkpoint records it:
// "<run hash>/replicate_<r>/level_<l>[/branch_<b>]".
func (r *Replicate) UnitName(level int, branch string) string {
	n := fmt.Sprintf("%s/replicate_%d/level_%d", r.Hash, r.Index, level)
	if branch != "" {
		n += "/branch_" + branch
	}
	return n
}

// unitName is the name of the unit whose folder is dir, or "" when dir is
// not a unit folder of this replicate.
func (r *Replicate) unitName(dir string) string {
	rel, err := filepath.Rel(r.Dir, dir)
	if err != nil {
		return ""
	}
	var level int
	var branch string
	parts := strings.Split(filepath.ToSlash(rel), "/")
	if _, err := fmt.Sscanf(parts[0], "level_%d", &level); err != nil || len(parts) > 2 {
		return ""
	}
	if len(parts) == 2 {
		b, ok := strings.CutPrefix(parts[1], "branch_")
		if !ok {
			return ""
		}
		branch = b
	}
	if r.UnitDir(level, branch) != filepath.Clean(dir) {
		return ""
	}
	return r.UnitName(level, branch)
}

// Checkpoint reads the checkpoint of a unit of this replicate (a finished
// level whose weights a later level starts from), and refuses one that
// names another unit.
func (r *Replicate) Checkpoint(level int, branch string) (*train.Checkpoint, error) {
	path := filepath.Join(r.UnitDir(level, branch), CheckpointFile)
	ck, err := train.LoadCheckpoint(path)
	if err != nil {
		return nil, err
	}
	if want := r.UnitName(level, branch); ck.Identity != want {
		return nil, fmt.Errorf("checkpoint %s belongs to %q, not to %q (copied from another folder?); delete level %d's folder and run again with --rerun to train it anew: %w",
			path, ck.Identity, want, level, train.ErrBadCheckpoint)
	}
	return ck, nil
}

// UnitFunc trains one level or branch in dir (which exists; checkpoints go
// there) and returns its Result; the identity fields are filled in by Unit.
type UnitFunc func(ctx context.Context, dir string, cbs []Callback) (results.Result, error)

// UnitDir is the folder of a level (branch "") or of a branch off it.
func (r *Replicate) UnitDir(level int, branch string) string {
	d := filepath.Join(r.Dir, fmt.Sprintf("level_%d", level))
	if branch != "" {
		d = filepath.Join(d, "branch_"+branch)
	}
	return d
}

// Unit runs fn for (level, branch) unless the unit finished before, in which
// case its result file is checked and returned (and written to the store
// when the store lacks it, so a lost or replaced database is refilled from
// the run folders). A finished unit's result is written to its folder
// atomically, then to the store.
//
// A result file is believed only when it is whole (results.ReadFile), names
// this unit (run, replicate, level and branch: a file copied in from another
// run or level is refused), and agrees with the store's row for the unit,
// if there is one. Otherwise the error names the file, and the store is not
// changed.
func (r *Replicate) Unit(ctx context.Context, level int, branch string, fn UnitFunc) (results.Result, error) {
	res, err := r.unit(ctx, level, branch, fn)
	if err == nil {
		r.finished = append(r.finished, res)
	}
	return res, err
}

func (r *Replicate) unit(ctx context.Context, level int, branch string, fn UnitFunc) (results.Result, error) {
	dir := r.UnitDir(level, branch)
	path := filepath.Join(dir, results.FileName)
	var stored []results.Result
	if r.store != nil {
		var err error
		stored, err = r.store.Results(map[string]string{"spec_hash": r.Hash, "replicate": fmt.Sprint(r.Index), "level": fmt.Sprint(level), "branch": branch})
		if err != nil {
			return results.Result{}, err
		}
	}
	if res, err := results.ReadFile(path); err == nil {
		return r.believe(res, stored, level, branch, path)
	} else if !errors.Is(err, os.ErrNotExist) {
		return results.Result{}, fmt.Errorf("%w; %s", err, redoAdvice)
	}
	if !r.rerun && len(stored) > 0 {
		return results.Result{}, fmt.Errorf("%s has no %s, but %s holds its result (finished %s): the run folder was deleted or moved; restore it, or run again with --rerun to train that level anew and replace the stored result",
			dir, results.FileName, r.store.Path(), stored[0].Finished.Format(time.RFC3339))
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return results.Result{}, err
	}
	if err := atomicfile.Clean(dir); err != nil { // what a killed run left half written
		return results.Result{}, err
	}
	var cbs []Callback
	if r.watch != nil {
		var done func()
		cbs, done = r.watch(UnitInfo{Replicate: r.Index, Replicates: r.Spec.Replicates, Level: level, Branch: branch})
		defer done()
	}
	res, err := fn(ctx, dir, cbs)
	if err != nil {
		return results.Result{}, fmt.Errorf("replicate %d level %d%s: %w", r.Index, level, branchSuffix(branch), err)
	}
	r.identify(&res, level, branch)
	res.Version, res.Finished = Version, time.Now().UTC().Truncate(time.Second)
	if err := writeProvenance(dir, r.Spec.Backend, r.backend); err != nil {
		return results.Result{}, err
	}
	if err := results.WriteFile(path, res); err != nil {
		return results.Result{}, err
	}
	if r.store == nil {
		return res, nil
	}
	return res, r.store.Put(res)
}

// redoAdvice is what to do about a result file that cannot be believed.
const redoAdvice = "move it away and run again with --rerun to train that level anew (replacing its stored result), or put back the right file"

// identify sets the fields of res that name its unit and run.
func (r *Replicate) identify(res *results.Result, level int, branch string) {
	res.SpecHash, res.Pipeline, res.Replicate, res.Seed = r.Hash, r.Spec.Pipeline, r.Index, r.Spec.Seed
	res.Level, res.Branch = level, branch
	res.Dataset, res.Model, res.Backend = r.Spec.Dataset.Name, r.Spec.Model.Label(), r.Spec.Backend
	res.Experiment, res.Settings = Experiment(r.Spec)
}

// believe checks a finished unit's result file against the unit and the
// store's row (stored: none or one), refills the store when it lacks the
// row, and returns the result.
func (r *Replicate) believe(res results.Result, stored []results.Result, level int, branch string, path string) (results.Result, error) {
	want := res
	r.identify(&want, level, branch)
	if res.Experiment == "" && res.Settings == "" { // written before results named their experiment
		res.Experiment, res.Settings = want.Experiment, want.Settings
	}
	if d := results.Diff(res, want); d != "" {
		return results.Result{}, fmt.Errorf("%s belongs to another unit than replicate %d level %d%s of run %s (%s): it was copied or edited; %s: %w",
			path, r.Index, level, branchSuffix(branch), r.Hash, d, redoAdvice, results.ErrMismatch)
	}
	if r.store == nil {
		return res, nil
	}
	if len(stored) == 0 {
		return res, r.store.Put(res)
	}
	if stored[0].Experiment == "" && results.Diff(res, stored[0], "experiment", "settings") == "" {
		return res, r.store.Put(res) // a row of an older store: name its experiment
	}
	if d := results.Diff(res, stored[0]); d != "" {
		return results.Result{}, fmt.Errorf("%s disagrees with %s on replicate %d level %d%s (%s, file against store); the store was not changed; %s: %w",
			path, r.store.Path(), r.Index, level, branchSuffix(branch), d, redoAdvice, results.ErrMismatch)
	}
	return res, nil
}

func branchSuffix(b string) string {
	if b == "" {
		return ""
	}
	return " branch " + b
}

// Measure fills a Result's counts and metrics from a trained network: the
// density d over the prunable set as the pipeline defines it (its masks;
// 1 for dense training), sparsity and compression from d, nonzero parameters
// and FLOPs, bytes, the test metrics at the early-stopping iteration and
// at the end, and the learning curve, one point per point of h (Curve).
func Measure(p *Prepared, h *train.History, method string, density float64) results.Result {
	arch := p.Arch
	dense := nn.Count(arch)
	values := func(name string) []float32 { return p.Net.Param(name).Values() }
	nz := nn.CountNonzero(arch, values)
	res := results.Result{Method: method, ParamsTotal: dense.Params, ParamsNonzero: nz.Params,
		FLOPsDense: dense.FLOPs, FLOPsNonzero: nz.FLOPs, Bytes: dense.Bytes}
	res.Density, res.Sparsity, res.Compression = density, 1-density, 1/density
	best, final := h.BestPoint(), h.Final()
	res.BestIter, res.BestTestAcc, res.BestTestLoss = best.Iter, best.TestAcc, best.TestLoss
	res.BestValAcc, res.BestValLoss = best.ValAcc, best.ValLoss
	res.FinalTestAcc, res.FinalTestLoss = final.TestAcc, final.TestLoss
	res.Iterations, res.Wall = h.Total, h.Wall
	res.Curve = Curve(h, density)
	return res
}

// Curve is a history's learning curve: one point per evaluation, with the
// density a callback recorded at the point (gradual pruning) or, where none
// did, the unit's density d. A pipeline whose history is one point (a mask
// found without training) has a curve of one point.
func Curve(h *train.History, d float64) []results.CurvePoint {
	if len(h.Points) == 0 {
		return nil
	}
	c := make([]results.CurvePoint, len(h.Points))
	for i, p := range h.Points {
		c[i] = results.CurvePoint{Step: p.Iter, TrainLoss: p.TrainLoss, TrainAcc: p.TrainAcc,
			ValLoss: p.ValLoss, ValAcc: p.ValAcc, TestLoss: p.TestLoss, TestAcc: p.TestAcc, Density: p.Density}
		if math.IsNaN(p.Density) {
			c[i].Density = d
		}
	}
	return c
}

// RunSpec runs every replicate of a spec: it validates everything first
// (Validate, then the pipeline's Precheck on the data) before any folder or
// store exists, writes the resolved spec to <output>/<hash>/spec.yaml, and
// runs the pipeline for each replicate. Finished units are skipped, interrupted ones
// resume from their checkpoints.
func RunSpec(ctx context.Context, s Spec, o RunOptions) ([]results.Result, error) {
	pl, err := Validate(s)
	if err != nil {
		return nil, err
	}
	s.Config = pl
	backend, err := nn.GetBackend(s.Backend)
	if err != nil {
		return nil, fmt.Errorf("backend: %w", err)
	}
	hash := Hash(s)
	root := filepath.Join(s.Output, hash)
	replicate := func(i int) *Replicate {
		rs := s
		rs.Seed = s.Seed + uint64(i)
		return &Replicate{Spec: rs, Index: i, Hash: hash, Dir: filepath.Join(root, fmt.Sprintf("replicate_%d", i)), backend: backend, watch: o.Watch, rerun: o.Rerun}
	}
	if pc, ok := pl.(Prechecker); ok {
		if err := pc.Precheck(replicate(0)); err != nil {
			return nil, err
		}
	}
	if err := os.MkdirAll(root, 0o755); err != nil {
		return nil, err
	}
	// Other processes may be writing here (other replicates, other
	// sweeps): only temporary files no writer can still own are removed.
	if err := atomicfile.CleanOlder(root, time.Minute); err != nil {
		return nil, err
	}
	if err := WriteRunSpec(s); err != nil {
		return nil, err
	}
	store := o.Store
	if store == nil && !o.NoStore {
		if store, err = results.Open(filepath.Join(s.Output, "results.db")); err != nil {
			return nil, err
		}
		defer store.Close()
	}
	reps := o.Replicates
	if reps == nil {
		reps = make([]int, s.Replicates)
		for i := range reps {
			reps[i] = i
		}
	}
	for _, i := range reps {
		if i < 0 || i >= s.Replicates {
			return nil, fmt.Errorf("replicate %d: the run has replicates 0 to %d", i, s.Replicates-1)
		}
	}
	if o.Replicates == nil { // else a sweep's units: the sweep said it once for all
		noteSeedRepeats(store, WorkUnits([]Spec{s}), o.Notify)
	}
	runRep := func(i int, wait bool) ([]results.Result, error) {
		rep := replicate(i)
		rep.store = store
		return runReplicate(ctx, pl, rep, wait, o)
	}
	// Replicates run Jobs at a time; results come back in replicate order.
	// After a failure no further replicate starts, and the first failure
	// (by replicate) is returned once the running ones stopped. A
	// replicate another process is training is put off to a second pass,
	// which waits for it (unless NoWait).
	perRep := make(map[int][]results.Result, len(reps))
	errs := make(map[int]error, len(reps))
	var mu sync.Mutex
	var failed atomic.Bool
	pass := func(todo []int, wait bool) (held []int) {
		next := make(chan int)
		var wg sync.WaitGroup
		for w := 0; w < min(max(1, o.Jobs), len(todo)); w++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for i := range next {
					if failed.Load() {
						continue
					}
					res, err := runRep(i, wait)
					mu.Lock()
					var he *unitlock.HeldError
					switch {
					case errors.As(err, &he) && !wait:
						held = append(held, i)
						errs[i] = err // cleared if a waiting pass runs it
					case err != nil:
						errs[i] = err
						failed.Store(true)
					default:
						perRep[i] = res
					}
					mu.Unlock()
				}
			}()
		}
		for _, i := range todo {
			next <- i
		}
		close(next)
		wg.Wait()
		slices.Sort(held)
		return held
	}
	held := pass(reps, false)
	if len(held) > 0 && !o.NoWait && !failed.Load() {
		for _, i := range held {
			delete(errs, i)
		}
		pass(held, true)
	}
	var all []results.Result
	for _, i := range reps {
		if errs[i] != nil {
			return all, errs[i]
		}
		all = append(all, perRep[i]...)
	}
	return all, nil
}

// runReplicate runs one replicate under its lock: a live holder elsewhere
// is a *unitlock.HeldError, or is waited for (polling) when wait is set.
// It records the outcome in the replicate's folder: done.yaml when every
// unit finished, failed.yaml (with the error) when the pipeline failed; an
// interrupt records neither.
func runReplicate(ctx context.Context, pl Pipeline, rep *Replicate, wait bool, o RunOptions) ([]results.Result, error) {
	if err := os.MkdirAll(rep.Dir, 0o755); err != nil {
		return nil, err
	}
	lockPath := filepath.Join(rep.Dir, lockFile)
	unitlock.Clean(lockPath)
	var lock *unitlock.Lock
	for said := false; ; {
		var err error
		lock, err = unitlock.Acquire(lockPath, lockOptions(o.Notify))
		var he *unitlock.HeldError
		if err == nil {
			break
		}
		if !errors.As(err, &he) || !wait {
			return nil, err
		}
		if !said {
			o.notify("waiting for %s replicate %d: %s is training it", rep.Hash, rep.Index, he.Holder)
			said = true
		}
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-time.After(lockPoll):
		}
	}
	defer func() {
		if err := lock.Release(); err != nil {
			o.notify("%v", err)
		}
	}()
	if err := removeIfThere(filepath.Join(rep.Dir, failedFile)); err != nil {
		return nil, err
	}
	if err := pl.Run(ctx, rep); err != nil {
		if ctx.Err() == nil || !errors.Is(err, ctx.Err()) {
			if werr := writeFailure(rep.Dir, err); werr != nil {
				err = errors.Join(err, werr)
			}
		}
		return nil, err
	}
	if err := writeDone(rep.Dir); err != nil {
		return nil, err
	}
	res := slices.Clone(rep.finished)
	slices.SortStableFunc(res, func(a, b results.Result) int {
		if a.Level != b.Level {
			return a.Level - b.Level
		}
		return strings.Compare(a.Branch, b.Branch)
	})
	return res, nil
}

// lockPoll is how often a replicate that another process trains checks
// whether it is free.
var lockPoll = 2 * time.Second

// lockOptions are the lock checks of this process: Slurm answers whether
// a holder on another node still runs; takeovers are told to notify.
func lockOptions(notify func(string)) unitlock.Options {
	return unitlock.Options{
		JobRunning: slurm.JobRunning,
		TookOver: func(h unitlock.Holder, why string) {
			if notify != nil {
				notify(fmt.Sprintf("took over a stale lock of %s: %s", h, why))
			}
		},
	}
}

// Validate checks a whole spec without loading data: the pipeline, the
// keys it does not read, the training hyperparameters, the backend name, the
// replicate count and output, then the pipeline's own checks. It returns the
// spec's pipeline (its Config, or the registered defaults when Config is
// nil).
func Validate(s Spec) (Pipeline, error) {
	pl, err := s.pipeline()
	if err != nil {
		return nil, err
	}
	if len(s.unread) > 0 {
		k := s.unread[0]
		return nil, fmt.Errorf("pipeline %s does not read %s (remove it, or use pipeline %s)", s.Pipeline, k, orList(specKeyTable().info[k].readers))
	}
	if s.Replicates < 1 {
		return nil, fmt.Errorf("replicates = %d: want at least 1", s.Replicates)
	}
	if _, err := s.Training.Config(s.Seed); err != nil {
		return nil, err
	}
	if _, err := nn.GetBackend(s.Backend); err != nil {
		return nil, fmt.Errorf("backend: %w", err)
	}
	if err := s.Dataset.validate(); err != nil {
		return nil, err
	}
	if err := s.Model.validate(); err != nil {
		return nil, err
	}
	if s.Output == "" {
		return nil, errors.New("output: want a folder for the runs")
	}
	if s.Sparse != "auto" && s.Sparse != "off" {
		return nil, fmt.Errorf("sparse = %q: want auto or off", s.Sparse)
	}
	s.Config = pl
	return pl, pl.Validate(s)
}

// pipeline is the spec's Config, or the registered defaults of its pipeline
// when Config is nil. A Config of another pipeline's type is an error.
func (s Spec) pipeline() (Pipeline, error) {
	def, err := PipelineDefaults(s.Pipeline)
	if err != nil {
		return nil, err
	}
	if s.Config == nil {
		return def, nil
	}
	if reflect.TypeOf(s.Config) != reflect.TypeOf(def) {
		return nil, fmt.Errorf("spec: Config is a %T, but pipeline %s is configured by a %T", s.Config, s.Pipeline, def)
	}
	return s.Config, nil
}
