// A pair fact: what a detector found about two works after an event. Facts flow from the
// detector (partitioned by space) to the alert ledger (partitioned by pair), which turns them
// into alert revisions; see docs/ARCHITECTURE.md, "Alerts from facts".
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "geo/rules.h"
#include "geo/work.h"

namespace digonce::geo {

/// One side of a pair, as an alert shows it.
struct WorkSummary {
  std::string ref;
  std::string promoter;
  Category category = Category::Standard;
  WorkKind kind = WorkKind::Work;
  Micros start = 0;
  Micros end = 0;
  std::string street;
  std::string authority;  // given by the submitter, if any
  bool operator==(const WorkSummary&) const = default;
};

/// Why a pair stopped qualifying.
enum class CloseCause : std::uint8_t {
  None = 0,
  Cancelled = 1,  // `cause_ref` was cancelled
  Completed = 2,  // `cause_ref` was completed
  Apart = 3,      // new geometry or dates: no longer within distance_m and the window
  // Never in a fact (its encoding stops at Apart, which older ledgers check): the ledger reads
  // an Apart whose `cause_ref` is now immediate_* beside a Section 58 restriction as this.
  Immediate = 4,  // `cause_ref` is now immediate_*, which a Section 58 restriction does not hold
};

struct PairFact {
  WorkSummary a, b;  // a.ref < b.ref
  /// Each work's event sequence number (1, 2, ... per work, assigned where its events are
  /// ordered). The ledger keeps the fact with the larger seq_a + seq_b: see alert_ledger.h.
  std::uint64_t seq_a = 0;
  std::uint64_t seq_b = 0;
  bool related = false;
  // When related:
  AlertKind kind = AlertKind::Clash;
  double distance_m = 0;
  Micros gap = 0;
  double lon = 0, lat = 0;               // where they come closest, EPSG:4326
  std::vector<std::string> authorities;  // sorted, unique
  // When not related:
  CloseCause cause = CloseCause::None;
  std::string cause_ref;

  bool operator==(const PairFact&) const = default;
};

void encode_fact(const PairFact& f, std::string& out);
/// The bytes encode_fact writes for a related fact with these fields (the ledger encodes an open
/// alert's content from the alert itself, without copying it into a PairFact).
void encode_related_fact(const WorkSummary& a, const WorkSummary& b, std::uint64_t seq_a,
                         std::uint64_t seq_b, AlertKind kind, double distance_m, Micros gap,
                         double lon, double lat, const std::vector<std::string>& authorities,
                         std::string& out);
bool decode_fact(std::string_view in, PairFact& f);

/// The key that routes a fact to its ledger partition: "refA\nrefB".
std::string pair_key(std::string_view ref_a, std::string_view ref_b);
/// Appends pair_key(ref_a, ref_b) to `out` (for keys built in a reused buffer).
void append_pair_key(std::string_view ref_a, std::string_view ref_b, std::string& out);

}  // namespace digonce::geo
