// Liveness and readiness of a process's loops (stream tasks, notifier workers), for the probes
// of a stage process: GET /healthz and GET /readyz on its metrics port (services/probes.h).
//
// A loop beats its Heartbeat at every turn and inside every wait it makes (a restore, a retried
// transactional call, a pause between restarts, a webhook's backoff), so that a loop whose
// heartbeat has been quiet for longer than the longest single call it makes (init_transactions'
// and flush's 60 s) is stuck: a deadlock, a call that never returns. Liveness fails then, and
// only then; a broker away is not a reason to restart a process (it waits, beating).
// Readiness says whether the loop is doing its work: clients up, in its consumer group (an
// assignment came, even an empty one), no partition being restored.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <string>
#include <vector>

namespace digonce::streams {

/// Milliseconds on the steady clock.
inline std::int64_t steady_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

/// A loop's signs of life. Its own thread writes it; any thread may read it.
class Heartbeat {
 public:
  Heartbeat() { beat(); }
  void beat() { at_ms_.store(steady_ms(), std::memory_order_relaxed); }
  std::int64_t at_ms() const { return at_ms_.load(std::memory_order_relaxed); }

  std::atomic<bool> clients_up{false};  // its Kafka clients run (not before or between starts)
  std::atomic<bool> joined{false};      // its consumer has had an assignment from its group
  std::atomic<int> restoring{0};        // partitions whose store is being restored now

 private:
  std::atomic<std::int64_t> at_ms_{0};
};

/// One loop, as a probe sees it.
struct LoopHealth {
  std::string name;
  std::int64_t quiet_ms = 0;  // since its last heartbeat
  bool clients_up = false;
  bool joined = false;
  int restoring = 0;
  int assigned = 0;  // input partitions owned, restored and processed (-1: not counted)
};

/// A snapshot of `heart` for a loop called `name` owning `assigned` partitions.
LoopHealth snapshot(const std::string& name, const Heartbeat& heart, int assigned,
                    std::int64_t now_ms = steady_ms());

/// What a probe answers: an HTTP status (200 or 503) and a JSON body.
struct ProbeAnswer {
  int status = 200;
  std::string body;
};

/// GET /healthz: 503 when a loop has been quiet for more than `stall_ms` (it is stuck: restart
/// the process), else 200. A process with no loop yet (waiting for its brokers) is alive.
ProbeAnswer liveness(const std::vector<LoopHealth>& loops, std::int64_t stall_ms);

/// GET /readyz: 200 when every loop is alive, its clients up, in its group and restoring
/// nothing; else 503, saying which loop is not and why. `waiting` (non-empty: what the process
/// waits for before its loops start, e.g. its brokers) makes it 503 with that reason.
ProbeAnswer readiness(const std::vector<LoopHealth>& loops, std::int64_t stall_ms,
                      const std::string& waiting = {});

}  // namespace digonce::streams
