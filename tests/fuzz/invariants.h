// What every parse must guarantee, checked on each fuzz input: a violation aborts, so libFuzzer
// reports it like a crash. (ASan and UBSan catch the memory and undefined-behaviour bugs.)
#pragma once

#include <cmath>
#include <cstdlib>
#include <numeric>
#include <string_view>

#include "geo/parse.h"

namespace digonce::fuzz {

inline void require(bool ok) {
  if (!ok) std::abort();
}

/// A Shape whose counts agree with its coordinates, with finite coordinates, within the limit.
inline void check_shape(const geo::Shape& s, const geo::ParseLimits& limits) {
  require(!s.xy.empty() && s.xy.size() % 2 == 0);
  require(s.vertex_count() <= limits.max_vertices);
  for (double d : s.xy) require(std::isfinite(d));
  std::size_t vertices = std::accumulate(s.paths.begin(), s.paths.end(), std::size_t{0});
  require(vertices * 2 == s.xy.size());
  bool polygonal = s.type == geo::ShapeType::Polygon || s.type == geo::ShapeType::MultiPolygon;
  std::size_t rings = std::accumulate(s.polygons.begin(), s.polygons.end(), std::size_t{0});
  require(polygonal ? rings == s.paths.size() && !s.polygons.empty() : s.polygons.empty());
  if (s.type == geo::ShapeType::Point || s.type == geo::ShapeType::LineString)
    require(s.paths.size() == 1);
  if (s.type == geo::ShapeType::Polygon) require(s.polygons.size() == 1);
  std::size_t at = 0;
  for (auto n : s.paths) {
    if (s.type == geo::ShapeType::Point || s.type == geo::ShapeType::MultiPoint) require(n == 1);
    if (s.type == geo::ShapeType::LineString || s.type == geo::ShapeType::MultiLineString)
      require(n >= 2);
    if (polygonal) {
      require(n >= 4);
      require(s.xy[2 * at] == s.xy[2 * (at + n - 1)] &&
              s.xy[2 * at + 1] == s.xy[2 * (at + n - 1) + 1]);
    }
    at += n;
  }
}

/// Every work is well-formed; every error says something.
inline void check_parsed(const geo::Parsed& p, const geo::ParseLimits& limits) {
  for (const auto& e : p.errors) require(!e.message.empty());
  for (const auto& w : p.works) {
    require(geo::valid_work_ref(w.work_ref));
    require(!w.promoter.empty() && w.promoter.size() <= 64);
    require(!w.version || *w.version >= 0);
    if (w.event == geo::EventType::Cancel) continue;
    check_shape(w.geometry, limits);
    require(w.start <= w.end);
    require(w.crs.rfind("EPSG:", 0) == 0 && w.crs.size() > 5);
  }
}

}  // namespace digonce::fuzz
