package nntest

import (
	"fmt"
	"math"
	"strings"
	"testing"

	"github.com/prunebench/prunebench/nn"
)

// slots names the optimizer state slots of o.
func slots(o nn.Optimizer) []string {
	switch {
	case o.Name == "sgd" && o.Momentum > 0:
		return []string{"momentum"}
	case o.Name == "adam" || o.Name == "adamw":
		return []string{"exp_avg", "exp_avg_sq"}
	}
	return nil
}

// predictStep applies one step t of o in float64 to θ with gradient g and
// state s (s[k] for slot k, nil entries for a first step), returning the new
// θ and state.
func predictStep(o nn.Optimizer, lr float64, t int, th, g []float64, s [][]float64) ([]float64, [][]float64) {
	n := len(th)
	out := make([]float64, n)
	ns := make([][]float64, len(s))
	for k := range s {
		ns[k] = make([]float64, n)
	}
	wd := o.WeightDecay
	for i := 0; i < n; i++ {
		switch o.Name {
		case "sgd":
			gi := g[i] + wd*th[i]
			if o.Momentum == 0 {
				out[i] = th[i] - lr*gi
				continue
			}
			v := o.Momentum*s[0][i] + gi
			ns[0][i] = v
			d := v
			if o.Nesterov {
				d = gi + o.Momentum*v
			}
			out[i] = th[i] - lr*d
		case "adam", "adamw":
			p, gi := th[i], g[i]
			if o.Name == "adamw" {
				p *= 1 - lr*wd
			} else {
				gi += wd * th[i]
			}
			m := o.Beta1*s[0][i] + (1-o.Beta1)*gi
			v := o.Beta2*s[1][i] + (1-o.Beta2)*gi*gi
			ns[0][i], ns[1][i] = m, v
			mh := m / (1 - math.Pow(o.Beta1, float64(t)))
			vh := v / (1 - math.Pow(o.Beta2, float64(t)))
			out[i] = p - lr*mh/(math.Sqrt(vh)+o.Eps)
		}
	}
	return out, ns
}

// TestOptimizers checks three steps of each optimizer (θ and state) against
// the nn.Optimizer formulas evaluated in float64 from the engine's own θ,
// state and gradients before each step.
func TestOptimizers(t *testing.T, b nn.Backend) {
	nesterov := nn.SGD(0.9, 0.01)
	nesterov.Nesterov = true
	adam := nn.Adam(0.01)
	adam.Beta1, adam.Beta2 = 0.8, 0.95 // make the bias corrections visible
	cases := []struct {
		name string
		opt  nn.Optimizer
		lr   float64
	}{
		{"sgd", nn.SGD(0, 0.01), 0.1},
		{"sgd-momentum", nn.SGD(0.9, 0.01), 0.1},
		{"sgd-nesterov", nesterov, 0.1},
		{"adam", adam, 0.01},
		{"adam-default", nn.Adam(0), 0.01},
		{"adamw", nn.AdamW(0.1), 0.01},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			arch := MLP()
			net := build(t, b, arch, 8, 0, 0)
			SetRandom(net, NewRand(21))
			if err := net.SetOptimizer(c.opt); err != nil {
				t.Fatal(err)
			}
			sl := slots(c.opt)
			brng := NewRand(22)
			for step := 1; step <= 3; step++ {
				mustGradients(t, net, RandomBatch(arch, 8, brng))
				before := mustState(t, net)
				if got := before.Counters["step"]; got != int64(step-1) {
					t.Errorf("step counter %d before step %d", got, step)
				}
				grads := map[string][]float64{}
				for _, p := range net.Params() {
					grads[p.Info().Name] = to64(p.Grad())
				}
				net.Step(c.lr)
				after := mustState(t, net)
				if got := after.Counters["step"]; got != int64(step) {
					t.Errorf("step counter %d after step %d", got, step)
				}
				for _, info := range arch.Params() {
					name := info.Name
					th := to64(before.Tensors["param/"+name])
					s := make([][]float64, len(sl))
					for k, slot := range sl {
						v, err := before.Tensor("opt/"+slot+"/"+name, info.Size())
						if err != nil {
							t.Fatalf("before step %d: %v", step, err)
						}
						s[k] = to64(v)
					}
					wantTh, wantS := predictStep(c.opt, c.lr, step, th, grads[name], s)
					got, err := after.Tensor("param/"+name, info.Size())
					if err != nil {
						t.Fatal(err)
					}
					checkUpdate(t, fmt.Sprintf("step %d: %s", step, name), th, got, wantTh)
					for k, slot := range sl {
						v, err := after.Tensor("opt/"+slot+"/"+name, info.Size())
						if err != nil {
							t.Fatalf("after step %d: %v", step, err)
						}
						checkClose(t, fmt.Sprintf("step %d: %s of %s", step, slot, name), v, wantS[k], 1e-6*maxAbs(wantS[k])+1e-30, 1e-5)
					}
				}
				for name := range after.Tensors {
					if strings.HasPrefix(name, "opt/") && !hasSlot(name, sl) {
						t.Errorf("state has %s, optimizer %s keeps only %v", name, c.opt.Name, sl)
					}
				}
			}
		})
	}
}

func hasSlot(name string, sl []string) bool {
	for _, s := range sl {
		if strings.HasPrefix(name, "opt/"+s+"/") {
			return true
		}
	}
	return false
}

// checkUpdate compares the update after − before with want − before: the
// tolerance is relative to the size of the update, plus the float32
// rounding of θ.
func checkUpdate(t *testing.T, what string, before []float64, after []float32, want []float64) {
	t.Helper()
	d := make([]float64, len(want))
	for i := range want {
		d[i] = want[i] - before[i]
	}
	md := maxAbs(d)
	bad := 0
	for i := range want {
		got := float64(after[i]) - before[i]
		ulp := math.Abs(float64(math.Nextafter32(float32(want[i]), float32(math.Inf(1)))) - want[i])
		tol := 1e-4*math.Abs(d[i]) + 1e-5*md + 4*ulp
		if math.Abs(got-d[i]) > tol {
			if bad < 5 {
				t.Errorf("%s[%d]: update %.9g, want %.9g (θ %.9g)", what, i, got, d[i], before[i])
			}
			bad++
		}
	}
}
