// Blocked single-precision GEMM in the Goto/BLIS style, with one of three micro-kernels picked once at run time:
//   avx512   - AVX-512F + FMA, 6 x 64 tile (24 zmm accumulators)
//   avx2     - AVX2 + FMA,     6 x 16 tile (12 ymm accumulators)
//   portable - GCC/Clang vector types, 4 x 8 tile (SSE2 on baseline x86-64, NEON on arm64)
// The SIMD kernels carry function-level target attributes, so this file is built without -march flags and the
// binary still runs on any x86-64; on other architectures only the portable path is compiled.
//
// Environment: GRAFTREC_GEMM_ISA=avx512|avx2|portable forces a path (read once, at first use). A path the CPU
// cannot run, or any other value, is ignored, so it can only lower the choice; tests use it to exercise every path
// on one machine.
//
// Layout of the work. C is row-major, so the kernels vectorise along N: a tile keeps MR rows x NR columns of C in
// registers, loads NR-wide rows of packed B and broadcasts single elements of A.
//   - B is packed per (KC x NC) panel into NR-wide strips, zero-padded to whole vectors, so the kernel loads it
//     with aligned, unmasked loads. The panel lives in L2 and is streamed once per MR rows of C.
//   - A is normally read in place: an MR x KC sliver is one L1-sized block that every strip of the panel reuses.
//     Packing it would cost a full pass over A, which dominates for the tall-skinny shapes (N = 64..100) this
//     library mostly sees. Only partial row blocks (M edge) are copied into a zero-padded sliver, so the kernel
//     never has to shorten its fully unrolled row loop.
//   - K is blocked (KC) but never split across threads: every element of C is produced by the same sequence of
//     FMAs whatever the thread count or tile position, so results are bit-identical for any number of threads.
#include <algorithm>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <vector>

#include "gemm.h"
#include "thread_pool.h"

#if defined(__x86_64__)
#include <immintrin.h>
#define GRAFTREC_X86 1
#endif

