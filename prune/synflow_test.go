package prune

import (
	"math"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/prunebench/prunebench/nn"
	"github.com/prunebench/prunebench/nn/nntest"
	"github.com/prunebench/prunebench/nn/zoo"
)

// chainArch is the two-layer linear chain of docs/methods/pai.md#synflow:
// 3 inputs, fc1 [2, 3] and fc2 [2, 2], no biases, no activation.
func chainArch() *nn.Arch {
	return &nn.Arch{Name: "chain", Input: []int{3}, Classes: 2, Layers: []nn.Layer{
		nn.Linear{Name: "fc1", In: 3, Out: 2},
		nn.Linear{Name: "fc2", In: 2, Out: 2},
	}}
}

func prunableSet(t *testing.T, arch *nn.Arch) []nn.ParamInfo {
	t.Helper()
	set, err := ResolvePrunable(arch.Params(), nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	return set
}

func relClose(got, want, tol float64) bool {
	return math.Abs(got-want) <= tol*math.Max(math.Abs(want), 1e-30)
}

// TestSynFlowChain is the hand computation of docs/methods/pai.md#synflow
// on the two-layer linear chain with input ones:
// S(W1_ij) = |W1_ij| · Σ_k |W2_ki|, S(W2_ki) = |W2_ki| · Σ_j |W1_ij|,
// R = Σ_i (Σ_k |W2_ki|)(Σ_j |W1_ij|).
//
//	W1 = [[0.5, −1, 2], [−0.25, 0.75, −1.5]]: row sums of |W1| 3.5, 2.5
//	W2 = [[1, −2], [−0.5, 3]]: column sums of |W2| 1.5, 5
//	S(W1) = [0.75, 1.5, 3; 1.25, 3.75, 7.5], S(W2) = [3.5, 5; 1.75, 7.5]
//	R = 1.5·3.5 + 5·2.5 = 17.75 (each layer's scores sum to it)
//
// With fc1's entry (1, 2) pruned (MaskedForward, θ kept), its score is 0,
// the second row sum of |W1 ⊙ m| is 1, S(W2) = [3.5, 2; 1.75, 3] and
// R = 1.5·3.5 + 5·1 = 10.25.
func TestSynFlowChain(t *testing.T) {
	cases := []struct {
		name   string
		mask   []float32 // of fc1; nil: dense
		w1, w2 []float64
		r      float64
	}{
		{"dense", nil, []float64{0.75, 1.5, 3, 1.25, 3.75, 7.5}, []float64{3.5, 5, 1.75, 7.5}, 17.75},
		{"masked", []float32{1, 1, 1, 1, 1, 0}, []float64{0.75, 1.5, 3, 1.25, 3.75, 0}, []float64{3.5, 2, 1.75, 3}, 10.25},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			arch := chainArch()
			net := buildNative(t, arch, 0, 1)
			net.Param("fc1.weight").SetValues([]float32{0.5, -1, 2, -0.25, 0.75, -1.5})
			net.Param("fc2.weight").SetValues([]float32{1, -2, -0.5, 3})
			if c.mask != nil {
				if err := net.SetParametrization("fc1.weight", nn.Masked{Mask: c.mask, Pattern: nn.MaskedForward}); err != nil {
					t.Fatal(err)
				}
			}
			set := prunableSet(t, arch)
			s, r, err := synflowScores(ScoreContext{Net: net, Set: set}, true)
			if err != nil {
				t.Fatal(err)
			}
			if !relClose(r, c.r, 1e-6) {
				t.Errorf("R = %v, want %v", r, c.r)
			}
			want := [][]float64{c.w1, c.w2}
			var total float64
			for k := range want {
				for i, w := range want[k] {
					total += w
					if !relClose(s[k][i], w, 1e-6) {
						t.Errorf("S(%s)[%d] = %v, want %v", set[k].Name, i, s[k][i], w)
					}
				}
			}
			// The criterion returns the same scores divided by their sum.
			norm, err := mustCriterion(t, "synflow").Scores(ScoreContext{Net: net, Set: set})
			if err != nil {
				t.Fatal(err)
			}
			for k := range want {
				for i, w := range want[k] {
					if !relClose(float64(norm[k][i]), w/total, 1e-6) {
						t.Errorf("normalized S(%s)[%d] = %v, want %v", set[k].Name, i, norm[k][i], w/total)
					}
				}
			}
		})
	}
}

