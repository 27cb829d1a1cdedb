package main

import (
	"strings"
	"testing"

	"github.com/spf13/cobra"
)

// TestEveryCommandHasAnExample: the help of prunebench and of each of its
// commands shows at least one example line that runs that command.
func TestEveryCommandHasAnExample(t *testing.T) {
	var walk func(c *cobra.Command)
	walk = func(c *cobra.Command) {
		if c.Hidden || c.Name() == "help" || c.Name() == "completion" {
			return
		}
		path := c.CommandPath() // e.g. "prunebench sweep"
		found := false
		for _, line := range strings.Split(c.Example, "\n") {
			if strings.Contains(line, path) {
				found = true
			}
		}
		if !found {
			t.Errorf("%s: no example line that runs %q in its help", path, path)
		}
		for _, sub := range c.Commands() {
			walk(sub)
		}
	}
	walk(newRootCmd())
}
