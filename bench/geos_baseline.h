// The baseline in the same run: what shared/bench/README.md calls "GEOS C API STRtree + prepared
// distance-within, in memory". The N works are GEOS geometries in one GEOSSTRtree (built once,
// static: it cannot take inserts and nothing is persisted); each event is a prepared geometry,
// a tree query with its envelope grown by the distance, the time rule on each candidate, then
// GEOSPreparedDistanceWithin_r.
#pragma once

#include "bench/measure.h"
#include "bench/workloads.h"
#include "geo/geos.h"
#include "geo/rules.h"

namespace digonce::bench {

struct BaselineResult {
  double build_seconds = 0;  // making the geometries and the tree, reading/generating included
  std::int64_t rss_delta = 0;
  double stream_seconds = 0;
  Latencies latencies;
  Counts counts;
  Counts counts_first;  // over the first `first` events (to compare with a shorter engine run)
  bool cut_short = false;
};

/// Runs the baseline; stops querying when `deadline` has passed (cut_short).
Result<BaselineResult> run_geos_baseline(const Workload& w, const geo::Rules& rules,
                                         geo::Geos& geos, Clock::time_point deadline,
                                         std::size_t first);

}  // namespace digonce::bench