// TestSynFlowConservation checks the layer-wise conservation of synaptic
// saliency (docs/methods/pai.md#synflow): in bias-free ReLU networks without
// normalization, the scores of every layer sum to R. For the MLP, R is also
// computed by hand in float64: R = 1ᵀ |W3| |W2| |W1| 1.
func TestSynFlowConservation(t *testing.T) {
	mlp := &nn.Arch{Name: "mlp", Input: []int{6}, Classes: 3, Layers: []nn.Layer{
		nn.Linear{Name: "fc1", In: 6, Out: 8}, nn.ReLU{},
		nn.Linear{Name: "fc2", In: 8, Out: 5}, nn.ReLU{},
		nn.Linear{Name: "fc3", In: 5, Out: 3},
	}}
	conv := &nn.Arch{Name: "conv", Input: []int{2, 5, 4}, Classes: 3, Layers: []nn.Layer{
		nn.Conv2d{Name: "conv1", In: 2, Out: 3, Kernel: 3, Stride: 1, Pad: 1}, nn.ReLU{},
		nn.MaxPool2d{Kernel: 2, Stride: 2}, // 3×2×2
		nn.Conv2d{Name: "conv2", In: 3, Out: 4, Kernel: 1, Stride: 1}, nn.ReLU{},
		nn.Flatten{},
		nn.Linear{Name: "fc", In: 16, Out: 3},
	}}
	for _, arch := range []*nn.Arch{mlp, conv} {
		t.Run(arch.Name, func(t *testing.T) {
			net := buildNative(t, arch, 0, 1)
			nntest.SetRandom(net, nntest.NewRand(5))
			set := prunableSet(t, arch)
			if len(set) != 3 {
				t.Fatalf("prunable set %v, want 3 weight tensors", set)
			}
			s, r, err := synflowScores(ScoreContext{Net: net, Set: set}, true)
			if err != nil {
				t.Fatal(err)
			}
			if !(r > 0) {
				t.Fatalf("R = %v", r)
			}
			for k, info := range set {
				var sum float64
				for _, v := range s[k] {
					sum += v
				}
				if !relClose(sum, r, 1e-5) {
					t.Errorf("scores of %s sum to %.9g, R = %.9g", info.Name, sum, r)
				}
			}
			if arch == mlp {
				a := []float64{1, 1, 1, 1, 1, 1}
				for _, name := range []string{"fc1.weight", "fc2.weight", "fc3.weight"} {
					a = absMatVec(net.Param(name).Values(), a)
				}
				var want float64
				for _, v := range a {
					want += v
				}
				if !relClose(r, want, 1e-5) {
					t.Errorf("R = %.9g, by hand %.9g", r, want)
				}
			}
		})
	}
}

// absMatVec returns |W| x for W of len(W)/len(x) rows, in float64.
func absMatVec(w []float32, x []float64) []float64 {
	rows := len(w) / len(x)
	y := make([]float64, rows)
	for o := range y {
		for j, v := range x {
			y[o] += math.Abs(float64(w[o*len(x)+j])) * v
		}
	}
	return y
}

