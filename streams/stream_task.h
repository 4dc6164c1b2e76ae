// A consume-process-produce loop with exactly-once semantics on a real Kafka cluster.
//
// The loop follows librdkafka's examples/transactions.c (KIP-447): one transactional producer
// per task instance, input offsets sent to the transaction with the consumer's group metadata
// (so a zombie of an older group generation is fenced), cooperative-sticky rebalancing (only
// moved partitions stop), the current transaction committed before partitions are revoked and
// aborted when they are lost. Each input partition has its own state store (partition_state.h)
// whose writes go to the changelog in the same transaction as the outputs and the offsets.
//
// Errors: an abortable transaction error aborts, drops every uncommitted state write, recreates
// the processors (so in-memory caches match the store again) and rewinds the consumer to the
// committed offsets; a fatal one (fenced by a newer instance) stops the task. A record whose
// processing fails three times is sent to the dead-letter topic with the error, so a poison
// record never stalls its partition.
//
// Without a transactional id (the embedded broker, which has no transactions) the same loop runs
// at-least-once: outputs and changelog are flushed, then offsets committed, then the state.
#pragma once

#include <algorithm>
#include <atomic>
#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "store/store.h"
#include "streams/health.h"
#include "streams/kafka.h"
#include "streams/task_metrics.h"

namespace digonce::streams {

struct InputRecord {
  std::string_view topic;
  std::int32_t partition;
  std::int64_t offset;
  std::int64_t timestamp_ms;
  std::string_view key;
  std::optional<std::string_view> value;
  const rd_kafka_message_t* message;  // for headers
};

/// Where a processor sends its outputs: into the task's current transaction.
class Output {
 public:
  virtual ~Output() = default;
  /// partition RD_KAFKA_PARTITION_UA: by key, as the Java default partitioner would.
  virtual Status send(const std::string& topic, std::int32_t partition, std::string_view key,
                      const std::string* value, const std::vector<Header>& headers = {}) = 0;
};

/// Processes the records of one input partition.
class PartitionProcessor {
 public:
  virtual ~PartitionProcessor() = default;
  /// An error here is a failure of the processor (not of the input, which it rejects itself):
  /// the transaction is aborted and retried, and the record set aside after three failures.
  virtual Status process(const InputRecord& in, Output& out) = 0;
};

class ProcessorFactory {
 public:
  virtual ~ProcessorFactory() = default;
  /// Column families of each partition's store; none for a stateless task.
  virtual std::vector<std::string> families() const = 0;
  /// Those of the families above whose memtables RocksDB keeps as vectors: written on every
  /// record, read back only when a processor is created (store::RocksOptions).
  virtual std::vector<store::Family> vector_memtable_families() const { return {}; }
  /// The processor of a partition, over its restored store (null when stateless). Called on
  /// assignment, and again after an abort so that no uncommitted state survives in memory.
  virtual Result<std::unique_ptr<PartitionProcessor>> create(std::int32_t partition,
                                                             store::Store* store) = 0;
};

/// The processors of a stateless task: every record, of any partition, goes to `fn` (a copy, a
/// filter, a re-keying). `fn` is called on the task's thread only.
class StatelessFactory final : public ProcessorFactory {
 public:
  using Fn = std::function<Status(const InputRecord&, Output&)>;
  explicit StatelessFactory(Fn fn) : fn_(std::move(fn)) {}
  std::vector<std::string> families() const override { return {}; }
  Result<std::unique_ptr<PartitionProcessor>> create(std::int32_t partition,
                                                     store::Store* store) override;

