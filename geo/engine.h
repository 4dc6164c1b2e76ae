// The detection engine in one place: event order (registry), detection (detector) and alert
// lifecycle (ledger) over one store. `digonce detect` and the benchmarks call it directly; the
// stream pipeline runs the same three parts in separate stages (docs/ARCHITECTURE.md).
#pragma once

#include <array>
#include <string>
#include <vector>

#include "geo/alert_ledger.h"
#include "geo/detector.h"
#include "geo/work_registry.h"
#include "store/presence_filter.h"

namespace digonce::geo {

/// The column families of an engine store, in Family order.
inline const std::vector<std::string> kEngineFamilies = {"works", "cells", "alerts", "meta"};
inline constexpr store::Family kWorksFamily = 0;
inline constexpr store::Family kCellsFamily = 1;
inline constexpr store::Family kAlertsFamily = 2;
inline constexpr store::Family kMetaFamily = 3;
/// The families that the engine writes on every event and reads back only when it opens (a scan,
/// and a get of its layout, CRS and grid records): each live work's record under its index key.
/// A RocksStore can keep their memtables as vectors (RocksOptions::vector_memtable_families).
inline const std::vector<store::Family> kEngineLogFamilies = {kCellsFamily};

struct EngineStats {
  std::uint64_t events = 0;
  std::uint64_t stale = 0;
  std::array<std::uint64_t, 3> opened{};  // by AlertKind
  std::array<std::uint64_t, 3> updated{};
  std::array<std::uint64_t, 3> closed{};
};

class Engine {
 public:
  Engine(store::Store& store, const DetectorOptions& options, Geos& geos, Locator& locator);

  /// The layout of an engine store this code reads and writes, recorded in the cells family
  /// (kLayoutKey): 2 since 2026-12-05, when a live work's order moved into its cell record and
  /// the registry stopped recording live works; 3 since 2026-12-07, when the records of the pairs a
  /// work's first event opens went into one group record (alert_ledger.h). A digonce that reads
  /// an older layout only would misread a newer one, so a layout above kLayout is refused
  /// (docs/OPERATIONS.md, "Upgrading"). Layouts 1 and 2 are read as they are.
  static constexpr int kLayout = 3;
  static const std::string kLayoutKey;

  /// What a store's layout record says.
  struct LayoutRecord {
    enum Kind {
      Readable,  // kLayout, or an older one open() moves (none: layouts 1 and 2 are read as held)
      Newer,     // a layout above kLayout: written by a newer digonce
      Damaged,   // not a layout number any digonce writes
    } kind = Readable;
    std::string text;  // the record as held ("" when there is none)
  };
  Result<LayoutRecord> read_layout() const;
  /// The permanent error for a record that is not Readable ("the store was written by a newer
  /// digonce (store layout 3; ...)", or the damage).
  static Error layout_error(const LayoutRecord& record);
  /// Refuses, with that permanent error, a store whose record is not Readable. open() calls it
  /// first; a caller may call read_layout() before, to say what to do.
  Status check_layout() const;

  /// Loads the index from the store, the pairs the detector reported from the ledger's open
  /// pairs (the engine's detector keeps no markers of its own: DetectorOptions::markers), and
  /// the filter of the registry's and ledger's records. Call it before apply().
  Status open();

  /// Applies one event already in the metric CRS (geo/normalize.h); appends the alert events
  /// it causes, in the order they happen.
  Status apply(const WorkEvent& e, std::vector<Alert>& out);

  const EngineStats& stats() const { return stats_; }
  const Detector& detector() const { return detector_; }
  const AlertLedger& ledger() const { return ledger_; }
  const store::PresenceFilteredStore& record_filter() const { return filtered_; }

 private:
  store::Store& store_;
  // The registry's and the ledger's records ("r" keys of works, "p" and "g" keys of alerts)
  // behind a filter in memory: most reads are of records that do not exist yet (a new work, a
  // new pair).
  store::PresenceFilteredStore filtered_;
  WorkRegistry registry_;
  Detector detector_;
  AlertLedger ledger_;
  EngineStats stats_;
  std::vector<PairFact> facts_;
  WorkEvent versioned_;                 // an event without a version, given the one held
  std::vector<std::string> pair_keys_;  // the facts' ledger record keys (capacity kept)
};

}  // namespace digonce::geo
