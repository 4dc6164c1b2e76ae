// The topics of a deployment and the stages that run on them.
//
//   works.submitted --ingest--> works.tiled --detector--> pairs --ledger--> alerts
//         |                        \--> works.current (compacted view of live works)
//         +--> works.rejected (original bytes + reason)
// Each stateful stage has a compacted changelog topic: <prefix><stage>-changelog.
#pragma once

#include <atomic>
#include <filesystem>
#include <map>
#include <memory>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "services/settings.h"
#include "streams/admin.h"
#include "streams/stream_task.h"

namespace digonce::services {

enum class Stage { Ingest, Detector, Ledger };
const char* stage_name(Stage s);

/// Every topic with its partitions, replication and configs (compaction where it applies).
std::vector<streams::TopicSpec> topic_specs(const Settings& settings);

/// This instance's stable id: the configured one, else host name + a hash of the data folder,
/// so that a restart with the same data folder takes over (and fences) its predecessor's
/// transactions.
std::string instance_id(const Settings& settings);

/// The lock file a stage holds in its data folder while it runs: <data dir>/<stage>.lock.
std::filesystem::path stage_lock_path(const std::string& data_dir, Stage stage);

/// An exclusive lock (flock) on a file, held while the object lives; the file holds the pid.
class FolderLock {
 public:
  /// Fails at once, naming the holder's pid, when another process holds it.
  /// `advice` ends the message when another process holds it (default: a stage's).
  static Result<FolderLock> acquire(const std::string& path, std::string_view advice = {});
  FolderLock(FolderLock&& o) noexcept : fd_(std::exchange(o.fd_, -1)) {}
  FolderLock& operator=(FolderLock&&) = delete;
  FolderLock(const FolderLock&) = delete;
  FolderLock& operator=(const FolderLock&) = delete;
  ~FolderLock();

 private:
  explicit FolderLock(int fd) : fd_(fd) {}
  int fd_ = -1;
};

/// Runs stages, each on its own thread, until stop() or a stage fails.
class Pipeline {
 public:
  /// `exactly_once`: transactional (a real broker); otherwise at-least-once (the embedded one).
  Pipeline(const Settings& settings, prometheus::Registry& registry, bool exactly_once);
  ~Pipeline();

  /// Locks <data dir>/<stage>.lock for each stage, failing at once when another process holds
  /// one: two instances of a stage must not share a data folder (they would share the
  /// transactional id, fencing each other, and the partition stores). start() does it too; call
  /// it first to touch the data folder before starting. Locks go with the process, kill -9 too.
  Status lock(const std::vector<Stage>& stages);
  /// Starts the stages (topics must exist). Returns when all are running.
  Status start(const std::vector<Stage>& stages);
  /// Asks every stage to stop (they commit and leave their groups) and waits for them.
  void stop();
  /// True once a stage ended on its own (an error, or a fatal Kafka error such as fencing).
  bool failed() const { return failed_.load(); }
  /// True once every stage owns all partitions of its input, restored: for `serve`, where one
  /// instance runs every stage, this is when a submitted work is processed without delay.
  bool ready() const;
  /// The first stage error, if any.
  Status status() const;
  /// Each running stage's loop, for the probes (streams/health.h); any thread may ask.
  std::vector<streams::LoopHealth> health() const;

 private:
  struct Running;
  const Settings& settings_;
  prometheus::Registry& registry_;
  bool exactly_once_;
  std::atomic<bool> stop_{false};
  std::atomic<bool> failed_{false};
  std::map<Stage, FolderLock> locks_;  // <data dir>/<stage>.lock of each stage run here
  std::vector<std::unique_ptr<Running>> running_;
};

}  // namespace digonce::services
