// Store on RocksDB: one column family per Family, opened by name.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "store/store.h"

namespace rocksdb {
class DB;
class ColumnFamilyHandle;
struct ColumnFamilyOptions;
}  // namespace rocksdb

namespace digonce::store {

struct RocksOptions {
  /// Write-ahead log: on for a store that is its own source of truth; off where a Kafka changelog
  /// (streams/) makes the store a cache of it, as Kafka Streams does.
  bool wal = true;
  /// fsync the WAL on every write (slow; a process crash loses nothing without it, a power cut
  /// can).
  bool sync = false;
  std::size_t block_cache_bytes = 64u << 20;
  std::size_t write_buffer_bytes = 64u << 20;
  /// Start each memtable insert from where the family's last one ended (RocksDB's
  /// memtable_insert_with_hint_prefix_extractor with an empty prefix). The buffered stores hand
  /// RocksDB each family's keys in ascending order, so a batch's inserts walk forward a few
  /// nodes instead of descending the skip list from the top for every key.
  bool insert_hints = true;
  /// Families written as a log and read back only by scans and the odd get (at open): their
  /// memtables are RocksDB's vector memtable, where an insert appends to an array and the array
  /// is sorted once, when the memtable is flushed, instead of a skip list searched for every
  /// key's place. That takes most of the writer's time for such a family away (a scratch program
  /// of 2M sorted batches: 0.9-1.0 against 4.2-4.5 us of the writing thread a key, and
  /// 3.8-4.4 against 5.8-6.3 us of process CPU a key with the flushes and compactions:
  /// docs/PERFORMANCE.md). The price is in reads: a get or a scan while the family's memtable
  /// holds writes copies and sorts it (a get: 75 ms for a present key among 100,000 writes, ~7 us
  /// for an absent one), so get() on such a family flushes the memtables first when the
  /// family's holds writes. Read them when opening, not per event. Deletes are kept as for any
  /// family.
  std::vector<Family> vector_memtable_families;
};

class RocksStore final : public Store {
 public:
  /// Opens (creating if needed) the database at path with these column families, in this order:
  /// Family i is families[i].
  static Result<std::unique_ptr<RocksStore>> open(const std::string& path,
                                                  const std::vector<std::string>& families,
                                                  const RocksOptions& options = {});
  ~RocksStore() override;
  RocksStore(const RocksStore&) = delete;
  RocksStore& operator=(const RocksStore&) = delete;

  Result<std::optional<std::string>> get(Family f, std::string_view key) const override;
  Status scan(Family f, std::string_view prefix, const Visitor& visit) const override;
  Status write(const WriteBatch& batch) override;

  /// Deletes every key of every family (used before a full restore from a changelog), the last
  /// family first.
  Status clear();
  /// Approximate on-disk size in bytes, for metrics.
  std::uint64_t approximate_size() const;
  /// Waits until no flush or compaction is running or due, or `timeout_s` has passed; returns
  /// the seconds waited. (Benchmarks: a timed phase should not pay for an earlier one's writes.)
  double wait_for_background(double timeout_s) const;
  const std::string& path() const { return path_; }

 private:
  RocksStore() = default;
  std::string path_;
  RocksOptions options_;
  // Each family's options (one block cache for all), by Family, for those clear() creates again.
  std::vector<std::shared_ptr<const rocksdb::ColumnFamilyOptions>> family_options_;
  std::unique_ptr<rocksdb::DB> db_;
  std::vector<rocksdb::ColumnFamilyHandle*> handles_;        // by Family
  std::vector<rocksdb::ColumnFamilyHandle*> extra_handles_;  // families on disk we do not use
};

}  // namespace digonce::store
