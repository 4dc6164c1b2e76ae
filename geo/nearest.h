// The minimum distance and nearest points of two point or line geometries, without GEOS.
//
// Nearly every work is a point or a short line, and the detector measures every candidate pair;
// through GEOS each measure builds a geometry, extracts its components into new vectors and
// allocates its result. This does the same computation on the arrays of a ShapeView, as GEOS's
// DistanceOp does it (GEOS 3.11, operation/distance/DistanceOp.cpp and algorithm/Distance.cpp):
// the same point-to-segment and segment-to-segment formulas, the same order of component and
// segment pairs (lines against lines, lines of the first against points of the second, lines of
// the second against points of the first, points against points), the first pair that is
// strictly nearer kept, and the same closest-point rules of LineSegment. The distance is then
// GEOSDistance's figure, bar the rounding of a few operations; the points are GEOSNearestPoints'
// (an intersection point is computed in doubles where GEOS uses double-double arithmetic).
// Polygons are left to GEOS for their figures and points; certainly_beyond() below only rules
// a pair with polygons out, when its rings and lines are far apart and neither is inside the
// other.
#pragma once

#include <limits>
#include <optional>

#include "geo/shape.h"

namespace digonce::geo {

struct NearestPoints {
  double distance = 0;
  double ax = 0, ay = 0;  // on the first geometry
  double bx = 0, by = 0;  // on the second
};

/// Whether nearest_points() takes the shape (Point, MultiPoint, LineString, MultiLineString).
inline bool is_puntal_or_lineal(ShapeType t) {
  return t != ShapeType::Polygon && t != ShapeType::MultiPolygon;
}

/// The minimum distance between `a` and `b` and a pair of points that attains it; nullopt when
/// either is polygonal or empty.
///
/// With a `limit`, parts of the two that are certainly farther apart than it (or than the nearest
/// parts found so far) are not measured. The figure is at most `limit` exactly when the figure
/// without a limit is, and then the result is the same (figure and points); above it, the
/// figure is some distance above `limit` (infinity when nothing was measured) and the points are
/// unspecified.
std::optional<NearestPoints> nearest_points(const ShapeView& a, const ShapeView& b,
                                            double limit = std::numeric_limits<double>::infinity());

/// Whether `a` and `b`, of any types, are certainly farther apart than `limit`, decided without
/// GEOS: their lines and rings (each polygon's boundary taken as lines) are more than `limit` and
/// a micrometre apart, and no part of either lies inside a polygon of the other (tested at the
/// first vertex of each part, which is then far from every ring, so a plain crossing count is
/// exact). False means "perhaps within": measure them. Empty shapes give false.
bool certainly_beyond(const ShapeView& a, const ShapeView& b, double limit);

}  // namespace digonce::geo
