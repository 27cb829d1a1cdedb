package experiments

import (
	"bufio"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/prunebench/prunebench/internal/atomicfile"
	"github.com/prunebench/prunebench/nn"
)

// Provenance is what a unit's folder records about the machine and build
// that finished it: what is needed to judge its timings and reproduce it.
type Provenance struct {
	Version    string    `yaml:"prunebench_version"`
	GoVersion  string    `yaml:"go_version"`
	OS         string    `yaml:"os"`
	Arch       string    `yaml:"arch"`
	CPU        string    `yaml:"cpu"`
	Cores      int       `yaml:"cores"`
	GOMAXPROCS int       `yaml:"gomaxprocs"`
	Backend    string    `yaml:"backend"`
	Finished   time.Time `yaml:"finished"`
}

// Machine returns the provenance of this process for the backend
// registered as name. Backends that implement Describe() string (the
// native engine names its GEMM) say more about themselves.
func Machine(name string, b nn.Backend) Provenance {
	p := Provenance{Version: Version, GoVersion: runtime.Version(), OS: runtime.GOOS, Arch: runtime.GOARCH,
		CPU: cpuModel(), Cores: runtime.NumCPU(), GOMAXPROCS: runtime.GOMAXPROCS(0), Backend: name,
		Finished: time.Now().UTC().Truncate(time.Second)}
	if d, ok := b.(interface{ Describe() string }); ok {
		p.Backend = d.Describe()
	}
	return p
}

func writeProvenance(dir, name string, b nn.Backend) error {
	return atomicfile.Write(filepath.Join(dir, "provenance.yaml"), func(f *os.File) error {
		return yaml.NewEncoder(f).Encode(Machine(name, b))
	})
}

// cpuModel reads the CPU's model name (Linux); "unknown" elsewhere.
func cpuModel() string {
	f, err := os.Open("/proc/cpuinfo")
	if err != nil {
		return "unknown"
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if k, v, ok := strings.Cut(sc.Text(), ":"); ok && strings.TrimSpace(k) == "model name" {
			return strings.TrimSpace(v)
		}
	}
	return "unknown"
}
