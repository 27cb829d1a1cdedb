// Package cluster runs a sweep as an array job: it shards a sweep's work
// units over the tasks of any array scheduler (Slurm, Kubernetes indexed
// jobs), writes the unit list a submission freezes, and writes and submits
// Slurm batch scripts.
//
// The design uses the scheduler and invents none: the array job is the
// queue, each task runs `prunebench sweep --task env`, which finds its
// index in the environment, and everything a task needs to know (which
// units, with which spec) is in files under the output folder, which the
// cluster's nodes share. Two processes never train one unit (a lock per
// unit, see experiments), a task killed for any reason loses only the work
// since its last checkpoint, and tasks write result files, which `prunebench
// collect` ingests into the results store where the board is read.
package cluster
