// Vectorisable float exp for the softmax kernels. libm's expf is a scalar call the compiler cannot vectorise, and
// a full softmax over a large vocabulary evaluates it billions of times per step.
// Cody-Waite range reduction + the Cephes degree-6 polynomial: relative error below 2e-7 on [-87, 88].
#pragma once
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>

namespace graftrec {

inline float fast_exp(float x) {
  const float hi = 88.3762626647949f, lo = -87.3365447504019f;
  const bool underflow = x < lo;  // exp(-inf) and anything this small is 0, as softmax needs for masked logits
  float xc = std::min(std::max(x, lo), hi);
  float t = xc * 1.44269504088896341f;
  int32_t n = static_cast<int32_t>(t + std::copysign(0.5f, t));  // round to nearest without a branch
  float fn = static_cast<float>(n);
  float r = xc - fn * 0.693359375f + fn * 2.12194440e-4f;
  float y = 1.9875691500e-4f;
  y = y * r + 1.3981999507e-3f;
  y = y * r + 8.3334519073e-3f;
  y = y * r + 4.1665795894e-2f;
  y = y * r + 1.6666665459e-1f;
  y = y * r + 5.0000001201e-1f;
  y = y * r * r + r + 1.f;
  int32_t bits = (n + 127) << 23;
  float scale;
  std::memcpy(&scale, &bits, sizeof scale);
  float result = y * scale;
  return underflow ? 0.f : (x != x ? x : result);  // NaN stays NaN so the trainer can detect it
}

}  // namespace graftrec
