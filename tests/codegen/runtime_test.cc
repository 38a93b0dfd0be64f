// The runtime generated code calls (codegen/runtime.h): the thread pool's ParallelFor runs every
// task exactly once whether its workers are spinning or asleep, from one caller or several at
// once, at most on as many threads as a call may use, and braid_thread_scratch hands out aligned
// per-thread buffers.
#include "codegen/runtime.h"

#include <atomic>
#include <chrono>
#include <cstdint>
#include <mutex>
#include <set>
#include <thread>
#include <vector>

#include "gtest/gtest.h"

namespace braid {
namespace {

struct Counts {
  std::vector<std::atomic<int>> runs;
  explicit Counts(int64_t n) : runs(n) {}
};

void CountTask(void* ctx, int64_t task) { static_cast<Counts*>(ctx)->runs[task].fetch_add(1); }

void ExpectEachRanOnce(const Counts& counts) {
  for (size_t i = 0; i < counts.runs.size(); ++i) ASSERT_EQ(counts.runs[i].load(), 1) << "task " << i;
}

TEST(ThreadPoolTest, RunsEveryTaskOnce) {
  for (int threads : {1, 2, 3, 4}) {
    ThreadPool pool(threads);
    EXPECT_EQ(pool.threads(), threads);
    for (int64_t n : {0, 1, 2, 17, 1000}) {
      Counts counts(n);
      pool.ParallelFor(CountTask, &counts, n);
      ExpectEachRanOnce(counts);
    }
  }
}

// Calls far enough apart that the workers' spin budget runs out and they sleep, then
// back-to-back calls that find them spinning: both paths hand out every task.
TEST(ThreadPoolTest, WakesSleepingAndSpinningWorkers) {
  ThreadPool pool(2);
  for (int round = 0; round < 20; ++round) {
    if (round % 2 == 0) std::this_thread::sleep_for(std::chrono::milliseconds(2));
    Counts counts(64);
    pool.ParallelFor(CountTask, &counts, 64);
    ExpectEachRanOnce(counts);
  }
}

// `callers` threads each run `rounds` ParallelFors of `tasks` tasks on `pool` (caller c on at
// most max_threads(c) threads); returns how many tasks did not run exactly once.
int RunConcurrently(ThreadPool& pool, int callers, int rounds, int tasks, int (*max_threads)(int) = nullptr) {
  std::vector<std::thread> threads;
  std::atomic<int> failures{0};
  for (int c = 0; c < callers; ++c) {
    threads.emplace_back([&, c] {
      const int limit = max_threads == nullptr ? 0 : max_threads(c);
      for (int round = 0; round < rounds; ++round) {
        Counts counts(tasks);
        pool.ParallelFor(CountTask, &counts, tasks, limit);
        for (const auto& r : counts.runs) failures += r.load() != 1;
      }
    });
  }
  for (std::thread& t : threads) t.join();
  return failures.load();
}

// Several threads share one pool (concurrent Run calls on one compiled graph).
TEST(ThreadPoolTest, ConcurrentCallers) {
  ThreadPool pool(3);
  EXPECT_EQ(RunConcurrently(pool, 4, 50, 37), 0);
}

// A pool destroyed right after a call, while its workers spin, joins them (a hang would time
// the test out).
TEST(ThreadPoolTest, DestroysWhileWorkersSpin) {
  for (int i = 0; i < 20; ++i) {
    ThreadPool pool(2);
    Counts counts(8);
    pool.ParallelFor(CountTask, &counts, 8);
    ExpectEachRanOnce(counts);
  }
}

// With no spin budget idle threads block at once: every task still runs exactly once, across
// sleeping workers, concurrent callers and destruction.
TEST(ThreadPoolTest, NoSpinBudget) {
  for (int threads : {2, 3}) {
    ThreadPool pool(threads, std::chrono::microseconds(0));
    for (int round = 0; round < 20; ++round) {
      if (round % 4 == 0) std::this_thread::sleep_for(std::chrono::milliseconds(1));
      Counts counts(41);
      pool.ParallelFor(CountTask, &counts, 41);
      ExpectEachRanOnce(counts);
    }
  }
  ThreadPool shared(3, std::chrono::microseconds(0));
  EXPECT_EQ(RunConcurrently(shared, 3, 30, 19), 0);
}

// Which threads ran the tasks of one call.
struct Workers {
  std::mutex mu;
  std::set<std::thread::id> ids;
};

void RecordTask(void* ctx, int64_t) {
  auto& workers = *static_cast<Workers*>(ctx);
  // Long enough that idle workers would join if they were allowed to.
  std::this_thread::sleep_for(std::chrono::microseconds(200));
  std::lock_guard<std::mutex> lock(workers.mu);
  workers.ids.insert(std::this_thread::get_id());
}

// A call capped at k threads (the share of one graph on a shared pool) runs on at most k.
TEST(ThreadPoolTest, MaxThreadsCapsOneCall) {
  ThreadPool pool(4);
  for (int cap : {1, 2, 3}) {
    Workers workers;
    pool.ParallelFor(RecordTask, &workers, 40, cap);
    EXPECT_LE(static_cast<int>(workers.ids.size()), cap);
    if (cap == 1) {
      EXPECT_EQ(workers.ids.count(std::this_thread::get_id()), 1u);
    }
  }
  // Capped and uncapped callers at once: the workers skip full jobs for open ones.
  EXPECT_EQ(RunConcurrently(pool, 4, 30, 23, [](int c) { return c % 2 == 0 ? 2 : 0; }), 0);
  ThreadPool sleepy(3, std::chrono::microseconds(0));
  EXPECT_EQ(RunConcurrently(sleepy, 3, 30, 17, [](int c) { return c + 1; }), 0);
}

TEST(ThreadScratchTest, AlignedGrowsAndIsPerThread) {
  auto* small = static_cast<char*>(braid_thread_scratch(100));
  ASSERT_NE(small, nullptr);
  EXPECT_EQ(reinterpret_cast<uintptr_t>(small) % 64, 0u);
  small[99] = 1;
  EXPECT_EQ(braid_thread_scratch(50), small);  // big enough already: the same buffer
  auto* large = static_cast<char*>(braid_thread_scratch(1 << 20));
  ASSERT_NE(large, nullptr);
  EXPECT_EQ(reinterpret_cast<uintptr_t>(large) % 64, 0u);
  large[(1 << 20) - 1] = 1;
  void* other = nullptr;
  std::thread([&] { other = braid_thread_scratch(100); }).join();
  EXPECT_NE(other, large);
}

}  // namespace
}  // namespace braid
