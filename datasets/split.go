package datasets

import "fmt"

// splitIndices carves a validation set of valSize examples out of n training
// examples. The rule, fixed so that a split seed always names the same split:
// draw a permutation of [0, n) from the stream (seed, split, 0) (see rng.go);
// its first valSize entries are the validation examples. Both parts are then
// listed in ascending original order, so that each is a plain subset of the
// training file and does not depend on the order of the other. valSize 0
// gives all of [0, n) as train and no validation.
func splitIndices(n, valSize int, seed uint64) (train, val []int, err error) {
	if valSize < 0 || valSize >= n {
		return nil, nil, fmt.Errorf("validation size %d: want at least 0 and less than the %d training examples", valSize, n)
	}
	inVal := make([]bool, n)
	if valSize > 0 {
		p := permutation(newRand(seed, streamSplit, 0), n)
		for _, i := range p[:valSize] {
			inVal[i] = true
		}
	}
	train = make([]int, 0, n-valSize)
	val = make([]int, 0, valSize)
	for i, v := range inVal {
		if v {
			val = append(val, i)
		} else {
			train = append(train, i)
		}
	}
	return train, val, nil
}

// resolveValSize turns Options.ValSize into a count: 0 means the data set's
// default def, -1 means none.
func resolveValSize(v, def int) (int, error) {
	switch {
	case v == 0:
		return def, nil
	case v == -1:
		return 0, nil
	case v < -1:
		return 0, fmt.Errorf("dataset.val_size = %d: want a count, 0 for the default or -1 for none", v)
	}
	return v, nil
}

// splitSet splits a generated set into train and validation sets by
// splitIndices. val is nil when valSize is 0.
func splitSet(all *Set, base string, valSize int, seed uint64) (train, val *Set, err error) {
	tr, va, err := splitIndices(all.Len(), valSize, seed)
	if err != nil {
		return nil, nil, fmt.Errorf("%s: %w", base, err)
	}
	if valSize == 0 {
		all.Name = base + "/train"
		return all, nil, nil
	}
	train, val = all.Subset(tr), all.Subset(va)
	train.Name, val.Name = base+"/train", base+"/val"
	return train, val, nil
}
