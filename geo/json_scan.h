// A slow second look at JSON that simdjson rejected, to say where and why.
//
// simdjson's DOM parser reports only an error code: no byte offset, no path. When it fails, this
// scanner (a plain recursive-descent RFC 8259 checker) walks the same text to find the first
// syntax error, its byte offset and the member path it is in. It also lists the numbers that
// are well-formed JSON but that simdjson cannot hold (doubles beyond +-1.8e308, integers outside
// [-2^63, 2^64)): those are not syntax errors but bad values, to be reported on the field that
// holds them ("geometry.coordinates[0][1]") like any other bad value.
#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace digonce::geo {

/// Where a JSON path is: "geometry.coordinates[0][1]", "features[3].properties.start", or "".
struct JsonSyntaxError {
  std::size_t offset = 0;  // byte offset into the text, 0-based
  std::string path;        // the member the error is in
  std::string message;     // "expected ',' or '}'"
};

/// A well-formed number that is out of range for simdjson.
struct JsonBadNumber {
  std::size_t offset = 0;
  std::size_t length = 0;
  std::string path;
};

struct JsonScan {
  std::optional<JsonSyntaxError> syntax;   // the first syntax error, if any
  std::vector<JsonBadNumber> bad_numbers;  // in text order (those before a syntax error only)
  bool more_bad_numbers = false;           // there were more than max_bad_numbers
};

/// Scans `text` as one JSON value; nesting deeper than max_depth is a syntax error. Lists at
/// most max_bad_numbers bad numbers: a text can hold a million, each with its path.
JsonScan scan_json(std::string_view text, std::size_t max_depth,
                   std::size_t max_bad_numbers = 1000);

}  // namespace digonce::geo
