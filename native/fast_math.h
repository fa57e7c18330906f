// Vectorisable float exp for the softmax kernels. libm's expf is a scalar call the compiler cannot vectorise, and
// a full softmax over a large vocabulary evaluates it billions of times per step.
// Cody-Waite range reduction + the Cephes degree-6 polynomial: relative error below 2e-7 on [-87, 88].
#pragma once
#include <algorithm>
#include <cstdint>
#include <cstring>

namespace graftrec {

inline float fast_exp(float x) {
  const float hi = 88.3762626647949f, lo = -87.3365447504019f;
  const float xc = std::min(std::max(x, lo), hi);  // a NaN passes through both and makes the result NaN
  const float t = xc * 1.44269504088896341f;
  // Round t to the nearest integer by adding 1.5 * 2^23: the integer lands in the low mantissa bits. Unlike a
  // float->int conversion of t ± 0.5 or nearbyint, this vectorises on every SSE/AVX level.
  const float shifted = t + 12582912.f;
  int32_t shifted_bits;
  std::memcpy(&shifted_bits, &shifted, sizeof shifted_bits);
  const int32_t n = shifted_bits - 0x4B400000;
  const float fn = shifted - 12582912.f;
  const float r = xc - fn * 0.693359375f + fn * 2.12194440e-4f;
  float y = 1.9875691500e-4f;
  y = y * r + 1.3981999507e-3f;
  y = y * r + 8.3334519073e-3f;
  y = y * r + 4.1665795894e-2f;
  y = y * r + 1.6666665459e-1f;
  y = y * r + 5.0000001201e-1f;
  y = y * r * r + r + 1.f;
  // Shifted as unsigned: for a NaN input n is far out of range, and a signed shift that overflows is undefined.
  const uint32_t bits = static_cast<uint32_t>(n + 127) << 23;
  float scale;
  std::memcpy(&scale, &bits, sizeof scale);
  return x < lo ? 0.f : y * scale;  // exp(-inf) and anything this small is 0, as masked logits need
}

}  // namespace graftrec