// TestSynFlowRestoresState scores a net with biases, batch norm (negative
// running means), residual blocks, masks of all three patterns (θ non-zero
// at pruned entries under P1 and P2), signed zeros and momentum state, and
// checks that every entry of the State and every θ is bit-identical
// afterwards (docs/methods/pai.md#synflow, step 4: signs restored).
func TestSynFlowRestoresState(t *testing.T) {
	arch := nntest.ConvNet()
	net := buildNative(t, arch, 0, 4)
	nntest.SetRandom(net, nntest.NewRand(7))
	if err := net.SetOptimizer(nn.SGD(0.9, 0)); err != nil {
		t.Fatal(err)
	}
	if _, err := net.Gradients(nntest.RandomBatch(arch, 4, nntest.NewRand(8))); err != nil {
		t.Fatal(err)
	}
	net.Step(0.1) // momentum state and running statistics (negative means)
	rng := nntest.NewRand(9)
	set := prunableSet(t, arch)
	for k, info := range set {
		m := nntest.RandomMask(info.Size(), 0.5, rng)
		if err := net.SetParametrization(info.Name, nn.Masked{Mask: m, Pattern: nn.MaskPattern(k % 3)}); err != nil {
			t.Fatal(err)
		}
	}
	// Signed zeros at alive entries.
	for _, p := range net.Params() {
		v := append([]float32(nil), p.Values()...)
		v[0] = float32(math.Copysign(0, -1))
		p.SetValues(v)
	}
	before, err := net.State()
	if err != nil {
		t.Fatal(err)
	}
	vals := map[string][]float32{}
	negative := 0
	for _, p := range net.Params() {
		vals[p.Info().Name] = append([]float32(nil), p.Values()...)
		for _, v := range p.Values() {
			if math.Signbit(float64(v)) {
				negative++
			}
		}
	}
	for name, v := range before.Tensors {
		if strings.HasSuffix(name, "running_mean") {
			for _, x := range v {
				if x < 0 {
					negative++
				}
			}
		}
	}
	if negative < 20 {
		t.Fatalf("only %d negative entries: the test would not see lost signs", negative)
	}
	s, err := mustCriterion(t, "synflow").Scores(ScoreContext{Net: net, Set: set})
	if err != nil {
		t.Fatal(err)
	}
	if len(s) != len(set) {
		t.Fatalf("%d score tensors", len(s))
	}
	after, err := net.State()
	if err != nil {
		t.Fatal(err)
	}
	for name, want := range before.Tensors {
		if !sameBits(after.Tensors[name], want) {
			t.Errorf("state tensor %s changed", name)
		}
	}
	if len(after.Tensors) != len(before.Tensors) {
		t.Errorf("%d state tensors after scoring, %d before", len(after.Tensors), len(before.Tensors))
	}
	for name, want := range before.Counters {
		if after.Counters[name] != want {
			t.Errorf("counter %s = %d, want %d", name, after.Counters[name], want)
		}
	}
	for _, p := range net.Params() {
		if !sameBits(p.Values(), vals[p.Info().Name]) {
			t.Errorf("θ of %s changed", p.Info().Name)
		}
		if net.Parametrization(p.Info().Name).Describe() == "" {
			t.Errorf("%s lost its parametrization", p.Info().Name)
		}
	}
}

func sameBits(a, b []float32) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if math.Float32bits(a[i]) != math.Float32bits(b[i]) {
			return false
		}
	}
	return true
}

