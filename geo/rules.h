// The detection rules of the contract (section 2), every threshold configurable.
//
//   d   = minimum distance between the two geometries, metres, in the metric CRS
//   gap = max(A.start, B.start) - min(A.end, B.end)   (negative when they overlap in time)
//   work & work, d <= distance_m:  gap <= 0 -> clash;  0 < gap <= window -> collaboration
//   work & Section 58 restriction, d <= distance_m, the work not immediate_*, and the work
//   starting before the restriction ends -> restriction
#pragma once

#include <algorithm>
#include <cmath>
#include <optional>

#include "geo/work.h"

namespace digonce::geo {

enum class AlertKind : std::uint8_t { Clash = 0, Collaboration = 1, Restriction = 2 };
const char* alert_kind_name(AlertKind k);

struct Rules {
  double distance_m = 25.0;
  Micros collaboration_window = 90 * kMicrosPerDay;
};

/// A window of `days` days (0 or more: 0.7 from a flag or a config file) in microseconds, rounded
/// to the nearest: 0.7 * 86,400,000,000 is 60,479,999,999.99999 in floating point, and truncated
/// it left out a gap of exactly 0.7 days, which the contract's "gap <= collaboration_window_days"
/// keeps. Whole days and the fraction apart: a product over 2^51 microseconds (32,768 days) is
/// itself rounded to half a microsecond, which could tip the result.
inline Micros window_of_days(double days) {
  const double whole = std::floor(days);
  return static_cast<Micros>(whole) * kMicrosPerDay +
         static_cast<Micros>(std::llround((days - whole) * static_cast<double>(kMicrosPerDay)));
}

/// The parts of a work the rules look at.
struct RuleSide {
  WorkKind kind;
  Category category;
  Micros start;
  Micros end;
};

inline Micros time_gap(const RuleSide& a, const RuleSide& b) {
  return std::max(a.start, b.start) - std::min(a.end, b.end);
}

/// A work of an immediate_* category may go ahead under a Section 58 restriction: the two are no
/// pair, however near and whenever (contract section 2). False unless `other` is a restriction and
/// `work` is not.
inline bool exempt_from_restriction(WorkKind work_kind, Category work_category,
                                    WorkKind other_kind) {
  return other_kind == WorkKind::Restriction && work_kind != WorkKind::Restriction &&
         is_immediate(work_category);
}

/// The time and kind part of the rules: false when no distance could make the pair qualify.
/// Used to filter index entries before any geometry is looked at.
inline bool time_may_qualify(const Rules& r, const RuleSide& a, const RuleSide& b) {
  bool ra = a.kind == WorkKind::Restriction, rb = b.kind == WorkKind::Restriction;
  if (ra && rb) return false;
  if (ra || rb) {
    const RuleSide& work = ra ? b : a;
    const RuleSide& restriction = ra ? a : b;
    return !exempt_from_restriction(work.kind, work.category, restriction.kind) &&
           work.start < restriction.end;
  }
  return time_gap(a, b) <= r.collaboration_window;
}

/// What the pair is at distance d, or nullopt when it is nothing.
inline std::optional<AlertKind> classify(const Rules& r, const RuleSide& a, const RuleSide& b,
                                         double d) {
  if (!(d <= r.distance_m) || !time_may_qualify(r, a, b)) return std::nullopt;
  if (a.kind == WorkKind::Restriction || b.kind == WorkKind::Restriction)
    return AlertKind::Restriction;
  return time_gap(a, b) <= 0 ? AlertKind::Clash : AlertKind::Collaboration;
}

}  // namespace digonce::geo
