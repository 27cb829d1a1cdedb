package main

import (
	"context"
	"encoding/csv"
	"errors"
	"fmt"
	"image/png"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/prunebench/prunebench/experiments/results"
)

// reportStore writes a runs folder: a store with the dense baseline and two
// methods at two densities (three seeds each) of one model, one run of a
// second model, and the runs' spec.yaml and provenance.yaml files.
func reportStore(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	st, err := results.Open(filepath.Join(dir, storeFile))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	put := func(model, method string, level int, d float64, accs ...float64) {
		for r, a := range accs {
			hash := fmt.Sprintf("%s-%s-s%d", model, method, r)
			err := st.Put(results.Result{
				SpecHash: hash, Pipeline: "imp", Method: method, Dataset: "mnist", Model: model,
				Backend: "native", Replicate: 0, Seed: uint64(r), Level: level, Experiment: model + "-" + method,
				Density: d, Sparsity: 1 - d, Compression: 1 / d,
				ParamsTotal: 1000, ParamsNonzero: int64(1000 * d), FLOPsDense: 2000, FLOPsNonzero: int64(2000 * d),
				BestIter: 100 * (level + 1 + r), BestTestAcc: a, FinalTestAcc: a - 0.01, Wall: 2 * time.Second, Finished: time.Now(),
			})
			if err != nil {
				t.Fatal(err)
			}
			unit := filepath.Join(dir, hash, "replicate_0", fmt.Sprintf("level_%d", level))
			if err := os.MkdirAll(unit, 0o755); err != nil {
				t.Fatal(err)
			}
			writeFile(t, filepath.Join(dir, hash, "spec.yaml"), "pipeline: imp\nmodel:\n  name: "+model+"\n# <not a tag>\n")
			writeFile(t, filepath.Join(unit, "provenance.yaml"), "prunebench_version: test\ncpu: Test CPU\n")
		}
	}
	put("mlp", "dense", 0, 1, 0.97, 0.98, 0.99)
	put("mlp", "imp", 1, 0.5, 0.96, 0.97, 0.98)
	put("mlp", "imp", 2, 0.25, 0.95, 0.96, 0.97)
	put("mlp", "random", 1, 0.5, 0.93, 0.94, 0.95)
	put("mlp", "random", 2, 0.25, 0.90, 0.91, 0.92)
	put("conv<2>", "imp", 1, 0.5, 0.80)
	return dir
}

func writeFile(t *testing.T, path, text string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
}

func TestReportCommand(t *testing.T) {
	out := reportStore(t)
	site := filepath.Join(t.TempDir(), "site")
	if _, err := execBoard(t, newReportCmd(), out, "-o", site); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		page string
		want []string
	}{
		{"index.html", []string{`href="groups/mlp-mnist.html"`, `href="groups/conv-2--mnist.html"`, "conv&lt;2&gt;",
			`href="runs/mlp-imp-s0.html"`, `href="runs/conv-2--imp-s0.html"`, "<td>imp</td>", "dense, imp, random"}},
		{"groups/mlp-mnist.html", []string{`href="../index.html"`, `<img src="mlp-mnist-accuracy.svg"`, `<img src="mlp-mnist-tstar.svg"`,
			"98.00 ± 1.00", `href="../runs/mlp-dense-s2.html"`, "test acc @ best-val (%)", "<script>"}},
		{"runs/mlp-imp-s1.html", []string{`href="../groups/mlp-mnist.html"`, "# &lt;not a tag&gt;", "replicate_0/level_1", "cpu: Test CPU"}},
		{"groups/mlp-mnist-accuracy.svg", []string{"dense (mean ± std)"}},
	} {
		data, err := os.ReadFile(filepath.Join(site, c.page))
		if err != nil {
			t.Error(err)
			continue
		}
		for _, w := range c.want {
			if !strings.Contains(string(data), w) {
				t.Errorf("%s lacks %q", c.page, w)
			}
		}
		if strings.Contains(string(data), "file://") || strings.Contains(string(data), `href="/`) {
			t.Errorf("%s has an absolute link", c.page)
		}
	}
}

