// A store whose writes stay in memory until commit(): the unit of atomicity of stream processing.
//
// Reads see the uncommitted writes over the base store. commit() writes them to the base in one
// batch (with any extra ops, such as a changelog checkpoint); abort() drops them. This is the
// approach of KIP-892 ("Transactional Semantics for StateStores"): the store on disk only ever
// holds committed state, so a crash never leaves it ahead of the Kafka transaction that logged it.
//
// commit_async() is group commit on a second thread: the pending writes are sealed and written
// to the base by a writer thread while the caller goes on filling a new set of pending writes.
// Reads see the sealed writes until they are written. At most kDepth (2) writes are in flight,
// written in order; a commit that finds that many waits for the oldest (back-pressure), so a
// write the writer takes longer over (RocksDB's flushes and compactions share its core) does not
// stop the caller at once. A write after one that failed is not made: the base never holds a
// later commit without an earlier one. The base must allow get() while a write() runs on another
// thread (RocksStore does; MemoryStore does not).
//
// The pending writes are an append-only log in one buffer plus an open-addressing hash table
// from (family, key) to the key's last write: a write is one append and one probe, a read one
// probe, with no allocation per write (the engine writes about ten keys per event; against the
// std::map of strings this replaced, the engine thread went from ~11k to 15-17.5k events per CPU
// second at 1M works: docs/PERFORMANCE.md). The base receives only the last write of each key,
// sorted by family and key, after which the commit's `extra` ops (so those win); sorted keys are
// what makes RocksDB's memtable inserts cheap (each skip-list insert starts where the last ended).
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <mutex>
#include <optional>
#include <thread>
#include <vector>

#include "store/store.h"

namespace digonce::store {

class BufferedStore final : public Store {
 public:
  BufferedStore(Store& base, std::size_t families) : base_(base), families_(families) {}
  BufferedStore(const BufferedStore&) = delete;  // a writer thread may hold `this`
  BufferedStore& operator=(const BufferedStore&) = delete;
  /// Waits for the writes in flight (their error, if any, is lost: call wait() to see it).
  ~BufferedStore() override;

  Result<std::optional<std::string>> get(Family f, std::string_view key) const override;
  /// Waits for the writes in flight first.
  Status scan(Family f, std::string_view prefix, const Visitor& visit) const override;
  Status write(const WriteBatch& batch) override;

  /// The uncommitted writes, one per key (the last one), in key order by family:
  /// value nullopt is a delete. Sealed writes in flight are not included.
  void for_each_pending(const std::function<void(Family, std::string_view,
                                                 const std::optional<std::string>&)>& fn) const;
  /// The writes not yet passed to this function since the last commit, in write order, each
  /// key's latest so far only (a key written again after a call is passed again by the next):
  /// for a changelog sent while the transaction goes on, instead of all at its commit. Stops at
  /// the first write `fn` returns false for, which is passed again next time; false then.
  bool for_each_new_write(
      const std::function<bool(Family, std::string_view, const std::optional<std::string>&)>& fn);
  /// Whether for_each_new_write has been called since the last commit (what it passed is then
  /// logged already: the rest must follow in write order, not as for_each_pending gives it).
  bool any_written_out() const { return pending_.written_out > 0; }
  /// Whether a write is waiting for for_each_new_write.
  bool any_new_write() const { return pending_.written_out < pending_.ops.size(); }
  /// Distinct keys written since the last commit.
  std::size_t pending_count() const { return pending_.distinct; }
  /// Bytes of keys and values written since the last commit (rewrites of a key included).
  std::size_t pending_bytes() const { return pending_.log.size(); }

