// Row-major single-precision GEMM:  C = alpha * op(A) * op(B) + beta * C,
// op(A) is M x K, op(B) is K x N, C is M x N; lda/ldb/ldc are row strides of the stored matrices.
// When beta == 0, C is not read (it may hold NaN).
#pragma once
#include <cstdint>

namespace graftrec {

void gemm(bool trans_a, bool trans_b, int M, int N, int K, float alpha, const float* A, int lda, const float* B,
          int ldb, float beta, float* C, int ldc);

// Our own blocked kernel (AVX-512 / AVX2+FMA / portable, chosen by CPU detection at first use).
void gemm_builtin(bool trans_a, bool trans_b, int M, int N, int K, float alpha, const float* A, int lda,
                  const float* B, int ldb, float beta, float* C, int ldc);
// Convolution GEMMs on the builtin kernel with the im2col gather folded into the kernel: no [rows, taps * seg]
// copy is written. The gathered matrix has, for row n and tap j, the seg floats of src row n + offset[j] when
// start <= n % L + offset[j] < L (the row's position stays inside the real part of its own sequence) and
// start <= n % L (row n itself is real), else zeros; start is sequence n / L's first real position (0 when
// `start` is null). Positions before it are left padding: they read as zeros and their rows gather nothing.
struct ConvGather {
  const float* src;       // [rows, seg], row-major
  int64_t rows, L;        // rows = B * L
  int taps, seg;
  const int64_t* offset;  // [taps]
  const int32_t* start;   // [B] or null
};
// C[n, :] = beta * C[n, :] + sum_j gathered(n, j) * op(B_j) (+ bias[:] when bias is not null), where
// B_j = B + j * tap_stride and op(B_j) (seg x N) is B_j itself (row stride ldb) or, with trans_b, its transpose.
// A tap whose rows are all out of range in a whole micro-tile is skipped (it would only add zeros), so tiles of
// padding cost no multiply-adds. Rows never
// depend on how the work is split, so results are the same for any thread count.
void conv_gemm_rows(const ConvGather& g, int N, const float* B, int64_t tap_stride, int ldb, bool trans_b, float beta,
                    const float* bias, float* C, int ldc);
// dw[j * seg + c, o] += sum_n gathered(n, j)[c] * dy[n, o]   (dy: [rows, N], dw: [taps * seg, N]).
// Rows are summed in fixed chunks whose partial products are combined in chunk order: deterministic for any
// thread count.
void conv_gemm_weight(const ConvGather& g, const float* dy, int N, float* dw);

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