// TestSynFlowRescaling checks the float32 overflow protection (see SynFlow).
// On the conv net (batch norm with non-trivial running statistics,
// biases, an option-A and an identity residual block) and on ResNet-20,
// the rescaled scores equal the plain float32 ones up to rounding. On a 45-layer ReLU
// chain whose R (about 10^50) overflows float32, plain scoring fails with
// an error naming float32, and the rescaled scores match the float64 hand
// computation S(W_l)_ij = |W_l,ij| · g_l,i · a_{l−1},j with a_l = |W_l| a_{l−1},
// a_0 = 1 and g_{l−1} = |W_l|ᵀ g_l, g_L = 1.
func TestSynFlowRescaling(t *testing.T) {
	t.Run("conv", func(t *testing.T) {
		arch := nntest.ConvNet()
		net := buildNative(t, arch, 0, 2)
		nntest.SetRandom(net, nntest.NewRand(17))
		st, err := net.State()
		if err != nil {
			t.Fatal(err)
		}
		rng := nntest.NewRand(18)
		for name, v := range st.Tensors {
			for i := range v {
				switch {
				case strings.HasSuffix(name, ".running_var"):
					v[i] = float32(0.5 + rng.Float64())
				case strings.HasSuffix(name, ".running_mean"):
					v[i] = float32(0.3 * rng.NormFloat64())
				}
			}
		}
		if err := net.SetState(st); err != nil {
			t.Fatal(err)
		}
		set := prunableSet(t, arch)
		ctx := ScoreContext{Net: net, Set: set}
		plain, rp, err := synflowScores(ctx, false)
		if err != nil {
			t.Fatal(err)
		}
		res, rr, err := synflowScores(ctx, true)
		if err != nil {
			t.Fatal(err)
		}
		if !relClose(rr, rp, 1e-5) {
			t.Errorf("R rescaled %.9g, plain %.9g", rr, rp)
		}
		for k, info := range set {
			var mx float64
			for _, v := range plain[k] {
				mx = math.Max(mx, v)
			}
			if mx == 0 {
				t.Fatalf("%s: all scores zero", info.Name)
			}
			for i := range plain[k] {
				if math.Abs(res[k][i]-plain[k][i]) > 1e-5*mx {
					t.Errorf("%s[%d]: rescaled %.9g, plain %.9g", info.Name, i, res[k][i], plain[k][i])
				}
			}
		}
	})

	// CIFAR ResNets (option-A shortcuts, batch norm): ResNet-20's R (about
	// 10^25) still fits float32, so the centered rescaling must agree with
	// plain scoring; ResNet-56's (10^70) fits only centered; ResNet-110's
	// trunk grows beyond what centering can hold, an error that names
	// float32.
	zoo := func(t *testing.T, model string) (nn.Net, []nn.ParamInfo) {
		arch, err := zoo.Build(model, zoo.Options{Input: []int{3, 32, 32}, Classes: 10})
		if err != nil {
			t.Fatal(err)
		}
		net := buildNative(t, arch, 0, 1)
		if err := nn.Initialize(net, zoo.DefaultInit(model), nntest.NewRand(19)); err != nil {
			t.Fatal(err)
		}
		return net, prunableSet(t, arch)
	}
	t.Run("resnet20", func(t *testing.T) {
		net, set := zoo(t, "resnet20")
		ctx := ScoreContext{Net: net, Set: set}
		plain, rp, err := synflowScores(ctx, false)
		if err != nil {
			t.Fatal(err)
		}
		res, rr, err := synflowScores(ctx, true)
		if err != nil {
			t.Fatal(err)
		}
		if rp < 1e20 || !relClose(rr, rp, 1e-4) {
			t.Errorf("R rescaled %.6g, plain %.6g (want above 1e20: growth the rescaling must center)", rr, rp)
		}
		for k, info := range set {
			var mx float64
			for _, v := range plain[k] {
				mx = math.Max(mx, v)
			}
			bad := 0
			for i := range plain[k] {
				if math.Abs(res[k][i]-plain[k][i]) > 1e-4*mx && bad < 3 {
					bad++
					t.Errorf("%s[%d]: rescaled %.6g, plain %.6g", info.Name, i, res[k][i], plain[k][i])
				}
			}
		}
	})
	t.Run("resnet56", func(t *testing.T) {
		// R ≈ 10^70: scored only when centered, with the residual
		// branches kept at the trunk's level.
		net, set := zoo(t, "resnet56")
		s, r, err := synflowScores(ScoreContext{Net: net, Set: set}, true)
		if err != nil {
			t.Fatal(err)
		}
		if r < 1e60 || math.IsInf(r, 0) {
			t.Errorf("R = %g, want about 1e70", r)
		}
		for k, info := range set {
			var sum float64
			for _, v := range s[k] {
				sum += v
			}
			if !(sum > 0) || math.IsInf(sum, 0) {
				t.Errorf("scores of %s sum to %g", info.Name, sum)
			}
		}
	})
	t.Run("resnet110", func(t *testing.T) {
		net, set := zoo(t, "resnet110")
		if _, err := (SynFlow{}).Scores(ScoreContext{Net: net, Set: set}); err == nil || !strings.Contains(err.Error(), "float32") {
			t.Errorf("synflow on resnet110: %v, want an error naming the float32 range", err)
		}
	})

	t.Run("deep", func(t *testing.T) {
		const depth, width = 45, 16
		arch := &nn.Arch{Name: "deep", Input: []int{width}, Classes: width}
		for l := 0; l < depth; l++ {
			if l > 0 {
				arch.Layers = append(arch.Layers, nn.ReLU{})
			}
			arch.Layers = append(arch.Layers, nn.Linear{Name: "fc" + string(rune('A'+l/26)) + string(rune('a'+l%26)), In: width, Out: width})
		}
		net := buildNative(t, arch, 0, 1)
		rng := rand.New(rand.NewPCG(3, 3))
		set := prunableSet(t, arch)
		ws := make([][]float32, depth)
		for l, info := range set {
			w := make([]float32, width*width)
			for i := range w {
				w[i] = float32(rng.NormFloat64())
			}
			net.Param(info.Name).SetValues(w)
			ws[l] = w
		}
		// Hand computation in float64.
		a := make([][]float64, depth+1)
		a[0] = make([]float64, width)
		for j := range a[0] {
			a[0][j] = 1
		}
		for l := 0; l < depth; l++ {
			a[l+1] = absMatVec(ws[l], a[l])
		}
		g := make([][]float64, depth)
		g[depth-1] = make([]float64, width)
		for i := range g[depth-1] {
			g[depth-1][i] = 1
		}
		for l := depth - 1; l > 0; l-- {
			g[l-1] = make([]float64, width)
			for o := 0; o < width; o++ {
				for j := 0; j < width; j++ {
					g[l-1][j] += math.Abs(float64(ws[l][o*width+j])) * g[l][o]
				}
			}
		}
		var r float64
		for _, v := range a[depth] {
			r += v
		}
		if r < 1e45 {
			t.Fatalf("R = %g: the chain does not overflow float32, the test is vacuous", r)
		}

		ctx := ScoreContext{Net: net, Set: set}
		if _, _, err := synflowScores(ctx, false); err == nil || !strings.Contains(err.Error(), "float32") {
			t.Errorf("plain float32 scoring of R = %g: %v, want an overflow error", r, err)
		}
		s, got, err := synflowScores(ctx, true)
		if err != nil {
			t.Fatal(err)
		}
		if !relClose(got, r, 1e-4) {
			t.Errorf("R = %.6g, by hand %.6g", got, r)
		}
		bad := 0
		for l := range set {
			for o := 0; o < width; o++ {
				for j := 0; j < width; j++ {
					want := math.Abs(float64(ws[l][o*width+j])) * g[l][o] * a[l][j]
					if !relClose(s[l][o*width+j], want, 1e-4) && bad < 5 {
						bad++
						t.Errorf("S(%s)[%d,%d] = %.6g, by hand %.6g", set[l].Name, o, j, s[l][o*width+j], want)
					}
				}
			}
		}
		// And the criterion's normalized float32 scores are finite.
		norm, err := SynFlow{}.Scores(ctx)
		if err != nil {
			t.Fatal(err)
		}
		for k := range norm {
			for _, v := range norm[k] {
				if math.IsNaN(float64(v)) || math.IsInf(float64(v), 0) {
					t.Fatalf("normalized score %v", v)
				}
			}
		}
	})
}

