#include "geo/geos.h"

#include <array>
#include <vector>

namespace digonce::geo {

Geos::Geos() : h_(GEOS_init_r()) {
  GEOSContext_setErrorMessageHandler_r(h_, &Geos::on_message, this);
}

Geos::~Geos() {
  GEOS_finish_r(h_);
}

void Geos::on_message(const char* message, void* self) {
  static_cast<Geos*>(self)->last_error_ = message ? message : "unknown GEOS error";
}

namespace {

GEOSCoordSequence* make_seq(GEOSContextHandle_t h, const double* xy, std::uint32_t n) {
  return GEOSCoordSeq_copyFromBuffer_r(h, xy, n, 0, 0);
}

}  // namespace

Result<Geos::GeomPtr> Geos::to_geos(const ShapeView& s) const {
  auto fail = [&](const char* what) {
    return error(std::string("cannot build ") + what + ": " + last_error_);
  };
  std::size_t vertex = 0;
  auto path_seq = [&](std::uint32_t n) {
    auto* seq = make_seq(h_, s.xy.data() + 2 * vertex, n);
    vertex += n;
    return seq;
  };
  auto make_polygon = [&](std::size_t& path, std::uint32_t rings) -> GEOSGeometry* {
    if (rings == 0) return nullptr;
    auto* shell = GEOSGeom_createLinearRing_r(h_, path_seq(s.paths[path++]));
    if (!shell) return nullptr;
    std::vector<GEOSGeometry*> holes;
    for (std::uint32_t r = 1; r < rings; ++r) {
      auto* hole = GEOSGeom_createLinearRing_r(h_, path_seq(s.paths[path++]));
      if (!hole) {
        GEOSGeom_destroy_r(h_, shell);
        for (auto* g : holes) GEOSGeom_destroy_r(h_, g);
        return nullptr;
      }
      holes.push_back(hole);
    }
    return GEOSGeom_createPolygon_r(h_, shell, holes.data(), static_cast<unsigned>(holes.size()));
  };
  auto collect = [&](int type, std::vector<GEOSGeometry*>& parts) -> GEOSGeometry* {
    for (auto* p : parts)
      if (!p) {
        for (auto* q : parts)
          if (q) GEOSGeom_destroy_r(h_, q);
        return nullptr;
      }
    return GEOSGeom_createCollection_r(h_, type, parts.data(), static_cast<unsigned>(parts.size()));
  };

  if (s.xy.empty() || s.paths.empty())
    return error(std::string("empty ") + shape_type_name(s.type));
  if ((s.type == ShapeType::Polygon || s.type == ShapeType::MultiPolygon) && s.polygons.empty())
    return error(std::string("empty ") + shape_type_name(s.type));
  GEOSGeometry* g = nullptr;
  std::size_t path = 0;
  switch (s.type) {
    case ShapeType::Point:
      g = GEOSGeom_createPointFromXY_r(h_, s.xy[0], s.xy[1]);
      break;
    case ShapeType::LineString:
      g = GEOSGeom_createLineString_r(h_, path_seq(s.paths[0]));
      break;
    case ShapeType::Polygon:
      g = make_polygon(path, s.polygons[0]);
      break;
    case ShapeType::MultiPoint: {
      std::vector<GEOSGeometry*> parts;
      for (std::size_t i = 0; i < s.paths.size(); ++i, ++vertex)
        parts.push_back(GEOSGeom_createPointFromXY_r(h_, s.xy[2 * vertex], s.xy[2 * vertex + 1]));
      g = collect(GEOS_MULTIPOINT, parts);
      break;
    }
    case ShapeType::MultiLineString: {
      std::vector<GEOSGeometry*> parts;
      for (auto n : s.paths) parts.push_back(GEOSGeom_createLineString_r(h_, path_seq(n)));
      g = collect(GEOS_MULTILINESTRING, parts);
      break;
    }
    case ShapeType::MultiPolygon: {
      std::vector<GEOSGeometry*> parts;
      for (auto rings : s.polygons) parts.push_back(make_polygon(path, rings));
      g = collect(GEOS_MULTIPOLYGON, parts);
      break;
    }
  }
  if (!g) return fail(shape_type_name(s.type));
  return own(g);
}

namespace {

// Appends the vertices of a coordinate sequence to the shape; returns the count.
std::uint32_t append_seq(GEOSContextHandle_t h, const GEOSCoordSequence* seq, Shape& out) {
  unsigned n = 0;
  GEOSCoordSeq_getSize_r(h, seq, &n);
  std::size_t at = out.xy.size();
  out.xy.resize(at + 2 * std::size_t{n});
  if (n) GEOSCoordSeq_copyToBuffer_r(h, seq, out.xy.data() + at, 0, 0);
  return n;
}

void append_polygon(GEOSContextHandle_t h, const GEOSGeometry* poly, Shape& out) {
  out.paths.push_back(
      append_seq(h, GEOSGeom_getCoordSeq_r(h, GEOSGetExteriorRing_r(h, poly)), out));
  int holes = GEOSGetNumInteriorRings_r(h, poly);
  for (int i = 0; i < holes; ++i)
    out.paths.push_back(
        append_seq(h, GEOSGeom_getCoordSeq_r(h, GEOSGetInteriorRingN_r(h, poly, i)), out));
  out.polygons.push_back(static_cast<std::uint32_t>(1 + holes));
}

// Walks a geometry (collections recursively), appending parts of dimension `dim`.
void collect_parts(GEOSContextHandle_t h, const GEOSGeometry* g, int dim, Shape& out) {
  int type = GEOSGeomTypeId_r(h, g);
  if (type == GEOS_MULTIPOINT || type == GEOS_MULTILINESTRING || type == GEOS_MULTIPOLYGON ||
      type == GEOS_GEOMETRYCOLLECTION) {
    int n = GEOSGetNumGeometries_r(h, g);
    for (int i = 0; i < n; ++i) collect_parts(h, GEOSGetGeometryN_r(h, g, i), dim, out);
    return;
  }
  if (GEOSisEmpty_r(h, g) == 1) return;
  if ((type == GEOS_POINT && dim == 0) ||
      ((type == GEOS_LINESTRING || type == GEOS_LINEARRING) && dim == 1)) {
    out.paths.push_back(append_seq(h, GEOSGeom_getCoordSeq_r(h, g), out));
  } else if (type == GEOS_POLYGON && dim == 2) {
    append_polygon(h, g, out);
  }
}

}  // namespace

Result<Shape> Geos::from_geos(const GEOSGeometry* g) const {
  int dim = GEOSGeom_getDimensions_r(h_, g);
  if (GEOSisEmpty_r(h_, g) == 1 || dim < 0) return error("geometry is empty");
  Shape out;
  collect_parts(h_, g, dim, out);
  if (out.paths.empty()) return error("geometry is empty");
  int type = GEOSGeomTypeId_r(h_, g);
  bool single = out.paths.size() == 1 || (dim == 2 && out.polygons.size() == 1);
  if (dim == 0) {
    out.type = single && type == GEOS_POINT ? ShapeType::Point : ShapeType::MultiPoint;
  } else if (dim == 1) {
    out.type = single && type != GEOS_MULTILINESTRING && type != GEOS_GEOMETRYCOLLECTION
                   ? ShapeType::LineString
                   : ShapeType::MultiLineString;
  } else {
    out.type = single && type == GEOS_POLYGON ? ShapeType::Polygon : ShapeType::MultiPolygon;
  }
  return out;
}

Result<double> Geos::distance(const GEOSGeometry* a, const GEOSGeometry* b) const {
  double d = 0;
  if (GEOSDistance_r(h_, a, b, &d) != 1) return error("GEOS distance failed: " + last_error_);
  return d;
}

Result<std::array<double, 4>> Geos::nearest_points(const GEOSGeometry* a,
                                                   const GEOSGeometry* b) const {
  CoordSeqPtr seq(GEOSNearestPoints_r(h_, a, b), CoordSeqDeleter{h_});
  if (!seq) return error("GEOS nearest points failed: " + last_error_);
  std::array<double, 4> out{};
  GEOSCoordSeq_copyToBuffer_r(h_, seq.get(), out.data(), 0, 0);
  return out;
}

}  // namespace digonce::geo
