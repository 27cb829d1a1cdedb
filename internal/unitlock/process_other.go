//go:build !unix

package unitlock

// processAlive cannot tell on this system: a holder on this host counts as
// alive, and the HeldError says which file to delete.
func processAlive(pid int, start uint64) bool { return true }

func processStart(pid int) uint64 { return 0 }
