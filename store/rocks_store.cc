#include "store/rocks_store.h"

#include <rocksdb/db.h>
#include <rocksdb/filter_policy.h>
#include <rocksdb/memtablerep.h>
#include <rocksdb/perf_level.h>
#include <rocksdb/slice_transform.h>
#include <rocksdb/table.h>
#include <rocksdb/write_batch.h>

#include <algorithm>
#include <chrono>
#include <thread>

#include "store/keys.h"

namespace digonce::store {
namespace {

Error rocks_error(const std::string& what, const rocksdb::Status& s) {
  return error("rocksdb " + what + ": " + s.ToString());
}

// RocksDB counts every key comparison and memtable step in a thread-local perf context unless
// the calling thread's perf level says not to (Debian's librocksdb is built with the counters,
// and the default level enables them); reaching thread-locals from a shared library costs a call
// each time. digonce reads none of those counters: each thread that calls RocksDB turns them
// off, once.
void no_perf_counters() {
  static thread_local bool done = false;
  if (done) return;
  rocksdb::SetPerfLevel(rocksdb::PerfLevel::kDisable);
  done = true;
}

rocksdb::Slice slice(std::string_view s) {
  return {s.data(), s.size()};
}

rocksdb::ColumnFamilyOptions family_options(const RocksOptions& options) {
  rocksdb::BlockBasedTableOptions table;
  table.block_cache = rocksdb::NewLRUCache(options.block_cache_bytes);
  table.filter_policy.reset(rocksdb::NewBloomFilterPolicy(10, false));
  // Index and filter blocks live with the open table readers, not in the block cache: a large
  // SST's filter block is bigger than a cache shard (64 MiB / 64 shards), so in the cache it was
  // evicted and re-read on every Get; at 1M works that made the engine 5x slower
  // (docs/PERFORMANCE.md, "The store as shipped"). Their memory is bounded by max_open_files.
  table.cache_index_and_filter_blocks = false;
  rocksdb::ColumnFamilyOptions cf_options;
  cf_options.table_factory.reset(rocksdb::NewBlockBasedTableFactory(table));
  cf_options.write_buffer_size = options.write_buffer_bytes;
  // A Bloom filter over each memtable's keys: most of the engine's reads are of keys that do not
  // exist (a new work's registry record, a new pair's record), and without it each one walks the
  // memtable's skip list, cache miss after cache miss (docs/PERFORMANCE.md).
  cf_options.memtable_prefix_bloom_size_ratio = 0.02;
  cf_options.memtable_whole_key_filtering = true;
  cf_options.compression = rocksdb::kLZ4Compression;
  if (options.insert_hints)
    cf_options.memtable_insert_with_hint_prefix_extractor.reset(
        rocksdb::NewFixedPrefixTransform(0));
  return cf_options;
}

}  // namespace

Result<std::unique_ptr<RocksStore>> RocksStore::open(const std::string& path,
                                                     const std::vector<std::string>& families,
                                                     const RocksOptions& options) {
  rocksdb::Options db_options;
  db_options.create_if_missing = true;
  db_options.create_missing_column_families = true;
  db_options.IncreaseParallelism(2);
  db_options.max_open_files = 256;
  // Without the WAL a family's writes live only in its memtable until it is flushed; flushed one
  // family at a time (RocksDB's way, each when its own memtable fills), a crash could bring back
  // a stream partition's checkpoint newer than the state it was written with, and the restore
  // from that checkpoint would skip the state's lost writes for ever. Atomic flush writes every
  // family's memtable together: after a crash the store is as it was at one write, all families
  // alike (RocksDB's advice for families written without the WAL).
  db_options.atomic_flush = !options.wal;

  auto shared_options =
      std::make_shared<const rocksdb::ColumnFamilyOptions>(family_options(options));
  const rocksdb::ColumnFamilyOptions& cf_options = *shared_options;
  std::vector<std::shared_ptr<const rocksdb::ColumnFamilyOptions>> by_family(families.size(),
                                                                             shared_options);
  for (Family f : options.vector_memtable_families) {
    if (f >= families.size())
      return error("rocksdb open " + path + ": no family " + std::to_string(f));
    auto vector_options = std::make_shared<rocksdb::ColumnFamilyOptions>(cf_options);
    vector_options->memtable_factory = std::make_shared<rocksdb::VectorRepFactory>();
    by_family[f] = std::move(vector_options);
    // RocksDB's concurrent memtable writes need skip lists; the store has one writer at a time.
    db_options.allow_concurrent_memtable_write = false;
  }

  // RocksDB must open every column family on disk, including ones this version does not use.
  std::vector<std::string> on_disk;
  if (!rocksdb::DB::ListColumnFamilies(db_options, path, &on_disk).ok()) on_disk.clear();
  std::vector<rocksdb::ColumnFamilyDescriptor> descriptors;
  descriptors.emplace_back(rocksdb::kDefaultColumnFamilyName, cf_options);
  for (std::size_t i = 0; i < families.size(); ++i)
    descriptors.emplace_back(families[i], *by_family[i]);
  for (const auto& name : on_disk) {
    bool known = name == rocksdb::kDefaultColumnFamilyName ||
                 std::find(families.begin(), families.end(), name) != families.end();
    if (!known) descriptors.emplace_back(name, cf_options);
  }

  std::vector<rocksdb::ColumnFamilyHandle*> handles;
  rocksdb::DB* raw = nullptr;
  auto s = rocksdb::DB::Open(db_options, path, descriptors, &handles, &raw);
  if (!s.ok()) return rocks_error("open " + path, s);

  std::unique_ptr<RocksStore> store(new RocksStore());
  store->path_ = path;
  store->options_ = options;
  store->family_options_ = std::move(by_family);
  store->db_.reset(raw);
  store->extra_handles_.push_back(handles[0]);
  for (std::size_t i = 0; i < families.size(); ++i) store->handles_.push_back(handles[i + 1]);
  for (std::size_t i = families.size() + 1; i < handles.size(); ++i)
    store->extra_handles_.push_back(handles[i]);
  return store;
}

RocksStore::~RocksStore() {
  if (!db_) return;
  std::erase(handles_, nullptr);  // a family clear() failed to create again
  // With the WAL on, RocksDB's close leaves the memtables in the WAL, and the next open replays
  // them (seconds at 1M works: docs/PERFORMANCE.md). Flushing them here makes that open quick.
  // On failure the WAL still holds everything. With the WAL off, close flushes by itself.
  if (options_.wal) {
    rocksdb::FlushOptions flush;
    flush.wait = true;
    db_->Flush(flush, handles_).PermitUncheckedError();
  }
  for (auto* h : handles_) db_->DestroyColumnFamilyHandle(h).PermitUncheckedError();
  for (auto* h : extra_handles_) db_->DestroyColumnFamilyHandle(h).PermitUncheckedError();
  db_->Close().PermitUncheckedError();  // nothing left to do on failure while tearing down
}

Result<std::optional<std::string>> RocksStore::get(Family f, std::string_view key) const {
  no_perf_counters();
  if (std::find(options_.vector_memtable_families.begin(), options_.vector_memtable_families.end(),
                f) != options_.vector_memtable_families.end()) {
    // A get from a vector memtable copies and sorts it, every time: 75 ms for a present key
    // among 100,000 here, ~7 us for an absent one. These families are read only when their
    // owner opens, a handful of gets: flush the memtables first (all of them, as atomic_flush
    // keeps the families alike on disk), so that those gets read tables.
    std::uint64_t entries = 0;
    if (db_->GetIntProperty(handles_.at(f), "rocksdb.num-entries-active-mem-table", &entries) &&
        entries > 0) {
      rocksdb::FlushOptions flush;
      flush.wait = true;
      auto s = db_->Flush(flush, handles_);
      if (!s.ok()) return rocks_error("flush before a get", s);
    }
  }
  std::string value;
  auto s = db_->Get(rocksdb::ReadOptions(), handles_.at(f), slice(key), &value);
  if (s.IsNotFound()) return std::optional<std::string>();
  if (!s.ok()) return rocks_error("get", s);
  return std::optional<std::string>(std::move(value));
}

Status RocksStore::scan(Family f, std::string_view prefix, const Visitor& visit) const {
  no_perf_counters();
  rocksdb::ReadOptions read;
  std::string end = prefix_end(prefix);
  rocksdb::Slice upper(end);
  if (!end.empty()) read.iterate_upper_bound = &upper;
  std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(read, handles_.at(f)));
  for (it->Seek(slice(prefix)); it->Valid(); it->Next()) {
    auto k = it->key();
    auto v = it->value();
    if (!visit(std::string_view(k.data(), k.size()), std::string_view(v.data(), v.size()))) break;
  }
  if (!it->status().ok()) return rocks_error("scan", it->status());
  return {};
}

