// Package results is where finished work is kept and compared: Result, one
// row per finished level or branch of a run, with its learning curve and
// the metrics a pipeline derives from it (also written as result.yaml in
// the unit's folder); Store, the embedded SQLite database that holds them
// (OUTPUT/results.db, versioned by migrations, safe for several writing
// processes; curves in a table of their own, read on demand); and the
// views over them: leaderboards (WriteBoard, mean ± sample standard
// deviation over replicates, as a terminal table, Markdown or CSV) and
// plots (WritePlot, accuracy against density, or learning curves).
//
// The columns of the store are the yaml names of Result's fields, and the
// same names are the filters, grouping keys and plot lines of the views.
package results
