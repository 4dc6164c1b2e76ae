// A store whose writes stay in memory until commit(): the unit of atomicity of stream processing.
//
// Reads see the uncommitted writes over the base store. commit() writes them to the base in one
// batch (with any extra ops, such as a changelog checkpoint); abort() drops them. This is the
// approach of KIP-892 ("Transactional Semantics for StateStores"): the store on disk only ever
// holds committed state, so a crash never leaves it ahead of the Kafka transaction that logged it.
#pragma once

#include <map>
#include <optional>
#include <vector>

#include "store/store.h"

namespace digonce::store {

class BufferedStore final : public Store {
 public:
  BufferedStore(Store& base, std::size_t families) : base_(base), pending_(families) {}

  Result<std::optional<std::string>> get(Family f, std::string_view key) const override;
  Status scan(Family f, std::string_view prefix, const Visitor& visit) const override;
  Status write(const WriteBatch& batch) override;

  /// The uncommitted writes, one per key (the last one), in key order by family:
  /// value nullopt is a delete.
  void for_each_pending(const std::function<void(Family, std::string_view,
                                                 const std::optional<std::string>&)>& fn) const;
  std::size_t pending_count() const { return count_; }
  std::size_t pending_bytes() const { return bytes_; }

  /// Writes the pending writes and then `extra` to the base store, atomically.
  Status commit(const WriteBatch& extra = {});
  /// Forgets the pending writes.
  void abort();

  Store& base() { return base_; }

 private:
  Store& base_;
  std::vector<std::map<std::string, std::optional<std::string>, std::less<>>> pending_;
  std::size_t count_ = 0;
  std::size_t bytes_ = 0;
};

}  // namespace digonce::store
