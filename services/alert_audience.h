// Who an alert event reaches, read the same way by the notifier (which webhooks get it) and the
// live views (who may read it): the authorities of the areas that hold its location (its
// `highway_authorities`), and the authority each of its works names, though its area need not
// hold the location (TfL on a red route, an authority outside the configured boundaries). The
// dashboard lists an alert's authorities by the same rule (dashboard/app.js, list()).
#pragma once

#include <simdjson.h>

#include <algorithm>
#include <string>
#include <string_view>
#include <vector>

namespace digonce::services {

/// Adds to `audience` (an alert's highway_authorities) the `highway_authority` each of `works`
/// names, once: the order is the areas', then the works'. A work naming none adds nothing.
inline void add_named_authorities(const simdjson::dom::array& works,
                                  std::vector<std::string>& audience) {
  for (auto w : works) {
    std::string_view code;
    if (!w["highway_authority"].get_string().get(code) &&
        std::find(audience.begin(), audience.end(), code) == audience.end())
      audience.emplace_back(code);
  }
}

}  // namespace digonce::services
