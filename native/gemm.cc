#include "gemm.h"

#include <atomic>

namespace graftrec {
namespace {
std::atomic<GemmBackend> g_backend{GemmBackend::Builtin};
}

GemmBackend gemm_backend() { return g_backend.load(); }

bool set_gemm_backend(GemmBackend backend) {
  if (backend == GemmBackend::Blas && blas_loaded_path()[0] == '\0') return false;
  g_backend.store(backend);
  return true;
}

void gemm(bool trans_a, bool trans_b, int M, int N, int K, float alpha, const float* A, int lda, const float* B,
          int ldb, float beta, float* C, int ldc) {
  if (M <= 0 || N <= 0) return;
  if (K <= 0) {  // op(A)*op(B) is all zeros: only the beta scaling remains
    for (int i = 0; i < M; ++i)
      for (int j = 0; j < N; ++j) C[(long)i * ldc + j] = beta == 0.f ? 0.f : beta * C[(long)i * ldc + j];
    return;
  }
  if (g_backend.load() == GemmBackend::Blas &&
      gemm_blas(trans_a, trans_b, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc))
    return;
  gemm_builtin(trans_a, trans_b, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc);
}

}  // namespace graftrec
