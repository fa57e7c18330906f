// Row-major single-precision GEMM:  C = alpha * op(A) * op(B) + beta * C,
// op(A) is M x K, op(B) is K x N, C is M x N; lda/ldb/ldc are row strides of the stored matrices.
// When beta == 0, C is not read (it may hold NaN).
#pragma once

namespace graftrec {

void gemm(bool trans_a, bool trans_b, int M, int N, int K, float alpha, const float* A, int lda, const float* B,
          int ldb, float beta, float* C, int ldc);

// Our own blocked kernel (AVX-512 / AVX2+FMA / portable, chosen by CPU detection at first use).
void gemm_builtin(bool trans_a, bool trans_b, int M, int N, int K, float alpha, const float* A, int lda,
                  const float* B, int ldb, float beta, float* C, int ldc);
// Which instruction-set path gemm_builtin uses: "avx512", "avx2" or "portable".
const char* gemm_builtin_isa();

// System BLAS loaded with dlopen. Returns false when no library was loaded.
bool gemm_blas(bool trans_a, bool trans_b, int M, int N, int K, float alpha, const float* A, int lda,
               const float* B, int ldb, float beta, float* C, int ldc);
// Tries to load a BLAS: `spec` is "auto" (search the usual names) or a path/soname. Returns the loaded path or "".
const char* blas_load(const char* spec);
const char* blas_loaded_path();
void blas_set_threads(int n);

// Backend selection: "blas" when a BLAS is loaded and selected, else "builtin".
enum class GemmBackend { Builtin, Blas };
GemmBackend gemm_backend();
// Returns false (and changes nothing) when Blas is asked for but none is loaded.
bool set_gemm_backend(GemmBackend backend);

}  // namespace graftrec
