// Package report writes a static leaderboard site from the results of a
// runs folder: an index of the sweeps, groups and runs, one page per model
// and dataset with its leaderboard (sortable), accuracy-vs-density and t*
// plots (SVG), and one page per run with its spec and the provenance of its
// units.
//
// The site is plain HTML and CSS from html/template (so every value from
// the store is escaped) with one small inline script that sorts a table by
// a clicked column; all links are relative, so it works from file:// and
// from any static host. The numbers are the board's: pages are rendered
// from results.BoardGroups and results.BoardCells, and the plots by
// results.WritePlot, never recomputed here.
package report
