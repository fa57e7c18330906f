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
#include <cstring>
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

// Reused across steps: a step's rows are megabytes, and fresh buffers would be paged in (and zeroed) every time.
std::vector<int32_t> g_send, g_recv;
std::vector<uint8_t> g_seen;

// mpiSumRows(x: Float32Array, mask: Uint8Array, rowSize) -> bytes sent. x holds mask.length rows of rowSize; a
// rank's marked rows are its contribution, its unmarked rows count as zero. On return, on every rank: the mask
// marks the union of the ranks' rows, and each row of the union holds the sum of the ranks' rows added in rank
// order (the first contribution copied, which is 0 + row exactly), so every rank has the same bits for any MPI.
// Rows outside the union are left as they were. One message per rank: [row count, row ids, rows as float bits].
Napi::Value mpi_sum_rows_js(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const char* k = "mpiSumRows";
  require_ready(env, k);
  auto x = f32_arg(info, 0, k, "x");
  auto mask = u8_arg(info, 1, k, "mask");
  int64_t row_size = int_arg(info, 2, k, "rowSize", 1, INT32_MAX);
  if (static_cast<int64_t>(x.length) != static_cast<int64_t>(mask.length) * row_size)
    fail(env, k, "x must hold mask.length rows of rowSize");
  int64_t count = 0;
  for (size_t r = 0; r < mask.length; ++r) count += mask.data[r] != 0;
  int64_t send_len = 1 + count + count * row_size;
  if (send_len > INT32_MAX) fail(env, k, "this rank's rows are longer than an MPI count");
  g_send.resize(static_cast<size_t>(send_len));
  int32_t* ids = g_send.data() + 1;
  float* rows = reinterpret_cast<float*>(ids + count);
  g_send[0] = static_cast<int32_t>(count);
  int64_t i = 0;
  for (size_t r = 0; r < mask.length; ++r) {
    if (!mask.data[r]) continue;
    ids[i] = static_cast<int32_t>(r);
    std::memcpy(rows + i * row_size, x.data + r * row_size, row_size * sizeof(float));
    ++i;
  }
  int n = static_cast<int>(send_len);
  std::vector<int> counts(g_mpi.size), displs(g_mpi.size);
  g_mpi.allgather(&n, 1, g_mpi.i32, counts.data(), 1, g_mpi.i32, g_mpi.world);
  int64_t total = 0;
  for (int r = 0; r < g_mpi.size; r++) {
    if (total > INT32_MAX) fail(env, k, "the gathered rows are longer than an MPI count");
    displs[r] = static_cast<int>(total);
    total += counts[r];
  }
  g_recv.resize(static_cast<size_t>(total));
  g_mpi.allgatherv(g_send.data(), n, g_mpi.i32, g_recv.data(), counts.data(), displs.data(), g_mpi.i32, g_mpi.world);
  g_seen.assign(mask.length, 0);
  for (int r = 0; r < g_mpi.size; r++) {
    const int32_t* msg = g_recv.data() + displs[r];
    int64_t c = msg[0];
    const int32_t* rids = msg + 1;
    const float* rrows = reinterpret_cast<const float*>(rids + c);
    if (1 + c + c * row_size != counts[r]) fail(env, k, "a rank sent rows of another size");
    for (int64_t j = 0; j < c; ++j) {
      int64_t id = rids[j];
      if (id < 0 || id >= static_cast<int64_t>(mask.length)) fail(env, k, "a rank sent a row outside the table");
      float* dst = x.data + id * row_size;
      const float* src = rrows + j * row_size;
      if (!g_seen[id]) {
        g_seen[id] = 1;
        std::memcpy(dst, src, row_size * sizeof(float));
      } else {
        for (int64_t e = 0; e < row_size; ++e) dst[e] += src[e];
      }
    }
  }
  std::memcpy(mask.data, g_seen.data(), mask.length);
  return Napi::Number::New(env, static_cast<double>(send_len) * sizeof(int32_t));
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
  exports.Set("mpiSumRows", Napi::Function::New(env, mpi_sum_rows_js, "mpiSumRows"));
  exports.Set("mpiBarrier", Napi::Function::New(env, mpi_barrier_js, "mpiBarrier"));
  exports.Set("mpiFinalize", Napi::Function::New(env, mpi_finalize_js, "mpiFinalize"));
  exports.Set("mpiAbort", Napi::Function::New(env, mpi_abort_js, "mpiAbort"));
}

}  // namespace graftrec
