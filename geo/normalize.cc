#include "geo/normalize.h"

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <cmath>
#include <cstdlib>
#include <vector>

namespace digonce::geo {
namespace {

bool all_finite(const Shape& s) {
  for (double v : s.xy)
    if (!std::isfinite(v)) return false;
  return true;
}

// Points and lines of distinct points cannot be invalid in a way that matters to distances; only
// polygons (and lines that are one repeated point) need GEOS's validity check.
bool needs_validity_check(const Shape& s) {
  if (s.type == ShapeType::Polygon || s.type == ShapeType::MultiPolygon) return true;
  if (s.type == ShapeType::LineString || s.type == ShapeType::MultiLineString) {
    std::size_t v = 0;
    for (auto n : s.paths) {
      bool distinct = false;
      for (std::uint32_t i = 1; i < n && !distinct; ++i)
        distinct = s.xy[2 * (v + i)] != s.xy[2 * v] || s.xy[2 * (v + i) + 1] != s.xy[2 * v + 1];
      if (!distinct) return true;
      v += n;
    }
  }
  return false;
}

}  // namespace

std::string Normalizer::located(const std::string& why) const {
  // GEOS names the place in the metric CRS, as "Self-intersection[530044.781 180363.657]": said
  // in longitude and latitude too, which is how most works are sent.
  const auto open = why.rfind('[');
  if (open == std::string::npos || why.empty() || why.back() != ']') return why;
  // "[x y]": two numbers, one space, nothing else.
  const char* start = why.c_str() + open + 1;
  char* end = nullptr;
  const double x = std::strtod(start, &end);
  if (end == start || *end != ' ') return why;
  start = end + 1;
  const double y = std::strtod(start, &end);
  if (end == start || *end != ']' || end + 1 != why.c_str() + why.size()) return why;
  double lon = x, lat = y;
  std::string at = why.substr(0, open);
  if (crs_.metric_to_wgs84().apply(lon, lat).ok() && std::isfinite(lon) && std::isfinite(lat))
    return fmt::format("{} at longitude {:.6f}, latitude {:.6f} ({:.2f}, {:.2f} in {})", at, lon,
                       lat, x, y, crs_.metric_crs());
  return fmt::format("{} at ({:.2f}, {:.2f} in {})", at, x, y, crs_.metric_crs());
}

// Each part of a collection mapped by `each` (a new geometry, or null when it fails) and the
// results joined with GEOS's unary union; null when a part or the union fails.
template <typename Each>
Geos::GeomPtr Normalizer::join_parts(const GEOSGeometry* g, Each each) {
  auto* h = geos_.handle();
  const int n = GEOSGetNumGeometries_r(h, g);
  std::vector<GEOSGeometry*> parts;
  for (int i = 0; i < n; ++i) {
    GEOSGeometry* part = each(GEOSGetGeometryN_r(h, g, i));
    if (!part) {
      for (auto* p : parts) GEOSGeom_destroy_r(h, p);
      return {};
    }
    parts.push_back(part);
  }
  // (The collection owns the parts from here.)
  auto all = geos_.own(GEOSGeom_createCollection_r(h, GEOS_GEOMETRYCOLLECTION, parts.data(),
                                                   static_cast<unsigned>(parts.size())));
  if (!all) return {};
  return geos_.own(GEOSUnaryUnion_r(h, all.get()));
}

// MakeValid's linework method, polygon by polygon: each part's rings read as GEOS's distance
// reads them (the areas enclosed an odd number of times), and the parts then joined, as the
// distance to a multi-polygon reads them too (linework over all the rings at once would cut
// where two parts overlap: a point in both would be outside the work).
Geos::GeomPtr Normalizer::make_valid(const GEOSGeometry* g) {
  auto* h = geos_.handle();
  auto* params = GEOSMakeValidParams_create_r(h);
  GEOSMakeValidParams_setMethod_r(h, params, GEOS_MAKE_VALID_LINEWORK);
  Geos::GeomPtr out = GEOSGeomTypeId_r(h, g) != GEOS_MULTIPOLYGON
                          ? geos_.own(GEOSMakeValidWithParams_r(h, g, params))
                          : join_parts(g, [&](const GEOSGeometry* part) {
                              return GEOSMakeValidWithParams_r(h, part, params);
                            });
  GEOSMakeValidParams_destroy_r(h, params);
  if (out) out = keep_thin_parts(std::move(out));
  return out;
}

// MakeValid gives areas and lines together when a ring has a part with no area, such as a spike
// (out and back along one line): GEOMETRYCOLLECTION (POLYGON (...), LINESTRING (...)). A work is
// one kind of geometry, so the lines and points are drawn as slivers kThinPartHalfWidth wide
// either side (square ends) and joined to the areas: the spike's tip stays where a distance
// measures from, as GEOS's distance to the ring as sent and to make_valid's collection measure
// it, and no distance moves by more than the sliver's half-width times sqrt(2).
Geos::GeomPtr Normalizer::keep_thin_parts(Geos::GeomPtr g) {
  auto* h = geos_.handle();
  if (GEOSGeomTypeId_r(h, g.get()) != GEOS_GEOMETRYCOLLECTION ||
      GEOSGeom_getDimensions_r(h, g.get()) != 2)
    return g;
  auto joined = join_parts(g.get(), [&](const GEOSGeometry* part) {
    return GEOSGeom_getDimensions_r(h, part) == 2
               ? GEOSGeom_clone_r(h, part)
               : GEOSBufferWithStyle_r(h, part, kThinPartHalfWidth, 1, GEOSBUF_CAP_SQUARE,
                                       GEOSBUF_JOIN_MITRE, 2.0);
  });
  // Should GEOS fail, the areas alone, as before.
  if (!joined || GEOSisValid_r(h, joined.get()) != 1) return g;
  thin_parts_kept_ = true;
  return joined;
}

Status Normalizer::normalize(WorkEvent& e) {
  if (e.event != EventType::Upsert) return {};
  auto transform = crs_.to_metric(e.crs);
  if (!transform) return transform.error();
  DIGONCE_TRY((*transform)->check_source_area(e.geometry));
  // The vertices as sent, to name one that lands outside the metric CRS's area as it was sent.
  const bool projected = (*transform)->source_crs() != crs_.metric_crs();
  if (projected) given_ = e.geometry;
  DIGONCE_TRY((*transform)->apply(e.geometry));
  if (!all_finite(e.geometry))
    return field_error("geometry", "has coordinates that do not project into " + crs_.metric_crs());
  DIGONCE_TRY(projected ? crs_.check_metric_area(e.geometry, given_, (*transform)->source_crs())
                        : crs_.check_metric_area(e.geometry));
  e.crs = crs_.metric_crs();

  if (needs_validity_check(e.geometry)) {
    auto g = geos_.to_geos(e.geometry);
    if (!g) return g.error().within("geometry");
    auto* h = geos_.handle();
    char valid = GEOSisValid_r(h, g->get());
    if (valid == 2)
      return field_error("geometry", "GEOS validity check failed: " + geos_.last_error());
    if (valid == 0) {
      char* reason = GEOSisValidReason_r(h, g->get());
      std::string why = located(reason ? reason : "invalid");
      GEOSFree_r(h, reason);
      thin_parts_kept_ = false;
      auto repaired = make_valid(g->get());
      if (!repaired)
        return field_error("geometry", "is invalid (" + why + ") and cannot be repaired");
      auto shape = geos_.from_geos(repaired.get());
      if (!shape) return field_error("geometry", "is invalid (" + why + ") and repairs to nothing");
      spdlog::debug("work {}: invalid geometry ({}) repaired with MakeValid", e.work_ref, why);
      auto polygonal = [](const Shape& s) {
        return s.type == ShapeType::Polygon || s.type == ShapeType::MultiPolygon;
      };
      last_repair_kind_ = !polygonal(e.geometry) ? Repair::Line
                          : polygonal(*shape)    ? Repair::Areas
                                                 : Repair::NoArea;
      e.geometry = std::move(*shape);
      ++repaired_;
      last_repair_ = std::move(why);
    }
  }
  return {};
}

const char* Normalizer::last_repair_how() const {
  switch (last_repair_kind_) {
    case Repair::Areas:
      return thin_parts_kept_
                 ? "the rings are split where they cross, and the areas they enclose an odd "
                   "number of times are the work, as Shapely's and PostGIS's make_valid read "
                   "them; a part with no area, such as a spike, is kept as a sliver 20 µm wide"
                 : "the rings are split where they cross, and the areas they enclose an odd "
                   "number of times are the work, as Shapely's and PostGIS's make_valid read "
                   "them";
    case Repair::NoArea:
      return "a ring that encloses no area is read as the line or point it draws";
    case Repair::Line:
      break;
  }
  return "a line of one repeated point is that point";
}

std::string Normalizer::repair_note(std::string_view where, std::string_view work_ref) const {
  return fmt::format(
      "{}{}note: work {}: geometry is not valid ({}): it is read as GEOS MakeValid repairs it",
      where, where.empty() ? "" : ": ", work_ref, last_repair_);
}

}  // namespace digonce::geo
