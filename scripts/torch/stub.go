//go:build ignore

// Command stub replaces the bodies of the generated libtch wrappers that do
// not compile against the installed libtorch by a body that records an error
// naming the op, so that gotch builds against a libtorch other than the one
// it was generated for. It reads the compiler's diagnostics, finds for every
// error in the generated file the wrapper whose body contains the line, and
// rewrites those bodies. prepare.sh runs it until the file compiles:
//
//	go run scripts/torch/stub.go -log errors.txt -version 1.13.1 torch_api_generated.cpp.h
//
// It prints the stubbed wrappers, one per line, and exits with status 1 when
// the log has errors in the generated file but none inside a wrapper body it
// can replace (nothing would change, so another compile would not help).
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

// A wrapper starts at column 0 with its signature and ends at the next
// line that is exactly "}" (the generator's layout).
var signature = regexp.MustCompile(`^(void|int|int64_t|double|bool|tensor|scalar) +(atg_\w+)\(.*\) *\{$`)

type wrapper struct {
	name, ret  string
	start, end int // 0-based line indices of the signature and the closing brace
}

func main() {
	logPath := flag.String("log", "", "compiler diagnostics")
	version := flag.String("version", "?", "libtorch version, for the error message")
	flag.Parse()
	if flag.NArg() != 1 || *logPath == "" {
		fmt.Fprintln(os.Stderr, "usage: go run stub.go -log FILE [-version V] torch_api_generated.cpp.h")
		os.Exit(2)
	}
	src := flag.Arg(0)
	data, err := os.ReadFile(src)
	if err != nil {
		fatal(err)
	}
	lines := strings.Split(string(data), "\n")
	ws := wrappers(lines)

	bad, err := errorLines(*logPath, filepath.Base(src))
	if err != nil {
		fatal(err)
	}
	stub := map[int]bool{} // index into ws
	for _, l := range bad {
		i := sort.Search(len(ws), func(i int) bool { return ws[i].end >= l })
		if i < len(ws) && ws[i].start < l && l < ws[i].end && !isStub(lines[ws[i].start+1]) {
			stub[i] = true
		}
	}
	if len(bad) > 0 && len(stub) == 0 {
		fmt.Fprintf(os.Stderr, "stub: %d errors in %s, none inside a wrapper body that can be replaced\n", len(bad), src)
		os.Exit(1)
	}
	var out []string
	next := 0
	idx := make([]int, 0, len(stub))
	for i := range stub {
		idx = append(idx, i)
	}
	sort.Ints(idx)
	for _, i := range idx {
		w := ws[i]
		out = append(out, lines[next:w.start+1]...)
		out = append(out, body(w, *version)...)
		next = w.end
		fmt.Println(w.name)
	}
	out = append(out, lines[next:]...)
	if err := os.WriteFile(src, []byte(strings.Join(out, "\n")), 0o644); err != nil {
		fatal(err)
	}
}

func wrappers(lines []string) []wrapper {
	var ws []wrapper
	for i := 0; i < len(lines); i++ {
		m := signature.FindStringSubmatch(lines[i])
		if m == nil {
			continue
		}
		w := wrapper{ret: m[1], name: m[2], start: i}
		for j := i + 1; j < len(lines); j++ {
			if lines[j] == "}" {
				w.end = j
				break
			}
		}
		if w.end == 0 {
			break
		}
		ws = append(ws, w)
		i = w.end
	}
	return ws
}

const stubMark = "// prunebench stub:"

func isStub(line string) bool { return strings.Contains(line, stubMark) }

// body is the replacement body: it sets gotch's thread-local error, which
// the Go side returns as the op's error, and returns a zero value.
func body(w wrapper, version string) []string {
	op := strings.TrimPrefix(w.name, "atg_")
	msg := fmt.Sprintf("gotch op %s (%s) does not compile against the installed libtorch %s and was replaced by this error when scripts/torch/prepare.sh built gotch; use a libtorch that gotch supports for this op", op, w.name, version)
	b := []string{
		"  " + stubMark + " " + op + " does not compile against libtorch " + version,
		"  torch_last_err = strdup(" + strconv.Quote(msg) + ");",
	}
	switch w.ret {
	case "void":
	case "tensor", "scalar":
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
	re := regexp.MustCompile(regexp.QuoteMeta(file) + `:(\d+):\d+:\s+(error|required from here)`)
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
