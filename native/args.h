// Argument checking shared by every binding: typed-array views are used in place (zero-copy), and every
// length is checked against the shape arguments so a wrong call raises a JS exception instead of corrupting memory.
#pragma once
#include <napi.h>

#include <cmath>
#include <cstdint>
#include <string>

namespace graftrec {

template <typename T>
struct View {
  T* data = nullptr;
  size_t length = 0;
  explicit operator bool() const { return data != nullptr; }
};

[[noreturn]] inline void fail(const Napi::Env& env, const char* kernel, const std::string& message) {
  throw Napi::Error::New(env, std::string(kernel) + ": " + message);
}

inline View<float> f32_arg(const Napi::CallbackInfo& info, size_t i, const char* kernel, const char* name,
                           bool optional = false) {
  Napi::Value v = info[i];
  if (optional && (v.IsNull() || v.IsUndefined())) return {};
  if (!v.IsTypedArray() || v.As<Napi::TypedArray>().TypedArrayType() != napi_float32_array)
    fail(info.Env(), kernel, std::string(name) + " must be a Float32Array");
  auto a = v.As<Napi::Float32Array>();
  return {a.Data(), a.ElementLength()};
}

inline View<int32_t> i32_arg(const Napi::CallbackInfo& info, size_t i, const char* kernel, const char* name,
                             bool optional = false) {
  Napi::Value v = info[i];
  if (optional && (v.IsNull() || v.IsUndefined())) return {};
  if (!v.IsTypedArray() || v.As<Napi::TypedArray>().TypedArrayType() != napi_int32_array)
    fail(info.Env(), kernel, std::string(name) + " must be an Int32Array");
  auto a = v.As<Napi::Int32Array>();
  return {a.Data(), a.ElementLength()};
}

inline View<uint8_t> u8_arg(const Napi::CallbackInfo& info, size_t i, const char* kernel, const char* name) {
  Napi::Value v = info[i];
  if (!v.IsTypedArray() || v.As<Napi::TypedArray>().TypedArrayType() != napi_uint8_array)
    fail(info.Env(), kernel, std::string(name) + " must be a Uint8Array");
  auto a = v.As<Napi::Uint8Array>();
  return {a.Data(), a.ElementLength()};
}

inline double num_arg(const Napi::CallbackInfo& info, size_t i, const char* kernel, const char* name) {
  if (!info[i].IsNumber()) fail(info.Env(), kernel, std::string(name) + " must be a number");
  return info[i].As<Napi::Number>().DoubleValue();
}

// An integer in [lo, hi]. NaN, infinities and out-of-range values are rejected before any cast: converting
// them to an integer type is undefined behaviour.
inline int64_t int_arg(const Napi::CallbackInfo& info, size_t i, const char* kernel, const char* name, double lo,
                       double hi) {
  double d = num_arg(info, i, kernel, name);
  if (!(d >= lo && d <= hi) || std::trunc(d) != d)
    fail(info.Env(), kernel,
         std::string(name) + " must be an integer in [" + std::to_string(static_cast<int64_t>(lo)) + ", " +
             std::to_string(static_cast<int64_t>(hi)) + "], got " + std::to_string(d));
  return static_cast<int64_t>(d);
}

// Dimensions are positive (or non-negative with allow_zero) integers that fit comfortably in int32.
inline int64_t dim_arg(const Napi::CallbackInfo& info, size_t i, const char* kernel, const char* name,
                       bool allow_zero = false) {
  double d = num_arg(info, i, kernel, name);
  if (!(d >= (allow_zero ? 0 : 1) && d <= 2147483647.0) || std::trunc(d) != d)
    fail(info.Env(), kernel,
         std::string(name) + " must be an integer " + (allow_zero ? ">= 0" : ">= 1") + ", got " + std::to_string(d));
  return static_cast<int64_t>(d);
}

inline bool bool_arg(const Napi::CallbackInfo& info, size_t i, const char* kernel, const char* name) {
  if (!info[i].IsBoolean()) fail(info.Env(), kernel, std::string(name) + " must be a boolean");
  return info[i].As<Napi::Boolean>().Value();
}

// An optional trailing boolean: false when absent (undefined).
inline bool optional_bool_arg(const Napi::CallbackInfo& info, size_t i, const char* kernel, const char* name) {
  if (info.Length() <= i || info[i].IsUndefined()) return false;
  return bool_arg(info, i, kernel, name);
}

template <typename T>
inline void expect_length(const Napi::Env& env, const char* kernel, const char* name, const View<T>& v,
                          int64_t want) {
  if (static_cast<int64_t>(v.length) != want)
    fail(env, kernel,
         std::string(name) + " has " + std::to_string(v.length) + " elements, expected " + std::to_string(want));
}

// Ids must index a table of `rows` rows; an out-of-range id is a data error, never an out-of-bounds read.
inline void expect_ids_in_range(const Napi::Env& env, const char* kernel, const char* name, const View<int32_t>& ids,
                                int64_t rows) {
  for (size_t i = 0; i < ids.length; ++i)
    if (ids.data[i] < 0 || ids.data[i] >= rows)
      fail(env, kernel,
           std::string(name) + "[" + std::to_string(i) + "] = " + std::to_string(ids.data[i]) +
               " is outside [0, " + std::to_string(rows) + ")");
}

// CSR offsets over `count` consecutive rows (segments of pooled rows, bags of embedding ids): they start at 0,
// never decrease and end at `count`. Returns the number of segments. `unit` names what is counted in the message.
inline int64_t expect_offsets(const Napi::Env& env, const char* kernel, const View<int32_t>& offsets, int64_t count,
                              const char* unit = "rows") {
  if (offsets.length < 1) fail(env, kernel, "offsets must have at least one element");
  if (offsets.data[0] != 0) fail(env, kernel, "offsets[0] must be 0, got " + std::to_string(offsets.data[0]));
  for (size_t s = 1; s < offsets.length; ++s)
    if (offsets.data[s] < offsets.data[s - 1])
      fail(env, kernel, "offsets must not decrease (offsets[" + std::to_string(s) + "] = " +
                            std::to_string(offsets.data[s]) + ")");
  if (offsets.data[offsets.length - 1] != count)
    fail(env, kernel, "offsets end at " + std::to_string(offsets.data[offsets.length - 1]) + ", expected " +
                          std::to_string(count) + " " + unit);
  return static_cast<int64_t>(offsets.length) - 1;
}

// Class targets index `rows` classes, except rows marked with ignore_index (padding), which are skipped.
inline void expect_targets_in_range(const Napi::Env& env, const char* kernel, const View<int32_t>& targets,
                                    int64_t rows, int32_t ignore_index) {
  for (size_t n = 0; n < targets.length; ++n) {
    int32_t t = targets.data[n];
    if (t != ignore_index && (t < 0 || t >= rows))
      fail(env, kernel,
           "targets[" + std::to_string(n) + "] = " + std::to_string(t) + " is outside [0, " + std::to_string(rows) +
               ")");
  }
}

// The arguments both softmax losses share: h[N, C], table[V, C], bias[V] or null, targets[N] at positions 0-3,
// then N, C, V, ignoreIndex from position shape_at on; all lengths and target ids checked.
struct SoftmaxHeadArgs {
  View<float> h, table, bias;
  View<int32_t> targets;
  int64_t N = 0, C = 0, V = 0;
  int32_t ignore = 0;
};

inline SoftmaxHeadArgs read_softmax_head(const Napi::CallbackInfo& info, const char* kernel, size_t shape_at) {
  Napi::Env env = info.Env();
  SoftmaxHeadArgs a;
  a.h = f32_arg(info, 0, kernel, "h");
  a.table = f32_arg(info, 1, kernel, "table");
  a.bias = f32_arg(info, 2, kernel, "bias", true);
  a.targets = i32_arg(info, 3, kernel, "targets");
  a.N = dim_arg(info, shape_at, kernel, "N");
  a.C = dim_arg(info, shape_at + 1, kernel, "C");
  a.V = dim_arg(info, shape_at + 2, kernel, "V");
  a.ignore = static_cast<int32_t>(int_arg(info, shape_at + 3, kernel, "ignoreIndex", -2147483648.0, 2147483647.0));
  expect_length(env, kernel, "h", a.h, a.N * a.C);
  expect_length(env, kernel, "table", a.table, a.V * a.C);
  if (a.bias) expect_length(env, kernel, "bias", a.bias, a.V);
  expect_length(env, kernel, "targets", a.targets, a.N);
  expect_targets_in_range(env, kernel, a.targets, a.V, a.ignore);
  return a;
}

// The optional gradient outputs of both softmax losses, dh[N, C], dtable[V, C], dbias[V], at first..first+2.
struct SoftmaxHeadGrads {
  View<float> dh, dtable, dbias;
  bool any() const { return dh || dtable || dbias; }
};

inline SoftmaxHeadGrads read_softmax_head_grads(const Napi::CallbackInfo& info, const char* kernel, size_t first,
                                                int64_t N, int64_t C, int64_t V) {
  Napi::Env env = info.Env();
  SoftmaxHeadGrads g;
  g.dh = f32_arg(info, first, kernel, "dh", true);
  g.dtable = f32_arg(info, first + 1, kernel, "dtable", true);
  g.dbias = f32_arg(info, first + 2, kernel, "dbias", true);
  if (g.dh) expect_length(env, kernel, "dh", g.dh, N * C);
  if (g.dtable) expect_length(env, kernel, "dtable", g.dtable, V * C);
  if (g.dbias) expect_length(env, kernel, "dbias", g.dbias, V);
  return g;
}

// Registers one binding per kernel file; each file defines `void register_<family>(Napi::Env, Napi::Object)`.
void register_gemm(Napi::Env env, Napi::Object exports);
void register_conv1d(Napi::Env env, Napi::Object exports);
void register_layernorm(Napi::Env env, Napi::Object exports);
void register_activation(Napi::Env env, Napi::Object exports);
void register_embedding(Napi::Env env, Napi::Object exports);
void register_softmax_xent(Napi::Env env, Napi::Object exports);
void register_sampled_softmax(Napi::Env env, Napi::Object exports);
void register_negative_bce(Napi::Env env, Napi::Object exports);
void register_adam(Napi::Env env, Napi::Object exports);
void register_reduce(Napi::Env env, Napi::Object exports);
void register_patch(Napi::Env env, Napi::Object exports);
void register_pooling(Napi::Env env, Napi::Object exports);
void register_contrastive(Napi::Env env, Napi::Object exports);
void register_attention(Napi::Env env, Napi::Object exports);
void register_dropout(Napi::Env env, Napi::Object exports);
void register_gru(Napi::Env env, Napi::Object exports);
void register_mpi(Napi::Env env, Napi::Object exports);

}  // namespace graftrec
