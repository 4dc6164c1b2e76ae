// From a parsed work to one the engine can index: geometry reprojected into the metric CRS,
// inside the areas of use of its CRS and of the metric CRS, finite, valid.
//
// Invalid geometry (a self-intersecting polygon, a ring that touches itself, a line of one
// repeated point) is repaired with GEOS MakeValid, its "linework" method (the default of
// Shapely's and PostGIS's make_valid: the rings are noded where they cross and the areas they
// enclose an odd number of times are the work, as GEOS's own distance and point-in-polygon read
// an invalid ring), one polygon of a multi-polygon at a time, the parts then joined (as GEOS's
// distance reads overlapping parts: linework over all of them at once would cut their overlap
// out); a collapsed polygon becomes a line or point rather than nothing; where the result
// mixes areas with lines, such as a ring's spike, the lines are kept as slivers 20 µm wide
// joined to the areas (as make_valid's collection, and GEOS's distance to the ring as sent,
// still reach the spike's tip) — one policy, for every input: the work still marks a real place in
// the street, and rejecting it would lose a plan that can clash. What cannot be repaired into a
// non-empty geometry is rejected. The repair is counted (Normalizer::repaired) and logged.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "base/result.h"
#include "geo/crs.h"
#include "geo/geos.h"
#include "geo/work.h"

namespace digonce::geo {

class Normalizer {
 public:
  /// Half the width of the sliver a ring's spike (a part with no area beside areas) is kept as,
  /// in metres of the metric CRS: 10 µm, below the alerts' millimetre.
  static constexpr double kThinPartHalfWidth = 1e-5;

  Normalizer(CrsContext& crs, Geos& geos) : crs_(crs), geos_(geos) {}

  /// In place, for an upsert: into the metric CRS (`crs` set to it), validated and repaired.
  /// Cancels pass through untouched. The error names the field ("geometry", "crs").
  Status normalize(WorkEvent& e);

  std::uint64_t repaired() const { return repaired_; }
  /// Why the last repaired geometry was invalid: GEOS's reason, its place in longitude and
  /// latitude and in the metric CRS ("Self-intersection at longitude -0.127450, latitude
  /// 51.507250 (530044.78, 180363.66 in EPSG:27700)").
  const std::string& last_repair() const { return last_repair_; }
  /// How the last repair read the geometry, in a planner's words: "a line of one repeated
  /// point is that point", ...
  const char* last_repair_how() const;
  /// The line a command (import, detect) prints for a work it has just taken as repaired:
  /// "WHERE: note: work REF: geometry is not valid (last_repair()): it is read as GEOS MakeValid
  /// repairs it" ("note: ..." when `where` is empty).
  std::string repair_note(std::string_view where, std::string_view work_ref) const;

 private:
  CrsContext& crs_;
  Geos& geos_;
  Shape given_;  // the geometry being normalised, as sent (its buffer reused)
  std::uint64_t repaired_ = 0;
  std::string last_repair_;
  enum class Repair { Areas, NoArea, Line } last_repair_kind_ = Repair::Areas;
  bool thin_parts_kept_ = false;  // the last repair joined lines or points to its areas
  Geos::GeomPtr make_valid(const GEOSGeometry* g);
  Geos::GeomPtr keep_thin_parts(Geos::GeomPtr g);
  template <typename Each>
  Geos::GeomPtr join_parts(const GEOSGeometry* g, Each each);

  std::string located(const std::string& why) const;
};

}  // namespace digonce::geo
