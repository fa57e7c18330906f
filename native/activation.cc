// Element-wise activations. GELU uses the tanh form (as in BERT / the PeterRec patches):
//   gelu(x) = 0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3)))
// Backward kernels accumulate (+=) into dx.

#include "args.h"
#include "gelu.h"
#include "simd.h"
#include "thread_pool.h"

namespace graftrec {
namespace {

constexpr int64_t kGrain = 1 << 14;

template <typename F>
void elementwise(const Napi::CallbackInfo& info, const char* k, int n_arrays, F f) {
  View<float> a[3];
  static const char* names[] = {"a", "b", "c"};
  for (int i = 0; i < n_arrays; ++i) {
    a[i] = f32_arg(info, i, k, names[i]);
    if (i > 0) expect_length(info.Env(), k, names[i], a[i], a[0].length);
  }
  parallel_range(a[0].length, kGrain, [&](int64_t b, int64_t e) {
    for (int64_t i = b; i < e; ++i) f(a, i);
  });
}

// reluForward(x, y)
void relu_forward_js(const Napi::CallbackInfo& info) {
  elementwise(info, "reluForward", 2, [](View<float>* a, int64_t i) { a[1].data[i] = a[0].data[i] > 0.f ? a[0].data[i] : 0.f; });
}
// reluBackward(y, dy, dx): the mask comes from the output, so x need not be kept
void relu_backward_js(const Napi::CallbackInfo& info) {
  elementwise(info, "reluBackward", 3, [](View<float>* a, int64_t i) {
    const float d = a[1].data[i];  // unconditional load + select: a data-dependent branch mispredicts half the time
    a[2].data[i] += a[0].data[i] > 0.f ? d : 0.f;
  });
}
GRAFTREC_SIMD_CLONES
void gelu_forward_span(const float* __restrict x, float* __restrict y, int64_t n) {
#pragma omp simd
  for (int64_t i = 0; i < n; ++i) y[i] = gelu_value(x[i]);
}

GRAFTREC_SIMD_CLONES
void gelu_backward_span(const float* __restrict x, const float* __restrict dy, float* __restrict dx, int64_t n) {
#pragma omp simd
  for (int64_t i = 0; i < n; ++i) dx[i] += dy[i] * gelu_slope(x[i]);
}

// geluForward(x, y)
void gelu_forward_js(const Napi::CallbackInfo& info) {
  auto x = f32_arg(info, 0, "geluForward", "x");
  auto y = f32_arg(info, 1, "geluForward", "y");
  expect_length(info.Env(), "geluForward", "y", y, x.length);
  parallel_range(x.length, kGrain, [&](int64_t b, int64_t e) { gelu_forward_span(x.data + b, y.data + b, e - b); });
}
// geluBackward(x, dy, dx)
void gelu_backward_js(const Napi::CallbackInfo& info) {
  const char* k = "geluBackward";
  auto x = f32_arg(info, 0, k, "x");
  auto dy = f32_arg(info, 1, k, "dy");
  auto dx = f32_arg(info, 2, k, "dx");
  expect_length(info.Env(), k, "dy", dy, x.length);
  expect_length(info.Env(), k, "dx", dx, x.length);
  parallel_range(x.length, kGrain, [&](int64_t b, int64_t e) { gelu_backward_span(x.data + b, dy.data + b, dx.data + b, e - b); });
}

}  // namespace

void register_activation(Napi::Env env, Napi::Object exports) {
  exports.Set("reluForward", Napi::Function::New(env, relu_forward_js, "reluForward"));
  exports.Set("reluBackward", Napi::Function::New(env, relu_backward_js, "reluBackward"));
  exports.Set("geluForward", Napi::Function::New(env, gelu_forward_js, "geluForward"));
  exports.Set("geluBackward", Napi::Function::New(env, gelu_backward_js, "geluBackward"));
}

}  // namespace graftrec
