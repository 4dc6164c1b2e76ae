// A store in front of another that answers reads of keys it knows are absent without asking it.
//
// Most of the engine's reads are of keys that do not exist: a new work's registry record, a new
// pair's ledger record. In RocksDB each such read still checks the memtables' and every level's
// Bloom filters (a few cache misses each: ~2 µs at 1M works, docs/PERFORMANCE.md). This store
// keeps one Bloom filter in memory over the keys of chosen (family, prefix) ranges: filled by
// load() from the inner store, then by every put that goes through it. A read in those ranges
// that the filter rules out returns "absent" at once; anything else goes to the inner store.
//
// The filter only ever says "maybe" wrongly (a deleted key stays in it, ~1 % false positives),
// never "absent" wrongly, provided every write to those ranges goes through this store after
// load(). The filter is blocked (a key's probes in one 64-byte block: one cache miss per read)
// and grows as a scalable Bloom filter (Almeida et al., 2007): load() sizes the first layer for
// twice the keys it finds, and when a layer is full a new one twice its size is added, so
// nothing is ever rescanned. 10 bits per key of capacity.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "store/store.h"

namespace digonce::store {

class PresenceFilteredStore final : public Store {
 public:
  struct Range {
    Family family;
    std::string prefix;
  };
  /// A layer holds at least `min_layer_keys` (the default, a million keys, is 1.3 MB): an engine
  /// that starts empty and grows to a few million records then probes two or three layers, not
  /// six or seven (each layer costs a read of an absent key one cache miss).
  PresenceFilteredStore(Store& inner, std::vector<Range> ranges,
                        std::size_t min_layer_keys = std::size_t{1} << 20)
      : inner_(inner), ranges_(std::move(ranges)), min_layer_keys_(min_layer_keys) {}

  /// Fills the filter from the inner store's keys in the ranges. Until it is called, every read
  /// goes to the inner store.
  Status load();

  Result<std::optional<std::string>> get(Family f, std::string_view key) const override;
  Status scan(Family f, std::string_view prefix, const Visitor& visit) const override {
    return inner_.scan(f, prefix, visit);
  }
  Status write(const WriteBatch& batch) override;

  /// A hint that `key` is about to be read or written: starts the filter's memory reads for it
  /// (a cache miss per layer at a million keys), so that they overlap the caller's other work.
  void prefetch(Family f, std::string_view key) const;

  /// Reads answered without the inner store, and reads passed to it, in the ranges.
  std::uint64_t ruled_out() const { return ruled_out_; }
  std::uint64_t passed() const { return passed_; }
  std::size_t memory_bytes() const;
  std::size_t layers() const { return layers_.size(); }

 private:
  struct Layer {
    std::vector<std::uint64_t> bits;  // `blocks` blocks of 8 words from bits[first], 64-aligned
    std::size_t first = 0;
    std::size_t blocks = 0;
    std::size_t capacity = 0;
    std::size_t count = 0;
  };
  bool covered(Family f, std::string_view key) const;
  void add_layer(std::size_t capacity);
  void add(std::uint64_t hash);
  bool may_contain(std::uint64_t hash) const;

  Store& inner_;
  std::vector<Range> ranges_;
  std::size_t min_layer_keys_;
  std::vector<Layer> layers_;
  bool loaded_ = false;
  mutable std::uint64_t ruled_out_ = 0;
  mutable std::uint64_t passed_ = 0;
};

}  // namespace digonce::store
