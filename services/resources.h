// Where the files that ship with digonce are found (the dashboard, config/): installed beside the
// binary (`cmake --install`: <prefix>/bin/digonce and <prefix>/share/digonce/), or in the source
// tree it was built from.
#pragma once

#include <string>

namespace digonce::services {

/// `relative` (e.g. "dashboard", "config/digonce.yaml") under $DIGONCE_HOME if set, else under
/// <the executable's folder>/../share/digonce if it exists there, else under the source tree.
std::string resource_path(const std::string& relative);

}  // namespace digonce::services
