// The small runtime that JIT-compiled code calls: a thread pool and a parallel-for over task
// indices. Several parallel-fors may run at once (concurrent Run calls on one compiled graph, or
// on several graphs sharing a braid::Runtime); the calling thread always works on its own job,
// so progress never depends on the pool.
#ifndef BRAID_CODEGEN_RUNTIME_H_
#define BRAID_CODEGEN_RUNTIME_H_

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

#include "absl/status/status.h"

namespace braid {

// The signature of a kernel's task function in generated code.
using TaskFn = void (*)(void* ctx, int64_t task);

class ThreadPool {
 public:
  // How long an idle thread polls before it sleeps (runtime.cc says why).
  static constexpr std::chrono::microseconds kDefaultSpin{200};

  // `threads` counts the calling thread: 1 means no worker threads. `spin`: how long idle
  // workers poll for the next job, and a caller for its job's last tasks, before they block;
  // 0 blocks at once (no busy waiting, at the cost of a slower wake-up).
  explicit ThreadPool(int threads, std::chrono::microseconds spin = kDefaultSpin);
  ~ThreadPool();
  ThreadPool(const ThreadPool&) = delete;
  ThreadPool& operator=(const ThreadPool&) = delete;

  int threads() const { return static_cast<int>(workers_.size()) + 1; }
  // Runs fn(ctx, i) for every i in [0, n), on the pool and the calling thread; returns when all
  // are done. `max_threads` > 0 caps how many threads (the caller included) work on this call,
  // so that one graph of several sharing the pool uses only its share; 0: all of them.
  void ParallelFor(TaskFn fn, void* ctx, int64_t n, int max_threads = 0);

 private:
  struct Job {
    TaskFn fn;
    void* ctx;
    int64_t n;
    int helpers_left = 0;  // pool threads that may still join (mu_ held)
    std::atomic<int64_t> next{0};
    std::atomic<int64_t> done{0};
  };
  static void Work(Job& job);
  void WorkerLoop();
  // The first job with unclaimed tasks and room for another helper, or null; drops the jobs
  // whose every task is claimed (mu_ held).
  std::shared_ptr<Job> NextJob();
  // Recounts open_ after jobs_ changed (mu_ held).
  void CountOpen();

  std::mutex mu_;
  std::condition_variable wake_;
  std::condition_variable finished_;
  std::deque<std::shared_ptr<Job>> jobs_;
  // How many queued jobs take another helper, for idle threads to poll without taking mu_
  // (written with mu_ held).
  std::atomic<size_t> open_{0};
  std::atomic<bool> stop_{false};  // written with mu_ held; read by spinning workers without it
  const std::chrono::microseconds spin_;
  std::vector<std::thread> workers_;
};

}  // namespace braid

// Called by generated code for a GEMM tile too large for a task's stack (64-byte aligned;
// aborts with a message if memory is exhausted, like the allocations of std::vector).
extern "C" void* braid_alloc_tile(int64_t bytes);
extern "C" void braid_free_tile(void* tile);

// Called by generated code: a 64-byte aligned buffer of at least `bytes` owned by the calling
// thread, valid until its next call on that thread (it grows, never shrinks, and is freed when
// the thread exits). Callers keep `bytes` small (the GEMM template: a few MiB at most).
extern "C" void* braid_thread_scratch(int64_t bytes);
// The same, a second buffer: a GEMM kernel's activations packed once for all its tasks
// (codegen/shared_pack.h), asked for by the thread running the graph's entry function, which
// the tasks on any thread then read (so it must not be braid_thread_scratch, which the tasks of
// that same thread use). At most kMaxSharedPackBytes.
extern "C" void* braid_shared_pack_buffer(int64_t bytes);

namespace braid {
class Collective;
// What a generated entry function receives as its `pool` argument and passes on to
// braid_parallel_for and braid_all_reduce: the (shared) pool, how many of its threads one run
// may use, and the group a tensor-parallel graph's all_reduce sums over.
struct PoolShare {
  ThreadPool* pool;
  int max_threads;  // the caller included; 0: all
  Collective* collective = nullptr;  // null: one rank (all_reduce copies)
};
}  // namespace braid

// Called by generated code; `pool` is the braid::PoolShare* the entry function received.
extern "C" void braid_parallel_for(void* pool, braid::TaskFn fn, void* ctx, int64_t n);

// Called by generated code for an all_reduce kernel (on the thread running the entry
// function): out = the sum over ranks of in, `count` elements of DType `dtype`. Returns 0, or
// 1 after recording the error for TakeCollectiveError (the entry function then returns).
extern "C" int32_t braid_all_reduce(void* pool, const void* in, void* out, int64_t count, int32_t dtype);

namespace braid {
// The error braid_all_reduce recorded on this thread since the last call (OK if none); clears it.
absl::Status TakeCollectiveError();
}  // namespace braid

#endif  // BRAID_CODEGEN_RUNTIME_H_
