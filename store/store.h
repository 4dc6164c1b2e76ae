// The one small interface through which the engine reads and writes its state.
//
// Everything geo/ keeps (works, index cells, alerts, metadata) goes through Store, as batches of
// puts and deletes by column family. That is what lets streams/ wrap a store so that every write
// also goes to a Kafka changelog, and restore it from there, without the engine knowing
// (docs/ARCHITECTURE.md, "State").
#pragma once

#include <algorithm>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "base/result.h"

namespace digonce::store {

/// A column family, by its index in the list of names the store was opened with.
using Family = std::uint8_t;

/// One write: a put (value set) or a delete (tombstone).
struct Op {
  enum class Kind : std::uint8_t { Put, Delete };
  Kind kind;
  Family family;
  std::string key;
  std::string value;
};

/// Writes that are applied together, in order.
class WriteBatch {
 public:
  void put(Family f, std::string_view key, std::string_view value) {
    ops_.push_back(Op{Op::Kind::Put, f, std::string(key), std::string(value)});
    bytes_ += key.size() + value.size();
  }
  void del(Family f, std::string_view key) {
    ops_.push_back(Op{Op::Kind::Delete, f, std::string(key), {}});
    bytes_ += key.size();
  }
  void append(const WriteBatch& other) {
    ops_.insert(ops_.end(), other.ops_.begin(), other.ops_.end());
    bytes_ += other.bytes_;
  }
  void reserve(std::size_t ops) { ops_.reserve(ops); }
  /// Orders the ops by family and key, keeping the order of a key's own ops (so its last write
  /// still wins): RocksDB inserts sorted keys into its memtables far faster (insert hints).
  void sort_by_key() {
    std::stable_sort(ops_.begin(), ops_.end(), [](const Op& a, const Op& b) {
      return a.family != b.family ? a.family < b.family : a.key < b.key;
    });
  }
  const std::vector<Op>& ops() const { return ops_; }
  bool empty() const { return ops_.empty(); }
  std::size_t size() const { return ops_.size(); }
  std::size_t bytes() const { return bytes_; }
  void clear() {
    ops_.clear();
    bytes_ = 0;
  }

 private:
  std::vector<Op> ops_;
  std::size_t bytes_ = 0;
};

/// Visitor of a scan: return false to stop early.
using Visitor = std::function<bool(std::string_view key, std::string_view value)>;

/// A key-value store with column families.
class Store {
 public:
  virtual ~Store() = default;
  /// The value at key, or nullopt when there is none.
  virtual Result<std::optional<std::string>> get(Family f, std::string_view key) const = 0;
  /// Every key that starts with prefix, in byte order, until the visitor returns false.
  virtual Status scan(Family f, std::string_view prefix, const Visitor& visit) const = 0;
  /// Applies the batch, all of it or (on error) none of it.
  virtual Status write(const WriteBatch& batch) = 0;
};

}  // namespace digonce::store
