// See pbshim.h. The update rules are nn.Optimizer's (nn/optim.go), as the
// native engine runs them; the conformance and cross-engine suites of
// nn/torch hold the two engines to the same values.
#include "pbshim.h"

#include <cstdlib>
#include <cstring>
#include <exception>
#include <vector>

#include <ATen/ATen.h>
#include <torch/version.h>
// Newer releases (2.11) define the version macros here; torch/version.h
// may only forward to it.
#if __has_include(<torch/headeronly/version.h>)
#include <torch/headeronly/version.h>
#endif

// PB_FOREACH: 1 where libtorch has the _foreach_* ops (1.7 on). The build
// tag pbshim_loop (pbshim_loop.go) sets it to 0, so that the one-op-per-
// tensor path of an older libtorch is tested on this one too. Without the
// version macros the choice is not guessed: an undefined macro reads as 0
// in #if, which would take the slow path on a GPU without a word.
#ifndef PB_FOREACH
#ifndef TORCH_VERSION_MAJOR
#error "pbshim: these libtorch headers define no TORCH_VERSION_MAJOR (libtorch < 1.8, or the macros moved): build with -tags pbshim_loop, or include the header that has them above"
#endif
#if TORCH_VERSION_MAJOR > 1 || (TORCH_VERSION_MAJOR == 1 && TORCH_VERSION_MINOR >= 7)
#define PB_FOREACH 1
#else
#define PB_FOREACH 0
#endif
#endif

namespace {

typedef std::vector<at::Tensor> list;

at::Tensor &T(void *p) { return *static_cast<at::Tensor *>(p); }

char *fail(const std::exception &e) { return strdup(e.what()); }

list pick(void **ps, int n) {
  list l(n);
  for (int i = 0; i < n; i++) l[i] = T(ps[i]);
  return l;
}

#if PB_FOREACH
// With _foreach ops a term over all tensors is one call into ATen; the
// kernels are libtorch's (on CUDA, fused multi-tensor kernels, which need
// the lists' tensors to match in shape position by position: so the
// scalars are scalar arguments, never one-element tensors, which would
// broadcast and send the op down its slow path).

// masked picks the tensors of ps that have a mask in masks, with those masks
// and their positions, so that a masking term is one multi-tensor op.
std::vector<int> masked(const list &ps, void **masks, int n, list &sel, list &ms) {
  std::vector<int> idx;
  for (int i = 0; i < n; i++)
    if (masks[i]) {
      idx.push_back(i);
      sel.push_back(ps[i]);
      ms.push_back(T(masks[i]));
    }
  return idx;
}

// gradients returns g (zeros where grad is NULL), masked where gmask is set.
// The masked gradients are fresh tensors: autograd's stay as they are.
list gradients(const list &th, void **grad, void **gmask, int n) {
  list g(n), sel, ms;
  for (int i = 0; i < n; i++) g[i] = grad[i] ? T(grad[i]) : at::zeros_like(th[i]);
  std::vector<int> idx = masked(g, gmask, n, sel, ms);
  if (!sel.empty()) {
    list prod = at::_foreach_mul(sel, ms);
    for (size_t k = 0; k < idx.size(); k++) g[idx[k]] = prod[k];
  }
  return g;
}

void zeroAfterStep(const list &th, void **tmask, int n) {
  list sel, ms;
  masked(th, tmask, n, sel, ms);
  if (!sel.empty()) at::_foreach_mul_(sel, ms);
}

void sgd(list &th, list &g, list &buf, double lr, double mu, double wd, bool nesterov) {
  if (wd != 0) g = at::_foreach_add(g, th, wd);
  list d = g;
  if (mu > 0) {
    at::_foreach_mul_(buf, mu);
    at::_foreach_add_(buf, g);
    d = buf;
    if (nesterov) d = at::_foreach_add(g, buf, mu);
  }
  at::_foreach_add_(th, d, -lr);
}

void adam(list &th, list &g, list &m, list &v, double lr, double b1, double b2, double wd, bool decoupled,
          double c1, double c2) {
  if (wd != 0) {
    if (decoupled) at::_foreach_mul_(th, 1 - lr * wd);
    else g = at::_foreach_add(g, th, wd);
  }
  at::_foreach_mul_(m, b1);
  at::_foreach_add_(m, g, 1 - b1);
  at::_foreach_mul_(v, b2);
  at::_foreach_addcmul_(v, g, g, 1 - b2);
  list denom = at::_foreach_sqrt(v);
  at::_foreach_mul_(denom, c1);
  at::_foreach_add_(denom, c2);
  at::_foreach_addcdiv_(th, m, denom);
}
#else
list gradients(const list &th, void **grad, void **gmask, int n) {
  list g(n);
  for (int i = 0; i < n; i++) {
    g[i] = grad[i] ? T(grad[i]) : at::zeros_like(th[i]);
    if (gmask[i]) g[i] = g[i] * T(gmask[i]);
  }
  return g;
}

void zeroAfterStep(const list &th, void **tmask, int n) {
  for (int i = 0; i < n; i++)
    if (tmask[i]) th[i].mul_(T(tmask[i]));
}

void sgd(list &th, list &g, list &buf, double lr, double mu, double wd, bool nesterov) {
  for (size_t i = 0; i < th.size(); i++) {
    at::Tensor gi = g[i];
    if (wd != 0) gi = gi.add(th[i], wd);
    at::Tensor d = gi;
    if (mu > 0) {
      buf[i].mul_(mu);
      buf[i].add_(gi);
      d = buf[i];
      if (nesterov) d = gi.add(buf[i], mu);
    }
    th[i].add_(d, -lr);
  }
}

void adam(list &th, list &g, list &m, list &v, double lr, double b1, double b2, double wd, bool decoupled,
          double c1, double c2) {
  for (size_t i = 0; i < th.size(); i++) {
    at::Tensor gi = g[i];
    if (wd != 0) {
      if (decoupled) th[i].mul_(1 - lr * wd);
      else gi = gi.add(th[i], wd);
    }
    m[i].mul_(b1);
    m[i].add_(gi, 1 - b1);
    v[i].mul_(b2);
    v[i].addcmul_(gi, gi, 1 - b2);
    at::Tensor denom = v[i].sqrt();
    denom.mul_(c1);
    denom.add_(c2);
    th[i].addcdiv_(m[i], denom);
  }
}
#endif

}  // namespace

