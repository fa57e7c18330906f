// Embedding lookup (gather) and its gradient (scatter-add), plus the row bookkeeping that lets the optimizer
// update only the rows a batch touched (row-sparse Adam on large item tables).
#include <algorithm>
#include <cstring>
#include <vector>

#include "args.h"
#include "thread_pool.h"

namespace graftrec {
namespace {

// embeddingForward(table, ids, out, V, C): out[i, :] = table[ids[i], :]
void embedding_forward_js(const Napi::CallbackInfo& info) {
  const char* k = "embeddingForward";
  Napi::Env env = info.Env();
  auto table = f32_arg(info, 0, k, "table");
  auto ids = i32_arg(info, 1, k, "ids");
  auto out = f32_arg(info, 2, k, "out");
  int64_t V = dim_arg(info, 3, k, "V"), C = dim_arg(info, 4, k, "C");
  expect_length(env, k, "table", table, V * C);
  expect_length(env, k, "out", out, static_cast<int64_t>(ids.length) * C);
  expect_ids_in_range(env, k, "ids", ids, V);
  parallel_range(ids.length, 1024, [&](int64_t b, int64_t e) {
    for (int64_t i = b; i < e; ++i)
      std::memcpy(out.data + i * C, table.data + static_cast<int64_t>(ids.data[i]) * C, sizeof(float) * C);
  });
}

// embeddingBackward(ids, dout, dtable, V, C): dtable[ids[i], :] += dout[i, :]
// Parallel by ownership of table rows: each task scans all ids and adds only into its own row range, in id order,
// so repeated ids are summed in the same order every time (deterministic, no atomics).
void embedding_backward_js(const Napi::CallbackInfo& info) {
  const char* k = "embeddingBackward";
  Napi::Env env = info.Env();
  auto ids = i32_arg(info, 0, k, "ids");
  auto dout = f32_arg(info, 1, k, "dout");
  auto dtable = f32_arg(info, 2, k, "dtable");
  int64_t V = dim_arg(info, 3, k, "V"), C = dim_arg(info, 4, k, "C");
  expect_length(env, k, "dout", dout, static_cast<int64_t>(ids.length) * C);
  expect_length(env, k, "dtable", dtable, V * C);
  expect_ids_in_range(env, k, "ids", ids, V);
  int64_t n = ids.length;
  int64_t tasks = n * C >= (1 << 16) ? num_threads() : 1;
  parallel_for(tasks, [&](int64_t t) {
    int64_t lo = V * t / tasks, hi = V * (t + 1) / tasks;
    for (int64_t i = 0; i < n; ++i) {
      int64_t r = ids.data[i];
      if (r < lo || r >= hi) continue;
      float* dst = dtable.data + r * C;
      const float* src = dout.data + i * C;
      for (int64_t c = 0; c < C; ++c) dst[c] += src[c];
    }
  });
}

// markRows(ids, mask): mask[ids[i]] = 1
void mark_rows_js(const Napi::CallbackInfo& info) {
  const char* k = "markRows";
  auto ids = i32_arg(info, 0, k, "ids");
  auto mask = u8_arg(info, 1, k, "mask");
  expect_ids_in_range(info.Env(), k, "ids", ids, static_cast<int64_t>(mask.length));
  for (size_t i = 0; i < ids.length; ++i) mask.data[ids.data[i]] = 1;
}

// collectRows(mask) -> Int32Array of the marked rows in increasing order; clears the mask.
Napi::Value collect_rows_js(const Napi::CallbackInfo& info) {
  auto mask = u8_arg(info, 0, "collectRows", "mask");
  std::vector<int32_t> rows;
  for (size_t i = 0; i < mask.length; ++i)
    if (mask.data[i]) {
      rows.push_back(static_cast<int32_t>(i));
      mask.data[i] = 0;
    }
  auto out = Napi::Int32Array::New(info.Env(), rows.size());
  if (!rows.empty()) std::memcpy(out.Data(), rows.data(), rows.size() * sizeof(int32_t));
  return out;
}

}  // namespace

void register_embedding(Napi::Env env, Napi::Object exports) {
  exports.Set("embeddingForward", Napi::Function::New(env, embedding_forward_js, "embeddingForward"));
  exports.Set("embeddingBackward", Napi::Function::New(env, embedding_backward_js, "embeddingBackward"));
  exports.Set("markRows", Napi::Function::New(env, mark_rows_js, "markRows"));
  exports.Set("collectRows", Napi::Function::New(env, collect_rows_js, "collectRows"));
}

}  // namespace graftrec
