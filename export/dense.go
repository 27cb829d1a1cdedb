package export

import "fmt"

// The dense format: every parameter and buffer as a F32 tensor under its
// PyTorch-style name ("fc1.weight", "bn1.running_mean"), pruned entries as
// 0, and each mask as a U8 tensor "<name>.mask" of the weight's shape (1
// kept, 0 pruned).

// MaskSuffix ends the name of a mask tensor in the dense format.
const MaskSuffix = ".mask"

// maskTensor is the U8 tensor "<name>.mask" of a 0/1 mask.
func maskTensor(name string, shape []int, mask []float32) Tensor {
	b := make([]uint8, len(mask))
	for i, m := range mask {
		if m != 0 {
			b[i] = 1
		}
	}
	return Uint8Tensor(name+MaskSuffix, shape, b)
}

// readMask decodes a mask tensor of the given shape: U8 entries 0 or 1.
func readMask(t Tensor, shape []int) ([]float32, error) {
	if err := t.check(U8, shape); err != nil {
		return nil, err
	}
	m := make([]float32, len(t.Data))
	for i, b := range t.Data {
		switch b {
		case 0:
		case 1:
			m[i] = 1
		default:
			return nil, fmt.Errorf("tensor %s: entry %d is %d, want 0 or 1", t.Name, i, b)
		}
	}
	return m, nil
}
