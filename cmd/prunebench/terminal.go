package main

import (
	"fmt"
	"io"
	"os"
	"strconv"

	"github.com/spf13/cobra"
	"golang.org/x/term"
)

// defaultTableWidth is the width tables fit when stdout is not a terminal
// and COLUMNS is not set: a pipe into less or a log file is read in a
// terminal of about that width.
const defaultTableWidth = 100

// wideFlag is the root's flag that lifts the width limit of tables.
const wideFlag = "wide"

// tableWidth is the width the command's tables fit: no limit (0) with
// --wide, else the COLUMNS environment variable, else the width of the
// terminal stdout is, else defaultTableWidth.
func tableWidth(cmd *cobra.Command) (int, error) {
	if f := cmd.Flag(wideFlag); f != nil && f.Value.String() == "true" {
		return 0, nil
	}
	return terminalWidth(os.Getenv("COLUMNS"), cmd.OutOrStdout())
}

// terminalWidth is the width given by columns (the COLUMNS variable), or
// else by the terminal out is, or else defaultTableWidth.
func terminalWidth(columns string, out io.Writer) (int, error) {
	if columns != "" {
		n, err := strconv.Atoi(columns)
		if err != nil || n <= 0 {
			return 0, fmt.Errorf("COLUMNS=%q: want a positive number of characters, the width of tables (or --wide for no limit)", columns)
		}
		return n, nil
	}
	if f, ok := out.(*os.File); ok && term.IsTerminal(int(f.Fd())) {
		if w, _, err := term.GetSize(int(f.Fd())); err == nil && w > 0 {
			return w, nil
		}
	}
	return defaultTableWidth, nil
}

// isTerminal reports whether w is a terminal: progress bars redraw their
// line with carriage returns, which only a terminal reads as intended.
func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	return ok && term.IsTerminal(int(f.Fd()))
}