  /// Writes the pending writes and then `extra` to the base store, atomically, after any write
  /// in flight.
  Status commit(const WriteBatch& extra = {});
  /// Writes in flight at most (commit_async).
  static constexpr std::size_t kDepth = 2;
  /// Seals the pending writes (and `extra`) and has a writer thread write them to the base, as
  /// commit() would, after the writes in flight; first, when kDepth are in flight, waits for the
  /// oldest and returns its status if it failed (then nothing is sealed). The sealed writes are
  /// durable once wait() (or a commit) returns ok.
  Status commit_async(const WriteBatch& extra = {});
  /// Waits for the writes in flight, if any; the first failure's status. After a failure the
  /// store stays failed: reads see every write not stored, and every wait or commit returns that
  /// failure (the caller stops, as `digonce detect` does; nothing later is written).
  Status wait() const;
  /// Whether a write handed over by commit_async is still being made (one atomic load, no lock):
  /// for group commit that hands the writer the next set as soon as it is free, so that the
  /// sets follow the writer's pace and the last one, which a caller waits for, stays small.
  bool writing() const { return in_flight_ > 0 && !writer_.idle(); }
  /// Forgets the pending writes (not a write already in flight).
  void abort() { pending_.clear(); }

  Store& base() { return base_; }

 private:
  // One write, in `log`: the family, then key and value lengths, then the bytes.
  struct Ref {
    std::uint32_t at;  // offset of the key in `log`
    std::uint32_t key_size;
    std::uint32_t value_size;  // kDeleted for a delete
    Family family;
  };
  static constexpr std::uint32_t kDeleted = UINT32_MAX;

  struct Writes {
    std::string log;                   // keys and values, back to back
    std::vector<Ref> ops;              // in write order
    std::vector<std::uint64_t> table;  // open addressing: hash's high half | index into ops + 1
    std::size_t distinct = 0;
    std::size_t written_out = 0;  // ops passed to for_each_new_write

    void add(const Op& op);
    /// The last write of the key, or nullptr.
    const Ref* find(Family f, std::string_view key) const;
    std::string_view key(const Ref& r) const { return {log.data() + r.at, r.key_size}; }
    std::string_view value(const Ref& r) const {
      return {log.data() + r.at + r.key_size, r.value_size == kDeleted ? 0 : r.value_size};
    }
    /// The last write of every key (the table's entries), sorted by family and key.
    std::vector<const Ref*> latest_sorted() const;
    WriteBatch batch(const WriteBatch& extra) const;
    void clear();

   private:
    static std::uint64_t hash(Family f, std::string_view key);
    std::size_t slot(Family f, std::string_view key, std::uint64_t h) const;
    void grow();
  };

  Store& base_;
  std::size_t families_;
  Writes pending_;
  // One long-lived thread that runs the writes in order, one at a time. (A thread per commit,
  // as std::async gave, paid a thread's creation and RocksDB's thread-local set-up, its perf
  // context, at every commit: 2-3 % of a profile at 1M works.) Once a job fails, the jobs after
  // it are not run: each returns that failure.
  class Writer {
   public:
    Writer() = default;
    Writer(const Writer&) = delete;
    Writer& operator=(const Writer&) = delete;
    ~Writer();
    void start(std::function<Status()> job);
    /// Waits for the oldest job started and not yet waited for; its status.
    Status wait_oldest();
    /// Every job started has run (called by the thread that starts them).
    bool idle() const { return finished_.load(std::memory_order_acquire) == started_; }

   private:
    void run();
    std::mutex mutex_;
    std::condition_variable wake_, done_;
    std::vector<std::function<Status()>> queue_;  // to run, oldest first
    std::vector<Status> results_;                 // run, not yet waited for, oldest first
    std::optional<Error> failed_;                 // the first failure: later jobs are skipped
    bool stop_ = false;
    std::uint64_t started_ = 0;               // by the starting thread
    std::atomic<std::uint64_t> finished_{0};  // by the writer thread, after each job
    std::thread thread_;
  };

  // Waits for the oldest write in flight, if any; its status.
  Status wait_oldest() const;

  // The sealed sets, a ring: the writes given to the writer thread, read-only while in flight.
  // The oldest in flight is sealed_[(next_ + kDepth - in_flight_) % kDepth]; the next commit
  // seals into sealed_[next_], swapping it with the pending set (its buffers keep their
  // capacity). `live_`: reads must consult it (in flight, or its write failed).
  mutable Writes sealed_[kDepth];
  mutable bool live_[kDepth] = {};
  mutable std::size_t in_flight_ = 0;
  mutable std::optional<Error> failure_;  // the first write that failed
  std::size_t next_ = 0;
  mutable Writer writer_;  // last: destroyed (joined) before what its jobs use
};

}  // namespace digonce::store
