// See pbshim.h. The ops mirror nn/torch's one-op-per-call optimizers
// (nn/torch/optim.go) term by term, so both compute the same values.
#include "pbshim.h"

#include <cstdlib>
#include <cstring>
#include <exception>
#include <vector>

#include <ATen/ATen.h>
#include <torch/version.h>

#if TORCH_VERSION_MAJOR > 1 || (TORCH_VERSION_MAJOR == 1 && TORCH_VERSION_MINOR >= 7)
#define PB_FOREACH 1
#else
#define PB_FOREACH 0
#endif

namespace {

typedef std::vector<at::Tensor> list;

at::Tensor &T(void *p) { return *static_cast<at::Tensor *>(p); }

char *fail(const std::exception &e) { return strdup(e.what()); }

// gradients returns g (zeros where grad is NULL) masked where gmask is set.
list gradients(void **theta, void **grad, void **gmask, int n) {
  list g(n);
  for (int i = 0; i < n; i++) {
    g[i] = grad[i] ? T(grad[i]) : at::zeros_like(T(theta[i]));
    if (gmask[i]) g[i] = g[i] * T(gmask[i]);
  }
  return g;
}

list pick(void **ps, int n) {
  list l(n);
  for (int i = 0; i < n; i++) l[i] = T(ps[i]);
  return l;
}

void zeroAfterStep(void **theta, void **tmask, int n) {
  for (int i = 0; i < n; i++)
    if (tmask[i]) T(theta[i]).mul_(T(tmask[i]));
}

#if PB_FOREACH
// With _foreach ops a term over all tensors is one call into ATen; the
// kernels are libtorch's (on CUDA, fused multi-tensor kernels).
void sgd(list &th, list &g, list &buf, double lr, double mu, double wd, bool nesterov) {
  if (wd != 0) g = at::_foreach_add(g, at::_foreach_mul(th, wd));
  list d = g;
  if (mu > 0) {
    at::_foreach_mul_(buf, mu);
    at::_foreach_add_(buf, g);
    d = buf;
    if (nesterov) d = at::_foreach_add(g, at::_foreach_mul(buf, mu));
  }
  at::_foreach_sub_(th, at::_foreach_mul(d, lr));
}

void adam(list &th, list &g, list &m, list &v, const at::Tensor &omb1, double lr, double b1, double b2,
          double wd, bool decoupled, double c1, double c2) {
  if (wd != 0) {
    if (decoupled) at::_foreach_mul_(th, 1 - lr * wd);
    else g = at::_foreach_add(g, at::_foreach_mul(th, wd));
  }
  list omb(g.size(), omb1);
  at::_foreach_mul_(m, b1);
  at::_foreach_addcmul_(m, g, omb);
  at::_foreach_mul_(v, b2);
  at::_foreach_addcmul_(v, g, at::_foreach_mul(g, 1 - b2));
  list denom = at::_foreach_sqrt(v);
  at::_foreach_mul_(denom, c1);
  at::_foreach_add_(denom, c2);
  at::_foreach_addcdiv_(th, m, denom);
}
#else
void sgd(list &th, list &g, list &buf, double lr, double mu, double wd, bool nesterov) {
  for (size_t i = 0; i < th.size(); i++) {
    at::Tensor gi = g[i];
    if (wd != 0) gi = gi + th[i] * wd;
    at::Tensor d = gi;
    if (mu > 0) {
      buf[i].mul_(mu);
      buf[i].add_(gi);
      d = buf[i];
      if (nesterov) d = gi + buf[i] * mu;
    }
    th[i].sub_(d * lr);
  }
}

void adam(list &th, list &g, list &m, list &v, const at::Tensor &omb1, double lr, double b1, double b2,
          double wd, bool decoupled, double c1, double c2) {
  for (size_t i = 0; i < th.size(); i++) {
    at::Tensor gi = g[i];
    if (wd != 0) {
      if (decoupled) th[i].mul_(1 - lr * wd);
      else gi = gi + th[i] * wd;
    }
    m[i].mul_(b1);
    m[i].addcmul_(gi, omb1);
    v[i].mul_(b2);
    v[i].addcmul_(gi, gi * (1 - b2));
    at::Tensor denom = v[i].sqrt();
    denom.mul_(c1);
    denom.add_(c2);
    th[i].addcdiv_(m[i], denom);
  }
}
#endif

}  // namespace

extern "C" int pb_foreach_native(void) { return PB_FOREACH; }

extern "C" char *pb_sgd_step(void **theta, void **grad, void **buf, void **gmask, void **tmask, int n,
                             double lr, double momentum, double wd, int nesterov) {
  try {
    at::NoGradGuard no_grad;
    if (n == 0) return nullptr;
    list th = pick(theta, n);
    list g = gradients(theta, grad, gmask, n);
    list b = momentum > 0 ? pick(buf, n) : list();
    sgd(th, g, b, lr, momentum, wd, nesterov != 0);
    zeroAfterStep(theta, tmask, n);
    return nullptr;
  } catch (const std::exception &e) {
    return fail(e);
  }
}

extern "C" char *pb_adam_step(void **theta, void **grad, void **m, void **v, void **gmask, void **tmask, int n,
                              void *one_minus_beta1, double lr, double beta1, double beta2, double wd,
                              int decoupled, double c1, double c2) {
  try {
    at::NoGradGuard no_grad;
    if (n == 0) return nullptr;
    list th = pick(theta, n), ms = pick(m, n), vs = pick(v, n);
    list g = gradients(theta, grad, gmask, n);
    adam(th, g, ms, vs, T(one_minus_beta1), lr, beta1, beta2, wd, decoupled != 0, c1, c2);
    zeroAfterStep(theta, tmask, n);
    return nullptr;
  } catch (const std::exception &e) {
    return fail(e);
  }
}
