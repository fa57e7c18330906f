#pragma once
#include <cstdint>

namespace graftrec {

// out[c] += sum over rows of x[r, c]. Rows are summed in fixed-size chunks whose partial sums are combined in
// chunk order, so the result is the same for any thread count.
void sum_rows_accumulate(const float* x, int64_t rows, int64_t cols, float* out);

// Returns a scratch buffer of at least n floats, owned by the calling thread and reused across calls
// (slot lets one kernel hold several buffers at once).
float* scratch(int slot, int64_t n);

}  // namespace graftrec
