// The state of one input partition: a RocksDB store (one folder per task and partition) whose
// writes stay buffered until the Kafka transaction that logs them to the changelog commits.
//
// Follows Kafka Streams' changelogged state stores (KIP-98/KIP-129 exactly-once, the changelog
// as the source of truth, a local checkpoint of the changelog offset) with the transactional
// store of KIP-892: writes are buffered in memory (store::BufferedStore) and written to RocksDB,
// together with the checkpoint, only after the transaction committed. The local store therefore
// never holds uncommitted state, and a restart, clean or after kill -9, only has to replay the
// changelog from its checkpoint. A store with no checkpoint (a new machine, a lost disk) is
// rebuilt from the whole changelog. The RocksDB write-ahead log is off: the changelog is the log;
// RocksDB flushes all the store's families together (atomic flush), so that a kill -9 leaves the
// checkpoint no newer than the state it was written with.
//
// Changelog records: key = family byte + key, value = the value, or null for a delete (the topic
// is compacted, so it keeps the last write of every key).
#pragma once

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "store/buffered_store.h"
#include "store/rocks_store.h"
#include "streams/kafka.h"

namespace digonce::streams {

/// How long a changelog keeps its tombstones (delete.retention.ms of the changelog topics:
/// services/pipeline.cc). A local store whose state is older than this less a day is not
/// trusted: the deletes it has not seen may have been compacted away, and replaying from its
/// checkpoint would bring deleted works and alerts back. It is rebuilt from the changelog.
inline constexpr std::int64_t kChangelogTombstoneRetentionMs = 7LL * 24 * 3600 * 1000;
inline constexpr std::int64_t kCheckpointTrustedMs =
    kChangelogTombstoneRetentionMs - 24LL * 3600 * 1000;
/// The same for a changelog whose delete.retention.ms the broker gave (an operator's topic, or
/// one made before digonce set it, may keep its deletes less than digonce asks): that less a
/// day, or less a quarter of it when that is shorter but never less than an hour (the clocks of
/// this machine and of the broker's cleaner may differ that much); never more than
/// kCheckpointTrustedMs nor less than 0. Unknown: kCheckpointTrustedMs.
constexpr std::int64_t checkpoint_trusted_ms(std::optional<std::int64_t> delete_retention_ms) {
  if (!delete_retention_ms) return kCheckpointTrustedMs;
  constexpr std::int64_t hour = 3600LL * 1000;
  const std::int64_t r = *delete_retention_ms;
  const std::int64_t margin = std::clamp<std::int64_t>(r / 4, hour, 24 * hour);
  return std::clamp<std::int64_t>(r - margin, 0, kCheckpointTrustedMs);
}
/// How long an assignment's restores wait, in all, for transactions open on their changelogs
/// (the previous owner's) to end before they go on without them.
inline constexpr std::chrono::seconds kOpenTransactionWait{60};

class PartitionState {
 public:
  /// Opens the store in `dir` with the processor's families plus one for the runtime, those of
  /// `vector_memtable_families` with vector memtables (store::RocksOptions).
  static Result<std::unique_ptr<PartitionState>> open(
      const std::string& dir, const std::vector<std::string>& families,
      const std::vector<store::Family>& vector_memtable_families = {});

  /// What the processor reads and writes.
  store::BufferedStore& store() { return *buffered_; }

  /// Brings the store up to the end of the committed changelog: from the local checkpoint, or
  /// from the beginning (after wiping the store) when there is none, when it belongs to another
  /// cluster, when its state is older than `trusted_ms` (checkpoint_trusted_ms of the changelog's
  /// setting, read at the stage's start; none when it could not be read: kCheckpointTrustedMs)
  /// or than the window recorded with the checkpoint (the setting when it was written: deletes
  /// logged then may already be gone though the setting was raised since), when it is of
  /// unknown age (a store of a version before 2026-12-04), when that window is 0, or when the
  /// changelog no longer reaches back to it. The checkpoints written during the restore record
  /// the shorter of the two windows; once it is complete, `trusted_ms` (the shorter still when
  /// `trusted_ms` is none).
  /// `progress(done)` is called as records are applied. A transaction open on the changelog
  /// (records past its last stable offset) is waited for, until it ends or `give_up_waiting()`
  /// (a deadline, a stop). Returns the number of records applied.
  /// When `stopped()` turns true (the process is asked to stop) the restore ends early, its
  /// progress checkpointed as a batch's is, so that the next start goes on from there; then
  /// restore_stopped() is true.
  Result<std::uint64_t> restore(rd_kafka_t* restore_consumer, const std::string& changelog,
                                std::int32_t partition, const std::string& cluster_id,
                                std::optional<std::int64_t> trusted_ms,
                                const std::function<void(std::uint64_t)>& progress,
                                const std::function<bool()>& give_up_waiting,
                                const std::function<bool()>& stopped = {});
  /// The last restore() ended early, at a stop: the store is not up to date.
  bool restore_stopped() const { return restore_stopped_; }

  /// Produces the pending writes to the changelog partition (within the current transaction):
  /// the last write of each key, or, if log_new_writes ran in this transaction, the writes since
  /// then in write order.
  Status log_pending(rd_kafka_t* producer, const std::string& changelog, std::int32_t partition);
  bool has_pending() const { return buffered_->pending_count() > 0; }
  /// Produces the writes made since the last call (or commit), in write order, each key's latest,
  /// so that the changelog is on its way before the commit (a key written again after a call is
  /// logged again by the next). A write whose produce failed is tried again by the next call.
  Status log_new_writes(rd_kafka_t* producer, const std::string& changelog, std::int32_t partition);
  bool has_new_writes() const { return buffered_->any_new_write(); }
  /// Called with each delivered changelog record's offset.
  void delivered(std::int64_t offset) {
    if (offset + 1 > next_offset_) next_offset_ = offset + 1;
  }
  /// The transaction committed: write the pending writes and the checkpoint to RocksDB.
  Status commit(const std::string& cluster_id);
  /// The transaction aborted: forget the pending writes.
  void abort() { buffered_->abort(); }

  std::uint64_t approximate_size() const { return rocks_->approximate_size(); }

 private:
  PartitionState() = default;
  // The checkpoint: the changelog offset, the cluster, the time the state was as of (every
  // changelog record after the offset was written after it; wall clock, ms), and the trust
  // window of the changelog's setting then (trusted_ms_).
  store::WriteBatch checkpoint_batch(const std::string& cluster_id, std::int64_t as_of_ms) const;
  Status log_write(rd_kafka_t* producer, const std::string& changelog, std::int32_t partition,
                   store::Family f, std::string_view k, const std::optional<std::string>& v);
  std::unique_ptr<store::RocksStore> rocks_;
  std::unique_ptr<store::BufferedStore> buffered_;
  store::Family meta_ = 0;  // the runtime's own family
  bool restore_stopped_ = false;
  std::int64_t next_offset_ = 0;                    // changelog offset to restore from next time
  std::int64_t trusted_ms_ = kCheckpointTrustedMs;  // restore()'s, recorded with checkpoints
  std::string key_;                                 // a changelog record's key (capacity kept)
};

}  // namespace digonce::streams