 private:
  Fn fn_;
};

struct TaskOptions {
  std::string name;  // names the folder, the metrics, the default group
  std::string brokers;
  std::string input_topic;
  std::string group_id;
  std::string changelog_topic;    // stateful tasks
  std::string dead_letter_topic;  // where records that keep failing go
  std::string data_dir;           // partition stores in <data_dir>/<name>/<partition>
  std::string transactional_id;   // empty: at-least-once
  /// The consumer's group.instance.id (static membership, KIP-345): a restart within the session
  /// timeout takes its partitions back at once, with no rebalance; a stop leaves them to it until
  /// then. Empty: dynamic membership (a stop hands them over at once, a restart waits for the
  /// session timeout of its old self).
  std::string group_instance_id;
  std::vector<std::string> output_topics;  // looked up at start, so a first record is not delayed
  int commit_interval_ms = 50;
  /// While the consumer holds a backlog (at least 1,000 fetched records, and at least as many as
  /// the open transaction has taken), the commit waits up to this long instead: fewer, larger
  /// transactions while catching up, each costing the broker a marker per partition it touched.
  /// Not below commit_interval_ms (equal: never stretched).
  int max_commit_interval_ms = 200;
  int max_batch = 10000;
  // The runtime's own defaults are latency-first; digonce's stages take both from the
  // `streams.*` settings, which batch by default (services/settings.h).
  int linger_ms = 2;        // the producer's linger.ms
  int fetch_min_bytes = 1;  // the consumer's fetch.min.bytes
};

/// Records fetched and waiting, at the least, for a stage to count as behind (commit_due).
inline constexpr std::size_t kBacklogRecords = 1000;

/// Whether a stage's open transaction, holding `pending` records, should commit now,
/// `since_commit_ms` after the last commit: at max_batch records; else once commit_interval_ms
/// has passed, unless the stage is behind, i.e. `queued()` (records fetched and not yet taken)
/// is at least kBacklogRecords and at least `pending`, in which case it goes on taking records
/// until max_commit_interval_ms. `queued` is asked only in that window.
template <class Queued>
bool commit_due(const TaskOptions& o, std::size_t pending, std::int64_t since_commit_ms,
                Queued&& queued) {
  if (pending == 0) return false;
  if (pending >= static_cast<std::size_t>(o.max_batch)) return true;
  if (since_commit_ms < o.commit_interval_ms) return false;
  if (since_commit_ms >= o.max_commit_interval_ms) return true;
  const std::size_t waiting = queued();
  return waiting < std::max(pending, kBacklogRecords);
}

class StreamTask {
 public:
  StreamTask(TaskOptions options, ProcessorFactory& factory, prometheus::Registry& registry);
  ~StreamTask();
  StreamTask(const StreamTask&) = delete;
  StreamTask& operator=(const StreamTask&) = delete;

  /// Runs until `stop` is set (then commits, leaves the group and returns ok) or an error it
  /// cannot get past. Once started, an error (above all a fatal Kafka error other than fencing:
  /// a transaction the coordinator aborted while the broker restarted) is got past: the task
  /// drops its partitions without committing, rebuilds its clients, rejoins the group and goes
  /// on from the committed offsets and stores, as a process restart would, with a growing pause
  /// between tries (at most 10 in a row that commit nothing). Fenced, it leaves the group and
  /// returns the error: a newer instance with its transactional id has taken over.
  Status run(const std::atomic<bool>& stop);

  const TaskOptions& options() const { return options_; }
  /// Input partitions owned, restored and being processed (any thread may ask).
  int assigned_partitions() const { return assigned_count_.load(); }
  /// Its loop's signs of life and state, for the probes (any thread may ask; streams/health.h).
  LoopHealth health() const { return snapshot(options_.name, heart_, assigned_count_.load()); }
  /// For tests (any thread): at its loop's next turn the task's producer fails fatally with
  /// `err`, as it would when the broker says so (rd_kafka_test_fatal_error).
  void inject_fatal_error(rd_kafka_resp_err_t err) { injected_fatal_ = err; }
  /// Tests: after the next record, the task's thread stops for `ms` with its transaction open,
  /// as a process paused by SIGSTOP, a long swap or a VM migration would.
  void inject_pause(std::int64_t ms) { injected_pause_ms_ = ms; }

 private:
  struct Assigned;
  class TxnOutput;
  static void on_rebalance(rd_kafka_t* rk, rd_kafka_resp_err_t err,
                           rd_kafka_topic_partition_list_t* partitions, void* opaque);
  static void on_delivery(rd_kafka_t* rk, const rd_kafka_message_t* m, void* opaque);

