// The in-memory space-time index: XZ elements of the metric CRS (geo/xz_grid.h), each holding the
// ids, time intervals and boxes of the works stored in it.
//
// Candidates are found by cell and time: the elements a query window can meet are visited level
// by level (only levels that hold something), and each entry's box and interval are tested in
// place, before anything else about the work is looked at. The index is a cache: geo/detector.h
// rebuilds it from the store at open, and the store's cells family holds the same keys.
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
  /// What is stored per work in its element: its id, the caller's two flag bits (kind bits, for
  /// filters), its interval and its box. 16 bytes, so that four fill a cache line (buckets are
  /// 64-aligned): a query reads every entry of the elements it visits, and at a million works
  /// each line is a miss.
  ///
  /// Only what a query's filters need, and only as bounds: the interval in whole minutes,
  /// rounded outward (start down, end up), and the envelope in 256ths of the element's width
  /// (its two cells; 1 m at the finest level of a 128 m grid), rounded outward. A wider interval
  /// or box only lets more entries through to the caller's exact check, which reads the work
  /// itself; none is dropped that the exact figures would keep.
  struct Entry {
    std::uint32_t id_and_flags;  // the id in the low 30 bits, the flags in the top two
    std::int32_t start_minute;   // <= the start, in minutes since 1970
    std::int32_t end_minute;     // >= the end
    /// Min x, min y, max x, max y: the element's corner plus q steps of a 256th of its width.
    /// A min of 0 stands for everything below it and a max of 255 for everything above, so that
    /// the box holds the envelope even where the grid's edge clamps the element.
    std::uint8_t box[4];

    std::uint32_t id() const { return id_and_flags & kMaxId; }
    std::uint32_t flags() const { return id_and_flags >> 30; }

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
  };
  static_assert(sizeof(Entry) == 16);
  static constexpr Micros kMicrosPerMinute = 60 * kMicrosPerSecond;
  static constexpr std::uint32_t kMaxId = (std::uint32_t{1} << 30) - 1;
  static constexpr std::uint32_t kMaxFlags = 3;

  explicit SpaceTimeIndex(XzGrid grid) : grid_(grid) {}
  ~SpaceTimeIndex();
  SpaceTimeIndex(const SpaceTimeIndex&) = delete;
  SpaceTimeIndex& operator=(const SpaceTimeIndex&) = delete;

  const XzGrid& grid() const { return grid_; }

  /// Adds the work `id` (at most kMaxId) with these flags (at most kMaxFlags), envelope and
  /// interval [start, end]; returns its element key (needed to remove it). Throws
  /// std::length_error beyond those limits.
  std::uint64_t insert(const Envelope& env, std::uint32_t id, std::uint32_t flags, Micros start,
                       Micros end);
  /// Removes the work `id` from element `key`.
  void remove(std::uint64_t key, std::uint32_t id);

  /// Calls visit(entry) for every entry whose box may be within `d` of `env` and for which
  /// keep(entry) is true (an entry is visited once): every work whose envelope is within d of
  /// env is, with a hair of slack, so that rounding never drops a pair GEOS puts at exactly d.
  template <class Keep, class Visit>
  void query(const Envelope& env, double d, Keep&& keep, Visit&& visit) const {
    // With a million works neither the element table nor the buckets fit in cache, and a query
    // looks up about fourteen elements: each lookup would wait for two memory reads in a row.
    // So the keys are gathered a batch at a time and go through stages that each start the next
    // stage's reads for the whole batch (the key's slot, which holds the bucket's pointer and
    // size, then the bucket's entries), so that the processor overlaps the misses of a batch
    // instead of taking them one by one. The order of visits is the elements' order.
    constexpr std::size_t kBatch = 32;
    const double limit = d * (1 + 1e-12) + 1e-9;
    const double limit2 = limit * limit;
    std::uint64_t keys[kBatch];
    std::size_t n = 0;
    auto drain = [&] {
      const Bucket* found[kBatch];
      std::uint64_t found_keys[kBatch];
      std::size_t m = 0;
      for (std::size_t i = 0; i < n; ++i) {
        const Bucket* b = elements_.find(keys[i]);
        if (!b) continue;
        // Every line of the bucket, not just its first: an element holds a handful of entries,
        // and a line not asked for now is a miss in the loop below.
        const char* p = reinterpret_cast<const char*>(b->data);
        const char* end = reinterpret_cast<const char*>(b->data + b->size);
        for (; p < end; p += 64) __builtin_prefetch(p);
        found_keys[m] = keys[i];
        found[m++] = b;
      }
      for (std::size_t i = 0; i < m; ++i) {
        // The box's bounds are exact (box_at), so the distances below round once, in the
        // subtraction.
        const XzGrid::Corner c = grid_.corner(found_keys[i]);
        for (const Entry *e = found[i]->data, *end = e + found[i]->size; e != end; ++e) {
          const Envelope b = box_at(c, *e);
          const double dx = std::max({0.0, b.minx - env.maxx, env.minx - b.maxx});
          const double dy = std::max({0.0, b.miny - env.maxy, env.miny - b.maxy});
          if (dx * dx + dy * dy > limit2) continue;
          if (keep(*e)) visit(*e);
        }
      }
      n = 0;
    };
    const Envelope window = env.expanded(d);
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

  /// The box an entry of element `key` holds, as bounds (infinite where it stands for
  /// everything beyond the element's edge).
  Envelope box(std::uint64_t key, const Entry& e) const { return box_at(grid_.corner(key), e); }

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
  // A box step is a 256th of the element's width, two cells: a power of two, so exact.
  static constexpr double kStepPerSide = 2.0 / 256;
  static constexpr std::uint8_t kBoxTop = 255;
  /// An entry's box in an element with this corner: the corner plus whole steps, exact
  /// (multiples of a power of two), and infinite on a side that stands for everything beyond.
  static Envelope box_at(const XzGrid::Corner& c, const Entry& e) {
    constexpr double kInf = std::numeric_limits<double>::infinity();
    const double step = c.side * kStepPerSide;
    return Envelope{e.box[0] == 0 ? -kInf : c.x + e.box[0] * step,
                    e.box[1] == 0 ? -kInf : c.y + e.box[1] * step,
                    e.box[2] == kBoxTop ? kInf : c.x + e.box[2] * step,
                    e.box[3] == kBoxTop ? kInf : c.y + e.box[3] * step};
  }

  XzGrid grid_;
  FlatMap64<Bucket> elements_;      // element key -> its entries
  std::size_t entry_capacity_ = 0;  // entries allocated, over all buckets (memory_bytes())
  std::array<std::uint32_t, 64> level_counts_{};
  std::size_t size_ = 0;
};

}  // namespace digonce::geo
