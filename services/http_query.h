// The parts of an HTTP request target the gateway reads: a percent-decoded path and query, and
// the typed query parameters of the API (bbox, from/to). No HTTP library in here, so the rules
// are unit-tested without a socket.
#pragma once

#include <initializer_list>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <string_view>

#include "base/result.h"
#include "geo/shape.h"
#include "geo/timestamp.h"

namespace digonce::services {

struct Target {
  std::string path;                          // percent-decoded
  std::map<std::string, std::string> query;  // percent-decoded ('+' is a space); first one kept
  std::set<std::string> repeated;            // names given more than once
  /// A 400's field and message when one of `names` is given more than once (a filter given
  /// twice would otherwise silently be one of them), else nullopt. Names the API does not read
  /// (a cache-buster) may repeat.
  std::optional<Error> repeated_among(std::initializer_list<std::string_view> names) const;
};

/// Decodes %XX escapes (and '+' as a space when `plus_is_space`); an error on a bad
/// escape or an encoded NUL.
Result<std::string> percent_decode(std::string_view s, bool plus_is_space);

/// Splits "/v1/works?bbox=...&from=..." into its decoded path and query. The error names
/// "path" or "query".
Result<Target> parse_target(std::string_view target);

/// "minx,miny,maxx,maxy" in EPSG:4326 degrees: finite, min <= max, within +-180 / +-90. The
/// error's field is "bbox".
Result<geo::Envelope> parse_bbox(std::string_view text);

/// An RFC 3339 timestamp or a bare date (the start or the end of that day). The error's field is
/// `field`.
Result<geo::Micros> parse_time_param(std::string_view text, geo::DateEnd bare_date,
                                     const std::string& field);

}  // namespace digonce::services
