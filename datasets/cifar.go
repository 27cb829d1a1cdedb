package datasets

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
)

// CIFAR-10 binary version (https://www.cs.toronto.edu/~kriz/cifar.html):
// each record is one label byte then 3,072 pixel bytes, the 1,024 red, then
// green, then blue values of a 32x32 image in row-major order (CHW).
const (
	cifarRecord     = 1 + 3*32*32
	cifarDefaultVal = 5000 // 45,000 / 5,000 (docs/methods/conventions.md#early-stopping-and-model-selection)
	// EnvCIFAR10Dir names an environment variable read when Options.Dir is
	// empty, so that a machine's CIFAR-10 location need not be in every
	// config.
	EnvCIFAR10Dir = "PRUNEBENCH_CIFAR10_DIR"
)

var (
	cifarTrainFiles = []string{"data_batch_1.bin", "data_batch_2.bin", "data_batch_3.bin", "data_batch_4.bin", "data_batch_5.bin"}
	cifarTestFile   = "test_batch.bin"
	cifarExpect     = "CIFAR-10 binary version: data_batch_1.bin ... data_batch_5.bin and test_batch.bin (cifar-10-batches-bin)"
)

// CIFAR10Augment is the standard CIFAR-10 training augmentation (open_lth,
// GraNet, BiP): pad 4 and random 32x32 crop, random horizontal flip.
var CIFAR10Augment = Augment{PadCrop: 4, Flip: true}

func init() { Register("cifar10", loadCIFAR10) }

// loadCIFAR10 reads the binary batches from Options.Dir (or
// $PRUNEBENCH_CIFAR10_DIR). Train is the 50,000 training images (batches 1
// to 5, in that order) less a validation split of ValSize (default 5,000)
// drawn with SplitSeed. Pixels are scaled to [0, 1] and normalized per
// channel with CIFAR10Mean/CIFAR10Std unless Options say otherwise.
func loadCIFAR10(o Options) (*Splits, error) {
	dir := o.Dir
	if dir == "" {
		dir = os.Getenv(EnvCIFAR10Dir)
	}
	if dir == "" {
		return nil, fmt.Errorf("cifar10: no data directory: set dataset.dir or %s to the directory with the %s", EnvCIFAR10Dir, cifarExpect)
	}
	if st, err := os.Stat(dir); err != nil {
		return nil, fmt.Errorf("cifar10: data directory: %w (want the %s)", err, cifarExpect)
	} else if !st.IsDir() {
		return nil, fmt.Errorf("cifar10: %s is not a directory (want the %s)", dir, cifarExpect)
	}
	valSize, err := resolveValSize(o.ValSize, cifarDefaultVal)
	if err != nil {
		return nil, fmt.Errorf("cifar10: %w", err)
	}
	mean, std, err := normStats(o, 3, CIFAR10Mean, CIFAR10Std)
	if err != nil {
		return nil, fmt.Errorf("cifar10: %w", err)
	}
	aug := CIFAR10Augment
	if o.Augment != nil && !*o.Augment {
		aug = Augment{}
	}
	var train []byte
	for _, f := range cifarTrainFiles {
		b, err := readCIFARFile(filepath.Join(dir, f), o.AllowSubset)
		if err != nil {
			return nil, err
		}
		train = append(train, b...)
	}
	test, err := readCIFARFile(filepath.Join(dir, cifarTestFile), o.AllowSubset)
	if err != nil {
		return nil, err
	}
	tr, va, err := splitIndices(len(train)/cifarRecord, valSize, o.SplitSeed)
	if err != nil {
		return nil, fmt.Errorf("cifar10: %w", err)
	}
	mk := func(name string, recs []byte, idx []int) *Set {
		return imageSet(name, idx, []int{3, 32, 32}, 10, mean, std,
			func(i int) []byte { return recs[i*cifarRecord+1 : (i+1)*cifarRecord] },
			func(i int) int32 { return int32(recs[i*cifarRecord]) })
	}
	sp := &Splits{
		Train:   mk("cifar10/train", train, tr),
		Test:    mk("cifar10/test", test, seq(len(test)/cifarRecord)),
		Augment: aug,
	}
	if valSize > 0 {
		sp.Val = mk("cifar10/val", train, va)
	}
	return sp, nil
}

// cifarBatchImages is the number of images in each of CIFAR-10's six binary
// batches.
const cifarBatchImages = 10000

// readCIFARFile reads one binary batch and checks its size and labels: the
// 10,000 images of CIFAR-10's batches, or any positive number with subset
// (a subset on purpose, or test data).
func readCIFARFile(path string, subset bool) ([]byte, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return nil, fmt.Errorf("cifar10: %s does not exist (want the %s)", path, cifarExpect)
		}
		return nil, fmt.Errorf("cifar10: %w", err)
	}
	if len(b) == 0 || len(b)%cifarRecord != 0 {
		return nil, fmt.Errorf("cifar10: %s has %d bytes: want a positive multiple of %d (1 label byte + 3072 pixel bytes per record)", path, len(b), cifarRecord)
	}
	if n := len(b) / cifarRecord; n != cifarBatchImages && !subset {
		return nil, fmt.Errorf("cifar10: %s has %d images; each CIFAR-10 batch has %d (a truncated or different file?); set dataset.allow_subset: true to train on a subset on purpose", path, n, cifarBatchImages)
	}
	for i := 0; i < len(b); i += cifarRecord {
		if b[i] > 9 {
			return nil, fmt.Errorf("cifar10: %s: record %d has label %d: want 0..9", path, i/cifarRecord, b[i])
		}
	}
	return b, nil
}
