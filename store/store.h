// The one small interface through which the engine reads and writes its state.
//
// Everything geo/ keeps (works, index cells, alerts, metadata) goes through Store, as batches of
// puts and deletes by column family. That is what lets streams/ wrap a store so that every write
// also goes to a Kafka changelog, and restore it from there, without the engine knowing
// (docs/ARCHITECTURE.md, "State").
#pragma once

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include "base/result.h"

namespace digonce::store {

/// A column family, by its index in the list of names the store was opened with.
using Family = std::uint8_t;

/// One write: a put (value set) or a delete (tombstone). Its key and value are views into the
/// WriteBatch that holds it, valid while the batch is neither changed nor destroyed.
struct Op {
  enum class Kind : std::uint8_t { Put, Delete };
  Kind kind;
  Family family;
  std::string_view key;
  std::string_view value;
};

/// Writes that are applied together, in order.
///
/// The keys and values are kept in one buffer, so that a batch makes no allocation per write,
/// and clear() keeps its capacity: a batch that is kept and reused allocates nothing once it has
/// grown to its usual size.
class WriteBatch {
 public:
  void put(Family f, std::string_view key, std::string_view value) {
    add(Op::Kind::Put, f, key, value);
  }
  void del(Family f, std::string_view key) { add(Op::Kind::Delete, f, key, {}); }
  void append(const WriteBatch& other) {
    fits(other.data_.size());
    const auto shift = static_cast<std::uint32_t>(data_.size());
    data_.append(other.data_);
    recs_.reserve(recs_.size() + other.recs_.size());
    for (Rec r : other.recs_) {
      r.at += shift;
      recs_.push_back(r);
    }
  }
  void reserve(std::size_t ops) { recs_.reserve(ops); }
  /// Orders the ops by family and key, keeping the order of a key's own ops (so its last write
  /// still wins): RocksDB inserts sorted keys into its memtables far faster (insert hints).
  void sort_by_key() {
    std::stable_sort(recs_.begin(), recs_.end(), [this](const Rec& a, const Rec& b) {
      return a.family != b.family ? a.family < b.family : key_of(a) < key_of(b);
    });
  }

  /// The ops in order, as a range of Op (by value: views into this batch).
  class Ops {
   public:
    class iterator {
     public:
      using value_type = Op;
      using difference_type = std::ptrdiff_t;
      iterator() = default;
      iterator(const WriteBatch* b, std::size_t i) : b_(b), i_(i) {}
      Op operator*() const { return b_->op(i_); }
      iterator& operator++() {
        ++i_;
        return *this;
      }
      iterator operator++(int) {
        iterator before = *this;
        ++i_;
        return before;
      }
      bool operator==(const iterator& o) const { return i_ == o.i_; }

     private:
      const WriteBatch* b_ = nullptr;
      std::size_t i_ = 0;
    };
    explicit Ops(const WriteBatch& b) : b_(b) {}
    iterator begin() const { return {&b_, 0}; }
    iterator end() const { return {&b_, b_.size()}; }
    std::size_t size() const { return b_.size(); }
    Op operator[](std::size_t i) const { return b_.op(i); }

   private:
    const WriteBatch& b_;
  };
  Ops ops() const { return Ops(*this); }
  Op op(std::size_t i) const {
    const Rec& r = recs_[i];
    return Op{r.kind, r.family, key_of(r),
              std::string_view(data_.data() + r.at + r.key_size, r.value_size)};
  }

  bool empty() const { return recs_.empty(); }
  std::size_t size() const { return recs_.size(); }
  /// Bytes of the keys and values.
  std::size_t bytes() const { return data_.size(); }
  void clear() {
    recs_.clear();
    data_.clear();
  }

 private:
  // An op's place in data_: its key, then its value, by 32-bit offsets (the stores commit long
  // before a batch nears 4 GiB: BufferedStore refuses more; fits() makes sure).
  struct Rec {
    std::uint32_t at;
    std::uint32_t key_size;
    std::uint32_t value_size;
    Op::Kind kind;
    Family family;
  };
  void fits(std::size_t more) const {
    if (data_.size() + more > UINT32_MAX) throw std::length_error("WriteBatch over 4 GiB");
  }
  void add(Op::Kind kind, Family f, std::string_view key, std::string_view value) {
    fits(key.size() + value.size());
    recs_.push_back(Rec{static_cast<std::uint32_t>(data_.size()),
                        static_cast<std::uint32_t>(key.size()),
                        static_cast<std::uint32_t>(value.size()), kind, f});
    data_.append(key).append(value);
  }
  std::string_view key_of(const Rec& r) const {
    return std::string_view(data_.data() + r.at, r.key_size);
  }

  std::vector<Rec> recs_;
  std::string data_;
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
