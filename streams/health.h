// Liveness and readiness of a process's loops (stream tasks, notifier workers), for the probes
// of a stage process: GET /healthz and GET /readyz on its metrics port (services/probes.h).
//
// A loop beats its Heartbeat at every turn and inside every wait of its own (a restore, a pause
// between restarts, a webhook's backoff). A call that waits for the brokers (starting the Kafka
// clients, committing or aborting a transaction, leaving the group, writing a dead letter; with
// librdkafka's recommended timeouts, some wait as long as the broker is away) is marked as such
// (Heartbeat::Waiting): the loop is alive while in it. A loop quiet for longer than the stall
// limit outside such a call is stuck (a deadlock, a loop that never ends): liveness fails then,
// and only then; a broker away is not a reason to restart a process.
// Readiness says whether the loop is doing its work: clients up, in its consumer group (an
// assignment came, even an empty one), no partition being restored, not waiting long for the
// brokers.
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

  /// While one lives, the loop waits in a call for the brokers (`what`, a literal, e.g. "commit
  /// transaction"): alive however long. The outermost one names the wait.
  class Waiting {
   public:
    Waiting(Heartbeat& heart, const char* what) : heart_(heart) {
      heart_.beat();
      const char* none = nullptr;
      outermost_ = heart_.waiting_on_.compare_exchange_strong(none, what);
      if (outermost_) heart_.waiting_since_ms_.store(heart_.at_ms(), std::memory_order_relaxed);
    }
    ~Waiting() {
      if (outermost_) heart_.waiting_on_.store(nullptr);
      heart_.beat();
    }
    Waiting(const Waiting&) = delete;
    Waiting& operator=(const Waiting&) = delete;

   private:
    Heartbeat& heart_;
    bool outermost_ = false;
  };
  /// The wait in progress (null: none), and since when (steady ms).
  const char* waiting_on() const { return waiting_on_.load(); }
  std::int64_t waiting_since_ms() const {
    return waiting_since_ms_.load(std::memory_order_relaxed);
  }

 private:
  std::atomic<std::int64_t> at_ms_{0};
  std::atomic<const char*> waiting_on_{nullptr};
  std::atomic<std::int64_t> waiting_since_ms_{0};
};

/// The heartbeat of the loop running on this thread (null: none), for waits deep in shared code
/// (a produce waiting for queue space beats it).
void bind_heartbeat_to_this_thread(Heartbeat* heart);
void beat_this_thread();

/// How long a loop may wait for the brokers before readiness says so.
inline constexpr std::int64_t kReadyWaitMs = 10'000;

/// One loop, as a probe sees it.
struct LoopHealth {
  std::string name;
  std::int64_t quiet_ms = 0;  // since its last heartbeat
  bool clients_up = false;
  bool joined = false;
  int restoring = 0;
  int assigned = 0;             // input partitions owned, restored and processed (-1: not counted)
  std::string waiting_on;       // the call for the brokers it is in ("": none)
  std::int64_t waiting_ms = 0;  // for how long
};

/// A snapshot of `heart` for a loop called `name` owning `assigned` partitions.
LoopHealth snapshot(const std::string& name, const Heartbeat& heart, int assigned,
                    std::int64_t now_ms = steady_ms());

/// What a probe answers: an HTTP status (200 or 503) and a JSON body.
struct ProbeAnswer {
  int status = 200;
  std::string body;
};

/// GET /healthz: 503 when a loop has been quiet for more than `stall_ms` outside a wait for the
/// brokers (it is stuck: restart the process), else 200. A process with no loop yet (waiting for
/// its brokers) is alive.
ProbeAnswer liveness(const std::vector<LoopHealth>& loops, std::int64_t stall_ms);

/// GET /readyz: 200 when every loop is alive, its clients up, in its group, restoring nothing
/// and not waiting for the brokers for more than kReadyWaitMs; else 503, saying which loop is
/// not and why. `waiting` (non-empty: what the process
/// waits for before its loops start, e.g. its brokers) makes it 503 with that reason.
ProbeAnswer readiness(const std::vector<LoopHealth>& loops, std::int64_t stall_ms,
                      const std::string& waiting = {});

}  // namespace digonce::streams
