// Thread pool and parallel-for.
#include "codegen/runtime.h"

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <utility>

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#endif

#include "ir/collective.h"

namespace braid {
namespace {

void CpuRelax() {
#if defined(__x86_64__) || defined(__i386__)
  _mm_pause();
#endif
}

// An idle thread polls for a while (ThreadPool::kDefaultSpin, 200 us) before it sleeps on a
// condition variable: a worker waiting for the next job, and the caller waiting for the pool to
// finish its last tasks. Waking a sleeping thread costs ~30-60 us of a 2-thread ParallelFor on
// these VMs (measured: 16 tasks of 25 us took 258 us instead of 200), which is 10 % of a
// decode-sized GEMM; OpenMP runtimes and OpenBLAS spin for the same reason. The budget bounds
// the CPU time an idle pool burns; an application that cannot spare it sets it to 0.

// Polls `ready` until it holds (true) or `budget` runs out (false).
template <typename Ready>
bool SpinUntil(std::chrono::microseconds budget, const Ready& ready) {
  if (budget.count() <= 0) return ready();
  const auto deadline = std::chrono::steady_clock::now() + budget;
  while (!ready()) {
    for (int i = 0; i < 16; ++i) CpuRelax();
    if (std::chrono::steady_clock::now() > deadline) return ready();
  }
  return true;
}

}  // namespace

ThreadPool::ThreadPool(int threads, std::chrono::microseconds spin) : spin_(spin) {
  for (int i = 1; i < threads; ++i) workers_.emplace_back([this] { WorkerLoop(); });
}

ThreadPool::~ThreadPool() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stop_ = true;
  }
  wake_.notify_all();
  for (std::thread& t : workers_) t.join();
}

void ThreadPool::Work(Job& job) {
  for (int64_t i; (i = job.next.fetch_add(1)) < job.n;) {
    job.fn(job.ctx, i);
    job.done.fetch_add(1);
  }
}

void ThreadPool::WorkerLoop() {
  std::unique_lock<std::mutex> lock(mu_);
  while (true) {
    if (!stop_ && NextJob() == nullptr) {
      lock.unlock();
      SpinUntil(spin_, [this] { return open_.load(std::memory_order_acquire) > 0 || stop_.load(); });
      lock.lock();
    }
    std::shared_ptr<Job> job;
    wake_.wait(lock, [&] { return stop_ || (job = NextJob()) != nullptr; });
    if (stop_) return;
    if (--job->helpers_left == 0) CountOpen();
    lock.unlock();
    Work(*job);
    lock.lock();
    if (job->done.load() == job->n) finished_.notify_all();
  }
}

std::shared_ptr<ThreadPool::Job> ThreadPool::NextJob() {
  std::shared_ptr<Job> found;
  bool dropped = false;
  for (auto it = jobs_.begin(); it != jobs_.end();) {
    if ((*it)->next.load() >= (*it)->n) {
      // Every task of this job is claimed; stop offering it.
      it = jobs_.erase(it);
      dropped = true;
      continue;
    }
    if (found == nullptr && (*it)->helpers_left > 0) found = *it;
    ++it;
  }
  if (dropped) CountOpen();
  return found;
}

void ThreadPool::CountOpen() {
  size_t open = 0;
  for (const auto& job : jobs_) open += job->helpers_left > 0;
  open_.store(open, std::memory_order_release);
}

void ThreadPool::ParallelFor(TaskFn fn, void* ctx, int64_t n, int max_threads) {
  if (n <= 0) return;
  int64_t helpers = static_cast<int64_t>(workers_.size());
  if (max_threads > 0) helpers = std::min<int64_t>(helpers, max_threads - 1);
  helpers = std::min(helpers, n - 1);  // the caller takes a task too
  if (helpers <= 0) {
    for (int64_t i = 0; i < n; ++i) fn(ctx, i);
    return;
  }
  auto job = std::make_shared<Job>();
  job->fn = fn;
  job->ctx = ctx;
  job->n = n;
  job->helpers_left = static_cast<int>(helpers);
  {
    std::lock_guard<std::mutex> lock(mu_);
    jobs_.push_back(job);
    CountOpen();
  }
  wake_.notify_all();
  Work(*job);
  SpinUntil(spin_, [&] { return job->done.load() == job->n; });
  std::unique_lock<std::mutex> lock(mu_);
  finished_.wait(lock, [&] { return job->done.load() == job->n; });
  // Drop the job if no worker has yet.
  for (auto it = jobs_.begin(); it != jobs_.end(); ++it) {
    if (*it == job) {
      jobs_.erase(it);
      CountOpen();
      break;
    }
  }
}

}  // namespace braid

extern "C" void* braid_alloc_tile(int64_t bytes) {
  void* tile = std::aligned_alloc(64, (static_cast<size_t>(bytes) + 63) / 64 * 64);
  if (tile == nullptr) {
    std::fprintf(stderr, "braid: out of memory allocating a %lld-byte GEMM tile\n", static_cast<long long>(bytes));
    std::abort();
  }
  return tile;
}

extern "C" void braid_free_tile(void* tile) { std::free(tile); }

namespace {
// A thread's buffer that grows to the largest size asked of it and is freed when the thread exits.
struct GrowingBuffer {
  void* data = nullptr;
  int64_t bytes = 0;
  ~GrowingBuffer() { std::free(data); }
  void* Get(int64_t wanted) {
    if (wanted > bytes) {
      std::free(data);
      data = braid_alloc_tile(wanted);
      bytes = wanted;
    }
    return data;
  }
};
}  // namespace

extern "C" void* braid_thread_scratch(int64_t bytes) {
  thread_local GrowingBuffer scratch;
  return scratch.Get(bytes);
}

extern "C" void* braid_shared_pack_buffer(int64_t bytes) {
  thread_local GrowingBuffer shared;
  return shared.Get(bytes);
}

extern "C" void braid_parallel_for(void* pool, braid::TaskFn fn, void* ctx, int64_t n) {
  const auto& share = *static_cast<const braid::PoolShare*>(pool);
  share.pool->ParallelFor(fn, ctx, n, share.max_threads);
}

namespace braid {
namespace {
absl::Status& CollectiveError() {
  thread_local absl::Status error;
  return error;
}
}  // namespace

absl::Status TakeCollectiveError() { return std::exchange(CollectiveError(), absl::OkStatus()); }
}  // namespace braid

extern "C" int32_t braid_all_reduce(void* pool, const void* in, void* out, int64_t count, int32_t dtype) {
  const auto& share = *static_cast<const braid::PoolShare*>(pool);
  const auto type = static_cast<braid::DType>(dtype);
  if (share.collective == nullptr) {
    if (in != out) std::memcpy(out, in, count * braid::DTypeBytes(type));
    return 0;
  }
  absl::Status status = share.collective->AllReduceSum(type, in, out, count);
  if (status.ok()) return 0;
  braid::CollectiveError() = std::move(status);
  return 1;
}
