// The in-memory space-time index: XZ elements of the metric CRS (geo/xz_grid.h), each holding the
// ids and time intervals of the works stored in it.
//
// Candidates are found by cell and time: the elements a query window can meet are visited level
// by level (only levels that hold something), and each entry's interval is tested in place, before
// anything else about the work is looked at. The index is a cache: geo/detector.h rebuilds it from
// the store at open, and the store's cells family holds the same keys.
#pragma once

#include <algorithm>
#include <array>
#include <cstdint>
#include <vector>

#include "base/flat_map.h"
#include "geo/timestamp.h"
#include "geo/xz_grid.h"

namespace digonce::geo {

class SpaceTimeIndex {
 public:
  /// What is stored per work in its element; `flags` is the caller's (kind bits, for filters).
  /// `box` is the work's envelope in floats rounded outward (insert() sets it), so that a query
  /// can drop entries by distance without touching the work itself: a box holds the envelope, so
  /// its distance is a lower bound of the true one.
  struct Entry {
    std::uint32_t id;
    std::uint32_t flags;
    Micros start;
    Micros end;
    float box[4] = {0, 0, 0, 0};  // min x, min y, max x, max y

    /// Whether the box is farther than d from `env` (then the work is too). With a hair of
    /// slack, so that rounding in the squares never drops a pair GEOS puts at exactly d.
    bool farther_than(const Envelope& env, double d) const {
      const double dx = std::max({0.0, double{box[0]} - env.maxx, env.minx - double{box[2]}});
      const double dy = std::max({0.0, double{box[1]} - env.maxy, env.miny - double{box[3]}});
      const double limit = d * (1 + 1e-12) + 1e-9;
      return dx * dx + dy * dy > limit * limit;
    }
  };

  explicit SpaceTimeIndex(XzGrid grid) : grid_(grid) {}

  const XzGrid& grid() const { return grid_; }

  /// Adds a work; returns its element key (needed to remove it).
  std::uint64_t insert(const Envelope& env, const Entry& entry);
  /// Removes the work `id` from element `key`.
  void remove(std::uint64_t key, std::uint32_t id);

  /// Calls visit(entry) for every entry in an element that may meet `window` and for which
  /// keep(entry) is true. An entry is visited once.
  template <class Keep, class Visit>
  void query(const Envelope& window, Keep&& keep, Visit&& visit) const {
    // With a million works neither the element table, nor the bucket headers, nor the buckets
    // fit in cache, and a query looks up about twenty elements: each lookup would wait for three
    // memory reads in a row. So the keys are gathered a batch at a time and go through stages
    // that each start the next stage's reads for the whole batch (the key's slot, the bucket's
    // header, the bucket's entries), so that the processor overlaps the misses of a batch
    // instead of taking them one by one. The order of visits is the elements' order, as before.
    constexpr std::size_t kBatch = 32;
    std::uint64_t keys[kBatch];
    std::size_t n = 0;
    auto drain = [&] {
      const std::vector<Entry>* found[kBatch];
      std::size_t m = 0;
      for (std::size_t i = 0; i < n; ++i) {
        const auto* at = elements_.find(keys[i]);
        if (!at) continue;
        __builtin_prefetch(&buckets_[*at]);
        found[m++] = &buckets_[*at];
      }
      // Every line of each bucket, not just its first: an element holds a handful of 40-byte
      // entries, and a line not asked for now is a miss in the loop below.
      for (std::size_t i = 0; i < m; ++i) {
        const char* p = reinterpret_cast<const char*>(found[i]->data());
        const char* end = reinterpret_cast<const char*>(found[i]->data() + found[i]->size());
        for (; p < end; p += 64) __builtin_prefetch(p);
      }
      for (std::size_t i = 0; i < m; ++i)
        for (const Entry& e : *found[i])
          if (keep(e)) visit(e);
      n = 0;
    };
    for (int level = 0; level <= grid_.max_level(); ++level) {
      if (level_counts_[static_cast<std::size_t>(level)] == 0) continue;
      grid_.for_each_element(window, level, [&](std::uint64_t key) {
        elements_.prefetch(key);
        keys[n++] = key;
        if (n == kBatch) drain();
      });
    }
    drain();
  }

  std::size_t size() const { return size_; }
  std::size_t element_count() const { return elements_.size(); }
  /// Heap bytes held by the index structures.
  std::size_t memory_bytes() const;

 private:
  XzGrid grid_;
  FlatMap64<std::uint32_t> elements_;        // element key -> bucket
  std::vector<std::vector<Entry>> buckets_;  // by bucket
  std::vector<std::uint32_t> free_buckets_;
  std::array<std::uint32_t, 64> level_counts_{};
  std::size_t size_ = 0;
};

}  // namespace digonce::geo