func TestReportCommandErrors(t *testing.T) {
	out := reportStore(t)
	blocker := filepath.Join(t.TempDir(), "file")
	writeFile(t, blocker, "not a folder")
	for _, c := range []struct {
		name string
		args []string
		want []string
	}{
		{"missing store", []string{filepath.Join(t.TempDir(), "nothing"), "-o", t.TempDir()}, []string{"no results yet", "results.db"}},
		{"no -o", []string{out}, []string{"-o DIR is required"}},
		{"dir not creatable", []string{out, "-o", filepath.Join(blocker, "site")}, []string{"cannot create", blocker}},
	} {
		_, err := execBoard(t, newReportCmd(), c.args...)
		wantError(t, c.name, err, c.want...)
	}
}

// The site in a real browser: headless Chromium's DOM of the group page
// shows the numbers of `board --format csv`, and the pages render at
// desktop and phone widths. Skipped where chromium is missing, unless
// PRUNEBENCH_REQUIRE_CHROMIUM=1 (scripts/test.sh installs it).
func TestReportInChromium(t *testing.T) {
	browser, err := exec.LookPath("chromium")
	if err != nil {
		if os.Getenv("PRUNEBENCH_REQUIRE_CHROMIUM") == "1" {
			t.Fatalf("PRUNEBENCH_REQUIRE_CHROMIUM=1 but chromium is not on PATH (scripts/chromium/install.sh installs it): %v", err)
		}
		t.Skip("chromium is not installed (scripts/chromium/install.sh installs it)")
	}
	out := reportStore(t)
	site := filepath.Join(t.TempDir(), "site")
	if _, err := execBoard(t, newReportCmd(), out, "-o", site); err != nil {
		t.Fatal(err)
	}
	profile := t.TempDir()
	chrome := func(args ...string) string {
		t.Helper()
		args = append([]string{"--headless", "--no-sandbox", "--disable-gpu", "--user-data-dir=" + profile}, args...)
		return runChromium(t, browser, args...)
	}
	index := chrome("--dump-dom", "file://"+filepath.Join(site, "index.html"))
	if !strings.Contains(index, `id="group-list"`) || !strings.Contains(index, "mlp") {
		t.Errorf("chromium's DOM of index.html lacks the list of groups:\n%.2000s", index)
	}
	dom := chrome("--dump-dom", "file://"+filepath.Join(site, "groups", "mlp-mnist.html"))
	rows := boardRows(t, dom)

	csvOut, err := execBoard(t, newBoardCmd(), "--output", out, "--where", "model=mlp", "--where", "dataset=mnist", "--format", "csv")
	if err != nil {
		t.Fatal(err)
	}
	records, err := csv.NewReader(strings.NewReader(csvOut)).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	want := records[1:]
	if len(rows) != len(want) || len(want) == 0 {
		t.Fatalf("the page's board has %d rows, board --format csv %d:\n%v\n%s", len(rows), len(want), rows, csvOut)
	}
	col := map[string]int{}
	for i, h := range records[0] {
		col[h] = i
	}
	for i, w := range want {
		got := rows[i]
		// The page's columns: method, model, dataset, n, density, ...,
		// best acc, final acc, t*, wall; data-sort holds the raw mean.
		checks := []struct{ name, page, csv string }{
			{"method", got.text[0], w[col["method"]]},
			{"n", got.text[3], w[col["n"]]},
			{"density", got.sort[4], w[col["density"]]},
			{"best acc mean", got.sort[10], w[col["best_test_acc_mean"]]},
			{"final acc mean", got.sort[11], w[col["final_test_acc_mean"]]},
			{"t* mean", got.sort[12], w[col["best_iter_mean"]]},
		}
		for _, c := range checks {
			if c.page != c.csv {
				t.Errorf("row %d %s: page %q, board --format csv %q", i, c.name, c.page, c.csv)
			}
		}
		if text, want := got.text[10], accuracyText(t, w[col["best_test_acc_mean"]], w[col["best_test_acc_std"]], w[col["n"]]); text != want {
			t.Errorf("row %d: the page shows %q, board --format csv's numbers read %q", i, text, want)
		}
	}

	for _, width := range []int{1280, 390} {
		for _, page := range []string{"index.html", "groups/mlp-mnist.html"} {
			shot := filepath.Join(t.TempDir(), fmt.Sprintf("shot-%d.png", width))
			chrome(fmt.Sprintf("--screenshot=%s", shot), fmt.Sprintf("--window-size=%d,900", width), "--hide-scrollbars",
				"file://"+filepath.Join(site, page))
			f, err := os.Open(shot)
			if err != nil {
				t.Errorf("%s at width %d: no screenshot: %v", page, width, err)
				continue
			}
			cfg, err := png.DecodeConfig(f)
			f.Close()
			if err != nil {
				t.Errorf("%s at width %d: %v", page, width, err)
				continue
			}
			if cfg.Width != width {
				t.Errorf("%s: screenshot %d pixels wide, want %d", page, cfg.Width, width)
			}
		}
	}
}

