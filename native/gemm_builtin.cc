// Placeholder portable GEMM; replaced by the blocked SIMD kernel.
#include "gemm.h"

namespace graftrec {

const char* gemm_builtin_isa() { return "portable"; }

void gemm_builtin(bool ta, bool tb, int M, int N, int K, float alpha, const float* A, int lda, const float* B,
                  int ldb, float beta, float* C, int ldc) {
  for (int i = 0; i < M; ++i)
    for (int j = 0; j < N; ++j) {
      float s = 0.f;
      for (int p = 0; p < K; ++p) s += (ta ? A[(long)p * lda + i] : A[(long)i * lda + p]) * (tb ? B[(long)j * ldb + p] : B[(long)p * ldb + j]);
      float* c = &C[(long)i * ldc + j];
      *c = alpha * s + (beta == 0.f ? 0.f : beta * *c);
    }
}

}  // namespace graftrec
