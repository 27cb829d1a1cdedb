package main

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"github.com/spf13/cobra"

	"github.com/prunebench/prunebench/experiments"
	"github.com/prunebench/prunebench/export"
)

// maxUnitIndex bounds export's --level and --replicate: far above the
// levels and replicates of any run (an IMP run of 30 rounds has 31 levels),
// and still a refusal of a typo such as --level 1e9 before any file is read.
const maxUnitIndex = 1 << 20

func newExportCmd() *cobra.Command {
	var output, file, branch, format string
	var level, replicate int
	var materialize bool
	cmd := &cobra.Command{
		Use:   "export RUN -o FILE.safetensors",
		Short: "Write a finished unit's network as a safetensors file",
		Long: `Write the network of a finished unit (a level of a replicate, or a branch
off it) as a safetensors file: its final weights, from the checkpoint in the
unit's folder OUTPUT/RUN/replicate_R/level_L[/branch_B]. RUN is the run's
hash (the name of its folder under OUTPUT) or enough of its start to name one
run; "prunebench ls" lists them. A unit is finished when its folder holds
result.yaml.

--format dense (the default) writes every parameter and buffer whole under
its PyTorch name, pruned entries as 0, and each mask as a U8 tensor
"<name>.mask". --format bitmask writes each masked weight in the
sparse-bitmask layout of compressed-tensors (kept values, a packed bitmask and
row offsets): at 2% of the weights kept, about 5% of the dense file. A shared
(rps) model is written as its shared array and its mapper's seed and settings;
--materialize writes its virtual weights densely instead. The metadata holds
the sparsity report (per prunable tensor and in total), the format and the
unit. docs/export.md describes the formats and how to load a file back.`,
		Example: `  prunebench export 3f2a9c --level 5 -o lenet-level5.safetensors
  prunebench export 3f2a9c --level 5 --format bitmask -o lenet-level5.bitmask.safetensors
  prunebench export 3f2a9c41d07e --replicate 1 --level 2 --branch random_reinit --output runs -o branch.safetensors`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if file == "" {
				return errors.New("-o FILE is required: the safetensors file to write")
			}
			f, err := export.ParseFormat(format)
			if err != nil {
				return fmt.Errorf("--%w", err)
			}
			if dir := filepath.Dir(file); !isFolder(dir) {
				return fmt.Errorf("-o %s: folder %s does not exist; create it first", file, dir)
			}
			u, err := export.OpenUnit(output, args[0], replicate, level, branch)
			if err != nil {
				return err
			}
			o := export.Options{Format: f, Metadata: u.Metadata(), Mapper: u.Mapper, Materialize: materialize}
			if err := export.Write(file, u.Net, o); err != nil {
				return err
			}
			written, err := export.ReadFile(file)
			if err != nil {
				return err
			}
			rep, err := written.Report()
			if err != nil {
				return err
			}
			fi, err := os.Stat(file)
			if err != nil {
				return err
			}
			fmt.Fprintf(cmd.ErrOrStderr(), "wrote %s (%s, %d bytes): %s of run %s, %d of %d prunable weights kept (density %.4g)\n",
				file, written.Metadata[export.KeyFormat], fi.Size(), unitLabel(u), u.Hash, rep.Kept, rep.Total, rep.Density)
			return nil
		},
	}
	fl := cmd.Flags()
	fl.StringVarP(&file, "file", "o", "", "the safetensors file to write (required; its folder must exist)")
	fl.StringVar(&output, "output", experiments.Defaults().Output, "the output folder that holds the run folders")
	intFlag(fl, &level, "level", "", 0, 0, maxUnitIndex, "the level to export")
	intFlag(fl, &replicate, "replicate", "", 0, 0, maxUnitIndex, "the replicate to export")
	fl.StringVar(&branch, "branch", "", "the branch off the level to export (empty: the level itself)")
	fl.StringVar(&format, "format", string(export.Dense), "dense (every tensor whole, masks as U8) or bitmask (masked weights as compressed-tensors sparse-bitmask)")
	fl.BoolVar(&materialize, "materialize", false, "write a shared (rps) model's virtual weights densely instead of its shared array and mapper")
	return cmd
}

// unitLabel names a unit: "replicate R level L[ branch B]".
func unitLabel(u *export.Unit) string {
	s := fmt.Sprintf("replicate %d level %d", u.Replicate, u.Level)
	if u.Branch != "" {
		s += " branch " + u.Branch
	}
	return s
}

// isFolder reports whether path is an existing folder.
func isFolder(path string) bool {
	fi, err := os.Stat(path)
	return err == nil && fi.IsDir()
}
