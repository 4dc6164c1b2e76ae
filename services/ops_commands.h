// Operator commands on a Kafka cluster: `digonce import` (a file of works into works.submitted)
// and `digonce tail` (follow a topic, alerts by default, as NDJSON).
#pragma once

#include <atomic>
#include <string>

#include "services/settings.h"

namespace digonce::services {

struct ImportOptions {
  std::string input;      // NDJSON (one submission per line) or one GeoJSON FeatureCollection; "-"
  bool progress = true;   // a progress line on stderr when it is a terminal
  bool check_crs = true;  // also check CRS areas of use and geometry validity, as the gateway does
};

/// What an import did.
struct ImportSummary {
  std::uint64_t lines = 0;
  std::uint64_t produced = 0;  // records the broker acknowledged
  std::uint64_t rejected_items = 0;
  std::uint64_t rejected_lines = 0;
  std::uint64_t repaired = 0;  // works taken as GEOS repairs their invalid geometry
};

/// Validates each submission as the gateway does and produces the good ones, as they were
/// written, to works.submitted (key = work_ref; idempotent producer, acks=all); a FeatureCollection
/// file is split into one record per feature. Bad items are reported on stderr with their line
/// (or feature) number and skipped. An error only when the import itself fails (unreadable input,
/// a record the broker did not take); `summary` says what happened either way.
Status run_import(const Settings& settings, const ImportOptions& options, ImportSummary& summary);

struct TailOptions {
  std::string topic = "alerts";  // without the prefix
  bool from_beginning = false;
  std::string authority;      // alerts only: those whose highway_authorities or works name it
  std::string kind;           // alerts only
  std::string state;          // alerts only
  bool envelope = false;      // {"topic","partition","offset","key","headers","value"} lines
  std::uint64_t max = 0;      // stop after this many records (0: no limit)
  double idle_timeout_s = 0;  // stop after this long without a record (0: never)
};

/// Prints the topic's committed records (read_committed) on stdout, one per line, until `stop`,
/// `max` or the idle timeout.
Status run_tail(const Settings& settings, const TailOptions& options, std::atomic<bool>& stop);

}  // namespace digonce::services
