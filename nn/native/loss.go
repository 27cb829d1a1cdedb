package native

import (
	"fmt"
	"math"
)

// softmaxCrossEntropy returns the mean over n examples of the cross-entropy
// of softmax(logits/temperature) against the labels y, and writes the
// gradient of that mean with respect to the logits into dlogits (skipped when
// dlogits is nil):
//
//	dL/dzᵢⱼ = (softmax(zᵢ/T)ⱼ − [j = yᵢ]) / (n·T)
//
// logits and dlogits are n×classes row-major. Each row is computed in float64
// after subtracting its maximum, so large logits do not overflow; the loss is
// summed over rows in order. A zero temperature means 1. It panics on a label outside [0, classes).
func softmaxCrossEntropy(dlogits, logits []float32, y []int32, n, classes int, temperature float32) (meanLoss float64) {
	if temperature == 0 {
		temperature = 1
	}
	invT := 1 / float64(temperature)
	gscale := invT / float64(n)
	var sum float64
	for i := 0; i < n; i++ {
		row := logits[i*classes : (i+1)*classes]
		label := int(y[i])
		if label < 0 || label >= classes {
			panic(fmt.Sprintf("native: label %d of example %d outside [0, %d)", label, i, classes))
		}
		mx := row[0]
		for _, v := range row[1:] {
			if v > mx {
				mx = v
			}
		}
		m := float64(mx) * invT
		var se float64
		for _, v := range row {
			se += math.Exp(float64(v)*invT - m)
		}
		lse := math.Log(se) // log Σ exp(z/T − max)
		sum += lse - (float64(row[label])*invT - m)
		if dlogits != nil {
			drow := dlogits[i*classes : (i+1)*classes]
			for j, v := range row {
				p := math.Exp(float64(v)*invT - m - lse)
				if j == label {
					p--
				}
				drow[j] = float32(p * gscale)
			}
		}
	}
	return sum / float64(n)
}

// correctCount returns how many of the n rows of logits (n×classes) have
// their largest entry at the label; ties go to the lowest class index.
func correctCount(logits []float32, y []int32, n, classes int) int {
	correct := 0
	for i := 0; i < n; i++ {
		row := logits[i*classes : (i+1)*classes]
		best := 0
		for j := 1; j < classes; j++ {
			if row[j] > row[best] {
				best = j
			}
		}
		if int32(best) == y[i] {
			correct++
		}
	}
	return correct
}
