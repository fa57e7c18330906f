// Reductions and small vector kernels the autograd engine needs (bias gradients, gradient-norm clipping,
// residual adds). Reductions use fixed chunking so results do not depend on the thread count.
#include "reduce.h"

#include <algorithm>
#include <cmath>
#include <memory>
#include <vector>

#include "args.h"
#include "thread_pool.h"

namespace graftrec {

namespace {
constexpr int64_t kRowChunk = 512;
constexpr int64_t kElemChunk = 1 << 16;
}  // namespace

float* scratch(int slot, int64_t n) {
  // 64-byte aligned storage that only grows; thread_local because kernels may run on pool threads.
  struct Buffer {
    std::unique_ptr<float[]> raw;
    float* aligned = nullptr;
    int64_t capacity = 0;
  };
  thread_local Buffer buffers[4];
  Buffer& b = buffers[slot];
  if (b.capacity < n) {
    b.raw.reset(new float[n + 16]);
    auto addr = reinterpret_cast<uintptr_t>(b.raw.get());
    b.aligned = reinterpret_cast<float*>((addr + 63) & ~uintptr_t(63));
    b.capacity = n;
  }
  return b.aligned;
}

void sum_rows_accumulate(const float* x, int64_t rows, int64_t cols, float* out) {
  // Float partial sums within a chunk (vectorised across columns), double across chunks.
  int64_t chunks = (rows + kRowChunk - 1) / kRowChunk;
  std::vector<float> partial(chunks * cols, 0.f);
  auto sum_chunk = [&](int64_t ch) {
    float* p = partial.data() + ch * cols;
    int64_t end = std::min(rows, (ch + 1) * kRowChunk);
    for (int64_t r = ch * kRowChunk; r < end; ++r) {
      const float* xr = x + r * cols;
#pragma omp simd
      for (int64_t c = 0; c < cols; ++c) p[c] += xr[c];
    }
  };
  if (chunks * cols >= (1 << 15))
    parallel_for(chunks, sum_chunk);
  else
    for (int64_t ch = 0; ch < chunks; ++ch) sum_chunk(ch);
  for (int64_t c = 0; c < cols; ++c) {
    double s = 0;
    for (int64_t ch = 0; ch < chunks; ++ch) s += partial[ch * cols + c];
    out[c] += static_cast<float>(s);
  }
}

namespace {

// sum of term(x[i]) in double over fixed chunks combined in order (deterministic for any thread count).
template <typename Term>
double chunked_sum(const float* x, int64_t n, Term term) {
  int64_t chunks = (n + kElemChunk - 1) / kElemChunk;
  std::vector<double> partial(std::max<int64_t>(chunks, 1), 0.0);
  parallel_for(chunks, [&](int64_t ch) {
    double s = 0;
    int64_t end = std::min(n, (ch + 1) * kElemChunk);
    for (int64_t i = ch * kElemChunk; i < end; ++i) s += term(static_cast<double>(x[i]));
    partial[ch] = s;
  });
  double s = 0;
  for (double p : partial) s += p;
  return s;
}

Napi::Value sum_squares_js(const Napi::CallbackInfo& info) {
  auto x = f32_arg(info, 0, "sumSquares", "x");
  return Napi::Number::New(info.Env(), chunked_sum(x.data, x.length, [](double v) { return v * v; }));
}

Napi::Value sum_js(const Napi::CallbackInfo& info) {
  auto x = f32_arg(info, 0, "sum", "x");
  return Napi::Number::New(info.Env(), chunked_sum(x.data, x.length, [](double v) { return v; }));
}

// The rows of x (rows of row_size floats) whose mask byte is set, in fixed chunks of rows: a row-sparse gradient
// is zero outside the rows a step touched, so its norm and its scaling need only those.
constexpr int64_t kMaskRowChunk = 4096;

struct MaskedRows {
  View<float> x;
  View<uint8_t> mask;
  int64_t row_size;
};

MaskedRows read_masked_rows(const Napi::CallbackInfo& info, const char* k) {
  MaskedRows a{f32_arg(info, 0, k, "x"), u8_arg(info, 1, k, "mask"), dim_arg(info, 2, k, "rowSize")};
  expect_length(info.Env(), k, "x", a.x, static_cast<int64_t>(a.mask.length) * a.row_size);
  return a;
}

// sumSquaresRows(x, mask, rowSize): sum of squares over the marked rows (double, deterministic order).
Napi::Value sum_squares_rows_js(const Napi::CallbackInfo& info) {
  MaskedRows a = read_masked_rows(info, "sumSquaresRows");
  const int64_t rows = a.mask.length;
  const int64_t chunks = (rows + kMaskRowChunk - 1) / kMaskRowChunk;
  std::vector<double> partial(std::max<int64_t>(chunks, 1), 0.0);
  parallel_for(chunks, [&](int64_t ch) {
    double s = 0;
    for (int64_t r = ch * kMaskRowChunk, end = std::min(rows, (ch + 1) * kMaskRowChunk); r < end; ++r) {
      if (!a.mask.data[r]) continue;
      const float* xr = a.x.data + r * a.row_size;
      for (int64_t c = 0; c < a.row_size; ++c) s += static_cast<double>(xr[c]) * xr[c];
    }
    partial[ch] = s;
  });
  double s = 0;
  for (double p : partial) s += p;
  return Napi::Number::New(info.Env(), s);
}

// scaleRows(x, mask, rowSize, s): x[r, :] *= s for the marked rows.
void scale_rows_js(const Napi::CallbackInfo& info) {
  MaskedRows a = read_masked_rows(info, "scaleRows");
  float s = static_cast<float>(num_arg(info, 3, "scaleRows", "s"));
  parallel_range(a.mask.length, kMaskRowChunk, [&](int64_t b, int64_t e) {
    for (int64_t r = b; r < e; ++r) {
      if (!a.mask.data[r]) continue;
      float* xr = a.x.data + r * a.row_size;
      for (int64_t c = 0; c < a.row_size; ++c) xr[c] *= s;
    }
  });
}

// scale(x, s): x *= s
void scale_js(const Napi::CallbackInfo& info) {
  auto x = f32_arg(info, 0, "scale", "x");
  float s = static_cast<float>(num_arg(info, 1, "scale", "s"));
  parallel_range(x.length, kElemChunk, [&](int64_t b, int64_t e) {
    for (int64_t i = b; i < e; ++i) x.data[i] *= s;
  });
}

// axpy(y, a, x): y += a * x
void axpy_js(const Napi::CallbackInfo& info) {
  const char* k = "axpy";
  auto y = f32_arg(info, 0, k, "y");
  float a = static_cast<float>(num_arg(info, 1, k, "a"));
  auto x = f32_arg(info, 2, k, "x");
  expect_length(info.Env(), k, "x", x, y.length);
  parallel_range(y.length, kElemChunk, [&](int64_t b, int64_t e) {
    for (int64_t i = b; i < e; ++i) y.data[i] += a * x.data[i];
  });
}

// add(a, b, out): out = a + b (out may alias a or b)
void add_js(const Napi::CallbackInfo& info) {
  const char* k = "add";
  auto a = f32_arg(info, 0, k, "a");
  auto b = f32_arg(info, 1, k, "b");
  auto out = f32_arg(info, 2, k, "out");
  expect_length(info.Env(), k, "b", b, a.length);
  expect_length(info.Env(), k, "out", out, a.length);
  parallel_range(a.length, kElemChunk, [&](int64_t s, int64_t e) {
    for (int64_t i = s; i < e; ++i) out.data[i] = a.data[i] + b.data[i];
  });
}

// addRowVector(y, v, rows, cols): y[r, :] += v
void add_row_vector_js(const Napi::CallbackInfo& info) {
  const char* k = "addRowVector";
  auto y = f32_arg(info, 0, k, "y");
  auto v = f32_arg(info, 1, k, "v");
  int64_t rows = dim_arg(info, 2, k, "rows"), cols = dim_arg(info, 3, k, "cols");
  expect_length(info.Env(), k, "y", y, rows * cols);
  expect_length(info.Env(), k, "v", v, cols);
  parallel_range(rows, 1024, [&](int64_t b, int64_t e) {
    for (int64_t r = b; r < e; ++r)
      for (int64_t c = 0; c < cols; ++c) y.data[r * cols + c] += v.data[c];
  });
}

// sumRows(x, rows, cols, out): out[c] += sum_r x[r, c]
void sum_rows_js(const Napi::CallbackInfo& info) {
  const char* k = "sumRows";
  auto x = f32_arg(info, 0, k, "x");
  int64_t rows = dim_arg(info, 1, k, "rows"), cols = dim_arg(info, 2, k, "cols");
  auto out = f32_arg(info, 3, k, "out");
  expect_length(info.Env(), k, "x", x, rows * cols);
  expect_length(info.Env(), k, "out", out, cols);
  sum_rows_accumulate(x.data, rows, cols, out.data);
}

}  // namespace

void register_reduce(Napi::Env env, Napi::Object exports) {
  exports.Set("sumSquares", Napi::Function::New(env, sum_squares_js, "sumSquares"));
  exports.Set("sum", Napi::Function::New(env, sum_js, "sum"));
  exports.Set("scale", Napi::Function::New(env, scale_js, "scale"));
  exports.Set("sumSquaresRows", Napi::Function::New(env, sum_squares_rows_js, "sumSquaresRows"));
  exports.Set("scaleRows", Napi::Function::New(env, scale_rows_js, "scaleRows"));
  exports.Set("axpy", Napi::Function::New(env, axpy_js, "axpy"));
  exports.Set("add", Napi::Function::New(env, add_js, "add"));
  exports.Set("addRowVector", Napi::Function::New(env, add_row_vector_js, "addRowVector"));
  exports.Set("sumRows", Napi::Function::New(env, sum_rows_js, "sumRows"));
}

}  // namespace graftrec
