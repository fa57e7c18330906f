// GELU, tanh form (BERT, PeterRec's patches), shared by the activation kernels and the fused patch kernel:
//   gelu(x) = 0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3)))
#pragma once
#include "fast_math.h"

namespace graftrec {

constexpr float kSqrt2OverPi = 0.7978845608028654f;
constexpr float kGeluCubic = 0.044715f;

// tanh through the vectorisable exp: tanh(u) = 2 / (1 + e^(-2u)) - 1 (saturates correctly at both ends).
inline float fast_tanh(float u) { return 2.f / (1.f + fast_exp(-2.f * u)) - 1.f; }

inline float gelu_value(float v) { return 0.5f * v * (1.f + fast_tanh(kSqrt2OverPi * (v + kGeluCubic * v * v * v))); }

// d gelu(v) / dv
inline float gelu_slope(float v) {
  const float t = fast_tanh(kSqrt2OverPi * (v + kGeluCubic * v * v * v));
  const float du = kSqrt2OverPi * (1.f + 3.f * kGeluCubic * v * v);
  return 0.5f * (1.f + t) + 0.5f * v * (1.f - t * t) * du;
}

}  // namespace graftrec
