// Multi-head scaled dot-product attention over Q, K, V [B, L, H * dh] (head h owns channels h*dh .. h*dh+dh-1),
// with the softmax fused between the two products:
//   S = Q_bh K_bh^T / sqrt(dh),   P = softmax over the allowed keys of each query row,   O_bh = P V_bh
// Key j is allowed for query i when key_valid[b, j] (not padding) and, if causal, j <= i. A query row with no
// allowed key (a padding position under a causal mask, or a sequence that is all padding) gets P = 0 and O = 0,
// never NaN. Forward saves P [B, H, L, L] (memory O(B * H * L^2), never more); backward reads it:
//   dV += P^T dO,   dP = dO V^T,   dS = P * (dP - rowsum(P * dP)) / sqrt(dh),   dQ += dS K,   dK += dS^T Q
// One task per (sequence, head): the tasks write disjoint rows and channels of O, dQ, dK and dV, so results are
// the same for any thread count. The products run on the builtin GEMM serially inside each task (a task's
// matrices are L x dh, small), with the row strides of the interleaved heads.
#include <algorithm>
#include <cmath>
#include <limits>

#include "args.h"
#include "gemm.h"
#include "reduce.h"
#include "thread_pool.h"

namespace graftrec {
namespace {

struct AttentionShape {
  int64_t B, L, H, dh;
  bool causal;
  int64_t width() const { return H * dh; }
  int64_t activations() const { return B * L * H * dh; }
  int64_t probabilities() const { return B * H * L * L; }
};

AttentionShape read_attention_shape(const Napi::CallbackInfo& info, size_t at, const char* k) {
  AttentionShape s{dim_arg(info, at, k, "B"), dim_arg(info, at + 1, k, "L"), dim_arg(info, at + 2, k, "H"),
                   dim_arg(info, at + 3, k, "dh"), bool_arg(info, at + 4, k, "causal")};
  if (s.L > 4096) fail(info.Env(), k, "L must be at most 4096 (the probabilities are L x L per head)");
  // Products of four shape arguments must not overflow before they are compared with the buffer lengths.
  const double limit = 9007199254740992.0;
  if (static_cast<double>(s.B) * s.L * s.H * s.dh > limit || static_cast<double>(s.B) * s.H * s.L * s.L > limit ||
      static_cast<double>(s.H) * s.dh > 2147483647.0)
    fail(info.Env(), k, "shape too large");
  return s;
}

bool allowed(const uint8_t* valid, int64_t i, int64_t j, bool causal) { return valid[j] && (!causal || j <= i); }

// Softmax of row i of S in place over the allowed keys; the others (and rows with none) become exactly 0.
void masked_softmax_row(float* s, const uint8_t* valid, int64_t i, int64_t L, bool causal) {
  float mx = -std::numeric_limits<float>::infinity();
  for (int64_t j = 0; j < L; ++j)
    if (allowed(valid, i, j, causal)) mx = std::max(mx, s[j]);
  if (mx == -std::numeric_limits<float>::infinity()) {
    std::fill(s, s + L, 0.f);
    return;
  }
  double sum = 0;
  for (int64_t j = 0; j < L; ++j) {
    const float e = allowed(valid, i, j, causal) ? std::exp(s[j] - mx) : 0.f;
    s[j] = e;
    sum += e;
  }
  const float inv = static_cast<float>(1.0 / sum);
  for (int64_t j = 0; j < L; ++j) s[j] *= inv;
}

// attentionForward(q, k, v, keyValid, probs, out, B, L, H, dh, causal)
void attention_forward_js(const Napi::CallbackInfo& info) {
  const char* kn = "attentionForward";
  Napi::Env env = info.Env();
  auto q = f32_arg(info, 0, kn, "q");
  auto k = f32_arg(info, 1, kn, "k");
  auto v = f32_arg(info, 2, kn, "v");
  auto valid = u8_arg(info, 3, kn, "keyValid");
  auto probs = f32_arg(info, 4, kn, "probs");
  auto out = f32_arg(info, 5, kn, "out");
  const AttentionShape s = read_attention_shape(info, 6, kn);
  for (auto [name, view] : {std::pair{"q", q}, {"k", k}, {"v", v}, {"out", out}})
    expect_length(env, kn, name, view, s.activations());
  expect_length(env, kn, "keyValid", valid, s.B * s.L);
  expect_length(env, kn, "probs", probs, s.probabilities());
  if (out.data == q.data || out.data == k.data || out.data == v.data) fail(env, kn, "out must not share memory with q, k or v");

  const int L = static_cast<int>(s.L), dh = static_cast<int>(s.dh), W = static_cast<int>(s.width());
  const float scale = static_cast<float>(1.0 / std::sqrt(static_cast<double>(s.dh)));
  parallel_for(s.B * s.H, [&](int64_t task) {
    const int64_t b = task / s.H, h = task % s.H;
    const int64_t base = b * s.L * W + h * dh;
    float* p = probs.data + task * s.L * s.L;
    const uint8_t* vb = valid.data + b * s.L;
    gemm_builtin(false, true, L, L, dh, scale, q.data + base, W, k.data + base, W, 0.f, p, L);
    for (int64_t i = 0; i < s.L; ++i) masked_softmax_row(p + i * s.L, vb, i, s.L, s.causal);
    gemm_builtin(false, false, L, dh, L, 1.f, p, L, v.data + base, W, 0.f, out.data + base, W);
  });
}

// attentionBackward(q, k, v, probs, dout, dq|null, dk|null, dv|null, B, L, H, dh, causal)
// Accumulates (+=) into the gradients given; null ones are skipped.
void attention_backward_js(const Napi::CallbackInfo& info) {
  const char* kn = "attentionBackward";
  Napi::Env env = info.Env();
  auto q = f32_arg(info, 0, kn, "q");
  auto k = f32_arg(info, 1, kn, "k");
  auto v = f32_arg(info, 2, kn, "v");
  auto probs = f32_arg(info, 3, kn, "probs");
  auto dout = f32_arg(info, 4, kn, "dout");
  auto dq = f32_arg(info, 5, kn, "dq", true);
  auto dk = f32_arg(info, 6, kn, "dk", true);
  auto dv = f32_arg(info, 7, kn, "dv", true);
  const AttentionShape s = read_attention_shape(info, 8, kn);
  for (auto [name, view] : {std::pair{"q", q}, {"k", k}, {"v", v}, {"dout", dout}})
    expect_length(env, kn, name, view, s.activations());
  for (auto [name, view] : {std::pair{"dq", dq}, {"dk", dk}, {"dv", dv}})
    if (view) expect_length(env, kn, name, view, s.activations());
  expect_length(env, kn, "probs", probs, s.probabilities());
  if (!dq && !dk && !dv) return;

  const int L = static_cast<int>(s.L), dh = static_cast<int>(s.dh), W = static_cast<int>(s.width());
  const float scale = static_cast<float>(1.0 / std::sqrt(static_cast<double>(s.dh)));
  parallel_for(s.B * s.H, [&](int64_t task) {
    const int64_t b = task / s.H, h = task % s.H;
    const int64_t base = b * s.L * W + h * dh;
    const float* p = probs.data + task * s.L * s.L;
    if (dv) gemm_builtin(true, false, L, dh, L, 1.f, p, L, dout.data + base, W, 1.f, dv.data + base, W);
    if (!dq && !dk) return;
    float* ds = scratch(0, s.L * s.L);
    gemm_builtin(false, true, L, L, dh, 1.f, dout.data + base, W, v.data + base, W, 0.f, ds, L);
    for (int64_t i = 0; i < s.L; ++i) {
      const float* pi = p + i * s.L;
      float* di = ds + i * s.L;
      double dot = 0;
      for (int64_t j = 0; j < s.L; ++j) dot += static_cast<double>(pi[j]) * di[j];
      const float d = static_cast<float>(dot);
      for (int64_t j = 0; j < s.L; ++j) di[j] = pi[j] * (di[j] - d) * scale;
    }
    if (dq) gemm_builtin(false, false, L, dh, L, 1.f, ds, L, k.data + base, W, 1.f, dq.data + base, W);
    if (dk) gemm_builtin(true, false, L, dh, L, 1.f, ds, L, q.data + base, W, 1.f, dk.data + base, W);
  });
}

}  // namespace

void register_attention(Napi::Env env, Napi::Object exports) {
  exports.Set("attentionForward", Napi::Function::New(env, attention_forward_js, "attentionForward"));
  exports.Set("attentionBackward", Napi::Function::New(env, attention_backward_js, "attentionBackward"));
}

}  // namespace graftrec
