// Segment pooling: rows x[N, C] are grouped into consecutive segments (offsets[S + 1]; segment s owns rows
// offsets[s] .. offsets[s+1]-1), e.g. every position of every window of one user's history. A user vector is
//   weighted sum   y[s] = sum_r w[r] x[r]          (last position: w one-hot; mean: w = 1/n on real positions;
//                                                   attention: w = segment softmax of scores)
//   masked max     y[s] = max over rows with valid[r] of x[r]   (per channel; the winning row is remembered)
//   segment softmax p[r] = exp(z[r]) / sum over valid rows of the segment (invalid rows get p = 0)
// Every kernel owns whole segments per task, so results are the same for any thread count.
#include <cmath>
#include <cstring>
#include <limits>

#include "args.h"
#include "thread_pool.h"

namespace graftrec {
namespace {

template <typename Fn>
void for_segments(int64_t segments, int64_t work, Fn fn) {
  parallel_range(segments, work >= (1 << 16) ? 1 : segments, [&](int64_t b, int64_t e) {
    for (int64_t s = b; s < e; ++s) fn(s);
  });
}

// segmentWeightedSumForward(x, w, offsets, y, N, C)
void weighted_sum_forward_js(const Napi::CallbackInfo& info) {
  const char* k = "segmentWeightedSumForward";
  Napi::Env env = info.Env();
  auto x = f32_arg(info, 0, k, "x");
  auto w = f32_arg(info, 1, k, "w");
  auto offsets = i32_arg(info, 2, k, "offsets");
  auto y = f32_arg(info, 3, k, "y");
  int64_t N = dim_arg(info, 4, k, "N", true), C = dim_arg(info, 5, k, "C");
  expect_length(env, k, "x", x, N * C);
  expect_length(env, k, "w", w, N);
  int64_t S = expect_offsets(env, k, offsets, N);
  expect_length(env, k, "y", y, S * C);
  for_segments(S, N * C, [&](int64_t s) {
    float* out = y.data + s * C;
    std::memset(out, 0, sizeof(float) * C);
    for (int64_t r = offsets.data[s]; r < offsets.data[s + 1]; ++r) {
      float a = w.data[r];
      if (a == 0.0f) continue;  // padding positions cost nothing
      const float* row = x.data + r * C;
      for (int64_t c = 0; c < C; ++c) out[c] += a * row[c];
    }
  });
}

// segmentWeightedSumBackward(x, w, offsets, dy, dx | null, dw | null, N, C): dx[r] += w[r] dy[s], dw[r] += x[r]·dy[s]
void weighted_sum_backward_js(const Napi::CallbackInfo& info) {
  const char* k = "segmentWeightedSumBackward";
  Napi::Env env = info.Env();
  auto x = f32_arg(info, 0, k, "x");
  auto w = f32_arg(info, 1, k, "w");
  auto offsets = i32_arg(info, 2, k, "offsets");
  auto dy = f32_arg(info, 3, k, "dy");
  auto dx = f32_arg(info, 4, k, "dx", true);
  auto dw = f32_arg(info, 5, k, "dw", true);
  int64_t N = dim_arg(info, 6, k, "N", true), C = dim_arg(info, 7, k, "C");
  expect_length(env, k, "x", x, N * C);
  expect_length(env, k, "w", w, N);
  int64_t S = expect_offsets(env, k, offsets, N);
  expect_length(env, k, "dy", dy, S * C);
  if (dx) expect_length(env, k, "dx", dx, N * C);
  if (dw) expect_length(env, k, "dw", dw, N);
  for_segments(S, N * C, [&](int64_t s) {
    const float* g = dy.data + s * C;
    for (int64_t r = offsets.data[s]; r < offsets.data[s + 1]; ++r) {
      if (dx) {
        float a = w.data[r];
        float* d = dx.data + r * C;
        for (int64_t c = 0; c < C; ++c) d[c] += a * g[c];
      }
      if (dw) {
        const float* row = x.data + r * C;
        float dot = 0.0f;
        for (int64_t c = 0; c < C; ++c) dot += row[c] * g[c];
        dw.data[r] += dot;
      }
    }
  });
}

// segmentMaxForward(x, valid, offsets, y, argmax, N, C): argmax[s, c] = the winning row (-1: no valid row, y = 0)
void max_forward_js(const Napi::CallbackInfo& info) {
  const char* k = "segmentMaxForward";
  Napi::Env env = info.Env();
  auto x = f32_arg(info, 0, k, "x");
  auto valid = u8_arg(info, 1, k, "valid");
  auto offsets = i32_arg(info, 2, k, "offsets");
  auto y = f32_arg(info, 3, k, "y");
  auto argmax = i32_arg(info, 4, k, "argmax");
  int64_t N = dim_arg(info, 5, k, "N", true), C = dim_arg(info, 6, k, "C");
  expect_length(env, k, "x", x, N * C);
  expect_length(env, k, "valid", valid, N);
  int64_t S = expect_offsets(env, k, offsets, N);
  expect_length(env, k, "y", y, S * C);
  expect_length(env, k, "argmax", argmax, S * C);
  for_segments(S, N * C, [&](int64_t s) {
    float* out = y.data + s * C;
    int32_t* arg = argmax.data + s * C;
    for (int64_t c = 0; c < C; ++c) {
      out[c] = -std::numeric_limits<float>::infinity();
      arg[c] = -1;
    }
    for (int64_t r = offsets.data[s]; r < offsets.data[s + 1]; ++r) {
      if (!valid.data[r]) continue;
      const float* row = x.data + r * C;
      for (int64_t c = 0; c < C; ++c)
        if (row[c] > out[c] || arg[c] < 0) {  // the first valid row always wins (also over NaN)
          out[c] = row[c];
          arg[c] = static_cast<int32_t>(r);
        }
    }
    for (int64_t c = 0; c < C; ++c)
      if (arg[c] < 0) out[c] = 0.0f;
  });
}

// segmentMaxBackward(argmax, dy, dx, S, C): dx[argmax[s, c], c] += dy[s, c]
void max_backward_js(const Napi::CallbackInfo& info) {
  const char* k = "segmentMaxBackward";
  Napi::Env env = info.Env();
  auto argmax = i32_arg(info, 0, k, "argmax");
  auto dy = f32_arg(info, 1, k, "dy");
  auto dx = f32_arg(info, 2, k, "dx");
  int64_t S = dim_arg(info, 3, k, "S", true), C = dim_arg(info, 4, k, "C");
  expect_length(env, k, "argmax", argmax, S * C);
  expect_length(env, k, "dy", dy, S * C);
  if (dx.length % C != 0) fail(env, k, "dx length is not a multiple of C");
  int64_t N = static_cast<int64_t>(dx.length) / C;
  for (int64_t i = 0; i < S * C; ++i)
    if (argmax.data[i] < -1 || argmax.data[i] >= N)
      fail(env, k, "argmax[" + std::to_string(i) + "] = " + std::to_string(argmax.data[i]) + " is outside [-1, " +
                       std::to_string(N) + ")");
  for (int64_t s = 0; s < S; ++s)
    for (int64_t c = 0; c < C; ++c) {
      int32_t r = argmax.data[s * C + c];
      if (r >= 0) dx.data[static_cast<int64_t>(r) * C + c] += dy.data[s * C + c];
    }
}

// segmentSoftmaxForward(z, valid, offsets, p, N): softmax of z over each segment's valid rows; 0 elsewhere.
void softmax_forward_js(const Napi::CallbackInfo& info) {
  const char* k = "segmentSoftmaxForward";
  Napi::Env env = info.Env();
  auto z = f32_arg(info, 0, k, "z");
  auto valid = u8_arg(info, 1, k, "valid");
  auto offsets = i32_arg(info, 2, k, "offsets");
  auto p = f32_arg(info, 3, k, "p");
  int64_t N = dim_arg(info, 4, k, "N", true);
  expect_length(env, k, "z", z, N);
  expect_length(env, k, "valid", valid, N);
  expect_length(env, k, "p", p, N);
  int64_t S = expect_offsets(env, k, offsets, N);
  for_segments(S, N, [&](int64_t s) {
    int64_t b = offsets.data[s], e = offsets.data[s + 1];
    float m = -std::numeric_limits<float>::infinity();
    for (int64_t r = b; r < e; ++r)
      if (valid.data[r] && z.data[r] > m) m = z.data[r];
    double sum = 0.0;
    for (int64_t r = b; r < e; ++r) {
      p.data[r] = valid.data[r] ? std::exp(z.data[r] - m) : 0.0f;
      sum += p.data[r];
    }
    float inv = sum > 0.0 ? static_cast<float>(1.0 / sum) : 0.0f;
    for (int64_t r = b; r < e; ++r) p.data[r] *= inv;
  });
}

// segmentSoftmaxBackward(p, dp, offsets, dz, N): dz[r] += p[r] (dp[r] - sum over the segment of p·dp)
void softmax_backward_js(const Napi::CallbackInfo& info) {
  const char* k = "segmentSoftmaxBackward";
  Napi::Env env = info.Env();
  auto p = f32_arg(info, 0, k, "p");
  auto dp = f32_arg(info, 1, k, "dp");
  auto offsets = i32_arg(info, 2, k, "offsets");
  auto dz = f32_arg(info, 3, k, "dz");
  int64_t N = dim_arg(info, 4, k, "N", true);
  expect_length(env, k, "p", p, N);
  expect_length(env, k, "dp", dp, N);
  expect_length(env, k, "dz", dz, N);
  int64_t S = expect_offsets(env, k, offsets, N);
  for_segments(S, N, [&](int64_t s) {
    int64_t b = offsets.data[s], e = offsets.data[s + 1];
    double dot = 0.0;
    for (int64_t r = b; r < e; ++r) dot += static_cast<double>(p.data[r]) * dp.data[r];
    for (int64_t r = b; r < e; ++r) dz.data[r] += p.data[r] * (dp.data[r] - static_cast<float>(dot));
  });
}

}  // namespace

void register_pooling(Napi::Env env, Napi::Object exports) {
  exports.Set("segmentWeightedSumForward", Napi::Function::New(env, weighted_sum_forward_js, "segmentWeightedSumForward"));
  exports.Set("segmentWeightedSumBackward", Napi::Function::New(env, weighted_sum_backward_js, "segmentWeightedSumBackward"));
  exports.Set("segmentMaxForward", Napi::Function::New(env, max_forward_js, "segmentMaxForward"));
  exports.Set("segmentMaxBackward", Napi::Function::New(env, max_backward_js, "segmentMaxBackward"));
  exports.Set("segmentSoftmaxForward", Napi::Function::New(env, softmax_forward_js, "segmentSoftmaxForward"));
  exports.Set("segmentSoftmaxBackward", Napi::Function::New(env, softmax_backward_js, "segmentSoftmaxBackward"));
}

}  // namespace graftrec
