// Addon entry: reads GRAFTREC_BLAS / GRAFTREC_THREADS / GRAFTREC_DETERMINISTIC once per process, exposes run-time
// settings, and registers every kernel family. Each kernel binding validates its arguments (see args.h) before
// touching memory. The addon is loaded once per Node environment (the main thread and every worker_threads
// worker): the settings are process-wide, so only the first load applies them, and later loads leave the thread
// pool, the BLAS and the GEMM backend as the process has set them.
#include <napi.h>

#include <cstdlib>
#include <mutex>
#include <stdexcept>
#include <string>

#ifdef __GLIBC__
#include <malloc.h>
#endif

#include "args.h"
#include "gemm.h"
#include "thread_pool.h"

namespace graftrec {
namespace {

Napi::Value info_js(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Napi::Object o = Napi::Object::New(env);
  // The backend gemm() actually uses: deterministic mode keeps to the builtin kernel even when BLAS is selected.
  o.Set("gemmBackend", gemm_backend() == GemmBackend::Blas && !deterministic() ? "blas" : "builtin");
  o.Set("blasPath", blas_loaded_path());
  o.Set("builtinIsa", gemm_builtin_isa());
  o.Set("threads", num_threads());
  o.Set("deterministic", deterministic());
  return o;
}

void set_threads_js(const Napi::CallbackInfo& info) {
  // 0 means one per hardware thread; the bound matches GRAFTREC_THREADS (a typo must not spawn a million threads).
  int64_t n = int_arg(info, 0, "setThreads", "threads", 0, 1024);
  set_num_threads(static_cast<int>(n));
  blas_set_threads(num_threads());
}

void set_deterministic_js(const Napi::CallbackInfo& info) {
  set_deterministic(bool_arg(info, 0, "setDeterministic", "on"));
}

void set_gemm_backend_js(const Napi::CallbackInfo& info) {
  if (!info[0].IsString()) fail(info.Env(), "setGemmBackend", "backend must be \"blas\" or \"builtin\"");
  std::string b = info[0].As<Napi::String>().Utf8Value();
  if (b == "builtin") {
    set_gemm_backend(GemmBackend::Builtin);
  } else if (b == "blas") {
    if (!set_gemm_backend(GemmBackend::Blas)) fail(info.Env(), "setGemmBackend", "no BLAS library is loaded");
  } else {
    fail(info.Env(), "setGemmBackend", "backend must be \"blas\" or \"builtin\", got \"" + b + "\"");
  }
}

Napi::Value pool_stats_js(const Napi::CallbackInfo& info) {
  Napi::Object o = Napi::Object::New(info.Env());
  PoolStats s = pool_stats();
  o.Set("sharedJobs", static_cast<double>(s.shared_jobs));
  o.Set("sharedTasks", static_cast<double>(s.shared_tasks));
  o.Set("workerTasks", static_cast<double>(s.worker_tasks));
  return o;
}

void reset_pool_stats_js(const Napi::CallbackInfo&) { reset_pool_stats(); }

// Takes one typed array and does nothing: measures the cost of crossing the N-API boundary.
void noop_js(const Napi::CallbackInfo& info) { f32_arg(info, 0, "noop", "x"); }

// Activations of a few megabytes are allocated and freed on every training step. By default glibc serves each
// from a fresh mmap, so every step pays page faults and kernel zeroing on first touch (measured: ~10% of a step).
// Keeping blocks up to 32 MB (glibc's maximum threshold) on the heap, and not trimming it eagerly, lets freed
// blocks be reused.
void tune_allocator() {
#ifdef __GLIBC__
  mallopt(M_MMAP_THRESHOLD, 32 << 20);
  mallopt(M_TRIM_THRESHOLD, 256 << 20);
#endif
}

// Reads the environment; throws std::runtime_error on an invalid setting.
void configure_from_environment() {
  const char* threads = std::getenv("GRAFTREC_THREADS");
  int n = 0;
  if (threads && *threads) {
    char* end = nullptr;
    long v = std::strtol(threads, &end, 10);
    if (*end != '\0' || v < 1 || v > 1024)
      throw std::runtime_error(std::string("GRAFTREC_THREADS must be a positive integer, got \"") + threads + "\"");
    n = static_cast<int>(v);
  }
  set_num_threads(n);

  const char* det = std::getenv("GRAFTREC_DETERMINISTIC");
  if (det && *det) {
    std::string d = det;
    if (d != "0" && d != "1")
      throw std::runtime_error("GRAFTREC_DETERMINISTIC must be 0 or 1, got \"" + d + "\"");
    set_deterministic(d == "1");
  }

  // auto:    load a system BLAS if there is one, but multiply with the builtin kernel where it has a SIMD path
  //          (measured faster than OpenBLAS on every training shape, and it shares our thread pool instead of
  //          competing with it); the BLAS serves machines where only the portable kernel would run.
  // blas:    a system BLAS found by the usual names, required.   <path>: that library, required.
  // builtin: never load a BLAS.
  const char* spec = std::getenv("GRAFTREC_BLAS");
  std::string mode = spec && *spec ? spec : "auto";
  if (mode == "builtin") return;
  const char* loaded = blas_load(mode == "blas" ? "auto" : mode.c_str());
  if (loaded[0] == '\0') {
    if (mode == "auto") return;  // no system BLAS: the builtin kernel serves
    throw std::runtime_error("GRAFTREC_BLAS=" + mode + ": cannot load a library exporting cblas_sgemm" +
                                    (mode == "blas" ? " (none of the usual names found)" : " from it"));
  }
  blas_set_threads(num_threads());
  bool builtin_has_simd = std::string(gemm_builtin_isa()) != "portable";
  set_gemm_backend(mode == "auto" && builtin_has_simd ? GemmBackend::Builtin : GemmBackend::Blas);
}

// Process-wide set-up, run by the first environment that loads the addon; an invalid setting fails every load.
const std::string& process_setup_error() {
  static std::once_flag once;
  static std::string error;
  std::call_once(once, [] {
    tune_allocator();
    try {
      configure_from_environment();
    } catch (const std::exception& e) {
      error = e.what();
    }
  });
  return error;
}

}  // namespace

Napi::Object init(Napi::Env env, Napi::Object exports) {
  const std::string& error = process_setup_error();
  if (!error.empty()) throw Napi::Error::New(env, error);
  exports.Set("info", Napi::Function::New(env, info_js, "info"));
  exports.Set("setThreads", Napi::Function::New(env, set_threads_js, "setThreads"));
  exports.Set("setDeterministic", Napi::Function::New(env, set_deterministic_js, "setDeterministic"));
  exports.Set("setGemmBackend", Napi::Function::New(env, set_gemm_backend_js, "setGemmBackend"));
  exports.Set("noop", Napi::Function::New(env, noop_js, "noop"));
  exports.Set("poolStats", Napi::Function::New(env, pool_stats_js, "poolStats"));
  exports.Set("resetPoolStats", Napi::Function::New(env, reset_pool_stats_js, "resetPoolStats"));
  register_gemm(env, exports);
  register_conv1d(env, exports);
  register_layernorm(env, exports);
  register_activation(env, exports);
  register_embedding(env, exports);
  register_softmax_xent(env, exports);
  register_sampled_softmax(env, exports);
  register_negative_bce(env, exports);
  register_adam(env, exports);
  register_reduce(env, exports);
  register_patch(env, exports);
  register_pooling(env, exports);
  register_contrastive(env, exports);
  register_attention(env, exports);
  register_dropout(env, exports);
  register_gru(env, exports);
  register_mpi(env, exports);
  return exports;
}

}  // namespace graftrec

static Napi::Object InitGraftrec(Napi::Env env, Napi::Object exports) { return graftrec::init(env, exports); }

NODE_API_MODULE(graftrec, InitGraftrec)
