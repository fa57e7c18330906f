// Adam / AdamW, dense or restricted to a list of rows (lazy Adam for embedding tables: rows a batch did not touch
// keep their moments unchanged, as TF's LazyAdam does). Bias correction uses the global step for every row.
// The step consumes the gradient: updated entries of grad are reset to zero for the next accumulation.
//   L2 (Adam):      g += wd * p
//   decoupled (AdamW, as PyTorch): p -= lr * wd * p   before the Adam update
#include <cmath>
#include <cstring>

#include "args.h"
#include "prefetch.h"
#include "simd.h"
#include "thread_pool.h"

namespace graftrec {
namespace {

struct AdamConfig {
  float lr, beta1, beta2, eps, weight_decay;
  bool decoupled;
  float bias1, bias2;  // 1 - beta^step
};

GRAFTREC_SIMD_CLONES
void adam_span(const AdamConfig& a, float* p, float* g, float* m, float* v, int64_t n) {
  // Weight decay is folded into two coefficients so the loop has no branches and vectorises.
  const float l2 = a.decoupled ? 0.f : a.weight_decay;
  const float shrink = a.decoupled ? 1.f - a.lr * a.weight_decay : 1.f;
  const float step = a.lr / a.bias1, inv_bias2 = 1.f / a.bias2;
#pragma omp simd
  for (int64_t i = 0; i < n; ++i) {
    const float grad = g[i] + l2 * p[i];
    m[i] = a.beta1 * m[i] + (1.f - a.beta1) * grad;
    v[i] = a.beta2 * v[i] + (1.f - a.beta2) * grad * grad;
    p[i] = shrink * p[i] - step * m[i] / (std::sqrt(v[i] * inv_bias2) + a.eps);
    g[i] = 0.f;
  }
}

// adamStep(param, grad, m, v, rows|null, rowSize, lr, beta1, beta2, eps, weightDecay, decoupled, step)
void adam_step_js(const Napi::CallbackInfo& info) {
  const char* k = "adamStep";
  Napi::Env env = info.Env();
  auto p = f32_arg(info, 0, k, "param");
  auto g = f32_arg(info, 1, k, "grad");
  auto m = f32_arg(info, 2, k, "m");
  auto v = f32_arg(info, 3, k, "v");
  auto rows = i32_arg(info, 4, k, "rows", true);
  int64_t row_size = dim_arg(info, 5, k, "rowSize");
  AdamConfig a;
  a.lr = static_cast<float>(num_arg(info, 6, k, "lr"));
  a.beta1 = static_cast<float>(num_arg(info, 7, k, "beta1"));
  a.beta2 = static_cast<float>(num_arg(info, 8, k, "beta2"));
  a.eps = static_cast<float>(num_arg(info, 9, k, "eps"));
  a.weight_decay = static_cast<float>(num_arg(info, 10, k, "weightDecay"));
  a.decoupled = bool_arg(info, 11, k, "decoupled");
  int64_t step = dim_arg(info, 12, k, "step");
  a.bias1 = static_cast<float>(1.0 - std::pow(static_cast<double>(a.beta1), static_cast<double>(step)));
  a.bias2 = static_cast<float>(1.0 - std::pow(static_cast<double>(a.beta2), static_cast<double>(step)));
  int64_t n = p.length;
  expect_length(env, k, "grad", g, n);
  expect_length(env, k, "m", m, n);
  expect_length(env, k, "v", v, n);
  if (n % row_size != 0) fail(env, k, "param length is not a multiple of rowSize");

  if (!rows) {
    parallel_range(n, 1 << 14, [&](int64_t b, int64_t e) {
      adam_span(a, p.data + b, g.data + b, m.data + b, v.data + b, e - b);
    });
    return;
  }
  expect_ids_in_range(env, k, "rows", rows, n / row_size);
  parallel_range(rows.length, 64, [&](int64_t b, int64_t e) {
    for (int64_t i = b; i < e; ++i) {
      if (i + kPrefetchRows < e) {  // rows are scattered over a large table: ask for the next ones early
        const int64_t ahead = static_cast<int64_t>(rows.data[i + kPrefetchRows]) * row_size;
        for (float* t : {p.data, g.data, m.data, v.data}) prefetch_span(t + ahead, row_size * 4, true);
      }
      int64_t off = static_cast<int64_t>(rows.data[i]) * row_size;
      adam_span(a, p.data + off, g.data + off, m.data + off, v.data + off, row_size);
    }
  });
}

}  // namespace

void register_adam(Napi::Env env, Napi::Object exports) {
  exports.Set("adamStep", Napi::Function::New(env, adam_step_js, "adamStep"));
}

}  // namespace graftrec