// TestSynFlowResidualChain checks the centering of residual trunks (see
// SynFlow) against float64: a stem Linear, 45 residual blocks
// y = ReLU(x + W_l x) with identity shortcuts and a head Linear, width 16,
// N(0, 1) weights. Each block multiplies the flow by about 14, so R is
// about 10^52: beyond float32 even with every free layer scaled, within
// it once centered. By hand (all entries positive, ReLUs the identity):
// a_l = (I + |W_l|) a_{l−1}, g_{l−1} = (I + |W_l|)ᵀ g_l, and
// S(W_l)_ij = |W_l,ij| · g_l,i · a_{l−1},j (for the stem and head, |W| in
// place of I + |W|).
func TestSynFlowResidualChain(t *testing.T) {
	const blocks, width, classes = 45, 16, 4
	arch := &nn.Arch{Name: "residual-chain", Input: []int{width}, Classes: classes,
		Layers: []nn.Layer{nn.Linear{Name: "stem", In: width, Out: width}}}
	for l := 0; l < blocks; l++ {
		name := "block" + string(rune('A'+l/26)) + string(rune('a'+l%26))
		arch.Layers = append(arch.Layers, nn.Residual{Name: name, Body: []nn.Layer{nn.Linear{Name: name + ".fc", In: width, Out: width}}}, nn.ReLU{})
	}
	arch.Layers = append(arch.Layers, nn.Linear{Name: "head", In: width, Out: classes})
	net := buildNative(t, arch, 0, 1)
	set := prunableSet(t, arch)
	rng := rand.New(rand.NewPCG(4, 4))
	ws := make([][]float32, len(set))
	for k, info := range set {
		w := make([]float32, info.Size())
		for i := range w {
			w[i] = float32(rng.NormFloat64())
		}
		net.Param(info.Name).SetValues(w)
		ws[k] = w
	}
	// Forward: a[k] is the input of tensor k; a[len] the logits.
	n := len(set)
	a := make([][]float64, n+1)
	a[0] = make([]float64, width)
	for j := range a[0] {
		a[0][j] = 1
	}
	residual := func(k int) bool { return k > 0 && k < n-1 }
	for k := 0; k < n; k++ {
		a[k+1] = absMatVec(ws[k], a[k])
		if residual(k) {
			for j := range a[k+1] {
				a[k+1][j] += a[k][j]
			}
		}
	}
	// Backward: g[k] is ∂R/∂(output of tensor k's layer).
	g := make([][]float64, n)
	g[n-1] = make([]float64, classes)
	for i := range g[n-1] {
		g[n-1][i] = 1
	}
	for k := n - 1; k > 0; k-- {
		rows, cols := len(g[k]), len(a[k])
		g[k-1] = make([]float64, cols)
		for o := 0; o < rows; o++ {
			for j := 0; j < cols; j++ {
				g[k-1][j] += math.Abs(float64(ws[k][o*cols+j])) * g[k][o]
			}
		}
		if residual(k) {
			for j := range g[k-1] {
				g[k-1][j] += g[k][j]
			}
		}
	}
	var r float64
	for _, v := range a[n] {
		r += v
	}
	if r < 1e45 {
		t.Fatalf("R = %g: the chain does not overflow float32, the test is vacuous", r)
	}
	ctx := ScoreContext{Net: net, Set: set}
	if _, _, err := synflowScores(ctx, false); err == nil {
		t.Errorf("plain float32 scoring of R = %g: no error", r)
	}
	s, got, err := synflowScores(ctx, true)
	if err != nil {
		t.Fatal(err)
	}
	if !relClose(got, r, 1e-4) {
		t.Errorf("R = %.6g, by hand %.6g", got, r)
	}
	bad := 0
	for k := range set {
		cols := len(a[k])
		for i, w := range ws[k] {
			o, j := i/cols, i%cols
			want := math.Abs(float64(w)) * g[k][o] * a[k][j]
			if !relClose(s[k][i], want, 1e-4) && bad < 5 {
				bad++
				t.Errorf("S(%s)[%d,%d] = %.6g, by hand %.6g", set[k].Name, o, j, s[k][i], want)
			}
		}
	}
}

func TestSynFlowErrors(t *testing.T) {
	arch := chainArch()
	net := buildNative(t, arch, 0, 1)
	set := prunableSet(t, arch)
	sf := mustCriterion(t, "synflow")
	if _, err := sf.Scores(ScoreContext{Net: net, Set: set, TrainMode: true}); err == nil || !strings.Contains(err.Error(), "evaluation mode") {
		t.Errorf("synflow in training mode: %v", err)
	}
	if _, err := sf.Scores(ScoreContext{Set: set}); err == nil {
		t.Error("synflow without a network: no error")
	}
	if _, err := sf.Scores(ScoreContext{Net: net}); err == nil {
		t.Error("synflow without a prunable set: no error")
	}
}
