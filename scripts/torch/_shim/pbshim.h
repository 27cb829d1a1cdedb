// prunebench's C++ shim over libtorch: what gotch's C API lacks. Built into
// the prepared gotch copy (build/torch/gotch/pbshim) by scripts/torch/prepare.sh,
// with gotch's compiler flags. Every function returns NULL on success and
// a malloc'd error message otherwise.
#ifndef PBSHIM_H
#define PBSHIM_H
#ifdef __cplusplus
extern "C" {
#endif

// pb_foreach_native says whether the optimizer steps use libtorch's
// multi-tensor _foreach_* ops (1) or one op per tensor (0: a libtorch older
// than 1.7, which has none). Either way a step is one call from Go.
int pb_foreach_native(void);

// pb_torch_version is the libtorch the shim was compiled against, as
// major * 100 + minor (211 for 2.11), from its headers' version macros.
int pb_torch_version(void);

// pb_sgd_step: for each of the n tensors, g = grad (zeros when NULL),
// g = g * gmask (when gmask is not NULL), g = g + theta * wd (wd != 0),
// buf = buf * momentum + g (momentum > 0), d = buf or, with nesterov,
// g + buf * momentum, theta -= d * lr, theta *= tmask (when tmask is not
// NULL). buf entries are ignored when momentum is 0.
char *pb_sgd_step(void **theta, void **grad, void **buf, void **gmask, void **tmask, int n,
                  double lr, double momentum, double wd, int nesterov);

// pb_adam_step: g as above with gmask; then theta *= 1 - lr * wd (decoupled,
// AdamW) or g = g + theta * wd (Adam); m = m * beta1 + g * (1 - beta1);
// v = v * beta2 + g * g * (1 - beta2); denom = sqrt(v) * c1 + c2;
// theta += m / denom; theta *= tmask.
char *pb_adam_step(void **theta, void **grad, void **m, void **v, void **gmask, void **tmask, int n,
                   double lr, double beta1, double beta2, double wd, int decoupled, double c1, double c2);

#ifdef __cplusplus
}
#endif
#endif