// runChromium runs the browser and returns its standard output; the
// process is killed by its PID if it outlives a minute.
func runChromium(t *testing.T, browser string, args ...string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, browser, args...)
	cmd.Cancel = func() error { return cmd.Process.Kill() }
	cmd.WaitDelay = 5 * time.Second
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if errors.Is(ctx.Err(), context.DeadlineExceeded) {
		t.Fatalf("chromium %s: killed after a minute; stderr:\n%s", strings.Join(args, " "), stderr.String())
	}
	if err != nil {
		t.Fatalf("chromium %s: %v; stderr:\n%s", strings.Join(args, " "), err, stderr.String())
	}
	return string(out)
}

type domRow struct{ text, sort []string }

var (
	boardBody = regexp.MustCompile(`(?s)<table[^>]*id="board"[^>]*>.*?<tbody>(.*?)</tbody>`)
	domTR     = regexp.MustCompile(`(?s)<tr>(.*?)</tr>`)
	domTD     = regexp.MustCompile(`(?s)<td([^>]*)>(.*?)</td>`)
	dataSort  = regexp.MustCompile(`data-sort="([^"]*)"`)
	domTag    = regexp.MustCompile(`<[^>]*>`)
)

// boardRows reads the leaderboard table of a dumped DOM: each cell's text
// (less its run links) and data-sort value.
func boardRows(t *testing.T, dom string) []domRow {
	t.Helper()
	m := boardBody.FindStringSubmatch(dom)
	if m == nil {
		t.Fatalf("no leaderboard table in the DOM:\n%.3000s", dom)
	}
	var rows []domRow
	for _, tr := range domTR.FindAllStringSubmatch(m[1], -1) {
		var r domRow
		for _, td := range domTD.FindAllStringSubmatch(tr[1], -1) {
			s := ""
			if ds := dataSort.FindStringSubmatch(td[1]); ds != nil {
				s = ds[1]
			}
			text := td[2]
			if i := strings.Index(text, "<a "); i >= 0 {
				text = text[:i]
			}
			r.text = append(r.text, strings.TrimSpace(domTag.ReplaceAllString(text, "")))
			r.sort = append(r.sort, s)
		}
		rows = append(rows, r)
	}
	return rows
}

// accuracyText is how a board shows an accuracy of the csv's mean, std and
// n (fractions): "97.00 ± 1.00", or "80.00 (n=1)".
func accuracyText(t *testing.T, mean, std, n string) string {
	t.Helper()
	var m, s float64
	if _, err := fmt.Sscan(mean, &m); err != nil {
		t.Fatalf("csv mean %q: %v", mean, err)
	}
	if n == "1" {
		return fmt.Sprintf("%.2f (n=1)", 100*m)
	}
	if _, err := fmt.Sscan(std, &s); err != nil {
		t.Fatalf("csv std %q: %v", std, err)
	}
	return fmt.Sprintf("%.2f ± %.2f", 100*m, 100*s)
}
