// Inverted dropout with a counter-based random number generator: element i of call `step` under `seed` is kept
// when u(seed, step, offset + i) >= rate, u a uniform in [0, 1) computed by hashing i with two 32-bit keys derived from
// (seed, step). The mask is a pure function of (seed, step, offset + i), so it is the same for any thread count and
// any split of the work, and backward recomputes it instead of storing it. `offset` places a tensor inside a larger
// one: a data-parallel rank holding rows [a, b) of a batch passes a × (elements per row) and draws the whole
// batch's mask for its rows, as one process would.
//   y = x * keep(i) / (1 - rate)          dx += dy * keep(i) / (1 - rate)
// The per-element hash uses only 32-bit multiplies and fixed shifts (two rounds of a 32-bit integer finaliser), so
// it vectorises: with 64-bit multiplies (SplitMix64) the mask cost more than the attention and GEMMs of a SASRec
// step together.
#include <cstdint>

#include "args.h"
#include "simd.h"
#include "thread_pool.h"

namespace graftrec {
namespace {

constexpr int64_t kDropoutGrain = 1 << 15;

inline uint64_t mix64(uint64_t z) {
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
  return z ^ (z >> 31);
}

// A 32-bit integer finaliser with low bias (shift–multiply–shift, constants from Wellons' hash search).
inline uint32_t mix32(uint32_t x) {
  x ^= x >> 16;
  x *= 0x7FEB352Du;
  x ^= x >> 15;
  x *= 0x846CA68Bu;
  x ^= x >> 16;
  return x;
}

// 24 random bits as a float in [0, 1): exact in float32, so comparing with the rate is the same everywhere.
inline float uniform_at(uint32_t key0, uint32_t key1, uint32_t i) {
  return static_cast<float>(mix32(mix32(i ^ key0) ^ key1) >> 8) * (1.f / 16777216.f);
}

inline uint64_t stream_of(int64_t seed, int64_t step) {
  return mix64(mix64(static_cast<uint64_t>(seed)) ^ (static_cast<uint64_t>(step) * 0xD1B54A32D192ED03ULL));
}

struct DropoutArgs {
  float rate;
  uint64_t stream;
  int64_t offset;
};

DropoutArgs read_dropout_args(const Napi::CallbackInfo& info, size_t at, const char* k) {
  const double rate = num_arg(info, at, k, "rate");
  if (!(rate >= 0 && rate < 1)) fail(info.Env(), k, "rate must be in [0, 1), got " + std::to_string(rate));
  const int64_t seed = int_arg(info, at + 1, k, "seed", -9007199254740991.0, 9007199254740991.0);
  const int64_t step = int_arg(info, at + 2, k, "step", 0, 9007199254740991.0);
  const int64_t offset = int_arg(info, at + 3, k, "offset", 0, static_cast<double>(UINT32_MAX));
  return {static_cast<float>(rate), stream_of(seed, step), offset};
}

GRAFTREC_SIMD_CLONES
void mask_span(const float* src, float* dst, int64_t begin, int64_t end, uint32_t offset, uint32_t key0, uint32_t key1,
               float rate, float keep_scale, bool accumulate) {
  if (accumulate) {
#pragma omp simd
    for (int64_t i = begin; i < end; ++i)
      dst[i] += uniform_at(key0, key1, offset + static_cast<uint32_t>(i)) >= rate ? src[i] * keep_scale : 0.f;
  } else {
#pragma omp simd
    for (int64_t i = begin; i < end; ++i)
      dst[i] = uniform_at(key0, key1, offset + static_cast<uint32_t>(i)) >= rate ? src[i] * keep_scale : 0.f;
  }
}

// Applies the mask of (stream, rate) to src, scaled: dst = src * keep / (1 - rate), or dst += that (accumulate).
void apply_mask(Napi::Env env, const char* k, const float* src, float* dst, int64_t n, const DropoutArgs& a,
                bool accumulate) {
  // The element index is hashed as 32 bits: a larger tensor would repeat masks.
  if (a.offset + n > static_cast<int64_t>(UINT32_MAX)) fail(env, k, "tensors above 2^32 elements (offset included) are not supported");
  const float keep_scale = 1.f / (1.f - a.rate);
  const auto key0 = static_cast<uint32_t>(a.stream), key1 = static_cast<uint32_t>(a.stream >> 32);
  parallel_range(n, kDropoutGrain, [&](int64_t begin, int64_t end) {
    mask_span(src, dst, begin, end, static_cast<uint32_t>(a.offset), key0, key1, a.rate, keep_scale, accumulate);
  });
}

// dropoutForward(x, y, rate, seed, step, offset)
void dropout_forward_js(const Napi::CallbackInfo& info) {
  const char* k = "dropoutForward";
  auto x = f32_arg(info, 0, k, "x");
  auto y = f32_arg(info, 1, k, "y");
  expect_length(info.Env(), k, "y", y, static_cast<int64_t>(x.length));
  apply_mask(info.Env(), k, x.data, y.data, static_cast<int64_t>(x.length), read_dropout_args(info, 2, k), false);
}

// dropoutBackward(dy, dx, rate, seed, step, offset): dx += dy * mask (accumulates).
void dropout_backward_js(const Napi::CallbackInfo& info) {
  const char* k = "dropoutBackward";
  auto dy = f32_arg(info, 0, k, "dy");
  auto dx = f32_arg(info, 1, k, "dx");
  expect_length(info.Env(), k, "dx", dx, static_cast<int64_t>(dy.length));
  apply_mask(info.Env(), k, dy.data, dx.data, static_cast<int64_t>(dy.length), read_dropout_args(info, 2, k), true);
}

}  // namespace

void register_dropout(Napi::Env env, Napi::Object exports) {
  exports.Set("dropoutForward", Napi::Function::New(env, dropout_forward_js, "dropoutForward"));
  exports.Set("dropoutBackward", Napi::Function::New(env, dropout_backward_js, "dropoutBackward"));
}

}  // namespace graftrec
