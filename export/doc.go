// Package export writes a network as a safetensors file, so that a pruned
// network is really smaller on disk and can leave prunebench, and loads
// such files back into a built network (docs/export.md).
//
// # The file
//
// A safetensors file is an 8-byte little-endian header length N, N bytes
// of JSON header, then the raw little-endian data. The header maps each
// tensor's name to its dtype, shape and data offsets (relative to the data
// section), plus "__metadata__", an object of strings. This package writes
// it by hand (safetensors.go: File, Parse, ReadFile): the metadata first,
// then the tensors sorted by name with their data in the same order, the
// header padded with spaces to a multiple of 8, the whole written to a
// temporary file in the target's folder and renamed, so that a file with
// the same inputs has the same bytes and is never seen half written. The
// reader checks the header length, the JSON, every dtype, shape and offset,
// and that the offsets tile the data section; anything else is a
// *FormatError naming the file.
//
// # Formats
//
// Names are PyTorch's (nn.ParamInfo.Name: "fc1.weight",
// "layer1.0.bn1.running_mean"), so a dense file loads into the matching
// PyTorch module with load_state_dict after dropping the masks. Values are
// F32. Pruned entries are stored as 0: the file holds the effective weight
// θ ⊙ m, whichever mask pattern the run used (a pattern that keeps pruned θ
// trains them on, but they do not reach the function).
//
//   - Dense (the default, metadata format "prunebench-dense"): every
//     parameter and buffer whole, and each mask as a U8 tensor
//     "<name>.mask" of the weight's shape, 1 kept and 0 pruned. It is the
//     plain form, readable with nothing but a JSON parser and struct
//     unpacking (scripts/check_safetensors.py does that).
//   - Bitmask ("prunebench-bitmask"): each masked weight in the
//     sparse-bitmask layout of the compressed-tensors library (the
//     vLLM / llm-compressor ecosystem): <name>.shape, <name>.compressed
//     (the kept values), <name>.bitmask (one bit per entry, rows of ⌈C/8⌉
//     bytes, little-endian bit order) and <name>.row_offsets (bitmask.go
//     has the layout). A kept weight costs 4 bytes and every weight one
//     bit, so at density d a weight costs about 4d + 1/8 bytes instead of
//     4 (at 2% kept, 0.205 bytes: 5% of dense). Unmasked tensors are stored
//     whole.
//
// Scored weights (BiP, Lottery Jackpots: W = θ ⊙ topk(s)) are exported as
// their top-k mask with pattern masked_forward, the scored
// parametrization's own enforcement; the scores are not exported. The
// optimizer state is not exported either: a file is a network, not a
// checkpoint.
//
// # Metadata
//
// Every file holds "format", "model" (the zoo name) and "sparsity", a JSON
// Report: each prunable tensor (the weights of Linear and Conv2d layers)
// with its shape, parametrization, kept count and density, and the totals
// (kept, total, density), the density of the results store. A file with
// masks holds "mask_patterns" (each masked weight's pattern), a shared one
// "rps" (shared.go). Unit.Metadata adds the run, replicate, level,
// branch, pipeline and method.
//
// # Shared models
//
// A randomized-parameter-sharing model (nn.Shared) stores its arrays z
// ("shared/<array>") and, in metadata "rps", the configuration and seed of
// the share.Mapper that maps virtual weights to z, with each tensor's
// array and scale: enough to rebuild every virtual weight bit for bit at
// the cost of z alone. Maps given as nn.TableMap store their tables. A map
// that is neither (code the package cannot serialize) is an error naming
// the tensor. Options.Materialize writes the virtual weights densely
// instead.
//
// # Loading
//
// Load and LoadFile load a file of either format into a net built for the
// same architecture, checking every name, dtype and shape first; the net
// then computes the same logits, bit for bit, as the one exported.
// OpenUnit rebuilds a finished unit of a run from its checkpoint, which is
// what `prunebench export` writes.
package export
