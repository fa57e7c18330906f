#include "thread_pool.h"

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <mutex>
#include <thread>
#include <vector>

namespace graftrec {
namespace {

thread_local bool t_inside_task = false;
thread_local bool t_is_worker = false;

// Debug counters (see pool_stats): jobs handed to the workers, their tasks, and the tasks a worker ran.
std::atomic<int64_t> g_shared_jobs{0}, g_shared_tasks{0}, g_worker_tasks{0};

// Spin briefly before sleeping: a training step issues hundreds of kernels, and waking a sleeping thread through
// a condition variable costs tens of microseconds each time. Spinning is bounded, so idle workers still sleep.
constexpr int kSpinIterations = 20000;

inline void cpu_relax() {
#if defined(__x86_64__) || defined(__i386__)
  __builtin_ia32_pause();
#else
  std::this_thread::yield();
#endif
}

// A job is published with a generation counter so a worker never runs the same job twice. Workers spin on the
// counter for a while after each job, then sleep on a condition variable. The caller also pulls tasks, then
// waits (spinning first) for the workers to finish.
class ThreadPool {
 public:
  ~ThreadPool() { resize(1); }

  int size() const { return n_workers_.load() + 1; }

  // Takes the job lock, so a resize from one thread (e.g. a worker_threads environment) waits for a job another
  // thread is running instead of joining the workers under it.
  void resize(int n) {
    if (n < 1) n = 1;
    std::lock_guard<std::mutex> run_lock(run_mu_);
    if (n == size()) return;
    {
      std::lock_guard<std::mutex> lock(mu_);
      stop_.store(true);
    }
    cv_.notify_all();
    for (auto& w : workers_) w.join();
    workers_.clear();
    n_workers_.store(0);
    stop_.store(false);
    // The current generation is captured here, not read by the new thread: a job published before the thread
    // first runs must still count as new to it, or the caller would wait for it forever.
    const uint64_t seen = generation_.load();
    for (int i = 0; i < n - 1; ++i) workers_.emplace_back([this, seen] { worker_loop(seen); });
    n_workers_.store(n - 1);
  }

  void run(int64_t n_tasks, const std::function<void(int64_t)>& fn) {
    if (n_tasks <= 0) return;
    // Serial when there is nothing to share, and when called from inside a task: the pool runs one job at a
    // time, so a nested job would wait forever for workers that are busy with the outer one.
    if (n_workers_.load() == 0 || n_tasks == 1 || t_inside_task) {
      run_serially(n_tasks, fn);
      return;
    }
    std::unique_lock<std::mutex> run_lock(run_mu_);  // one job at a time
    if (workers_.empty()) {  // resized meanwhile
      run_lock.unlock();
      run_serially(n_tasks, fn);
      return;
    }
    g_shared_jobs.fetch_add(1, std::memory_order_relaxed);
    g_shared_tasks.fetch_add(n_tasks, std::memory_order_relaxed);
    fn_ = &fn;
    n_tasks_ = n_tasks;
    next_.store(0);
    active_workers_.store(static_cast<int>(workers_.size()));
    {
      std::lock_guard<std::mutex> lock(mu_);
      generation_.fetch_add(1, std::memory_order_release);
    }
    cv_.notify_all();
    drain();
    for (int i = 0; i < kSpinIterations && active_workers_.load(std::memory_order_acquire) != 0; ++i) cpu_relax();
    if (active_workers_.load(std::memory_order_acquire) != 0) {
      std::unique_lock<std::mutex> lock(mu_);
      done_cv_.wait(lock, [this] { return active_workers_.load() == 0; });
    }
    fn_ = nullptr;
  }

 private:
  static void run_serially(int64_t n_tasks, const std::function<void(int64_t)>& fn) {
    for (int64_t t = 0; t < n_tasks; ++t) fn(t);
  }

  void drain() {
    t_inside_task = true;
    for (;;) {
      int64_t t = next_.fetch_add(1);
      if (t >= n_tasks_) break;
      (*fn_)(t);
      if (t_is_worker) g_worker_tasks.fetch_add(1, std::memory_order_relaxed);
    }
    t_inside_task = false;
  }

  void worker_loop(uint64_t seen) {
    t_is_worker = true;
    for (;;) {
      for (int i = 0; i < kSpinIterations && generation_.load(std::memory_order_acquire) == seen && !stop_.load(); ++i)
        cpu_relax();
      {
        std::unique_lock<std::mutex> lock(mu_);
        cv_.wait(lock, [&] { return stop_.load() || generation_.load() != seen; });
        if (stop_.load()) return;
        seen = generation_.load();
      }
      drain();
      if (active_workers_.fetch_sub(1, std::memory_order_acq_rel) == 1) {
        // Take the lock so the notification cannot fall between the caller's check and its wait.
        std::lock_guard<std::mutex> lock(mu_);
        done_cv_.notify_one();
      }
    }
  }

  std::vector<std::thread> workers_;
  std::atomic<int> n_workers_{0};
  std::mutex mu_, run_mu_;
  std::condition_variable cv_, done_cv_;
  std::atomic<bool> stop_{false};
  std::atomic<uint64_t> generation_{0};
  const std::function<void(int64_t)>* fn_ = nullptr;
  int64_t n_tasks_ = 0;
  std::atomic<int64_t> next_{0};
  std::atomic<int> active_workers_{0};
};

ThreadPool& pool() {
  static ThreadPool* p = [] {
    auto* created = new ThreadPool();  // never destroyed: workers must not be joined during static teardown
    return created;
  }();
  return *p;
}

std::atomic<bool> g_deterministic{false};

}  // namespace

int num_threads() { return pool().size(); }

void set_num_threads(int n) {
  if (n <= 0) n = static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  pool().resize(n);
}

void parallel_for(int64_t n_tasks, const std::function<void(int64_t)>& fn) { pool().run(n_tasks, fn); }

void parallel_range(int64_t n, int64_t grain, const std::function<void(int64_t, int64_t)>& fn) {
  if (n <= 0) return;
  grain = std::max<int64_t>(grain, 1);
  int64_t max_tasks = (n + grain - 1) / grain;
  int64_t n_tasks = std::min<int64_t>(max_tasks, static_cast<int64_t>(num_threads()) * 4);
  if (n_tasks <= 1) {
    fn(0, n);
    return;
  }
  int64_t chunk = (n + n_tasks - 1) / n_tasks;
  parallel_for(n_tasks, [&](int64_t t) {
    int64_t b = t * chunk, e = std::min(n, b + chunk);
    if (b < e) fn(b, e);
  });
}

PoolStats pool_stats() { return {g_shared_jobs.load(), g_shared_tasks.load(), g_worker_tasks.load()}; }

void reset_pool_stats() {
  g_shared_jobs.store(0);
  g_shared_tasks.store(0);
  g_worker_tasks.store(0);
}

bool deterministic() { return g_deterministic.load(); }
void set_deterministic(bool on) { g_deterministic.store(on); }

}  // namespace graftrec
