// The detector: every live work of one partition (or of everything, offline) in a space-time
// index, and for each event the pairs it makes or unmakes under the rules, as pair facts.
//
// State, all through the Store (so streams/ can changelog it):
//   cells family:  element (8) + week of start (4) + ref -> seq (8 bytes, big-endian) +
//                  encode_work(event)           (the persistent index: each live work, once;
//                                                with its seq and version, the work's order)
//                  "\xfflayout" -> the store's layout (written by geo::Engine; engine.h)
//                  "\xffgrid" -> the grid the keys were made with
//                  "\xffcrs"  -> the metric CRS the works were measured in (recorded from
//                               2026-12-02 on; open() refuses a store of another)
//                  (open() reads every key starting "\xff" as such a record, none as a work:
//                  an element's first byte is below 0x80 for any finest cell the settings take)
//   alerts family: "m" refA "\0" refB -> kind                      (pairs this detector reported;
//                  not kept when DetectorOptions::markers is off, as in geo::Engine)
//   works family:  not written. Stores of before 2026-12-01 kept each work there ("w" ref ->
//                  the value above) and an empty value under its cell key: open() moves them.
// One key per live work: a new work costs the store one write, a removed one one delete. The
// in-memory index is a cache of the cells family, rebuilt by open(), which also moves a work
// whose key names another element than the current grid gives it (DetectorOptions::finest_cell_m
// changed since it was written).
//
// Ownership: in the stream detector a work is copied to every tile near it, so a pair can meet in
// several partitions; only the partition that owns the pair (the reference-point rule,
// geo/tiles.h) reports it. Each partition remembers which pairs it reported ("markers"); when a
// pair stops qualifying, the partition holding the marker reports that, and when it still
// qualifies but its owner changed, the marker is dropped silently (the new owner reports it).
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "base/string_id_map.h"
#include "base/string_pool.h"
#include "geo/geos.h"
#include "geo/pair_fact.h"
#include "geo/rules.h"
#include "geo/space_time_index.h"
#include "store/store.h"

namespace digonce::geo {

/// Where a metric point is in EPSG:4326, and which highway authorities' areas hold it.
class Locator {
 public:
  virtual ~Locator() = default;
  virtual void locate(double x, double y, double& lon, double& lat,
                      std::vector<std::string>& authorities) = 0;
};

/// Which pairs this detector reports (geo/tiles.h); without one, it reports every pair.
class PairOwnership {
 public:
  virtual ~PairOwnership() = default;
  virtual bool owns(const Envelope& a, const Envelope& b) const = 0;
};

struct DetectorFamilies {
  store::Family works;
  store::Family cells;
  store::Family alerts;
};

struct DetectorOptions {
  Rules rules;
  double finest_cell_m = 128.0;  // the index's finest XZ cell
  /// The metric CRS the works are measured in (CrsContext::metric_crs()). open() records it in
  /// a new store and refuses a store that records another: its works' coordinates would be
  /// compared with new ones as if in the same units and places. Empty: neither (unit tests).
  std::string metric_crs;
  /// Whether the detector keeps its pair markers in the store ("m" keys). geo::Engine turns this
  /// off: with one detector and its ledger over one store, the pairs the detector reported are
  /// exactly the ledger's open pairs, which it gives back at open (restore_partner), so a new
  /// pair costs one key less.
  bool markers = true;
};

struct DetectorStats {
  std::uint64_t events = 0;
  std::uint64_t entries_visited = 0;  // index entries near enough, whose time is then tested
  std::uint64_t exact_checks = 0;     // GEOS distance-within calls
  std::uint64_t facts = 0;
};

class Detector {
 public:
  Detector(store::Store& store, DetectorFamilies families, DetectorOptions options, Geos& geos,
           Locator& locator, const PairOwnership* ownership = nullptr);
  ~Detector();
  Detector(const Detector&) = delete;
  Detector& operator=(const Detector&) = delete;

