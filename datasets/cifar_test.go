package datasets

import (
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// cifarPixel is the byte the generated files hold for record r (counted over
// the files in order), channel c, position j.
func cifarPixel(r, c, j int) byte { return byte(r*3 + c*7 + j) }

// writeCIFAR writes the six binary batches with perFile records each; record
// r has label r mod 10.
func writeCIFAR(t *testing.T, dir string, perFile int) {
	t.Helper()
	r := 0
	for _, f := range append(append([]string(nil), cifarTrainFiles...), cifarTestFile) {
		if f == cifarTestFile {
			r = 0
		}
		b := make([]byte, 0, perFile*cifarRecord)
		for range perFile {
			b = append(b, byte(r%10))
			for c := range 3 {
				for j := range 1024 {
					b = append(b, cifarPixel(r, c, j))
				}
			}
			r++
		}
		writeFile(t, filepath.Join(dir, f), b)
	}
}

func TestCIFAR10(t *testing.T) {
	t.Setenv(EnvCIFAR10Dir, "")
	dir := t.TempDir()
	writeCIFAR(t, dir, 20)
	sp, err := Load("cifar10", Options{Dir: dir, ValSize: -1, AllowSubset: true})
	if err != nil {
		t.Fatal(err)
	}
	if sp.Train.Len() != 100 || sp.Val != nil || sp.Test.Len() != 20 {
		t.Fatalf("sizes %d/%v/%d, want 100/nil/20", sp.Train.Len(), sp.Val, sp.Test.Len())
	}
	if sp.Augment != (Augment{PadCrop: 4, Flip: true}) {
		t.Errorf("augment %+v, want pad-crop 4 and flip", sp.Augment)
	}
	if !slices.Equal(sp.Train.Shape, []int{3, 32, 32}) || sp.Train.Classes != 10 {
		t.Fatalf("shape %v classes %d", sp.Train.Shape, sp.Train.Classes)
	}
	for _, tc := range []struct {
		set  *Set
		r, c int
		j    int
	}{
		{sp.Train, 0, 0, 0}, {sp.Train, 37, 1, 500}, {sp.Train, 99, 2, 1023}, {sp.Test, 5, 2, 31},
	} {
		want := (float64(cifarPixel(tc.r, tc.c, tc.j))/255 - CIFAR10Mean[tc.c]) / CIFAR10Std[tc.c]
		got := tc.set.X[tc.r*3072+tc.c*1024+tc.j]
		if math.Abs(float64(got)-want) > 1e-6 {
			t.Errorf("%s record %d channel %d pixel %d: %v, want %v", tc.set.Name, tc.r, tc.c, tc.j, got, want)
		}
		if tc.set.Y[tc.r] != int32(tc.r%10) {
			t.Errorf("%s record %d: label %d, want %d", tc.set.Name, tc.r, tc.set.Y[tc.r], tc.r%10)
		}
	}

	// Default validation split, augmentation off, open_lth's ImageNet stats.
	off := false
	sp, err = Load("cifar10", Options{Dir: dir, ValSize: 10, SplitSeed: 5, Augment: &off, Mean: ImageNetMean, Std: ImageNetStd, AllowSubset: true})
	if err != nil {
		t.Fatal(err)
	}
	if sp.Train.Len() != 90 || sp.Val.Len() != 10 || sp.Augment.On() {
		t.Fatalf("sizes %d/%d, augment %+v", sp.Train.Len(), sp.Val.Len(), sp.Augment)
	}
	tr, va, _ := splitIndices(100, 10, 5)
	for _, tc := range []struct {
		set *Set
		k   int // example in the set
		r   int // record in the files
	}{{sp.Train, 0, tr[0]}, {sp.Train, 89, tr[89]}, {sp.Val, 3, va[3]}} {
		want := float32((float64(cifarPixel(tc.r, 1, 0))/255 - 0.456) / 0.224)
		if got := tc.set.X[tc.k*3072+1024]; got != want {
			t.Errorf("%s example %d (record %d): ImageNet-normalized pixel %v, want %v", tc.set.Name, tc.k, tc.r, got, want)
		}
		if tc.set.Y[tc.k] != int32(tc.r%10) {
			t.Errorf("%s example %d: label %d, want %d", tc.set.Name, tc.k, tc.set.Y[tc.k], tc.r%10)
		}
	}
}

func TestCIFAR10Errors(t *testing.T) {
	t.Setenv(EnvCIFAR10Dir, "")
	for _, tc := range []struct {
		name    string
		setup   func(dir string) string // returns Dir
		o       Options
		wantErr []string
	}{
		{"no dir", func(string) string { return "" }, Options{AllowSubset: true}, []string{"no data directory", "data_batch_1.bin", "test_batch.bin"}},
		{"missing dir", func(string) string { return "/nonexistent/cifar" }, Options{AllowSubset: true}, []string{"/nonexistent/cifar", "data_batch_1.bin"}},
		{"missing file", func(dir string) string {
			os.Remove(filepath.Join(dir, "data_batch_3.bin"))
			return dir
		}, Options{AllowSubset: true}, []string{"data_batch_3.bin does not exist", "CIFAR-10 binary version"}},
		{"wrong size", func(dir string) string {
			writeFile(t, filepath.Join(dir, "test_batch.bin"), make([]byte, 2*cifarRecord+5))
			return dir
		}, Options{AllowSubset: true}, []string{"test_batch.bin has 6151 bytes", "multiple of 3073"}},
		{"empty file", func(dir string) string {
			writeFile(t, filepath.Join(dir, "data_batch_2.bin"), nil)
			return dir
		}, Options{AllowSubset: true}, []string{"data_batch_2.bin has 0 bytes"}},
		{"bad label", func(dir string) string {
			b := make([]byte, 3*cifarRecord)
			b[2*cifarRecord] = 10
			writeFile(t, filepath.Join(dir, "data_batch_5.bin"), b)
			return dir
		}, Options{AllowSubset: true}, []string{"data_batch_5.bin: record 2 has label 10"}},
		{"val too large", func(dir string) string { return dir }, Options{AllowSubset: true}, []string{"validation size 5000"}},
		{"not the real batches", func(dir string) string { return dir }, Options{ValSize: 1}, []string{"data_batch_1.bin has 4 images", "10000", "dataset.allow_subset"}},
		{"normalize conflict", func(dir string) string { return dir }, Options{ValSize: 1, NoNormalize: true, Mean: CIFAR10Mean, Std: CIFAR10Std, AllowSubset: true}, []string{"NoNormalize"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			writeCIFAR(t, dir, 4)
			o := tc.o
			o.Dir = tc.setup(dir)
			_, err := Load("cifar10", o)
			if err == nil {
				t.Fatalf("no error, want one containing %q", tc.wantErr)
			}
			for _, w := range tc.wantErr {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q: want it to contain %q", err, w)
				}
			}
		})
	}
	// The environment variable stands in for Dir.
	dir := t.TempDir()
	writeCIFAR(t, dir, 4)
	t.Setenv(EnvCIFAR10Dir, dir)
	if sp, err := Load("cifar10", Options{ValSize: 2, AllowSubset: true}); err != nil || sp.Train.Len() != 18 {
		t.Errorf("%s: %v", EnvCIFAR10Dir, err)
	}
}
