package repocheck

import (
	"bufio"
	"bytes"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// root is the repository root, two folders up from this package.
const root = "../.."

// deadCitation matches a citation of material that is not in the
// repository: the design notes the project was started from (a specs
// folder, a design document, the shared folder beside the checkout, and the
// notes' section references: a note's file name, then a section sign). The
// methods are explained in docs/methods and the layout in ARCHITECTURE.md;
// code and configs cite those, or the papers. The pattern is assembled from
// parts so that this file does not match itself.
var deadCitation = regexp.MustCompile(strings.Join([]string{
	`(^|[^A-Za-z0-9_.-])` + "spec" + `s/`,
	"DES" + `IGN\.md`,
	`\.\./` + "shar" + `ed`,
	`\b(lth|pai|bip|granet|layer-lottery|rps|baselines|anchors)\.md ` + "§",
}, "|"))

// TestNoDeadCitations fails on every line of a tracked file that cites a
// file outside the repository.
func TestNoDeadCitations(t *testing.T) {
	files := trackedFiles(t)
	if len(files) < 100 {
		t.Fatalf("found %d files under %s: not the repository root", len(files), root)
	}
	for _, f := range files {
		data, err := os.ReadFile(filepath.Join(root, f))
		if err != nil {
			t.Fatal(err)
		}
		if bytes.IndexByte(data, 0) >= 0 {
			continue // binary (plots)
		}
		sc := bufio.NewScanner(bytes.NewReader(data))
		sc.Buffer(nil, 1<<20)
		for n := 1; sc.Scan(); n++ {
			if m := deadCitation.FindString(sc.Text()); m != "" {
				t.Errorf("%s:%d cites %q, which is not in the repository: cite docs/methods, ARCHITECTURE.md or the paper", f, n, strings.TrimSpace(m))
			}
		}
	}
}

// The pattern catches the forms the old citations took, and leaves the
// repository's own documents alone.
func TestDeadCitationPattern(t *testing.T) {
	for _, s := range []string{
		"(" + "spec" + "s/pai.md " + "§3)",
		"see " + "DES" + "IGN.md",
		"`../" + "shared/" + "DES" + "IGN.md`",
		"layer-lottery.md " + "§4.1",
		"spec" + "s/README.md",
	} {
		if !deadCitation.MatchString(s) {
			t.Errorf("%q is not caught", s)
		}
	}
	for _, s := range []string{
		"(docs/methods/pai.md#grasp)",
		"ARCHITECTURE.md#extension-points",
		"experiments/papers/lth-lenet-mnist.yaml",
		"the SNIP paper's §4.2",
		"open_lth's pruning_layers_to_ignore",
	} {
		if deadCitation.MatchString(s) {
			t.Errorf("%q is caught", s)
		}
	}
}

// trackedFiles lists the repository's files: git's index when git is there,
// else every file under the root but .git and the build outputs.
func trackedFiles(t *testing.T) []string {
	t.Helper()
	if out, err := exec.Command("git", "-C", root, "ls-files", "-z").Output(); err == nil && len(out) > 0 {
		var files []string
		for _, f := range strings.Split(strings.TrimRight(string(out), "\x00"), "\x00") {
			if _, err := os.Stat(filepath.Join(root, f)); err == nil { // deleted but not yet committed
				files = append(files, f)
			}
		}
		return files
	}
	var files []string
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(root, path)
		if d.IsDir() {
			switch rel {
			case ".git", "build", "bin", "runs":
				return filepath.SkipDir
			}
			return nil
		}
		files = append(files, rel)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return files
}
