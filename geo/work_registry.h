// The order of each work's events: its version (stale events are dropped), its sequence number
// (1, 2, ... for each accepted event, the clock of pair facts), and the tiles it was last routed
// to (so that an update or cancel also reaches the tiles the work is leaving).
//
// In the stream pipeline this lives in ingest, partitioned by work_ref; offline, `digonce detect`
// keeps it beside the detector (geo::Engine), which records only the works that are not live
// there: a live work's order is in the detector's cell record. State: works family, "r" ref ->
// record.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <vector>

#include "geo/work.h"
#include "store/store.h"

namespace digonce::geo {

struct Admission {
  bool stale = false;                    // older version than the one held: ignore the event
  std::uint64_t seq = 0;                 // this event's sequence number, when not stale
  std::vector<std::uint64_t> old_tiles;  // where the work was last routed
  std::optional<std::int64_t> version;   // the version held after it (an event without one
                                         // keeps the version held before)
};

class WorkRegistry {
 public:
  WorkRegistry(store::Store& store, store::Family family) : store_(store), family_(family) {}

  /// Decides whether the event is stale, and if not records it (its version, a new sequence
  /// number, and the tiles it is routed to now) and returns where it was before.
  Result<Admission> admit(const WorkEvent& e, std::span<const std::uint64_t> tiles);

  /// What admit() decides, without recording it (a stale event is counted).
  Result<Admission> check(const WorkEvent& e);
  /// Records an admitted event: its sequence number, the version held after it, its tiles.
  Status record(std::string_view ref, const Admission& a, std::span<const std::uint64_t> tiles);

  std::uint64_t stale_count() const { return stale_; }

 private:
  store::Store& store_;
  store::Family family_;
  std::uint64_t stale_ = 0;
  store::WriteBatch batch_;  // reused: no allocation per event once grown
  std::string key_;
};

}  // namespace digonce::geo
