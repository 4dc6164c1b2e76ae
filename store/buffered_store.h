// A store whose writes stay in memory until commit(): the unit of atomicity of stream processing.
//
// Reads see the uncommitted writes over the base store. commit() writes them to the base in one
// batch (with any extra ops, such as a changelog checkpoint); abort() drops them. This is the
// approach of KIP-892 ("Transactional Semantics for StateStores"): the store on disk only ever
// holds committed state, so a crash never leaves it ahead of the Kafka transaction that logged it.
//
// commit_async() is group commit on a second thread: the pending writes are sealed and written
// to the base by a writer thread while the caller goes on filling a new set of pending writes.
// Reads see the sealed writes until they are written. At most one write is in flight; the next
// commit waits for it (back-pressure). The base must allow get() while a write() runs on another
// thread (RocksStore does; MemoryStore does not).
#pragma once

#include <future>
#include <map>
#include <optional>
#include <vector>

#include "store/store.h"

namespace digonce::store {

class BufferedStore final : public Store {
 public:
  BufferedStore(Store& base, std::size_t families)
      : base_(base), pending_(families), sealed_(families) {}
  BufferedStore(const BufferedStore&) = delete;  // a writer thread may hold `this`
  BufferedStore& operator=(const BufferedStore&) = delete;
  /// Waits for a write in flight (its error, if any, is lost: call wait() to see it).
  ~BufferedStore() override;

  Result<std::optional<std::string>> get(Family f, std::string_view key) const override;
  /// Waits for a write in flight first.
  Status scan(Family f, std::string_view prefix, const Visitor& visit) const override;
  Status write(const WriteBatch& batch) override;

  /// The uncommitted writes, one per key (the last one), in key order by family:
  /// value nullopt is a delete. Sealed writes in flight are not included.
  void for_each_pending(const std::function<void(Family, std::string_view,
                                                 const std::optional<std::string>&)>& fn) const;
  std::size_t pending_count() const { return count_; }
  std::size_t pending_bytes() const { return bytes_; }

  /// Writes the pending writes and then `extra` to the base store, atomically, after any write
  /// in flight.
  Status commit(const WriteBatch& extra = {});
  /// Seals the pending writes (and `extra`) and has a writer thread write them to the base, as
  /// commit() would; returns once the previous write in flight, if any, has finished, with that
  /// write's status. The sealed writes are durable once wait() (or the next commit) returns ok.
  Status commit_async(const WriteBatch& extra = {});
  /// Waits for the write in flight, if any; its status.
  Status wait() const;
  /// Forgets the pending writes (not a write already in flight).
  void abort();

  Store& base() { return base_; }

 private:
  using Map = std::map<std::string, std::optional<std::string>, std::less<>>;
  static WriteBatch batch_of(const std::vector<Map>& maps, const WriteBatch& extra);

  Store& base_;
  std::vector<Map> pending_;
  std::size_t count_ = 0;
  std::size_t bytes_ = 0;
  // The writes being written by the writer thread: read-only while `in_flight_` is valid. They
  // are cleared by the next writer (after its own write), off the caller's thread.
  mutable std::vector<Map> sealed_;
  mutable std::future<Status> in_flight_;
  mutable bool sealed_live_ = false;  // reads must consult sealed_
};

}  // namespace digonce::store
