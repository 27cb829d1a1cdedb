package report

import (
	"cmp"
	"errors"
	"fmt"
	"io/fs"
	"maps"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"

	"github.com/prunebench/prunebench/experiments"
	"github.com/prunebench/prunebench/experiments/results"
)

// Options configures Write.
type Options struct {
	// Output is the runs folder the results came from, where each run's
	// spec.yaml, its units' provenance.yaml and the sweep manifests are
	// read; empty means the pages show results only.
	Output string
	// SpecDefaults maps spec keys to their defaults as text, as
	// results.BoardOptions.SpecDefaults.
	SpecDefaults map[string]string
	// Title heads the index page; empty means "prunebench results".
	Title string
}

// Write writes the site for rs into dir (created when missing): index.html,
// groups/GROUP.html with GROUP-accuracy.svg and GROUP-tstar.svg beside it,
// and runs/RUN.html. It returns the paths of the pages, index.html first.
func Write(dir string, rs []results.Result, o Options) ([]string, error) {
	if len(rs) == 0 {
		return nil, errors.New("report: no results to report")
	}
	if o.Title == "" {
		o.Title = "prunebench results"
	}
	for _, sub := range []string{"", "groups", "runs"} {
		if err := os.MkdirAll(filepath.Join(dir, sub), 0o755); err != nil {
			return nil, fmt.Errorf("report: cannot create the site's folder %s: %w", filepath.Join(dir, sub), err)
		}
	}
	site, err := build(rs, o)
	if err != nil {
		return nil, err
	}
	pages := []string{filepath.Join(dir, "index.html")}
	if err := writePage(pages[0], "index", site); err != nil {
		return nil, err
	}
	for i := range site.Groups {
		g := &site.Groups[i]
		if err := g.plot(filepath.Join(dir, "groups"), o); err != nil {
			return nil, err
		}
		p := filepath.Join(dir, "groups", g.Slug+".html")
		if err := writePage(p, "group", g); err != nil {
			return nil, err
		}
		pages = append(pages, p)
	}
	for i := range site.Runs {
		p := filepath.Join(dir, "runs", runPage(site.Runs[i].Hash))
		if err := writePage(p, "run", &site.Runs[i]); err != nil {
			return nil, err
		}
		pages = append(pages, p)
	}
	return pages, nil
}

// site is what the index shows.
type site struct {
	Title  string
	Groups []group
	Runs   []run
	Sweeps []sweep
	// Note says what could not be read (the sweep manifests).
	Note string
}

type sweep struct {
	Name, Hash, Written string
	Runs                []sweepPoint
}

type sweepPoint struct {
	Run, Settings string
	// Page is the run's page, "" when the store has no result of it.
	Page string
}

// build sorts the results into groups (model and dataset, as boards
// select them) and runs (spec hashes).
func build(rs []results.Result, o Options) (*site, error) {
	s := &site{Title: o.Title}
	byGroup := map[[2]string][]results.Result{}
	byRun := map[string][]results.Result{}
	for _, r := range rs {
		k := [2]string{r.Model, r.Dataset}
		byGroup[k] = append(byGroup[k], r)
		byRun[r.SpecHash] = append(byRun[r.SpecHash], r)
	}
	groupOfRun := map[string]string{}
	slugs := map[string]bool{}
	for _, k := range slices.SortedFunc(maps.Keys(byGroup), func(a, b [2]string) int {
		return cmp.Or(cmp.Compare(a[0], b[0]), cmp.Compare(a[1], b[1]))
	}) {
		g, err := newGroup(k[0], k[1], byGroup[k], o)
		if err != nil {
			return nil, err
		}
		for slugs[g.Slug] {
			g.Slug += "_"
		}
		slugs[g.Slug] = true
		for _, r := range byGroup[k] {
			groupOfRun[r.SpecHash] = g.Slug
		}
		s.Groups = append(s.Groups, g)
	}
	for _, h := range slices.Sorted(maps.Keys(byRun)) {
		s.Runs = append(s.Runs, newRun(h, byRun[h], groupOfRun[h], o))
	}
	if o.Output != "" {
		ms, err := experiments.ReadSweepManifests(o.Output)
		if err != nil {
			s.Note = fmt.Sprintf("The sweep manifests of %s could not be read: %v", o.Output, err)
		}
		for _, m := range ms {
			sw := sweep{Name: m.Name, Hash: m.Hash, Written: m.Written.Format("2006-01-02 15:04 MST")}
			for _, p := range m.Points {
				sp := sweepPoint{Run: p.Run, Settings: p.Settings}
				if _, ok := byRun[p.Run]; ok {
					sp.Page = "runs/" + runPage(p.Run)
				}
				sw.Runs = append(sw.Runs, sp)
			}
			s.Sweeps = append(s.Sweeps, sw)
		}
	}
	return s, nil
}

var unsafeChars = regexp.MustCompile(`[^A-Za-z0-9._-]+`)

// slug makes a file name of text: what is not a letter, digit, dot,
// underscore or hyphen becomes a hyphen.
func slug(text string) string {
	s := strings.Trim(unsafeChars.ReplaceAllString(text, "-"), "-.")
	if s == "" {
		return "unnamed"
	}
	return s
}

// runPage is the file name of a run's page (run hashes are hex digits;
// slug guards against anything else).
func runPage(hash string) string { return slug(hash) + ".html" }

// distinct lists the different values get takes over rs, sorted.
func distinct(rs []results.Result, get func(*results.Result) string) []string {
	var vs []string
	for i := range rs {
		if v := get(&rs[i]); !slices.Contains(vs, v) {
			vs = append(vs, v)
		}
	}
	slices.Sort(vs)
	return vs
}

// readText reads a file for display; a missing or unreadable file is said
// so in the text instead.
func readText(path string) (text string, ok bool) {
	data, err := os.ReadFile(path)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return "(no " + filepath.Base(path) + " in " + filepath.Dir(path) + ")", false
	case err != nil:
		return "(unreadable: " + err.Error() + ")", false
	}
	return string(data), true
}
