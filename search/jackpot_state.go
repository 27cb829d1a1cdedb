package search

import (
	"encoding/gob"
	"fmt"
	"os"
	"slices"

	"github.com/prunebench/prunebench/internal/atomicfile"
)

// The score state of a search lives outside the net's State (the net
// forwards a plain mask): SaveState writes it, LoadState restores it, so an
// interrupted search resumes with its scores and their momentum rather than
// restarting them. The pipeline saves it at every evaluation and on
// interruption, named by the step count, and loads the one whose step count
// is the checkpoint's iteration.

// jackpotStateFile is the file format (gob): the config is stored to refuse a
// state written by a different search.
type jackpotStateFile struct {
	Config   JackpotConfig
	Iter     int
	Names    []string
	Scores   [][]float32
	Momentum [][]float32
	Masks    [][]float32
}

// SaveState writes the search state to path atomically (atomicfile), so a
// crash never leaves half a state under path.
func (j *Jackpot) SaveState(path string) error {
	st := jackpotStateFile{Config: j.Config, Iter: j.Iter, Names: j.Names, Scores: j.Scores, Momentum: j.Momentum, Masks: j.Masks}
	return atomicfile.Write(path, func(f *os.File) error { return gob.NewEncoder(f).Encode(&st) })
}

// LoadState replaces j's scores, momentum, masks and step count with those
// saved at path. The file must come from a search of the same tensors,
// sizes, kept counts and config; otherwise nothing changes and the error
// names the file.
func (j *Jackpot) LoadState(path string) error {
	f, err := os.Open(path)
	if err != nil {
		return fmt.Errorf("jackpot state: %w", err)
	}
	defer f.Close()
	var st jackpotStateFile
	if err := gob.NewDecoder(f).Decode(&st); err != nil {
		return fmt.Errorf("jackpot state %s is unreadable: %v", path, err)
	}
	if st.Config != j.Config {
		return fmt.Errorf("jackpot state %s was written with %+v, this search has %+v", path, st.Config, j.Config)
	}
	if !slices.Equal(st.Names, j.Names) || len(st.Scores) != len(j.Names) || len(st.Momentum) != len(j.Names) || len(st.Masks) != len(j.Names) {
		return fmt.Errorf("jackpot state %s searches %v, this search %v", path, st.Names, j.Names)
	}
	for i, name := range j.Names {
		n := len(j.Scores[i])
		if len(st.Scores[i]) != n || len(st.Momentum[i]) != n || len(st.Masks[i]) != n {
			return fmt.Errorf("jackpot state %s: %s has the wrong size (want %d entries)", path, name, n)
		}
		if k := jackpotOnes(st.Masks[i]); k != j.keep[i] {
			return fmt.Errorf("jackpot state %s: %s keeps %d entries, this search %d", path, name, k, j.keep[i])
		}
	}
	j.Iter, j.Scores, j.Momentum, j.Masks = st.Iter, st.Scores, st.Momentum, st.Masks
	return nil
}

func jackpotOnes(m []float32) int {
	k := 0
	for _, v := range m {
		if v == 1 {
			k++
		}
	}
	return k
}
