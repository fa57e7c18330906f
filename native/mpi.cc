// MPI found at run time with dlopen, as the system BLAS is (gemm_blas.cc): the addon has no link-time dependency
// on any MPI and builds without mpi.h, so graftrec installs and runs on machines without MPI; only
// `--distributed` needs it. The handful of calls data-parallel training makes are declared here by hand.
//
// The handles (MPI_COMM_WORLD, MPI_FLOAT, MPI_SUM, …) are Open MPI's: there they are addresses of exported
// objects (ompi_mpi_comm_world, …), resolved with dlsym like the functions. MPICH encodes handles as integer
// constants instead and would need its own table; only Open MPI (libmpi.so.40) is supported for now.
#include <dlfcn.h>

#include <cstdint>
#include <cstdlib>
#include <string>
#include <vector>

#include "args.h"

namespace graftrec {
namespace {

using Handle = void*;  // Open MPI's MPI_Comm, MPI_Datatype and MPI_Op are all pointers
using InitializedFn = int (*)(int*);
using InitThreadFn = int (*)(int*, char***, int, int*);
using CommIntFn = int (*)(Handle, int*);
using AllreduceFn = int (*)(const void*, void*, int, Handle, Handle, Handle);
using AllgatherFn = int (*)(const void*, int, Handle, void*, int, Handle, Handle);
using AllgathervFn = int (*)(const void*, int, Handle, void*, const int*, const int*, Handle, Handle);
using BarrierFn = int (*)(Handle);
using FinalizeFn = int (*)();
using AbortFn = int (*)(Handle, int);

// Open MPI's MPI_IN_PLACE.
void* const kInPlace = reinterpret_cast<void*>(1);
constexpr int kThreadFunneled = 1;  // only the JavaScript thread calls MPI

struct Mpi {
  InitializedFn initialized = nullptr;
  InitThreadFn init_thread = nullptr;
  CommIntFn comm_rank = nullptr, comm_size = nullptr;
  AllreduceFn allreduce = nullptr;
  AllgatherFn allgather = nullptr;
  AllgathervFn allgatherv = nullptr;
  BarrierFn barrier = nullptr;
  FinalizeFn finalize = nullptr;
  AbortFn abort = nullptr;
  Handle world = nullptr, f32 = nullptr, f64 = nullptr, i32 = nullptr, sum = nullptr;
  std::string path;
  int rank = 0, size = 1;
  bool ready = false, finalized = false;
};

Mpi g_mpi;

template <typename T>
bool sym(void* h, const char* name, T& out) {
  out = reinterpret_cast<T>(dlsym(h, name));
  return out != nullptr;
}

// Loads libmpi and initialises it; returns "" or why not. RTLD_GLOBAL: Open MPI's components are plugins that
// resolve libmpi's symbols from the global namespace.
std::string load(const std::string& spec) {
  std::vector<std::string> names;
  if (!spec.empty()) names.push_back(spec);
  else names = {"libmpi.so.40", "libmpi.so"};
  void* h = nullptr;
  std::string tried;
  for (const auto& n : names) {
    h = dlopen(n.c_str(), RTLD_NOW | RTLD_GLOBAL);
    if (h) {
      g_mpi.path = n;
      break;
    }
    tried += (tried.empty() ? "" : ", ") + n;
  }
  if (!h) return "cannot load the MPI library (tried " + tried + "); install Open MPI (e.g. apt install openmpi-bin libopenmpi-dev)";
  Mpi& m = g_mpi;
  bool ok = sym(h, "MPI_Initialized", m.initialized) && sym(h, "MPI_Init_thread", m.init_thread) &&
            sym(h, "MPI_Comm_rank", m.comm_rank) && sym(h, "MPI_Comm_size", m.comm_size) &&
            sym(h, "MPI_Allreduce", m.allreduce) && sym(h, "MPI_Allgather", m.allgather) &&
            sym(h, "MPI_Allgatherv", m.allgatherv) && sym(h, "MPI_Barrier", m.barrier) &&
            sym(h, "MPI_Finalize", m.finalize) && sym(h, "MPI_Abort", m.abort);
  if (!ok) return g_mpi.path + " does not export the MPI functions graftrec calls";
  ok = sym(h, "ompi_mpi_comm_world", m.world) && sym(h, "ompi_mpi_float", m.f32) && sym(h, "ompi_mpi_double", m.f64) &&
       sym(h, "ompi_mpi_int", m.i32) && sym(h, "ompi_mpi_op_sum", m.sum);
  if (!ok) return g_mpi.path + " is not Open MPI (its handles ompi_mpi_comm_world, … are missing); only Open MPI is supported";
  int already = 0;
  m.initialized(&already);
  if (!already) {
    int provided = 0;
    if (m.init_thread(nullptr, nullptr, kThreadFunneled, &provided) != 0) return "MPI_Init_thread failed";
  }
  m.comm_rank(m.world, &m.rank);
  m.comm_size(m.world, &m.size);
  m.ready = true;
  return "";
}

void require_ready(const Napi::Env& env, const char* fn) {
  if (!g_mpi.ready || g_mpi.finalized) fail(env, fn, "MPI is not initialised (call mpiInit first)");
}

// mpiInit(library: string) -> { rank, size, library }; library "" = the usual names. Idempotent.
Napi::Value mpi_init_js(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (!g_mpi.ready) {
    std::string spec = info[0].IsString() ? info[0].As<Napi::String>().Utf8Value() : "";
    std::string error = load(spec);
    if (!error.empty()) fail(env, "mpiInit", error);
  }
  Napi::Object o = Napi::Object::New(env);
  o.Set("rank", g_mpi.rank);
  o.Set("size", g_mpi.size);
  o.Set("library", g_mpi.path);
  return o;
}

// mpiAllreduceSum(x: Float32Array | Float64Array): x = the element-wise sum of every rank's x, in place.
void mpi_allreduce_sum_js(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  require_ready(env, "mpiAllreduceSum");
  if (!info[0].IsTypedArray()) fail(env, "mpiAllreduceSum", "x must be a Float32Array or Float64Array");
  auto a = info[0].As<Napi::TypedArray>();
  Handle type = a.TypedArrayType() == napi_float32_array   ? g_mpi.f32
                : a.TypedArrayType() == napi_float64_array ? g_mpi.f64
                                                            : nullptr;
  if (!type) fail(env, "mpiAllreduceSum", "x must be a Float32Array or Float64Array");
  if (a.ElementLength() > INT32_MAX) fail(env, "mpiAllreduceSum", "x is longer than an MPI count");
  void* data = static_cast<uint8_t*>(a.ArrayBuffer().Data()) + a.ByteOffset();
  g_mpi.allreduce(kInPlace, data, static_cast<int>(a.ElementLength()), type, g_mpi.sum, g_mpi.world);
}

// mpiAllgatherv(x: Int32Array | Float32Array) -> { data, counts }: every rank's x concatenated in rank order,
// and each rank's length. The lengths are gathered first, so ranks may send different amounts.
Napi::Value mpi_allgatherv_js(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  require_ready(env, "mpiAllgatherv");
  if (!info[0].IsTypedArray()) fail(env, "mpiAllgatherv", "x must be an Int32Array or Float32Array");
  auto a = info[0].As<Napi::TypedArray>();
  bool is_f32 = a.TypedArrayType() == napi_float32_array;
  if (!is_f32 && a.TypedArrayType() != napi_int32_array) fail(env, "mpiAllgatherv", "x must be an Int32Array or Float32Array");
  if (a.ElementLength() > INT32_MAX) fail(env, "mpiAllgatherv", "x is longer than an MPI count");
  int n = static_cast<int>(a.ElementLength());
  auto counts = Napi::Int32Array::New(env, g_mpi.size);
  g_mpi.allgather(&n, 1, g_mpi.i32, counts.Data(), 1, g_mpi.i32, g_mpi.world);
  std::vector<int> displs(g_mpi.size);
  int64_t total = 0;
  for (int r = 0; r < g_mpi.size; r++) {
    if (total > INT32_MAX) fail(env, "mpiAllgatherv", "the gathered data is longer than an MPI count");
    displs[r] = static_cast<int>(total);
    total += counts[r];
  }
  const void* send = static_cast<uint8_t*>(a.ArrayBuffer().Data()) + a.ByteOffset();
  Napi::Object o = Napi::Object::New(env);
  if (is_f32) {
    auto out = Napi::Float32Array::New(env, static_cast<size_t>(total));
    g_mpi.allgatherv(send, n, g_mpi.f32, out.Data(), counts.Data(), displs.data(), g_mpi.f32, g_mpi.world);
    o.Set("data", out);
  } else {
    auto out = Napi::Int32Array::New(env, static_cast<size_t>(total));
    g_mpi.allgatherv(send, n, g_mpi.i32, out.Data(), counts.Data(), displs.data(), g_mpi.i32, g_mpi.world);
    o.Set("data", out);
  }
  o.Set("counts", counts);
  return o;
}

void mpi_barrier_js(const Napi::CallbackInfo& info) {
  require_ready(info.Env(), "mpiBarrier");
  g_mpi.barrier(g_mpi.world);
}

void mpi_finalize_js(const Napi::CallbackInfo& info) {
  if (!g_mpi.ready || g_mpi.finalized) return;
  g_mpi.finalized = true;
  g_mpi.finalize();
}

// mpiAbort(code): ends every rank of the job now (a failed rank must not leave the others waiting in a collective).
void mpi_abort_js(const Napi::CallbackInfo& info) {
  int code = static_cast<int>(int_arg(info, 0, "mpiAbort", "code", 0, 255));
  if (!g_mpi.ready || g_mpi.finalized) std::exit(code);
  g_mpi.abort(g_mpi.world, code);
}

}  // namespace

void register_mpi(Napi::Env env, Napi::Object exports) {
  exports.Set("mpiInit", Napi::Function::New(env, mpi_init_js, "mpiInit"));
  exports.Set("mpiAllreduceSum", Napi::Function::New(env, mpi_allreduce_sum_js, "mpiAllreduceSum"));
  exports.Set("mpiAllgatherv", Napi::Function::New(env, mpi_allgatherv_js, "mpiAllgatherv"));
  exports.Set("mpiBarrier", Napi::Function::New(env, mpi_barrier_js, "mpiBarrier"));
  exports.Set("mpiFinalize", Napi::Function::New(env, mpi_finalize_js, "mpiFinalize"));
  exports.Set("mpiAbort", Napi::Function::New(env, mpi_abort_js, "mpiAbort"));
}

}  // namespace graftrec
