// A small fixed thread pool for kernels that are large enough to split.
// The calling thread takes part in the work, so with one thread nothing is spawned.
#pragma once
#include <cstdint>
#include <functional>

namespace graftrec {

int num_threads();
// Resizes the pool. n <= 0 means "number of hardware threads".
void set_num_threads(int n);

// Runs fn(task) for every task in [0, n_tasks) and returns when all are done.
// Tasks are handed out dynamically; a kernel that needs a fixed reduction order must make each task's
// result independent of which thread runs it (write to a per-task slot, combine in task order).
void parallel_for(int64_t n_tasks, const std::function<void(int64_t)>& fn);

// Splits [0, n) into contiguous chunks of at least `grain` items, one task each.
void parallel_range(int64_t n, int64_t grain, const std::function<void(int64_t begin, int64_t end)>& fn);

// Debug counters since the last reset, for tests that must prove work was really split: jobs shared with the
// pool's workers (not run serially), the tasks of those jobs, and how many of them a worker thread ran.
struct PoolStats {
  int64_t shared_jobs, shared_tasks, worker_tasks;
};
PoolStats pool_stats();
void reset_pool_stats();

// When set, kernels avoid every reduction whose order depends on thread scheduling.
bool deterministic();
void set_deterministic(bool on);

}  // namespace graftrec
