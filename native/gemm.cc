#include "gemm.h"

#include <atomic>

#include "thread_pool.h"

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
  // Deterministic mode keeps to the builtin kernel: it never splits K, so results do not depend on the thread
  // count, which a system BLAS does not promise.
  if (g_backend.load() == GemmBackend::Blas && !deterministic() &&
      gemm_blas(trans_a, trans_b, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc))
    return;
  gemm_builtin(trans_a, trans_b, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc);
}

}  // namespace graftrec

// ---- binding ----
#include "args.h"

namespace graftrec {
namespace {

void check_matrix(const Napi::Env& env, const char* name, const View<float>& m, int64_t rows, int64_t cols,
                  int64_t ld) {
  if (ld < cols)
    fail(env, "gemm", std::string(name) + ": leading dimension " + std::to_string(ld) + " < row length " +
                          std::to_string(cols));
  int64_t need = (rows - 1) * ld + cols;
  if (static_cast<int64_t>(m.length) < need)
    fail(env, "gemm", std::string(name) + " has " + std::to_string(m.length) + " elements, needs at least " +
                          std::to_string(need) + " for " + std::to_string(rows) + "x" + std::to_string(cols) +
                          " with stride " + std::to_string(ld));
}

// gemm(transA, transB, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc)
void gemm_js(const Napi::CallbackInfo& info) {
  const char* k = "gemm";
  Napi::Env env = info.Env();
  bool ta = bool_arg(info, 0, k, "transA"), tb = bool_arg(info, 1, k, "transB");
  int64_t M = dim_arg(info, 2, k, "M"), N = dim_arg(info, 3, k, "N"), K = dim_arg(info, 4, k, "K");
  float alpha = static_cast<float>(num_arg(info, 5, k, "alpha"));
  auto A = f32_arg(info, 6, k, "A");
  int64_t lda = dim_arg(info, 7, k, "lda");
  auto B = f32_arg(info, 8, k, "B");
  int64_t ldb = dim_arg(info, 9, k, "ldb");
  float beta = static_cast<float>(num_arg(info, 10, k, "beta"));
  auto C = f32_arg(info, 11, k, "C");
  int64_t ldc = dim_arg(info, 12, k, "ldc");
  check_matrix(env, "A", A, ta ? K : M, ta ? M : K, lda);
  check_matrix(env, "B", B, tb ? N : K, tb ? K : N, ldb);
  check_matrix(env, "C", C, M, N, ldc);
  gemm(ta, tb, (int)M, (int)N, (int)K, alpha, A.data, (int)lda, B.data, (int)ldb, beta, C.data, (int)ldc);
}

}  // namespace

void register_gemm(Napi::Env env, Napi::Object exports) {
  exports.Set("gemm", Napi::Function::New(env, gemm_js, "gemm"));
}

}  // namespace graftrec
