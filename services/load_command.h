// `digonce load`: a bounded load generator and end-to-end latency probe for a running deployment.
//
// It produces pairs of works to works.submitted at a steady rate (or as fast as it can): work A_i
// (a 20 m line) then work B_i (a point 5 m from it, overlapping dates), each pair on its own site
// of a 100 m grid over Greater London (EPSG:27700), so that every B_i gives exactly one clash
// alert and nothing else. A read_committed consumer of the alerts topic matches each clash to its
// pair: the latency of an event is the time from producing B_i to reading its committed alert.
#pragma once

#include <cstdint>
#include <string>

#include "services/settings.h"

namespace digonce::services {

struct LoadOptions {
  std::uint64_t events = 100000;  // work events to produce (two per pair)
  double rate = 0;                // events per second; 0 = as fast as the producer goes
  double timeout_s = 300;         // give up waiting for alerts after this long past the last send
  std::string run_id;             // distinguishes the work refs of this run ("" = from the clock)
  // Where on the grid this run starts. By default a 200-day slot of its own picked from the run
  // id, so that a run's works never meet an earlier run's on the same pipeline (which would add
  // their alerts to this run's work and figures).
  static constexpr std::uint64_t kFromRunId = UINT64_MAX;
  std::uint64_t first_site = kFromRunId;
};

Status run_load(const Settings& settings, const LoadOptions& options);

}  // namespace digonce::services
