// `digonce detect`: the engine offline, over an NDJSON file of work events (contract section 4).
#pragma once

#include <string>

#include "services/settings.h"

namespace digonce::services {

struct DetectOptions {
  std::string input;     // NDJSON of work events ("-" = stdin)
  std::string output;    // NDJSON of alert events ("-" = stdout)
  std::string data_dir;  // keep the engine's store here (reopened next time); "" = a temporary one
  bool progress = true;  // a progress line on stderr when it is a terminal
};

/// Runs detection; bad lines are reported on stderr with their line number and skipped.
/// Returns an error only when the run itself fails (unreadable input, unwritable output).
Status run_detect(const Settings& settings, const DetectOptions& options);

}  // namespace digonce::services
