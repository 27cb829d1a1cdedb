// Package train is prunebench's frozen training loop: Run trains an nn.Net
// on a data set for a budget of Steps ("2ep100it") under a learning-rate
// Schedule, evaluates it, records a History with the early-stopping point,
// checkpoints so that an interrupted run resumes bit-identically, and calls
// Callbacks after the gradients, after each optimizer step and after each
// evaluation, which is where pruning methods act on the network.
package train
