// System BLAS found at run time with dlopen, so the addon has no link-time dependency on any BLAS and the same
// binary runs on machines with OpenBLAS, MKL, BLIS, the reference libblas, Accelerate, or none of them.
#include <dlfcn.h>

#include <string>

#include "gemm.h"

namespace graftrec {
namespace {

enum CblasOrder { CblasRowMajor = 101 };
enum CblasTranspose { CblasNoTrans = 111, CblasTrans = 112 };
using SgemmFn = void (*)(int, int, int, int, int, int, float, const float*, int, const float*, int, float, float*,
                         int);
using SetThreadsFn = void (*)(int);

SgemmFn g_sgemm = nullptr;
SetThreadsFn g_set_threads = nullptr;
std::string g_path;

bool try_open(const char* name) {
  void* h = dlopen(name, RTLD_NOW | RTLD_LOCAL);
  if (!h) return false;
  auto fn = reinterpret_cast<SgemmFn>(dlsym(h, "cblas_sgemm"));
  if (!fn) {
    dlclose(h);
    return false;
  }
  g_sgemm = fn;
  // Each library spells its thread-count setter differently; none is required.
  for (const char* sym : {"openblas_set_num_threads", "MKL_Set_Num_Threads", "bli_thread_set_num_threads"}) {
    if (auto f = reinterpret_cast<SetThreadsFn>(dlsym(h, sym))) {
      g_set_threads = f;
      break;
    }
  }
  g_path = name;
  return true;
}

}  // namespace

const char* blas_load(const char* spec) {
  std::string s = spec ? spec : "auto";
  if (s == "auto") {
#ifdef __APPLE__
    const char* names[] = {"/System/Library/Frameworks/Accelerate.framework/Accelerate", "libopenblas.dylib"};
#else
    const char* names[] = {"libopenblas.so.0", "libopenblas.so", "libmkl_rt.so.2", "libmkl_rt.so", "libblis.so.4",
                           "libblis.so", "libblas.so.3", "libcblas.so.3"};
#endif
    for (const char* n : names)
      if (try_open(n)) return g_path.c_str();
    return "";
  }
  return try_open(s.c_str()) ? g_path.c_str() : "";
}

const char* blas_loaded_path() { return g_path.c_str(); }

void blas_set_threads(int n) {
  if (g_set_threads) g_set_threads(n);
}

bool gemm_blas(bool trans_a, bool trans_b, int M, int N, int K, float alpha, const float* A, int lda,
               const float* B, int ldb, float beta, float* C, int ldc) {
  if (!g_sgemm) return false;
  g_sgemm(CblasRowMajor, trans_a ? CblasTrans : CblasNoTrans, trans_b ? CblasTrans : CblasNoTrans, M, N, K, alpha, A,
          lda, B, ldb, beta, C, ldc);
  return true;
}

}  // namespace graftrec
