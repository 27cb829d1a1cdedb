package datasets

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
)

// mnistFiles are the base names of the MNIST idx files; each may also be
// stored gzipped (name + ".gz"), as GoMNIST ships them.
var mnistFiles = [4]string{
	"train-images-idx3-ubyte", "train-labels-idx1-ubyte",
	"t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte",
}

// mnistDefaultVal is the LTH validation split: 5,000 of the 60,000 training
// images (docs/methods/conventions.md#early-stopping-and-model-selection).
const mnistDefaultVal = 5000

// idxPath returns dir/name.gz or, failing that, dir/name.
func idxPath(dir, name string) (string, error) {
	for _, p := range []string{filepath.Join(dir, name+".gz"), filepath.Join(dir, name)} {
		if st, err := os.Stat(p); err == nil && st.Mode().IsRegular() {
			return p, nil
		} else if err != nil && !errors.Is(err, fs.ErrNotExist) {
			return "", err
		}
	}
	return "", fmt.Errorf("MNIST: %s: no %s.gz or %s (want the four MNIST idx files %s, optionally gzipped)",
		dir, name, name, strings.Join(mnistFiles[:], ", "))
}

func init() { Register("mnist", loadMNIST) }

// loadMNIST reads the MNIST idx files from Options.Dir, or from MNISTDir
// when Dir is empty. Train is the 60,000 training images less a validation
// split of ValSize (default 5,000) drawn with SplitSeed; Test the 10,000 test
// images. Pixels are scaled to [0, 1] and normalized with MNISTMean/MNISTStd.
func loadMNIST(o Options) (*Splits, error) {
	if o.Augment != nil && *o.Augment {
		return nil, errors.New("mnist: no augmentation is defined for MNIST")
	}
	dir := o.Dir
	if dir == "" {
		var err error
		if dir, err = MNISTDir(); err != nil {
			return nil, err
		}
	}
	if st, err := os.Stat(dir); err != nil {
		return nil, fmt.Errorf("MNIST: data directory: %w", err)
	} else if !st.IsDir() {
		return nil, fmt.Errorf("MNIST: %s is not a directory", dir)
	}
	valSize, err := resolveValSize(o.ValSize, mnistDefaultVal)
	if err != nil {
		return nil, fmt.Errorf("mnist: %w", err)
	}
	mean, std, err := normStats(o, 1, MNISTMean, MNISTStd)
	if err != nil {
		return nil, fmt.Errorf("mnist: %w", err)
	}
	trainImg, trainLab, shape, err := readMNISTPair(dir, mnistFiles[0], mnistFiles[1], nil)
	if err != nil {
		return nil, err
	}
	testImg, testLab, _, err := readMNISTPair(dir, mnistFiles[2], mnistFiles[3], shape)
	if err != nil {
		return nil, err
	}
	tr, va, err := splitIndices(len(trainLab), valSize, o.SplitSeed)
	if err != nil {
		return nil, fmt.Errorf("mnist: %w", err)
	}
	sz := shape[1] * shape[2]
	mk := func(name string, img, lab []byte, idx []int) *Set {
		return imageSet(name, idx, append([]int(nil), shape...), 10, mean, std,
			func(i int) []byte { return img[i*sz : (i+1)*sz] },
			func(i int) int32 { return int32(lab[i]) })
	}
	sp := &Splits{
		Train: mk("mnist/train", trainImg, trainLab, tr),
		Test:  mk("mnist/test", testImg, testLab, seq(len(testLab))),
	}
	if valSize > 0 {
		sp.Val = mk("mnist/val", trainImg, trainLab, va)
	}
	return sp, nil
}

// readMNISTPair reads an image file and its label file and checks that they
// agree: as many labels as images, labels below 10, and (when want is given)
// the image size of the other pair. It returns shape [1 rows cols].
func readMNISTPair(dir, images, labels string, want []int) (img, lab []byte, shape []int, err error) {
	ip, err := idxPath(dir, images)
	if err != nil {
		return nil, nil, nil, err
	}
	lp, err := idxPath(dir, labels)
	if err != nil {
		return nil, nil, nil, err
	}
	idims, img, err := readIdxFile(ip, idxImagesMagic)
	if err != nil {
		return nil, nil, nil, fmt.Errorf("MNIST: %w", err)
	}
	ldims, lab, err := readIdxFile(lp, idxLabelsMagic)
	if err != nil {
		return nil, nil, nil, fmt.Errorf("MNIST: %w", err)
	}
	if idims[0] != ldims[0] {
		return nil, nil, nil, fmt.Errorf("MNIST: %s has %d images but %s has %d labels", ip, idims[0], lp, ldims[0])
	}
	if idims[0] == 0 || idims[1] == 0 || idims[2] == 0 {
		return nil, nil, nil, fmt.Errorf("MNIST: %s: no images (dimensions %v)", ip, idims)
	}
	shape = []int{1, idims[1], idims[2]}
	if want != nil && (want[1] != shape[1] || want[2] != shape[2]) {
		return nil, nil, nil, fmt.Errorf("MNIST: %s has %dx%d images, the training images are %dx%d", ip, shape[1], shape[2], want[1], want[2])
	}
	for i, l := range lab {
		if l > 9 {
			return nil, nil, nil, fmt.Errorf("MNIST: %s: label %d of example %d: want 0..9", lp, l, i)
		}
	}
	return img, lab, shape, nil
}
