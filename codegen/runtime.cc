// Thread pool and parallel-for.
#include "codegen/runtime.h"

#include <cstdio>
#include <cstdlib>

namespace braid {

ThreadPool::ThreadPool(int threads) {
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
    wake_.wait(lock, [this] { return stop_ || !jobs_.empty(); });
    if (stop_) return;
    std::shared_ptr<Job> job = jobs_.front();
    if (job->next.load() >= job->n) {
      // Every task of this job is claimed; stop offering it.
      jobs_.pop_front();
      continue;
    }
    lock.unlock();
    Work(*job);
    lock.lock();
    if (job->done.load() == job->n) finished_.notify_all();
  }
}

void ThreadPool::ParallelFor(TaskFn fn, void* ctx, int64_t n) {
  if (n <= 0) return;
  if (workers_.empty() || n == 1) {
    for (int64_t i = 0; i < n; ++i) fn(ctx, i);
    return;
  }
  auto job = std::make_shared<Job>();
  job->fn = fn;
  job->ctx = ctx;
  job->n = n;
  {
    std::lock_guard<std::mutex> lock(mu_);
    jobs_.push_back(job);
  }
  wake_.notify_all();
  Work(*job);
  std::unique_lock<std::mutex> lock(mu_);
  finished_.wait(lock, [&] { return job->done.load() == job->n; });
  // Drop the job if no worker has yet.
  for (auto it = jobs_.begin(); it != jobs_.end(); ++it) {
    if (*it == job) {
      jobs_.erase(it);
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

extern "C" void* braid_thread_scratch(int64_t bytes) {
  struct Scratch {
    void* data = nullptr;
    int64_t bytes = 0;
    ~Scratch() { std::free(data); }
  };
  thread_local Scratch scratch;
  if (bytes > scratch.bytes) {
    std::free(scratch.data);
    scratch.data = braid_alloc_tile(bytes);
    scratch.bytes = bytes;
  }
  return scratch.data;
}

extern "C" void braid_parallel_for(void* pool, braid::TaskFn fn, void* ctx, int64_t n) {
  static_cast<braid::ThreadPool*>(pool)->ParallelFor(fn, ctx, n);
}
