package optkernel

import "fmt"

// AdamConsts are the per-step constants of an Adam or AdamW update (the
// assembly reads them by offset: keep the order).
type AdamConsts struct {
	WD, Decay            float32 // coupled weight decay (adam; 0 for adamw), θ factor 1 − lr·wd (adamw; 1 for adam)
	B1, C1, B2, C2       float32 // β1, 1−β1, β2, 1−β2
	StepSize, InvSqrtBc2 float32 // lr/(1−β1ᵗ), 1/sqrt(1−β2ᵗ)
	Eps                  float32
}

// Impl names the kernels in use, chosen once at package initialization:
// "avx2" (Go assembly, on amd64 CPUs with AVX2 and FMA) or "go" (the
// fallback, and the only one under -tags noasm or on other architectures).
var Impl = implName()

// useAsm selects the assembly kernels; tests switch it off to run the Go
// loops on the same data.
var useAsm = asmAvailable

// need panics unless every operand holds at least n entries (a nil mask is
// not an operand), for the assembly and the Go loops alike: the Go loops
// reslice to n, which would read past a short slice's length into its
// capacity.
func need(n int, ops ...[]float32) {
	for _, o := range ops {
		if o != nil && len(o) < n {
			panic(fmt.Sprintf("optkernel: an operand has %d entries, θ has %d", len(o), n))
		}
	}
}

func implName() string {
	if asmAvailable {
		return "avx2"
	}
	return "go"
}

// SGD updates every entry: θ ← θ − lr·(g⊙m + wd·θ), with g⊙m = g when m is
// nil. g and m must be at least as long as θ.
func SGD(th, g, m []float32, lr, wd float32) {
	n := len(th)
	need(n, g, m)
	if !useAsm || n == 0 {
		sgdGo(th, g, m, lr, wd)
		return
	}
	if m == nil {
		sgdAVX2(n, &th[0], &g[0], lr, wd)
		return
	}
	sgdMaskedAVX2(n, &th[0], &g[0], &m[0], lr, wd)
}

// Momentum updates every entry with heavy-ball momentum: b ← μ·v + (g⊙m +
// wd·θ); v ← b; θ ← θ − lr·b. A nil m is the dense gradient.
func Momentum(th, g, m, v []float32, lr, wd, mu float32) {
	n := len(th)
	need(n, g, m, v)
	if !useAsm || n == 0 {
		momentumGo(th, g, m, v, lr, wd, mu)
		return
	}
	if m == nil {
		momentumAVX2(n, &th[0], &g[0], &v[0], lr, wd, mu)
		return
	}
	momentumMaskedAVX2(n, &th[0], &g[0], &m[0], &v[0], lr, wd, mu)
}

// Nesterov updates every entry with Nesterov momentum: g' ← g⊙m + wd·θ;
// b ← μ·v + g'; v ← b; θ ← θ − lr·(g' + μ·b). A nil m is the dense
// gradient.
func Nesterov(th, g, m, v []float32, lr, wd, mu float32) {
	n := len(th)
	need(n, g, m, v)
	if !useAsm || n == 0 {
		nesterovGo(th, g, m, v, lr, wd, mu)
		return
	}
	if m == nil {
		nesterovAVX2(n, &th[0], &g[0], &v[0], lr, wd, mu)
		return
	}
	nesterovMaskedAVX2(n, &th[0], &g[0], &m[0], &v[0], lr, wd, mu)
}

// Adam updates every entry: g' ← g⊙m + wd·θ; s1 ← β1·s1 + (1−β1)·g';
// s2 ← β2·s2 + (1−β2)·g'²; θ ← θ·decay − stepSize·s1 / (sqrt(s2)·
// invSqrtBc2 + ε). A nil m is the dense gradient.
func Adam(th, g, m, s1, s2 []float32, c *AdamConsts) {
	n := len(th)
	need(n, g, m, s1, s2)
	if !useAsm || n == 0 {
		adamGo(th, g, m, s1, s2, c)
		return
	}
	if m == nil {
		adamAVX2(n, &th[0], &g[0], &s1[0], &s2[0], c)
		return
	}
	adamMaskedAVX2(n, &th[0], &g[0], &m[0], &s1[0], &s2[0], c)
}

// SGDAlive is SGD with the dense gradient on the entries listed in alive
// only.
func SGDAlive(th, g []float32, alive []int32, lr, wd float32) {
	sgdAliveGo(th, g, alive, lr, wd)
}

// MomentumAlive is Momentum with the dense gradient on the entries listed
// in alive only.
func MomentumAlive(th, g, v []float32, alive []int32, lr, wd, mu float32) {
	momentumAliveGo(th, g, v, alive, lr, wd, mu)
}

// NesterovAlive is Nesterov with the dense gradient on the entries listed
// in alive only.
func NesterovAlive(th, g, v []float32, alive []int32, lr, wd, mu float32) {
	nesterovAliveGo(th, g, v, alive, lr, wd, mu)
}

// AdamAlive is Adam with the dense gradient on the entries listed in alive
// only.
func AdamAlive(th, g, s1, s2 []float32, alive []int32, c *AdamConsts) {
	adamAliveGo(th, g, s1, s2, alive, c)
}

// The kept-entry loops take the gradient compact, as the native engine's
// sparse backward leaves it: gk[j] is the gradient of entry pos[j]. They
// update the same entries with the same arithmetic as the alive loops, so
// the results are bit for bit the same; they save the scatter of gk into
// the dense gradient and its reads at random positions.

// SGDKept is SGDAlive with the compact gradient gk of the entries pos.
func SGDKept(th, gk []float32, pos []int32, lr, wd float32) {
	sgdKeptGo(th, gk[:len(pos)], pos, lr, wd)
}

// MomentumKept is MomentumAlive with the compact gradient gk of the
// entries pos.
func MomentumKept(th, gk, v []float32, pos []int32, lr, wd, mu float32) {
	momentumKeptGo(th, gk[:len(pos)], v, pos, lr, wd, mu)
}

// NesterovKept is NesterovAlive with the compact gradient gk of the
// entries pos.
func NesterovKept(th, gk, v []float32, pos []int32, lr, wd, mu float32) {
	nesterovKeptGo(th, gk[:len(pos)], v, pos, lr, wd, mu)
}

// AdamKept is AdamAlive with the compact gradient gk of the entries pos.
func AdamKept(th, gk, s1, s2 []float32, pos []int32, c *AdamConsts) {
	adamKeptGo(th, gk[:len(pos)], s1, s2, pos, c)
}