  /// Loads the index from the store (and the pair markers, when it keeps them). Refuses, before
  /// reading a work, a store whose works were measured in another metric CRS.
  Status open();
  /// A pair this detector reported before (open() gives back its own markers; without them the
  /// caller does, after open()). Fails when either work is not held.
  Status restore_partner(std::string_view a, std::string_view b);

  /// Applies an event in the metric CRS whose order was settled upstream (geo/work_registry.h):
  /// an upsert, a cancel, or, with present = false, a work that left this partition's tiles.
  /// Appends the facts it causes.
  Status apply(const WorkEvent& e, std::uint64_t seq, bool present, std::vector<PairFact>& facts);
  /// Whether an event leaves its work live in the index (with `present`, as apply() takes it).
  static bool keeps(const WorkEvent& e) { return e.active() && !e.geometry.empty(); }
  /// The order of a live work (the seq and version of its last event, as its cell record holds
  /// them), or nothing when the work is not held.
  struct Held {
    std::uint64_t seq = 0;
    std::optional<std::int64_t> version;
  };
  std::optional<Held> held(std::string_view ref) const;
  /// A hint that an event of work `ref` comes next: starts the read of its place in the ref
  /// index, so that the miss overlaps the caller's work before apply().
  void prefetch(std::string_view ref) const { refs_.prefetch(ref); }

  std::size_t live_works() const { return refs_.size(); }
  /// Whether open() found a store whose works came without a record of their metric CRS (written
  /// before 2026-12-02): they are taken as measured in DetectorOptions::metric_crs, now recorded.
  bool crs_was_unrecorded() const { return crs_was_unrecorded_; }
  /// Heap bytes of the in-memory index (the works, their geometry, the cells).
  std::size_t memory_bytes() const;
  const DetectorStats& stats() const { return stats_; }
  const Rules& rules() const { return options_.rules; }

 private:
  struct Slot;
  struct Relation;
  std::uint32_t find(std::string_view ref) const;
  WorkSummary summary(const Slot& s) const;
  WorkSummary summary_of(const WorkEvent& e) const;
  RuleSide side(const Slot& s) const;
  struct EventGeos;
  Result<std::optional<Relation>> relate(const WorkEvent& e, const RuleSide& es, EventGeos& eg,
                                         const Slot& x);
  PairFact related_fact(const WorkSummary& e, std::uint64_t seq, const Slot& x, const Relation& r);
  void add_slot(const WorkEvent& e, std::uint64_t seq, std::uint32_t id);
  void remove_marker(std::uint32_t a, std::uint32_t b, store::WriteBatch& batch);
  std::string marker_key(std::string_view a, std::string_view b) const;
  /// The cells family's key of a work (into `out`, whose capacity is reused): the element (8
  /// bytes) and the week of its start (4), then the ref.
  static constexpr std::size_t kCellKeyPrefix = 12;
  void cell_key(std::uint64_t element, Micros start, std::string_view ref, std::string& out) const;
  /// The index's grid, as the cells family records it.
  std::string grid_description() const;
  /// Adds a work read by open() to the index; when its key is not the one the current layout
  /// and grid give it, queues the key's delete in `dels` and the put under the right key in
  /// `puts`.
  Status load_work(std::string_view value, store::Family family, std::string_view key,
                   store::WriteBatch& dels, store::WriteBatch& puts);

  store::Store& store_;
  DetectorFamilies families_;
  DetectorOptions options_;
  Geos& geos_;
  Locator& locator_;
  const PairOwnership* ownership_;
  SpaceTimeIndex index_;
  std::vector<Slot> slots_;
  std::vector<std::uint32_t> free_slots_;
  StringIdMap refs_;                       // work ref -> slot (the strings are the slots' refs)
  std::vector<std::uint32_t> candidates_;  // apply()'s scratch: the index's candidates
  // apply()'s writes and the bytes it builds, reused: no allocation per event once grown.
  store::WriteBatch batch_;
  std::string key_, value_;
  StringPool strings_;
  DetectorStats stats_;
  bool crs_was_unrecorded_ = false;
};

}  // namespace digonce::geo
