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
#include <limits>
#include <type_traits>

#include "base/flat_map.h"
#include "geo/timestamp.h"
#include "geo/xz_grid.h"

namespace digonce::geo {

class SpaceTimeIndex {
 public:
  /// What is stored per work in its element; `flags` is the caller's (kind bits, for filters).
  /// 32 bytes, so that two fill a cache line (buckets are 64-aligned): a query reads every entry
  /// of the elements it visits, and at a million works each line is a miss.
  ///
  /// Only what a query's filters need, and only as bounds: the interval in whole minutes,
  /// rounded outward (start down, end up), and the envelope in floats, rounded outward. A
  /// wider interval or box only lets more entries through to the caller's exact check, which
  /// reads the work itself; none is dropped that the exact figures would keep.
  struct Entry {
    std::uint32_t id;
    std::uint32_t flags;
    std::int32_t start_minute;  // <= the start, in minutes since 1970
    std::int32_t end_minute;    // >= the end
    float box[4];               // min x, min y, max x, max y; holds the envelope

    /// Bounds of the work's interval: start() <= its start, end() >= its end. A minute at the
    /// int32's extreme stands for every time beyond it (some 4,083 years from 1970 either way).
    Micros start() const {
      return start_minute == std::numeric_limits<std::int32_t>::min()
                 ? std::numeric_limits<Micros>::min()
                 : Micros{start_minute} * kMicrosPerMinute;
    }
    Micros end() const {
      return end_minute == std::numeric_limits<std::int32_t>::max()
                 ? std::numeric_limits<Micros>::max()
                 : Micros{end_minute} * kMicrosPerMinute;
    }

    /// Whether the box is farther than d from `env` (then the work is too). With a hair of
    /// slack, so that rounding in the squares never drops a pair GEOS puts at exactly d.
    bool farther_than(const Envelope& env, double d) const {
      const double dx = std::max({0.0, double{box[0]} - env.maxx, env.minx - double{box[2]}});
      const double dy = std::max({0.0, double{box[1]} - env.maxy, env.miny - double{box[3]}});
      const double limit = d * (1 + 1e-12) + 1e-9;
      return dx * dx + dy * dy > limit * limit;
    }
  };
  static_assert(sizeof(Entry) == 32);
  static constexpr Micros kMicrosPerMinute = 60 * kMicrosPerSecond;

  explicit SpaceTimeIndex(XzGrid grid) : grid_(grid) {}
  ~SpaceTimeIndex();
  SpaceTimeIndex(const SpaceTimeIndex&) = delete;
  SpaceTimeIndex& operator=(const SpaceTimeIndex&) = delete;

  const XzGrid& grid() const { return grid_; }

  /// Adds the work `id` with this envelope and interval [start, end]; returns its element key
  /// (needed to remove it).
  std::uint64_t insert(const Envelope& env, std::uint32_t id, std::uint32_t flags, Micros start,
                       Micros end);
  /// Removes the work `id` from element `key`.
  void remove(std::uint64_t key, std::uint32_t id);

  /// Calls visit(entry) for every entry in an element that may meet `window` and for which
  /// keep(entry) is true. An entry is visited once.
  template <class Keep, class Visit>
  void query(const Envelope& window, Keep&& keep, Visit&& visit) const {
    // With a million works neither the element table nor the entries fit in cache, and a query
    // looks up about fourteen elements: each lookup would wait for two memory reads in a row. So
    // the keys are gathered a batch at a time and go through stages that each start the next
    // stage's reads for the whole batch (the key's slot, which holds the bucket's pointer and size,
    // then the bucket's entries), so that the processor overlaps the misses of a batch instead of
    // taking them one by one. The order of visits is the elements' order.
    constexpr std::size_t kBatch = 32;
    std::uint64_t keys[kBatch];
    std::size_t n = 0;
    auto drain = [&] {
      const Bucket* found[kBatch];
      std::size_t m = 0;
      for (std::size_t i = 0; i < n; ++i) {
        const Bucket* b = elements_.find(keys[i]);
        if (!b) continue;
        // Every line of the bucket, not just its first: an element holds a handful of 32-byte
        // entries, and a line not asked for now is a miss in the loop below.
        const char* p = reinterpret_cast<const char*>(b->data);
        const char* end = reinterpret_cast<const char*>(b->data + b->size);
        for (; p < end; p += 64) __builtin_prefetch(p);
        found[m++] = b;
      }
      for (std::size_t i = 0; i < m; ++i)
        for (const Entry *e = found[i]->data, *end = e + found[i]->size; e != end; ++e)
          if (keep(*e)) visit(*e);
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
  /// An element's entries. The pointer and size sit in the element's hash slot, so a lookup
  /// reaches the entries in two dependent reads (slot, entries) rather than three (slot, a
  /// bucket header in a separate array, entries). Plain memory (aligned_alloc and free: freed
  /// when the element empties or the index goes), because the hash map copies its slots as it
  /// moves them. 64-aligned, so that no entry straddles two lines.
  struct Bucket {
    Entry* data = nullptr;
    std::uint32_t size = 0;
    std::uint32_t capacity = 0;
  };
  static_assert(std::is_trivially_copyable_v<Entry>);

  XzGrid grid_;
  FlatMap64<Bucket> elements_;      // element key -> its entries
  std::size_t entry_capacity_ = 0;  // entries allocated, over all buckets (memory_bytes())
  std::array<std::uint32_t, 64> level_counts_{};
  std::size_t size_ = 0;
};

}  // namespace digonce::geo
