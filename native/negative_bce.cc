// Binary cross-entropy with one sampled negative per row (SASRec's loss, Kang & McAuley 2018): each predicted
// position scores its target item and one negative item drawn for that position; the loss is
// -log σ(s_target) - log(1 - σ(s_negative)). Unlike the sampled softmax, negatives are not shared by the batch and
// no logQ correction is applied: the model learns to tell the next item from a random one, which is what the
// sampled-100 evaluation of the papers measures. A negative equal to the row's target is an accidental hit and
// contributes nothing. Forward saves σ of both logits in probs[N, 2] for backward.
#include <cmath>
#include <cstring>
#include <vector>

#include "args.h"
#include "prefetch.h"
#include "thread_pool.h"

namespace graftrec {
namespace {

struct NegativeBceArgs : SoftmaxHeadArgs {
  View<int32_t> negatives;
};

NegativeBceArgs read_args(const Napi::CallbackInfo& info, const char* k, size_t shape_at) {
  NegativeBceArgs a;
  static_cast<SoftmaxHeadArgs&>(a) = read_softmax_head(info, k, shape_at);
  a.negatives = i32_arg(info, 4, k, "negatives");
  expect_length(info.Env(), k, "negatives", a.negatives, a.N);
  expect_ids_in_range(info.Env(), k, "negatives", a.negatives, a.V);
  return a;
}

float logit(const NegativeBceArgs& a, int64_t n, int32_t item) {
  const float* h = a.h.data + n * a.C;
  const float* e = a.table.data + static_cast<int64_t>(item) * a.C;
  float s = 0.f;
#pragma omp simd reduction(+ : s)
  for (int64_t c = 0; c < a.C; ++c) s += h[c] * e[c];
  return s + (a.bias ? a.bias.data[item] : 0.f);
}

// log(1 + exp(x)) without overflow.
double softplus(double x) { return (x > 0 ? x : 0.0) + std::log1p(std::exp(-std::fabs(x))); }

float sigmoid(float x) { return 1.f / (1.f + std::exp(-x)); }

bool counted(const NegativeBceArgs& a, int64_t n) { return a.targets.data[n] != a.ignore; }

// The negative counts unless it is the row's own target.
bool negative_counts(const NegativeBceArgs& a, int64_t n) { return a.negatives.data[n] != a.targets.data[n]; }

// negativeBceForward(h, table, bias|null, targets, negatives, probs, N, C, V, ignoreIndex)
//   -> summed loss over rows whose target is not ignoreIndex
Napi::Value negative_bce_forward_js(const Napi::CallbackInfo& info) {
  const char* k = "negativeBceForward";
  Napi::Env env = info.Env();
  NegativeBceArgs a = read_args(info, k, 6);
  auto probs = f32_arg(info, 5, k, "probs");
  expect_length(env, k, "probs", probs, a.N * 2);
  std::vector<double> row_loss(a.N, 0.0);
  parallel_range(a.N, 64, [&](int64_t b, int64_t e) {
    for (int64_t n = b; n < e; ++n) {
      if (n + kPrefetchRows < e && counted(a, n + kPrefetchRows)) {
        prefetch_span(a.table.data + static_cast<int64_t>(a.targets.data[n + kPrefetchRows]) * a.C, a.C * 4);
        prefetch_span(a.table.data + static_cast<int64_t>(a.negatives.data[n + kPrefetchRows]) * a.C, a.C * 4);
      }
      float* p = probs.data + n * 2;
      p[0] = p[1] = 0.f;
      if (!counted(a, n)) continue;
      const float st = logit(a, n, a.targets.data[n]);
      p[0] = sigmoid(st);
      double loss = softplus(-st);
      if (negative_counts(a, n)) {
        const float sn = logit(a, n, a.negatives.data[n]);
        p[1] = sigmoid(sn);
        loss += softplus(sn);
      }
      row_loss[n] = loss;
    }
  });
  double loss = 0;
  for (double l : row_loss) loss += l;
  return Napi::Number::New(env, loss);
}

// negativeBceBackward(h, table, bias|null, targets, negatives, probs, gradScale, dh|null, dtable|null, dbias|null,
//                     N, C, V, ignoreIndex)   gradients accumulate (+=)
// d loss / d s_target = σ(s_target) - 1, d loss / d s_negative = σ(s_negative) (0 for ignored rows and hits, whose
// saved probabilities are 0 and whose target term is skipped).
void negative_bce_backward_js(const Napi::CallbackInfo& info) {
  const char* k = "negativeBceBackward";
  Napi::Env env = info.Env();
  NegativeBceArgs a = read_args(info, k, 10);
  auto probs = f32_arg(info, 5, k, "probs");
  const float scale = static_cast<float>(num_arg(info, 6, k, "gradScale"));
  const SoftmaxHeadGrads grads = read_softmax_head_grads(info, k, 7, a.N, a.C, a.V);
  expect_length(env, k, "probs", probs, a.N * 2);
  if (!grads.any()) return;
  auto target_grad = [&](int64_t n) { return counted(a, n) ? scale * (probs.data[n * 2] - 1.f) : 0.f; };
  auto negative_grad = [&](int64_t n) { return scale * probs.data[n * 2 + 1]; };

  if (grads.dh) {
    parallel_range(a.N, 64, [&](int64_t b, int64_t e) {
      for (int64_t n = b; n < e; ++n) {
        if (!counted(a, n)) continue;
        const float gt = target_grad(n), gn = negative_grad(n);
        const float* et = a.table.data + static_cast<int64_t>(a.targets.data[n]) * a.C;
        const float* en = a.table.data + static_cast<int64_t>(a.negatives.data[n]) * a.C;
        float* dh = grads.dh.data + n * a.C;
        for (int64_t c = 0; c < a.C; ++c) dh[c] += gt * et[c] + gn * en[c];
      }
    });
  }
  // Sequential scatters: targets and negatives repeat across rows, and a fixed order keeps the sums deterministic.
  if (grads.dtable) {
    for (int64_t n = 0; n < a.N; ++n) {
      if (!counted(a, n)) continue;
      const float* hn = a.h.data + n * a.C;
      float* dt = grads.dtable.data + static_cast<int64_t>(a.targets.data[n]) * a.C;
      const float gt = target_grad(n);
      for (int64_t c = 0; c < a.C; ++c) dt[c] += gt * hn[c];
      const float gn = negative_grad(n);
      if (gn == 0.f) continue;
      float* dn = grads.dtable.data + static_cast<int64_t>(a.negatives.data[n]) * a.C;
      for (int64_t c = 0; c < a.C; ++c) dn[c] += gn * hn[c];
    }
  }
  if (grads.dbias) {
    for (int64_t n = 0; n < a.N; ++n) {
      if (!counted(a, n)) continue;
      grads.dbias.data[a.targets.data[n]] += target_grad(n);
      grads.dbias.data[a.negatives.data[n]] += negative_grad(n);
    }
  }
}

}  // namespace

void register_negative_bce(Napi::Env env, Napi::Object exports) {
  exports.Set("negativeBceForward", Napi::Function::New(env, negative_bce_forward_js, "negativeBceForward"));
  exports.Set("negativeBceBackward", Napi::Function::New(env, negative_bce_backward_js, "negativeBceBackward"));
}

}  // namespace graftrec
