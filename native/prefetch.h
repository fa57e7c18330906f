// Software prefetch for kernels that walk rows of a large table in a data-dependent order (embedding tables of
// 10^5..10^6 rows): each row is a cache and TLB miss the hardware prefetcher cannot predict, and when the work per
// row is long, out-of-order execution cannot overlap one row's miss with the previous row's work.
#pragma once
#include <cstdint>

namespace graftrec {

// How many rows ahead the row loops ask for their next rows.
constexpr int64_t kPrefetchRows = 6;

// Prefetches the cache lines of [p, p + bytes) (at most the first 1 KiB: longer rows stream by themselves).
inline void prefetch_span(const void* p, int64_t bytes, bool for_write = false) {
  const char* c = static_cast<const char*>(p);
  if (bytes > 1024) bytes = 1024;
  for (int64_t off = 0; off < bytes; off += 64) {
    if (for_write)
      __builtin_prefetch(c + off, 1, 3);
    else
      __builtin_prefetch(c + off, 0, 3);
  }
}

}  // namespace graftrec