  // One life of the Kafka clients: start(), then poll and process until stop or an error.
  Status run_clients(const std::atomic<bool>& stop);
  // Leaves the group and destroys the clients; owned partitions are dropped, not committed,
  // unless `clean` (the stop path, where everything has just been committed).
  void teardown(bool clean);
  // The fatal error either client holds, if any: its code, and its reason in *reason if given.
  rd_kafka_resp_err_t fatal_error(std::string* reason = nullptr) const;
  // Aborts the open transaction, trying again while the error is retriable.
  Status abort_transaction();
  Status start();
  Status assign(rd_kafka_topic_partition_list_t* partitions);
  Status revoke(rd_kafka_topic_partition_list_t* partitions, bool lost);
  Status handle(rd_kafka_message_t* m);
  Status commit();
  /// The records fetched by the consumer and not yet polled.
  std::size_t queued_records() const;
  Status commit_transactional();
  // While idle: commits the position of partitions whose consumer has moved past a
  // transaction's commit marker since the last commit (transactional input), so that their lag
  // reaches 0.
  Status step_over_markers();
  // The trust window of the changelog's delete.retention.ms (checkpoint_trusted_ms), or none
  // when the setting could not be read.
  std::optional<std::int64_t> changelog_trust();
  Status commit_at_least_once();
  // After a commit (either kind): the stores' checkpoints, the latency metric, the counters.
  Status committed(const rd_kafka_topic_partition_list_t& offsets);
  Status abort_and_rewind();
  // Forgets the failures of the partition's records before this offset (committed past).
  void forget_failures(std::int32_t partition, std::int64_t before);
  Status begin();
  Status recreate_processors();
  // The lag and store size gauges; ask_group (when idle only): ask the group's committed offsets
  // of partitions read from nothing yet.
  void update_lag(bool ask_group);

  TaskOptions options_;
  ProcessorFactory& factory_;
  TaskMetrics metrics_;
  bool stateful_ = false;
  bool transactional_ = false;
  Handle producer_;
  Handle consumer_;
  Handle restorer_;
  struct TopicDeleter {
    void operator()(rd_kafka_topic_t* t) const { rd_kafka_topic_destroy(t); }
  };
  std::vector<std::unique_ptr<rd_kafka_topic_t, TopicDeleter>> topics_;  // declared after producer_
  std::string cluster_id_;
  std::optional<std::int64_t> checkpoint_trusted_ms_;  // changelog_trust(), set at each start
  std::map<std::int32_t, Assigned> parts_;
  std::atomic<int> assigned_count_{0};
  // Beaten at every turn of the loop and in every wait (restores, retried calls, pauses).
  Heartbeat heart_;
  std::unique_ptr<TxnOutput> output_;
  std::size_t pending_records_ = 0;
  std::size_t pending_dead_lettered_ = 0;  // of them, set aside on the dead-letter topic
  std::vector<std::int64_t> pending_timestamps_;
  std::int64_t last_commit_ms_ = 0;
  // While idle, every kIdleCheckMs: the lag gauges, and step_over_markers().
  static constexpr std::int64_t kIdleCheckMs = 1000;
  std::int64_t last_idle_check_ms_ = 0;
  bool polled_since_idle_check_ = false;  // a record or event polled since that check
  bool delivery_failed_ = false;
  std::string delivery_error_;
  Status fatal_;          // set by callbacks
  bool started_ = false;  // start() succeeded once: later errors are restarted from
  // While the clients are torn down after an error, revoke() drops partitions without commit
  // or abort.
  bool tearing_down_ = false;
  // Set by inject_fatal_error (tests); the loop checks it with a plain load.
  std::atomic<rd_kafka_resp_err_t> injected_fatal_{RD_KAFKA_RESP_ERR_NO_ERROR};
  std::atomic<std::int64_t> injected_pause_ms_{0};
  // When the open transaction took its first record (its writes follow at once), on the steady
  // clock; unset while it has none. A transaction open longer than kTransactionTimeoutMs has
  // been aborted by the broker, and that fences this producer without anyone taking over.
  std::optional<std::chrono::steady_clock::time_point> txn_first_record_;
  // When the group last took the assignment away (a session that timed out): a static member
  // fenced soon after has been fenced by its own rejoin (run()).
  std::optional<std::chrono::steady_clock::time_point> assignment_lost_at_;
  // A produce for the open transaction was refused because it must be aborted (TxnOutput).
  bool txn_unusable_ = false;
  const std::atomic<bool>* stop_ = nullptr;  // run()'s, for the restores' waits
  int aborts_in_a_row_ = 0;                  // since the last commit (abort_and_rewind's pause)
  // Record -> failed attempts (kept, once it reaches kMaxAttempts and is set aside, until a
  // commit passes it).
  std::map<std::pair<std::int32_t, std::int64_t>, int> failures_;
  std::map<std::pair<std::int32_t, std::int64_t>, std::string> failure_reason_;
};

}  // namespace digonce::streams