extern "C" int pb_foreach_native(void) { return PB_FOREACH; }

extern "C" int pb_torch_version(void) {
#ifdef TORCH_VERSION_MAJOR
  return TORCH_VERSION_MAJOR * 100 + TORCH_VERSION_MINOR;
#else
  return 0;
#endif
}

extern "C" char *pb_sgd_step(void **theta, void **grad, void **buf, void **gmask, void **tmask, int n,
                             double lr, double momentum, double wd, int nesterov) {
  try {
    at::NoGradGuard no_grad;
    if (n == 0) return nullptr;
    list th = pick(theta, n);
    list g = gradients(th, grad, gmask, n);
    list b = momentum > 0 ? pick(buf, n) : list();
    sgd(th, g, b, lr, momentum, wd, nesterov != 0);
    zeroAfterStep(th, tmask, n);
    return nullptr;
  } catch (const std::exception &e) {
    return fail(e);
  }
}

extern "C" char *pb_adam_step(void **theta, void **grad, void **m, void **v, void **gmask, void **tmask, int n,
                              double lr, double beta1, double beta2, double wd, int decoupled, double c1,
                              double c2) {
  try {
    at::NoGradGuard no_grad;
    if (n == 0) return nullptr;
    list th = pick(theta, n), ms = pick(m, n), vs = pick(v, n);
    list g = gradients(th, grad, gmask, n);
    adam(th, g, ms, vs, lr, beta1, beta2, wd, decoupled != 0, c1, c2);
    zeroAfterStep(th, tmask, n);
    return nullptr;
  } catch (const std::exception &e) {
    return fail(e);
  }
}
