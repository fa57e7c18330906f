// Element-wise activations. GELU uses the tanh form (as in BERT / the PeterRec patches):
//   gelu(x) = 0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3)))
// Backward kernels accumulate (+=) into dx.
#include <cmath>

#include "args.h"
#include "thread_pool.h"

namespace graftrec {
namespace {

constexpr int64_t kGrain = 1 << 14;
constexpr float kSqrt2OverPi = 0.7978845608028654f;
constexpr float kGeluCubic = 0.044715f;

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
// geluForward(x, y)
void gelu_forward_js(const Napi::CallbackInfo& info) {
  elementwise(info, "geluForward", 2, [](View<float>* a, int64_t i) {
    float x = a[0].data[i];
    a[1].data[i] = 0.5f * x * (1.f + std::tanh(kSqrt2OverPi * (x + kGeluCubic * x * x * x)));
  });
}
// geluBackward(x, dy, dx)
void gelu_backward_js(const Napi::CallbackInfo& info) {
  elementwise(info, "geluBackward", 3, [](View<float>* a, int64_t i) {
    float x = a[0].data[i];
    float u = kSqrt2OverPi * (x + kGeluCubic * x * x * x);
    float t = std::tanh(u);
    float du = kSqrt2OverPi * (1.f + 3.f * kGeluCubic * x * x);
    float d = 0.5f * (1.f + t) + 0.5f * x * (1.f - t * t) * du;
    a[2].data[i] += a[1].data[i] * d;
  });
}

}  // namespace

void register_activation(Napi::Env env, Napi::Object exports) {
  exports.Set("reluForward", Napi::Function::New(env, relu_forward_js, "reluForward"));
  exports.Set("reluBackward", Napi::Function::New(env, relu_backward_js, "reluBackward"));
  exports.Set("geluForward", Napi::Function::New(env, gelu_forward_js, "geluForward"));
  exports.Set("geluBackward", Napi::Function::New(env, gelu_backward_js, "geluBackward"));
}

}  // namespace graftrec
