// Timestamps: microseconds since 1970-01-01T00:00:00Z, parsed from and written as RFC 3339.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "base/result.h"

namespace digonce::geo {

using Micros = std::int64_t;
inline constexpr Micros kMicrosPerSecond = 1'000'000;
inline constexpr Micros kMicrosPerDay = 86'400 * kMicrosPerSecond;

/// Which end of a day a bare date (YYYY-MM-DD) stands for: 00:00:00Z for a start,
/// 23:59:59Z for an end (the contract, section 1).
enum class DateEnd { Start, End };

/// Parses an RFC 3339 timestamp (2026-03-16T07:00:00Z, 2026-03-16T08:00:00.250+01:00; 't' and
/// 'z' and a space for 'T' accepted) or a bare date. Years 0001-9999. The error names no field:
/// the caller puts it under its own (Error::within).
Result<Micros> parse_timestamp(std::string_view text, DateEnd bare_date);

/// RFC 3339 in UTC: 2026-03-16T07:00:00Z, with .ffffff only when there is a fraction.
std::string format_timestamp(Micros t);
/// The same into `out` (at least kTimestampMax bytes, not terminated); returns the length.
inline constexpr int kTimestampMax = 64;
std::size_t format_timestamp(Micros t, char* out);

/// Days from civil date, proleptic Gregorian (Howard Hinnant's days_from_civil).
std::int64_t days_from_civil(std::int64_t y, unsigned m, unsigned d);
/// Civil date from days since 1970-01-01 (Howard Hinnant's civil_from_days).
void civil_from_days(std::int64_t z, std::int64_t& y, unsigned& m, unsigned& d);

inline constexpr Micros kMicrosPerHour = 3'600 * kMicrosPerSecond;
/// a / b rounded towards minus infinity.
constexpr Micros floor_div(Micros a, Micros b) {
  return a / b - (a % b != 0 && (a < 0) != (b < 0));
}
/// Micros since the UTC midnight that starts t's day.
constexpr Micros time_of_day(Micros t) {
  return t - floor_div(t, kMicrosPerDay) * kMicrosPerDay;
}
/// Whether t falls in the UK's summer time (BST): from 01:00 UTC on the last Sunday of March to
/// 01:00 UTC on the last Sunday of October.
bool uk_summer_time(Micros t);
/// Whether t, in UTC, is a UK midnight: 00:00:00Z in winter, 23:00:00Z in summer time.
bool is_uk_midnight(Micros t);

}  // namespace digonce::geo