Status RocksStore::write(const WriteBatch& batch) {
  if (batch.empty()) return {};
  no_perf_counters();
  rocksdb::WriteBatch wb;
  for (const auto& op : batch.ops()) {
    auto s = op.kind == Op::Kind::Put
                 ? wb.Put(handles_.at(op.family), slice(op.key), slice(op.value))
                 : wb.Delete(handles_.at(op.family), slice(op.key));
    if (!s.ok()) return rocks_error("batch", s);
  }
  rocksdb::WriteOptions wo;
  wo.disableWAL = !options_.wal;
  wo.sync = options_.sync && options_.wal;
  auto s = db_->Write(wo, &wb);
  if (!s.ok()) return rocks_error("write", s);
  return {};
}

Status RocksStore::clear() {
  // Each family is dropped and created again, empty: no range tombstone for every later read to
  // step over, and none of RocksDB's DeleteRange, which with memtable insert hints (insert_hints)
  // hands the range-deletion table the main table's insert position and fails an assertion in
  // Debian's librocksdb 7.8 (the MemTable keeps one hint map for both of its skip lists).
  // Last family first: a stream partition's checkpoint lives in its last family
  // (streams/partition_state.cc), and a clear cut short (a crash, a failed drop) must not leave
  // that checkpoint over families already emptied: without it the next start rebuilds.
  for (std::size_t i = handles_.size(); i-- > 0;) {
    auto*& h = handles_[i];
    const std::string name = h->GetName();
    auto s = db_->DropColumnFamily(h);
    if (!s.ok()) return rocks_error("clear " + name, s);
    s = db_->DestroyColumnFamilyHandle(h);
    h = nullptr;
    if (!s.ok()) return rocks_error("clear " + name, s);
    s = db_->CreateColumnFamily(*family_options_[i], name, &h);
    if (!s.ok()) return rocks_error("clear " + name, s);
  }
  return {};
}

std::uint64_t RocksStore::approximate_size() const {
  std::uint64_t total = 0;
  for (auto* h : handles_) {
    std::uint64_t v = 0;
    if (db_->GetIntProperty(h, "rocksdb.estimate-live-data-size", &v)) total += v;
    if (db_->GetIntProperty(h, "rocksdb.cur-size-all-mem-tables", &v)) total += v;
  }
  return total;
}

double RocksStore::wait_for_background(double timeout_s) const {
  using Clock = std::chrono::steady_clock;
  const auto t0 = Clock::now();
  auto busy = [&] {
    for (auto* h : handles_) {
      std::uint64_t v = 0;
      for (const char* p : {"rocksdb.num-running-flushes", "rocksdb.num-running-compactions",
                            "rocksdb.mem-table-flush-pending", "rocksdb.compaction-pending"})
        if (db_->GetIntProperty(h, p, &v) && v > 0) return true;
    }
    return false;
  };
  while (busy() && std::chrono::duration<double>(Clock::now() - t0).count() < timeout_s)
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  return std::chrono::duration<double>(Clock::now() - t0).count();
}

}  // namespace digonce::store