namespace graftrec {
namespace {

// A KC x NC panel of packed B is 256 KB: it stays in L2 even when two threads of one core each hold a panel.
constexpr int kKc = 256;
constexpr int kNc = 256;
// Below this many multiply-adds, waking the pool costs more than it saves.
constexpr double kParallelMinWork = 1 << 20;

// op(A)(i, k) sits at a[i * rs + k * cs]: rs = lda, cs = 1 for A as stored; rs = 1, cs = lda for A transposed;
// rs = 1, cs = MR for a packed sliver.
//
// Computes the mr x nr corner of an MR x NR tile: C = alpha * sum_k op(A)(r, k) * Bpacked(k, j) + beta * C.
// C is not read when beta == 0. `b` is a packed strip whose row width is nr rounded up to the ISA's vector length.
// alpha and beta travel by reference: passed by value they would pin a vector register for the whole k loop,
// which makes the AVX2 kernel spill an accumulator.
struct Scale {
  float alpha, beta;
};
using TileFn = void (*)(int kc, const float* a, int64_t rs, int64_t cs, const float* b, float* c, int64_t ldc,
                        int mr, int nr, const Scale& s);

// A tile whose depth is a list of segments: segment s reads op(A)(r, k) = a[s][r * rs + k] and packed B rows from
// b[s] (seglen rows of the strip's width). Used by the convolution GEMMs, where each segment is one tap.
using SegTileFn = void (*)(int nseg, int seglen, const float* const* a, int64_t rs, const float* const* b, float* c,
                           int64_t ldc, int mr, int nr, const Scale& s);

struct Isa {
  const char* name;
  int mr;  // rows of a micro-tile
  int nr;  // columns of a full strip
  int vl;  // vector length: a narrower last strip is padded to a multiple of this
  TileFn tile;
  SegTileFn seg_tile;  // null: segments go through `tile` one at a time
};

// ---------------------------------------------------------------------------------------------------------------
// Portable kernel. Vector types keep the code generation predictable: plain loops over a float accumulator array
// get vectorised along k, with shuffles, instead of along j.
// 4 x 8 gives 8 accumulators, enough to cover the add latency with the 16 registers of SSE2.
using V4 = float __attribute__((vector_size(16)));
constexpr int kPortMr = 4, kPortNv = 2, kPortNr = 4 * kPortNv;

void tile_portable(int kc, const float* a, int64_t rs, int64_t cs, const float* b, float* c, int64_t ldc, int mr,
                   int nr, const Scale& s) {
  V4 acc[kPortMr][kPortNv] = {};
  for (int k = 0; k < kc; ++k, a += cs, b += kPortNr) {
    V4 bv[kPortNv];
    for (int v = 0; v < kPortNv; ++v) std::memcpy(&bv[v], b + 4 * v, sizeof(V4));
    for (int r = 0; r < kPortMr; ++r) {
      const float x = a[r * rs];
      const V4 av = {x, x, x, x};
      for (int v = 0; v < kPortNv; ++v) acc[r][v] += av * bv[v];
    }
  }
  for (int r = 0; r < mr; ++r) {
    float row[kPortNr];
    for (int j = 0; j < kPortNr; ++j) row[j] = acc[r][j / 4][j % 4];
    float* cr = c + r * ldc;
    if (s.beta == 0.f)
      for (int j = 0; j < nr; ++j) cr[j] = s.alpha * row[j];
    else
      for (int j = 0; j < nr; ++j) cr[j] = s.alpha * row[j] + s.beta * cr[j];
  }
}

#if GRAFTREC_X86
// ---------------------------------------------------------------------------------------------------------------
// AVX-512 kernel: MR rows x NV zmm vectors. Full strips use NV = 4; a narrower last strip uses the smallest NV that
// covers it and a lane mask on its last vector, so an N edge wastes at most 15 lanes.
constexpr int kAvx512Mr = 6, kAvx512Nv = 4;

template <int NV>
__attribute__((target("avx512f,avx512vl,avx512dq,fma"))) void tile_avx512_nv(int kc, const float* a, int64_t rs,
                                                                               int64_t cs, const float* b, float* c,
                                                                               int64_t ldc, int mr, int nr,
                                                                               const Scale& s) {
  constexpr int MR = kAvx512Mr;
  __m512 acc[MR][NV];
#pragma GCC unroll 8
  for (int r = 0; r < MR; ++r)
#pragma GCC unroll 4
    for (int v = 0; v < NV; ++v) acc[r][v] = _mm512_setzero_ps();

  for (int k = 0; k < kc; ++k, a += cs, b += NV * 16) {
    __m512 bv[NV];
#pragma GCC unroll 4
    for (int v = 0; v < NV; ++v) bv[v] = _mm512_load_ps(b + v * 16);
#pragma GCC unroll 8
    for (int r = 0; r < MR; ++r) {
      const __m512 av = _mm512_set1_ps(a[r * rs]);
#pragma GCC unroll 4
      for (int v = 0; v < NV; ++v) acc[r][v] = _mm512_fmadd_ps(av, bv[v], acc[r][v]);
    }
  }

  const __mmask16 tail = static_cast<__mmask16>(0xFFFFu >> (NV * 16 - nr));
  const __m512 valpha = _mm512_set1_ps(s.alpha), vbeta = _mm512_set1_ps(s.beta);
#pragma GCC unroll 8
  for (int r = 0; r < MR; ++r) {
    if (r >= mr) break;
    float* cr = c + r * ldc;
#pragma GCC unroll 4
    for (int v = 0; v < NV; ++v) {
      const __mmask16 m = v == NV - 1 ? tail : static_cast<__mmask16>(0xFFFF);
      const __m512 out = s.beta == 0.f ? _mm512_mul_ps(acc[r][v], valpha)
                                       : _mm512_fmadd_ps(acc[r][v], valpha,
                                                         _mm512_mul_ps(vbeta, _mm512_maskz_loadu_ps(m, cr + v * 16)));
      _mm512_mask_storeu_ps(cr + v * 16, m, out);
    }
  }
}

// Same register tile as tile_avx512_nv, with the depth given as segments (see SegTileFn).
template <int NV>
__attribute__((target("avx512f,avx512vl,avx512dq,fma"))) void seg_tile_avx512_nv(int nseg, int seglen,
                                                                                   const float* const* as, int64_t rs,
                                                                                   const float* const* bs, float* c,
                                                                                   int64_t ldc, int mr, int nr,
                                                                                   const Scale& s) {
  constexpr int MR = kAvx512Mr;
  __m512 acc[MR][NV];
#pragma GCC unroll 8
  for (int r = 0; r < MR; ++r)
#pragma GCC unroll 4
    for (int v = 0; v < NV; ++v) acc[r][v] = _mm512_setzero_ps();

  for (int sg = 0; sg < nseg; ++sg) {
    const float* a = as[sg];
    const float* b = bs[sg];
    for (int k = 0; k < seglen; ++k, ++a, b += NV * 16) {
      __m512 bv[NV];
#pragma GCC unroll 4
      for (int v = 0; v < NV; ++v) bv[v] = _mm512_load_ps(b + v * 16);
#pragma GCC unroll 8
      for (int r = 0; r < MR; ++r) {
        const __m512 av = _mm512_set1_ps(a[r * rs]);
#pragma GCC unroll 4
        for (int v = 0; v < NV; ++v) acc[r][v] = _mm512_fmadd_ps(av, bv[v], acc[r][v]);
      }
    }
  }

  const __mmask16 tail = static_cast<__mmask16>(0xFFFFu >> (NV * 16 - nr));
  const __m512 valpha = _mm512_set1_ps(s.alpha), vbeta = _mm512_set1_ps(s.beta);
#pragma GCC unroll 8
  for (int r = 0; r < MR; ++r) {
    if (r >= mr) break;
    float* cr = c + r * ldc;
#pragma GCC unroll 4
    for (int v = 0; v < NV; ++v) {
      const __mmask16 m = v == NV - 1 ? tail : static_cast<__mmask16>(0xFFFF);
      const __m512 out = s.beta == 0.f ? _mm512_mul_ps(acc[r][v], valpha)
                                       : _mm512_fmadd_ps(acc[r][v], valpha,
                                                         _mm512_mul_ps(vbeta, _mm512_maskz_loadu_ps(m, cr + v * 16)));
      _mm512_mask_storeu_ps(cr + v * 16, m, out);
    }
  }
}

void seg_tile_avx512(int nseg, int seglen, const float* const* a, int64_t rs, const float* const* b, float* c,
                     int64_t ldc, int mr, int nr, const Scale& s) {
  switch ((nr + 15) / 16) {
    case 1: return seg_tile_avx512_nv<1>(nseg, seglen, a, rs, b, c, ldc, mr, nr, s);
    case 2: return seg_tile_avx512_nv<2>(nseg, seglen, a, rs, b, c, ldc, mr, nr, s);
    case 3: return seg_tile_avx512_nv<3>(nseg, seglen, a, rs, b, c, ldc, mr, nr, s);
    default: return seg_tile_avx512_nv<4>(nseg, seglen, a, rs, b, c, ldc, mr, nr, s);
  }
}

void tile_avx512(int kc, const float* a, int64_t rs, int64_t cs, const float* b, float* c, int64_t ldc, int mr,
                 int nr, const Scale& s) {
  switch ((nr + 15) / 16) {
    case 1: return tile_avx512_nv<1>(kc, a, rs, cs, b, c, ldc, mr, nr, s);
    case 2: return tile_avx512_nv<2>(kc, a, rs, cs, b, c, ldc, mr, nr, s);
    case 3: return tile_avx512_nv<3>(kc, a, rs, cs, b, c, ldc, mr, nr, s);
    default: return tile_avx512_nv<4>(kc, a, rs, cs, b, c, ldc, mr, nr, s);
  }
}

// ---------------------------------------------------------------------------------------------------------------
// AVX2 kernel: 6 x 16 takes 12 ymm accumulators + 2 for B + 1 broadcast, the most that fits 16 registers unspilled.
constexpr int kAvx2Mr = 6, kAvx2Nv = 2;

template <int NV>
__attribute__((target("avx2,fma"))) void tile_avx2_nv(int kc, const float* a, int64_t rs, int64_t cs,
                                                       const float* b, float* c, int64_t ldc, int mr, int nr,
                                                       const Scale& s) {
  constexpr int MR = kAvx2Mr;
  __m256 acc[MR][NV];
#pragma GCC unroll 8
  for (int r = 0; r < MR; ++r)
#pragma GCC unroll 2
    for (int v = 0; v < NV; ++v) acc[r][v] = _mm256_setzero_ps();

  for (int k = 0; k < kc; ++k, a += cs, b += NV * 8) {
    __m256 bv[NV];
#pragma GCC unroll 2
    for (int v = 0; v < NV; ++v) bv[v] = _mm256_load_ps(b + v * 8);
#pragma GCC unroll 8
    for (int r = 0; r < MR; ++r) {
      const __m256 av = _mm256_broadcast_ss(a + r * rs);
#pragma GCC unroll 2
      for (int v = 0; v < NV; ++v) acc[r][v] = _mm256_fmadd_ps(av, bv[v], acc[r][v]);
    }
  }

  // Lane i of the last vector is live when i < nr - 8 * (NV - 1); maskload/maskstore test the sign bit.
  const __m256i lane = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
  const __m256i tail = _mm256_cmpgt_epi32(_mm256_set1_epi32(nr - 8 * (NV - 1)), lane);
  const __m256i all = _mm256_set1_epi32(-1);
  const __m256 valpha = _mm256_set1_ps(s.alpha), vbeta = _mm256_set1_ps(s.beta);
#pragma GCC unroll 8
  for (int r = 0; r < MR; ++r) {
    if (r >= mr) break;
    float* cr = c + r * ldc;
#pragma GCC unroll 2
    for (int v = 0; v < NV; ++v) {
      const __m256i m = v == NV - 1 ? tail : all;
      const __m256 out =
          s.beta == 0.f ? _mm256_mul_ps(acc[r][v], valpha)
                        : _mm256_fmadd_ps(acc[r][v], valpha, _mm256_mul_ps(vbeta, _mm256_maskload_ps(cr + v * 8, m)));
      _mm256_maskstore_ps(cr + v * 8, m, out);
    }
  }
}

void tile_avx2(int kc, const float* a, int64_t rs, int64_t cs, const float* b, float* c, int64_t ldc, int mr,
               int nr, const Scale& s) {
  if (nr > 8) return tile_avx2_nv<2>(kc, a, rs, cs, b, c, ldc, mr, nr, s);
  tile_avx2_nv<1>(kc, a, rs, cs, b, c, ldc, mr, nr, s);
}
#endif  // GRAFTREC_X86

const Isa kPortable{"portable", kPortMr, kPortNr, kPortNr, tile_portable, nullptr};
#if GRAFTREC_X86
const Isa kAvx2{"avx2", kAvx2Mr, kAvx2Nv * 8, 8, tile_avx2, nullptr};
const Isa kAvx512{"avx512", kAvx512Mr, kAvx512Nv * 16, 16, tile_avx512, seg_tile_avx512};
#endif

const Isa& detect_isa() {
  const char* forced = std::getenv("GRAFTREC_GEMM_ISA");
  const int cap = !forced                                  ? 2
                  : std::strcmp(forced, "portable") == 0   ? 0
                  : std::strcmp(forced, "avx2") == 0       ? 1
                                                           : 2;
#if GRAFTREC_X86
  __builtin_cpu_init();  // in case the first GEMM runs from a static constructor, before libgcc's own init
  if (cap >= 2 && __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512vl") &&
      __builtin_cpu_supports("avx512dq") && __builtin_cpu_supports("fma"))
    return kAvx512;
  if (cap >= 1 && __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")) return kAvx2;
#else
  (void)cap;
#endif
  return kPortable;
}

const Isa& active_isa() {
  static const Isa& isa = detect_isa();
  return isa;
}

// ---------------------------------------------------------------------------------------------------------------
// Driver.
struct Problem {
  bool ta, tb;
  int M, N, K;
  float alpha, beta;
  const float* A;
  int64_t lda;
  const float* B;
  int64_t ldb;
  float* C;
  int64_t ldc;
};

// Per-thread scratch, grown on demand and kept for the thread's lifetime; 64-byte aligned for aligned loads.
float* scratch(std::vector<float>& buf, size_t n) {
  if (buf.size() < n + 16) buf.resize(n + 16);
  auto p = reinterpret_cast<uintptr_t>(buf.data());
  return reinterpret_cast<float*>((p + 63) & ~uintptr_t{63});
}

// Packs op(B)[pc, pc+kc) x [jc, jc+nc) into consecutive strips: strip s holds columns jc + s*nr .., as kc rows of
// `w` floats, w = nr except for a narrower last strip (its width rounded up to vl); padding lanes are zero.
void pack_b(const Problem& p, const Isa& isa, int pc, int kc, int jc, int nc, float* dst) {
  for (int j0 = 0; j0 < nc; j0 += isa.nr) {
    const int cols = std::min(isa.nr, nc - j0);
    const int w = std::min(isa.nr, (cols + isa.vl - 1) / isa.vl * isa.vl);
    float* strip = dst + static_cast<int64_t>(j0) * kc;
    if (!p.tb) {
      for (int k = 0; k < kc; ++k) {
        const float* src = p.B + (pc + k) * p.ldb + jc + j0;
        std::memcpy(strip + k * w, src, sizeof(float) * cols);
        std::fill(strip + k * w + cols, strip + (k + 1) * w, 0.f);
      }
    } else {
      // Stored B is N x K: walk each source row contiguously and scatter it down the strip.
      for (int j = 0; j < cols; ++j) {
        const float* src = p.B + (jc + j0 + j) * p.ldb + pc;
        for (int k = 0; k < kc; ++k) strip[k * w + j] = src[k];
      }
      for (int k = 0; k < kc; ++k) std::fill(strip + k * w + cols, strip + (k + 1) * w, 0.f);
    }
  }
}

// Copies rows [i0, i0+mr) of op(A), depth [pc, pc+kc), into a zero-padded MR-row sliver (k-major, rs = 1, cs = MR).
void pack_a_edge(const Problem& p, int mr_full, int i0, int mr, int pc, int kc, float* dst) {
  for (int k = 0; k < kc; ++k) {
    float* d = dst + k * mr_full;
    for (int r = 0; r < mr; ++r)
      d[r] = p.ta ? p.A[(pc + k) * p.lda + i0 + r] : p.A[(i0 + r) * p.lda + pc + k];
    std::fill(d + mr, d + mr_full, 0.f);
  }
}

// Computes the block C[m0, m1) x [n0, n1) serially.
void gemm_block(const Problem& p, const Isa& isa, int m0, int m1, int n0, int n1) {
  thread_local std::vector<float> b_buf, a_buf;
  float* bpack = scratch(b_buf, static_cast<size_t>(kKc) * kNc);
  float* apack = scratch(a_buf, static_cast<size_t>(kKc) * isa.mr);
  const int64_t rs = p.ta ? 1 : p.lda, cs = p.ta ? p.lda : 1;

  for (int jc = n0; jc < n1; jc += kNc) {
    const int nc = std::min(kNc, n1 - jc);
    for (int pc = 0; pc < p.K; pc += kKc) {
      const int kc = std::min(kKc, p.K - pc);
      pack_b(p, isa, pc, kc, jc, nc, bpack);
      // Later depth blocks accumulate onto what the earlier ones wrote.
      const Scale scale{p.alpha, pc == 0 ? p.beta : 1.f};
      for (int ic = m0; ic < m1; ic += isa.mr) {
        const int mr = std::min(isa.mr, m1 - ic);
        const float* a = p.A + ic * rs + pc * cs;
        int64_t a_rs = rs, a_cs = cs;
        if (mr < isa.mr) {
          pack_a_edge(p, isa.mr, ic, mr, pc, kc, apack);
          a = apack, a_rs = 1, a_cs = isa.mr;
        }
        float* c = p.C + ic * p.ldc + jc;
        for (int j0 = 0; j0 < nc; j0 += isa.nr)
          isa.tile(kc, a, a_rs, a_cs, bpack + static_cast<int64_t>(j0) * kc, c + j0, p.ldc, mr,
                   std::min(isa.nr, nc - j0), scale);
      }
    }
  }
}

}  // namespace

const char* gemm_builtin_isa() { return active_isa().name; }

void gemm_builtin(bool trans_a, bool trans_b, int M, int N, int K, float alpha, const float* A, int lda,
                  const float* B, int ldb, float beta, float* C, int ldc) {
  if (M <= 0 || N <= 0) return;
  const Problem p{trans_a, trans_b, M, N, K, alpha, beta, A, lda, B, ldb, C, ldc};
  if (K <= 0) {  // op(A) * op(B) is all zeros: only the beta scaling remains
    for (int i = 0; i < M; ++i)
      for (int j = 0; j < N; ++j) C[int64_t{i} * ldc + j] = beta == 0.f ? 0.f : beta * C[int64_t{i} * ldc + j];
    return;
  }
  const Isa& isa = active_isa();
  const int threads = num_threads();
  if (threads <= 1 || static_cast<double>(M) * N * K < kParallelMinWork) {
    gemm_block(p, isa, 0, M, 0, N);
    return;
  }
  // One task per thread, each a serial GEMM on its own block of C with its own packed B. Splitting M duplicates
  // the B packing, which is cheap next to the tile work unless M is short; then split N in whole strips instead.
  const int64_t row_strips = (M + isa.mr - 1) / isa.mr, col_strips = (N + isa.nr - 1) / isa.nr;
  if (row_strips >= 8 * threads || row_strips >= col_strips) {
    const int rows = static_cast<int>((row_strips + threads - 1) / threads) * isa.mr;
    parallel_for((M + rows - 1) / rows, [&](int64_t t) {
      gemm_block(p, isa, static_cast<int>(t) * rows, std::min<int>(M, (t + 1) * rows), 0, N);
    });
  } else {
    const int cols = static_cast<int>((col_strips + threads - 1) / threads) * isa.nr;
    parallel_for((N + cols - 1) / cols, [&](int64_t t) {
      gemm_block(p, isa, 0, M, static_cast<int>(t) * cols, std::min<int>(N, (t + 1) * cols));
    });
  }
}

// ---------------------------------------------------------------------------------------------------------------
// Convolution GEMMs (see gemm.h): the im2col matrix is never written; the kernel reads its rows where they lie.
namespace {

int strip_width(const Isa& isa, int cols) { return std::min(isa.nr, (cols + isa.vl - 1) / isa.vl * isa.vl); }

bool row_valid(const ConvGather& g, int64_t n, int tap) {
  if (n >= g.rows) return false;
  const int64_t pos = n % g.L;
  const int64_t first = g.start ? g.start[n / g.L] : 0;
  const int64_t t = pos + g.offset[tap];
  return pos >= first && t >= first && t < g.L;
}

// Packs op(B_j) for taps [j0, j1) and columns [jc, jc + nc) into strips (as pack_b); within a strip the taps' seg
// rows follow each other, so tap j's rows start (j - j0) * seg rows into the strip.
void pack_b_taps(const Isa& isa, const float* B, int64_t tap_stride, int ldb, bool tb, int seg, int j0, int j1,
                 int jc, int nc, float* dst) {
  const int64_t kc = static_cast<int64_t>(j1 - j0) * seg;
  for (int s0 = 0; s0 < nc; s0 += isa.nr) {
    const int cols = std::min(isa.nr, nc - s0);
    const int w = strip_width(isa, cols);
    float* strip = dst + s0 * kc;
    for (int j = j0; j < j1; ++j) {
      const float* bj = B + j * tap_stride;
      float* st = strip + static_cast<int64_t>(j - j0) * seg * w;
      if (!tb) {
        for (int k = 0; k < seg; ++k) {
          std::memcpy(st + k * w, bj + static_cast<int64_t>(k) * ldb + jc + s0, sizeof(float) * cols);
          std::fill(st + k * w + cols, st + (k + 1) * w, 0.f);
        }
      } else {
        for (int col = 0; col < cols; ++col) {
          const float* src = bj + static_cast<int64_t>(jc + s0 + col) * ldb;
          for (int k = 0; k < seg; ++k) st[k * w + col] = src[k];
        }
        for (int k = 0; k < seg; ++k) std::fill(st + k * w + cols, st + (k + 1) * w, 0.f);
      }
    }
  }
}

// Rows [m0, m1) of conv_gemm_rows, serially.
void conv_rows_block(const ConvGather& g, const Isa& isa, int N, const float* B, int64_t tap_stride, int ldb, bool tb,
                     float beta, const float* bias, float* C, int ldc, int64_t m0, int64_t m1) {
  const int MR = isa.mr;
  const int taps_per_block = std::max(1, std::min(g.taps, kKc / g.seg));
  thread_local std::vector<float> b_buf, a_buf;
  thread_local std::vector<const float*> a_ptr, b_ptr;
  thread_local std::vector<int> tap_of;
  float* bpack = scratch(b_buf, static_cast<size_t>(taps_per_block) * g.seg * kNc);
  float* sliver = scratch(a_buf, static_cast<size_t>(taps_per_block) * MR * g.seg);
  a_ptr.resize(taps_per_block);
  b_ptr.resize(taps_per_block);
  tap_of.resize(taps_per_block);

  for (int jc = 0; jc < N; jc += kNc) {
    const int nc = std::min(kNc, N - jc);
    for (int j0 = 0; j0 < g.taps; j0 += taps_per_block) {
      const int j1 = std::min(g.taps, j0 + taps_per_block);
      const int64_t kc = static_cast<int64_t>(j1 - j0) * g.seg;
      pack_b_taps(isa, B, tap_stride, ldb, tb, g.seg, j0, j1, jc, nc, bpack);
      const float tile_beta = j0 == 0 ? beta : 1.f;
      const bool last = j1 == g.taps;
      for (int64_t ic = m0; ic < m1; ic += MR) {
        const int mr = static_cast<int>(std::min<int64_t>(MR, m1 - ic));
        // A tap whose MR rows are all in range is read in place; a partly valid one is copied into a zero-padded
        // sliver; one with no valid row among the tile's live rows only adds zeros and is dropped.
        int nseg = 0;
        for (int j = j0; j < j1; ++j) {
          int live = 0, all = 0;
          for (int r = 0; r < MR; ++r) {
            const bool v = row_valid(g, ic + r, j);
            all += v;
            live += v && r < mr;
          }
          if (live == 0) continue;
          if (all == MR) {
            a_ptr[nseg] = g.src + (ic + g.offset[j]) * g.seg;
          } else {
            float* sl = sliver + static_cast<int64_t>(j - j0) * MR * g.seg;
            for (int r = 0; r < MR; ++r) {
              if (r < mr && row_valid(g, ic + r, j))
                std::memcpy(sl + r * g.seg, g.src + (ic + r + g.offset[j]) * g.seg, sizeof(float) * g.seg);
              else
                std::fill(sl + r * g.seg, sl + (r + 1) * g.seg, 0.f);
            }
            a_ptr[nseg] = sl;
          }
          tap_of[nseg++] = j;
        }
        float* c = C + ic * ldc + jc;
        for (int s0 = 0; s0 < nc; s0 += isa.nr) {
          const int cols = std::min(isa.nr, nc - s0);
          const int w = strip_width(isa, cols);
          const float* strip = bpack + s0 * kc;
          for (int i = 0; i < nseg; ++i) b_ptr[i] = strip + static_cast<int64_t>(tap_of[i] - j0) * g.seg * w;
          if (isa.seg_tile) {
            isa.seg_tile(nseg, g.seg, a_ptr.data(), g.seg, b_ptr.data(), c + s0, ldc, mr, cols,
                         Scale{1.f, tile_beta});
          } else if (nseg == 0) {
            isa.tile(0, strip, g.seg, 1, strip, c + s0, ldc, mr, cols, Scale{1.f, tile_beta});
          } else {
            for (int i = 0; i < nseg; ++i)
              isa.tile(g.seg, a_ptr[i], g.seg, 1, b_ptr[i], c + s0, ldc, mr, cols,
                       Scale{1.f, i == 0 ? tile_beta : 1.f});
          }
        }
        if (bias && last)
          for (int r = 0; r < mr; ++r) {
            float* cr = c + static_cast<int64_t>(r) * ldc;
            for (int col = 0; col < nc; ++col) cr[col] += bias[jc + col];
          }
      }
    }
  }
}

// Packs rows [n0, n0 + kc) and columns [jc, jc + nc) of the gathered matrix (column q = tap * seg + channel) into
// strips, as pack_b does for a stored B.
void pack_b_gathered(const Isa& isa, const ConvGather& g, int64_t n0, int kc, int jc, int nc, float* dst) {
  for (int s0 = 0; s0 < nc; s0 += isa.nr) {
    const int cols = std::min(isa.nr, nc - s0);
    const int w = strip_width(isa, cols);
    float* strip = dst + static_cast<int64_t>(s0) * kc;
    for (int k = 0; k < kc; ++k) {
      const int64_t n = n0 + k;
      float* d = strip + static_cast<int64_t>(k) * w;
      for (int q = jc + s0, qend = jc + s0 + cols; q < qend;) {
        const int j = q / g.seg, ch = q % g.seg;
        const int len = std::min(qend - q, g.seg - ch);
        if (row_valid(g, n, j))
          std::memcpy(d, g.src + (n + g.offset[j]) * g.seg + ch, sizeof(float) * len);
        else
          std::fill(d, d + len, 0.f);
        d += len;
        q += len;
      }
      std::fill(d, strip + static_cast<int64_t>(k + 1) * w, 0.f);
    }
  }
}

// Rows per partial product of conv_gemm_weight: fixed, so the summation order does not depend on the thread count.
constexpr int64_t kWeightChunk = 2 * kKc;

}  // namespace

void conv_gemm_rows(const ConvGather& g, int N, const float* B, int64_t tap_stride, int ldb, bool trans_b, float beta,
                    const float* bias, float* C, int ldc) {
  if (g.rows <= 0 || N <= 0) return;
  const Isa& isa = active_isa();
  const int threads = num_threads();
  const double work = static_cast<double>(g.rows) * N * g.taps * g.seg;
  if (threads <= 1 || work < kParallelMinWork) {
    conv_rows_block(g, isa, N, B, tap_stride, ldb, trans_b, beta, bias, C, ldc, 0, g.rows);
    return;
  }
  const int64_t row_strips = (g.rows + isa.mr - 1) / isa.mr;
  const int64_t rows = (row_strips + threads - 1) / threads * isa.mr;
  parallel_for((g.rows + rows - 1) / rows, [&](int64_t t) {
    conv_rows_block(g, isa, N, B, tap_stride, ldb, trans_b, beta, bias, C, ldc, t * rows,
                    std::min(g.rows, (t + 1) * rows));
  });
}

void conv_gemm_weight(const ConvGather& g, const float* dy, int N, float* dw) {
  if (g.rows <= 0 || N <= 0) return;
  const Isa& isa = active_isa();
  // The transposed product P[o, q] = sum_n dy[n, o] * gathered[n, q] lets the gather happen in the B packing;
  // each chunk of rows writes its own partial P, and the partials are summed in chunk order into dw.
  const int M = N, W = g.taps * g.seg;
  const int64_t chunks = (g.rows + kWeightChunk - 1) / kWeightChunk;
  thread_local std::vector<float> part_buf;
  float* part = scratch(part_buf, static_cast<size_t>(chunks) * M * W);
  parallel_for(chunks, [&](int64_t ch) {
    thread_local std::vector<float> b_buf, a_buf;
    float* bpack = scratch(b_buf, static_cast<size_t>(kKc) * kNc);
    float* apack = scratch(a_buf, static_cast<size_t>(kKc) * isa.mr);
    float* P = part + ch * M * W;
    const int64_t r0 = ch * kWeightChunk, r1 = std::min(g.rows, r0 + kWeightChunk);
    for (int jc = 0; jc < W; jc += kNc) {
      const int nc = std::min(kNc, W - jc);
      for (int64_t pc = r0; pc < r1; pc += kKc) {
        const int kc = static_cast<int>(std::min<int64_t>(kKc, r1 - pc));
        pack_b_gathered(isa, g, pc, kc, jc, nc, bpack);
        const Scale scale{1.f, pc == r0 ? 0.f : 1.f};
        for (int ic = 0; ic < M; ic += isa.mr) {
          const int mr = std::min(isa.mr, M - ic);
          const float* a = dy + pc * N + ic;  // op(A) = dy^T, read in place
          int64_t rs = 1, cs = N;
          if (mr < isa.mr) {
            for (int k = 0; k < kc; ++k) {
              float* d = apack + k * isa.mr;
              for (int r = 0; r < mr; ++r) d[r] = dy[(pc + k) * N + ic + r];
              std::fill(d + mr, d + isa.mr, 0.f);
            }
            a = apack, rs = 1, cs = isa.mr;
          }
          float* c = P + static_cast<int64_t>(ic) * W + jc;
          for (int s0 = 0; s0 < nc; s0 += isa.nr)
            isa.tile(kc, a, rs, cs, bpack + static_cast<int64_t>(s0) * kc, c + s0, W, mr,
                     std::min(isa.nr, nc - s0), scale);
        }
      }
    }
  });
  parallel_range(W, 16, [&](int64_t b, int64_t e) {
    for (int64_t q = b; q < e; ++q)
      for (int o = 0; o < M; ++o) {
        float sum = part[static_cast<int64_t>(o) * W + q];
        for (int64_t ch = 1; ch < chunks; ++ch) sum += part[(ch * M + o) * W + q];
        dw[q * N + o] += sum;
      }
  });
}

}  // namespace graftrec
