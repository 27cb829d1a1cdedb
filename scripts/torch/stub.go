//go:build ignore

// Command stub replaces the bodies of gotch's C functions that do not compile
// against the installed libtorch by a body that records an error naming the
// function, so that gotch builds against a libtorch other than the one it was
// generated for. It reads the compiler's diagnostics, finds for every error in
// the given files the function whose body contains the line, and rewrites
// those bodies. prepare.sh runs it until the files compile:
//
//	go run scripts/torch/stub.go -log errors.txt -version 2.11.0 torch_api_generated.cpp.h torch_api.cpp
//
// The files are the generated wrappers (atg_*) and gotch's hand-written C API
// (at_*, ato_*, ats_*, atc_*, atm_*, ati_*: tensors, optimizers, scalars,
// CUDA queries, TorchScript modules, IValues). It prints the stubbed
// functions, one per line, and exits with status 1 when the log has errors in
// the files but none inside a function body it can replace (nothing would
// change, so another compile would not help).
package main

import (
	"bufio"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
)

// A function starts at column 0 with its return type and a C API name. Its
// body opens on the first line (from the signature's) that ends with "{" and
// closes at the next line that is exactly "}" (gotch's layout), or the whole
// function is the signature's line when that line also ends with "}".
var signature = regexp.MustCompile(`^([A-Za-z_][\w:<>]*(?: *\*)?) *\b((?:atg|at|ato|ats|atc|atm|ati)_\w+)\(`)

type function struct {
	name, ret string
	start     int // 0-based line index of the signature
	open      int // line the body opens on (== start for one-line functions)
	end       int // line of the closing brace (== start for one-line functions)
}

func (f function) oneLine() bool { return f.end == f.start }

// contains reports whether an error on line l is inside the body.
func (f function) contains(l int) bool {
	if f.oneLine() {
		return l == f.start
	}
	return f.open < l && l < f.end
}

func main() {
	logPath := flag.String("log", "", "compiler diagnostics")
	version := flag.String("version", "?", "libtorch version, for the error message")
	flag.Parse()
	if flag.NArg() == 0 || *logPath == "" {
		fmt.Fprintln(os.Stderr, "usage: go run stub.go -log FILE [-version V] FILE.cpp...")
		os.Exit(2)
	}
	errs, stubbed := 0, 0
	for _, src := range flag.Args() {
		e, s, err := stubFile(src, *logPath, *version)
		if err != nil {
			fatal(err)
		}
		errs += e
		stubbed += s
	}
	if errs > 0 && stubbed == 0 {
		fmt.Fprintf(os.Stderr, "stub: %d errors in %s, none inside a function body that can be replaced\n", errs, strings.Join(flag.Args(), ", "))
		os.Exit(1)
	}
}

// stubFile rewrites the functions of src that the log has errors in and
// returns the number of error lines in src and of functions stubbed.
func stubFile(src, logPath, version string) (errs, stubbed int, err error) {
	data, err := os.ReadFile(src)
	if err != nil {
		return 0, 0, err
	}
	lines := strings.Split(string(data), "\n")
	fs := functions(lines)
	bad, err := errorLines(logPath, filepath.Base(src))
	if err != nil {
		return 0, 0, err
	}
	stub := map[int]bool{} // index into fs
	for _, l := range bad {
		i := sort.Search(len(fs), func(i int) bool { return fs[i].end >= l })
		if i < len(fs) && fs[i].contains(l) && !isStub(lines[fs[i].open]) && !(fs[i].open+1 < len(lines) && isStub(lines[fs[i].open+1])) {
			stub[i] = true
		}
	}
	if len(stub) == 0 {
		return len(bad), 0, nil
	}
	idx := make([]int, 0, len(stub))
	for i := range stub {
		idx = append(idx, i)
	}
	sort.Ints(idx)
	var out []string
	next := 0
	for _, i := range idx {
		f := fs[i]
		if f.oneLine() {
			out = append(out, lines[next:f.start]...)
			sig := lines[f.start][:strings.Index(lines[f.start], "{")]
			out = append(out, sig+"{")
			out = append(out, body(f, version)...)
			out = append(out, "}")
			next = f.end + 1
		} else {
			out = append(out, lines[next:f.open+1]...)
			out = append(out, body(f, version)...)
			next = f.end
		}
		fmt.Println(f.name)
	}
	out = append(out, lines[next:]...)
	return len(bad), len(idx), os.WriteFile(src, []byte(strings.Join(out, "\n")), 0o644)
}

func functions(lines []string) []function {
	var fs []function
	for i := 0; i < len(lines); i++ {
		m := signature.FindStringSubmatch(lines[i])
		if m == nil || strings.HasSuffix(strings.TrimSpace(lines[i]), ";") {
			continue
		}
		f := function{ret: strings.TrimSpace(m[1]), name: m[2], start: i, open: -1}
		if t := strings.TrimSpace(lines[i]); strings.Contains(t, "{") && strings.HasSuffix(t, "}") {
			f.open, f.end = i, i
			fs = append(fs, f)
			continue
		}
		for j := i; j < len(lines); j++ {
			if strings.HasSuffix(strings.TrimSpace(lines[j]), "{") {
				f.open = j
				break
			}
			if strings.HasSuffix(strings.TrimSpace(lines[j]), ";") {
				break // a declaration
			}
		}
		if f.open < 0 {
			continue
		}
		for j := f.open + 1; j < len(lines); j++ {
			if lines[j] == "}" {
				f.end = j
				break
			}
		}
		if f.end == 0 {
			break
		}
		fs = append(fs, f)
		i = f.end
	}
	return fs
}

const stubMark = "// prunebench stub:"

func isStub(line string) bool { return strings.Contains(line, stubMark) }

// body is the replacement body: it sets gotch's thread-local error, which
// the Go side returns as the op's error, and returns a zero value.
func body(f function, version string) []string {
	op := strings.TrimPrefix(f.name, "atg_")
	msg := fmt.Sprintf("gotch function %s does not compile against the installed libtorch %s and was replaced by this error when scripts/torch/prepare.sh built gotch; use a libtorch that gotch supports for this op", f.name, version)
	b := []string{
		"  " + stubMark + " " + op + " does not compile against libtorch " + version,
		"  torch_last_err = strdup(" + strconv.Quote(msg) + ");",
	}
	switch {
	case f.ret == "void":
	case strings.Contains(f.ret, "*"), f.ret == "tensor", f.ret == "scalar", f.ret == "module",
		f.ret == "ivalue", f.ret == "optimizer":
		b = append(b, "  return nullptr;")
	default:
		b = append(b, "  return 0;")
	}
	return b
}

// errorLines returns the 0-based numbers of the lines of file that the log
// reports errors at: "file:LINE:COL: error: ..." or a template's
// "file:LINE:COL:   required from here" note.
func errorLines(path, file string) ([]int, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	re := regexp.MustCompile(`(?:^|[/ ])` + regexp.QuoteMeta(file) + `:(\d+):\d+:\s+(error|required from here)`)
	var ls []int
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 1<<24)
	for sc.Scan() {
		for _, m := range re.FindAllStringSubmatch(sc.Text(), -1) {
			n, _ := strconv.Atoi(m[1])
			ls = append(ls, n-1)
		}
	}
	return ls, sc.Err()
}

func fatal(err error) {
	fmt.Fprintln(os.Stderr, "stub:", err)
	os.Exit(1)
}
