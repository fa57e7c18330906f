// Embedding lookup (gather) and its gradient (scatter-add), plus the row bookkeeping that lets the optimizer
// update only the rows a batch touched (row-sparse Adam on large item tables).
#include <algorithm>
#include <cstring>
#include <vector>

#include "args.h"
#include "prefetch.h"
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

// embeddingBagForward(table, ids, weights, offsets, out, V, C): out[s, :] = sum over bag s of weights[r] table[ids[r], :]
// The gather and the weighted sum in one pass, so the [entries, C] gathered rows never exist: a text item
// encoder's bags hold ~100 tokens per item, and that intermediate was most of its step time.
void embedding_bag_forward_js(const Napi::CallbackInfo& info) {
  const char* k = "embeddingBagForward";
  Napi::Env env = info.Env();
  auto table = f32_arg(info, 0, k, "table");
  auto ids = i32_arg(info, 1, k, "ids");
  auto weights = f32_arg(info, 2, k, "weights");
  auto offsets = i32_arg(info, 3, k, "offsets");
  auto out = f32_arg(info, 4, k, "out");
  int64_t V = dim_arg(info, 5, k, "V"), C = dim_arg(info, 6, k, "C");
  int64_t n = ids.length;
  expect_length(env, k, "table", table, V * C);
  expect_length(env, k, "weights", weights, n);
  expect_ids_in_range(env, k, "ids", ids, V);
  int64_t S = expect_offsets(env, k, offsets, n, "entries");
  expect_length(env, k, "out", out, S * C);
  int64_t grain = std::max<int64_t>(1, S * 64 / std::max<int64_t>(1, n));  // about 64 entries per task at least
  parallel_range(S, n * C >= (1 << 16) ? grain : S, [&](int64_t b, int64_t e) {
    for (int64_t s = b; s < e; ++s) {
      float* y = out.data + s * C;
      std::memset(y, 0, sizeof(float) * C);
      for (int64_t r = offsets.data[s]; r < offsets.data[s + 1]; ++r) {
        if (r + kPrefetchRows < n) prefetch_span(table.data + static_cast<int64_t>(ids.data[r + kPrefetchRows]) * C, C * 4);
        const float a = weights.data[r];
        const float* row = table.data + static_cast<int64_t>(ids.data[r]) * C;
        for (int64_t c = 0; c < C; ++c) y[c] += a * row[c];
      }
    }
  });
}

// embeddingBagBackward(ids, weights, offsets, dout, dtable, V, C): dtable[ids[r], :] += weights[r] dout[s, :]
// Parallel by ownership of table rows, as embeddingBackward: deterministic for any thread count.
void embedding_bag_backward_js(const Napi::CallbackInfo& info) {
  const char* k = "embeddingBagBackward";
  Napi::Env env = info.Env();
  auto ids = i32_arg(info, 0, k, "ids");
  auto weights = f32_arg(info, 1, k, "weights");
  auto offsets = i32_arg(info, 2, k, "offsets");
  auto dout = f32_arg(info, 3, k, "dout");
  auto dtable = f32_arg(info, 4, k, "dtable");
  int64_t V = dim_arg(info, 5, k, "V"), C = dim_arg(info, 6, k, "C");
  int64_t n = ids.length;
  expect_length(env, k, "weights", weights, n);
  expect_length(env, k, "dtable", dtable, V * C);
  expect_ids_in_range(env, k, "ids", ids, V);
  int64_t S = expect_offsets(env, k, offsets, n, "entries");
  expect_length(env, k, "dout", dout, S * C);
  int64_t tasks = n * C >= (1 << 16) ? num_threads() : 1;
  parallel_for(tasks, [&](int64_t t) {
    int64_t lo = V * t / tasks, hi = V * (t + 1) / tasks;
    for (int64_t s = 0; s < S; ++s) {
      const float* g = dout.data + s * C;
      for (int64_t r = offsets.data[s]; r < offsets.data[s + 1]; ++r) {
        int64_t row = ids.data[r];
        if (row < lo || row >= hi) continue;
        if (r + kPrefetchRows < n) prefetch_span(dtable.data + static_cast<int64_t>(ids.data[r + kPrefetchRows]) * C, C * 4, true);
        const float a = weights.data[r];
        float* dst = dtable.data + row * C;
        for (int64_t c = 0; c < C; ++c) dst[c] += a * g[c];
      }
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
  exports.Set("embeddingBagForward", Napi::Function::New(env, embedding_bag_forward_js, "embeddingBagForward"));
  exports.Set("embeddingBagBackward", Napi::Function::New(env, embedding_bag_backward_js, "embeddingBagBackward"));
  exports.Set("markRows", Napi::Function::New(env, mark_rows_js, "markRows"));
  exports.Set("collectRows", Napi::Function::New(env, collect_rows_js, "collectRows"));
}

}  // namespace graftrec
