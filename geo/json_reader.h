// Shared by the JSON parsers (parse_json.cc, parse_geojson_geometry.cc, parse_streetmanager.cc,
// parse_submission.cc): one reusable simdjson DOM parser, and typed access to object members
// that turns every wrong or missing value into an Error naming the member.
//
// Conventions, from the contract (section 1): a member that is null is absent; an absent required
// member "is required"; errors carry the member's name relative to the object read, and the
// caller puts them under its own path with Error::within.
#pragma once

#include <simdjson.h>

#include <cstdint>
#include <initializer_list>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "base/result.h"
#include "geo/json_scan.h"
#include "geo/parse.h"
#include "geo/timestamp.h"

namespace digonce::geo::json {

using simdjson::dom::array;
using simdjson::dom::element;
using simdjson::dom::object;

/// The span of time a work may have: the years 0001 to 9999 in UTC, which RFC 3339 can write.
inline constexpr Micros kMinTime = -62135596800LL * kMicrosPerSecond;  // 0001-01-01T00:00:00Z
inline constexpr Micros kMaxTime =
    253402300800LL * kMicrosPerSecond - 1;  // 9999-12-31T23:59:59.999999Z

/// Deep enough for any GeoJSON the contract takes (a FeatureCollection's MultiPolygon position is
/// at depth 8) with room for nested unknown members; deeper is an error, not a stack overflow.
inline constexpr std::size_t kMaxDepth = 128;

/// One simdjson parser and its padded input buffer, reused from parse to parse (simdjson's
/// allocations are the costly part). A parsed element lives until the next parse.
class JsonReader {
 public:
  JsonReader();

  /// Parses one JSON text. Bad JSON is Error{"", "invalid JSON at byte N, in <path>: <why>"}
  /// (simdjson's own words where the scanner finds no fault).
  /// Numbers simdjson cannot hold (1e999) are not errors here: they read as 0 and are listed in
  /// bad_numbers(), for the caller to reject the item that holds them.
  Result<element> parse(std::string_view text);

  /// The first out-of-range number at `path` or under it, as an Error located at that number
  /// ("geometry.coordinates[0][1]"); an empty path matches every number.
  std::optional<Error> bad_number_under(std::string_view path) const;
  /// The first out-of-range number at or under one of the members the parser reads, each
  /// `prefix` + a name of `members` ("properties.version", "geometry"). A number out of range in
  /// a member nobody reads (an unknown field, a bbox) is no error: the contract keeps and ignores
  /// unknown fields. A member name with an escape under `prefix` counts as read (the scanner
  /// names members as written, the parser unescaped).
  std::optional<Error> bad_number_in(std::string_view prefix,
                                     std::initializer_list<std::string_view> members) const;

 private:
  /// root, unless an object in it has two members of one name: then an Error at the second.
  static Result<element> checked_names(element root);
  struct BadNumber {
    std::string path;
    std::string message;  // "must be a finite number: 1e999 is out of range"
  };
  simdjson::dom::parser parser_;
  std::string buffer_;  // the text, followed by SIMDJSON_PADDING bytes
  std::vector<BadNumber> bad_numbers_;
};

/// "a string", "an array", ... for messages.
const char* type_name(const element& e);

/// The member, or nullopt when it is absent or null.
std::optional<element> member(const object& o, std::string_view key);

/// Typed reading of one object's members; every Error names the member.
class Fields {
 public:
  Fields(object o, const ParseLimits& limits) : o_(o), limits_(limits) {}

  const object& raw() const { return o_; }
  std::optional<element> get(std::string_view key) const { return member(o_, key); }
  bool has(std::string_view key) const { return get(key).has_value(); }

  Result<std::string_view> required_string(std::string_view key) const;
  Result<std::optional<std::string_view>> optional_string(std::string_view key) const;
  /// A string without the max_string limit (WKT, the SNS Message: bounded by max_bytes and by
  /// max_vertices instead).
  Result<std::string_view> required_text(std::string_view key) const;
  /// A string, or a non-negative JSON integer turned into its decimal string (a usrn).
  Result<std::optional<std::string>> optional_string_or_integer(std::string_view key) const;
  /// A JSON integer in [0, INT64_MAX].
  Result<std::optional<std::int64_t>> optional_count(std::string_view key) const;
  Result<std::int64_t> required_count(std::string_view key) const;
  Result<object> required_object(std::string_view key) const;
  /// An RFC 3339 timestamp or a bare date, between kMinTime and kMaxTime once in UTC.
  Result<std::optional<Micros>> optional_timestamp(std::string_view key, DateEnd bare) const;

  /// Copies an optional string member into `out` (left as it is when absent).
  Status copy_string(std::string_view key, std::string& out) const;

 private:
  Result<std::string_view> check_string(std::string_view key, const element& e, bool limited) const;
  object o_;
  const ParseLimits& limits_;
};

/// Error "must be <what>, not <type of e>".
Error wrong_type(std::string field, std::string_view what, const element& e);

}  // namespace digonce::geo::json
