#include "geo/nearest.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <utility>

namespace digonce::geo {
namespace {

struct Pt {
  double x, y;
};

bool same(Pt a, Pt b) {
  return a.x == b.x && a.y == b.y;
}

double dist(Pt a, Pt b) {
  const double dx = a.x - b.x, dy = a.y - b.y;
  return std::sqrt(dx * dx + dy * dy);
}

// GEOS algorithm::Distance::pointToSegment.
double point_to_segment(Pt p, Pt a, Pt b) {
  if (same(a, b)) return dist(p, a);
  const double len2 = (b.x - a.x) * (b.x - a.x) + (b.y - a.y) * (b.y - a.y);
  const double r = ((p.x - a.x) * (b.x - a.x) + (p.y - a.y) * (b.y - a.y)) / len2;
  if (r <= 0.0) return dist(p, a);
  if (r >= 1.0) return dist(p, b);
  const double s = ((a.y - p.y) * (b.x - a.x) - (a.x - p.x) * (b.y - a.y)) / len2;
  return std::fabs(s) * std::sqrt(len2);
}

bool boxes_meet(Pt a, Pt b, Pt c, Pt d) {
  return std::min(a.x, b.x) <= std::max(c.x, d.x) && std::min(c.x, d.x) <= std::max(a.x, b.x) &&
         std::min(a.y, b.y) <= std::max(c.y, d.y) && std::min(c.y, d.y) <= std::max(a.y, b.y);
}

// GEOS algorithm::Distance::segmentToSegment.
double segment_to_segment(Pt a, Pt b, Pt c, Pt d) {
  if (same(a, b)) return point_to_segment(a, c, d);
  if (same(c, d)) return point_to_segment(d, a, b);
  bool apart = false;
  if (!boxes_meet(a, b, c, d)) {
    apart = true;
  } else {
    const double denom = (b.x - a.x) * (d.y - c.y) - (b.y - a.y) * (d.x - c.x);
    if (denom == 0) {
      apart = true;
    } else {
      const double r_num = (a.y - c.y) * (d.x - c.x) - (a.x - c.x) * (d.y - c.y);
      const double s_num = (a.y - c.y) * (b.x - a.x) - (a.x - c.x) * (b.y - a.y);
      const double s = s_num / denom, r = r_num / denom;
      if (r < 0 || r > 1 || s < 0 || s > 1) apart = true;
    }
  }
  if (apart)
    return std::min({point_to_segment(a, c, d), point_to_segment(b, c, d),
                     point_to_segment(c, a, b), point_to_segment(d, a, b)});
  return 0.0;  // the segments intersect
}

// GEOS geom::LineSegment::closestPoint.
Pt closest_on_segment(Pt p, Pt a, Pt b) {
  double factor;
  if (same(p, a)) {
    factor = 0;
  } else if (same(p, b)) {
    factor = 1;
  } else {
    const double dx = b.x - a.x, dy = b.y - a.y;
    const double len2 = dx * dx + dy * dy;
    factor = len2 <= 0 ? std::numeric_limits<double>::quiet_NaN()
                       : ((p.x - a.x) * dx + (p.y - a.y) * dy) / len2;
  }
  if (factor > 0 && factor < 1) return {a.x + factor * (b.x - a.x), a.y + factor * (b.y - a.y)};
  return dist(a, p) < dist(b, p) ? a : b;
}

// The sign of the turn a -> b -> c (GEOS's Orientation::index), with a long-double recheck when
// the double determinant is too small to trust.
int orientation(Pt a, Pt b, Pt c) {
  const double l = (b.x - a.x) * (c.y - b.y);
  const double r = (b.y - a.y) * (c.x - b.x);
  const double det = l - r;
  const double bound = 1e-15 * (std::fabs(l) + std::fabs(r));
  if (det > bound) return 1;
  if (det < -bound) return -1;
  const long double dl =
      (static_cast<long double>(b.x) - a.x) * (static_cast<long double>(c.y) - b.y);
  const long double dr =
      (static_cast<long double>(b.y) - a.y) * (static_cast<long double>(c.x) - b.x);
  return dl > dr ? 1 : dl < dr ? -1 : 0;
}

bool in_box(Pt a, Pt b, Pt q) {
  return q.x >= std::min(a.x, b.x) && q.x <= std::max(a.x, b.x) && q.y >= std::min(a.y, b.y) &&
         q.y <= std::max(a.y, b.y);
}

// The first intersection point of segments p1p2 and q1q2 as GEOS's LineIntersector gives it
// (endpoints exactly when they are the meeting point; the collinear cases in its order).
std::optional<Pt> intersection(Pt p1, Pt p2, Pt q1, Pt q2) {
  if (!boxes_meet(p1, p2, q1, q2)) return std::nullopt;
  const int pq1 = orientation(p1, p2, q1), pq2 = orientation(p1, p2, q2);
  if ((pq1 > 0 && pq2 > 0) || (pq1 < 0 && pq2 < 0)) return std::nullopt;
  const int qp1 = orientation(q1, q2, p1), qp2 = orientation(q1, q2, p2);
  if ((qp1 > 0 && qp2 > 0) || (qp1 < 0 && qp2 < 0)) return std::nullopt;
  if (pq1 == 0 && pq2 == 0 && qp1 == 0 && qp2 == 0) {
    const bool q1_in_p = in_box(p1, p2, q1), q2_in_p = in_box(p1, p2, q2);
    const bool p1_in_q = in_box(q1, q2, p1), p2_in_q = in_box(q1, q2, p2);
    if (q1_in_p && q2_in_p) return q1;
    if (p1_in_q && p2_in_q) return p1;
    if (q1_in_p && (p1_in_q || p2_in_q)) return q1;
    if (q2_in_p && (p1_in_q || p2_in_q)) return q2;
    return std::nullopt;
  }
  if (pq1 == 0 || pq2 == 0 || qp1 == 0 || qp2 == 0) {
    if (same(p1, q1) || same(p1, q2)) return p1;
    if (same(p2, q1) || same(p2, q2)) return p2;
    if (pq1 == 0) return q1;
    if (pq2 == 0) return q2;
    if (qp1 == 0) return p1;
    return p2;
  }
  // A proper crossing: the lines' meeting point (GEOS computes it in double-double). Computed
  // from the segments in a canonical order, so that the point does not depend on which work is
  // measured from which: a pair measured again the other way round gets the same location.
  auto before = [](Pt a, Pt b) { return a.x < b.x || (a.x == b.x && a.y < b.y); };
  if (before(p2, p1)) std::swap(p1, p2);
  if (before(q2, q1)) std::swap(q1, q2);
  if (before(q1, p1) || (same(q1, p1) && before(q2, p2))) {
    std::swap(p1, q1);
    std::swap(p2, q2);
  }
  const double denom = (p2.x - p1.x) * (q2.y - q1.y) - (p2.y - p1.y) * (q2.x - q1.x);
  const double t = ((q1.x - p1.x) * (q2.y - q1.y) - (q1.y - p1.y) * (q2.x - q1.x)) / denom;
  return Pt{p1.x + t * (p2.x - p1.x), p1.y + t * (p2.y - p1.y)};
}

// GEOS geom::LineSegment::closestPoints.
void closest_points(Pt a, Pt b, Pt c, Pt d, Pt& on_ab, Pt& on_cd) {
  if (auto x = intersection(a, b, c, d)) {
    on_ab = on_cd = *x;
    return;
  }
  // Else the nearest of c and d to ab, then of a and b to cd, in GEOS's order: the first is
  // taken, then each strictly nearer one.
  double best = 0;
  auto consider = [&](Pt from, Pt s0, Pt s1, bool from_ab, bool first) {
    const Pt on = closest_on_segment(from, s0, s1);
    const double e = dist(on, from);
    if (!first && !(e < best)) return;
    best = e;
    on_ab = from_ab ? from : on;
    on_cd = from_ab ? on : from;
  };
  consider(c, a, b, false, true);
  consider(d, a, b, false, false);
  consider(a, c, d, true, false);
  consider(b, c, d, true, false);
}

// A geometry's lines (paths of two or more vertices) and points, as GEOS's extracters give them.
struct Parts {
  const ShapeView& v;
  bool lines() const {
    return v.type == ShapeType::LineString || v.type == ShapeType::MultiLineString;
  }
  Pt at(std::size_t i) const { return {v.xy[2 * i], v.xy[2 * i + 1]}; }
};

// The search keeps the nearest pair of parts found so far and computes its points once, at the
// end: GEOS computes them for each nearer pair it meets, and keeps the last, which is the same.
struct Search {
  enum class Found { Nothing, Segments, SegmentPoint, Points };
  double best = std::numeric_limits<double>::infinity();
  double limit = std::numeric_limits<double>::infinity();  // see nearest_points()
  Found found = Found::Nothing;
  std::size_t i = 0, j = 0;  // vertex indexes of the parts found (segment starts, or points)
  bool flip = false;         // the segment is on the second geometry

  // Keeps the parts when `e` is strictly nearer than the best so far; true once they touch
  // (distance 0: nothing can be nearer, and GEOS stops there too).
  bool keep(double e, Found what, std::size_t a, std::size_t b, bool second = false) {
    if (e < best) {
      best = e;
      found = what;
      i = a;
      j = b;
      flip = second;
    }
    return best <= 0;
  }

  // Whether the parts with these boxes are certainly farther apart than both the best so far and
  // the limit: then they can neither be kept (keep() takes only a strictly nearer pair) nor
  // matter to a caller that asked for pairs within the limit. The slack (relative 1e-9, and a
  // micrometre) is far above the rounding of either figure, so a pair at the threshold is always
  // measured.
  bool beyond(double minx, double miny, double maxx, double maxy, double cminx, double cminy,
              double cmaxx, double cmaxy) const {
    const double threshold = std::min(best, limit);
    if (threshold == std::numeric_limits<double>::infinity()) return false;
    const double dx = std::max({0.0, cminx - maxx, minx - cmaxx});
    const double dy = std::max({0.0, cminy - maxy, miny - cmaxy});
    const double t = threshold * (1 + 1e-9) + 1e-6;
    return dx * dx + dy * dy > t * t;
  }
  bool segments_beyond(Pt a, Pt b, Pt c, Pt d) const {
    return beyond(std::min(a.x, b.x), std::min(a.y, b.y), std::max(a.x, b.x), std::max(a.y, b.y),
                  std::min(c.x, d.x), std::min(c.y, d.y), std::max(c.x, d.x), std::max(c.y, d.y));
  }
  bool segment_point_beyond(Pt a, Pt b, Pt p) const {
    return beyond(std::min(a.x, b.x), std::min(a.y, b.y), std::max(a.x, b.x), std::max(a.y, b.y),
                  p.x, p.y, p.x, p.y);
  }

  void lines_lines(const Parts& p, const Parts& q) {
    std::size_t i0 = 0;
    for (auto n0 : p.v.paths) {
      std::size_t j0 = 0;
      for (auto n1 : q.v.paths) {
        for (std::size_t a = i0; a + 1 < i0 + n0; ++a) {
          for (std::size_t b = j0; b + 1 < j0 + n1; ++b) {
            if (segments_beyond(p.at(a), p.at(a + 1), q.at(b), q.at(b + 1))) continue;
            if (keep(segment_to_segment(p.at(a), p.at(a + 1), q.at(b), q.at(b + 1)),
                     Found::Segments, a, b))
              return;
          }
        }
        j0 += n1;
      }
      i0 += n0;
    }
  }

  // The lines of `l` against the points of `pts`; `second` when `l` is the second geometry.
  void lines_points(const Parts& l, const Parts& pts, bool second) {
    std::size_t i0 = 0;
    for (auto n0 : l.v.paths) {
      for (std::size_t k = 0; k < pts.v.paths.size(); ++k) {
        const Pt pt = pts.at(k);
        for (std::size_t a = i0; a + 1 < i0 + n0; ++a) {
          if (segment_point_beyond(l.at(a), l.at(a + 1), pt)) continue;
          if (keep(point_to_segment(pt, l.at(a), l.at(a + 1)), Found::SegmentPoint, a, k, second))
            return;
        }
      }
      i0 += n0;
    }
  }

  void points_points(const Parts& p, const Parts& q) {
    for (std::size_t a = 0; a < p.v.paths.size(); ++a)
      for (std::size_t b = 0; b < q.v.paths.size(); ++b) {
        if (keep(dist(p.at(a), q.at(b)), Found::Points, a, b)) return;
      }
  }

  // The points of the pair found: on the first geometry, then on the second.
  void points(const Parts& p, const Parts& q, Pt& on_p, Pt& on_q) const {
    switch (found) {
      case Found::Segments:
        closest_points(p.at(i), p.at(i + 1), q.at(j), q.at(j + 1), on_p, on_q);
        return;
      case Found::SegmentPoint: {
        const Parts& l = flip ? q : p;
        const Parts& pts = flip ? p : q;
        const Pt pt = pts.at(j);
        const Pt on = closest_on_segment(pt, l.at(i), l.at(i + 1));
        on_p = flip ? pt : on;
        on_q = flip ? on : pt;
        return;
      }
      case Found::Points:
        on_p = p.at(i);
        on_q = q.at(j);
        return;
      case Found::Nothing:
        return;
    }
  }
};

}  // namespace

std::optional<NearestPoints> nearest_points(const ShapeView& a, const ShapeView& b, double limit) {
  if (!is_puntal_or_lineal(a.type) || !is_puntal_or_lineal(b.type) || a.xy.empty() || b.xy.empty())
    return std::nullopt;
  const Parts p{a}, q{b};
  Search s;
  s.limit = limit;
  if (p.lines() && q.lines()) s.lines_lines(p, q);
  if (p.lines() && !q.lines() && s.best > 0) s.lines_points(p, q, false);
  if (q.lines() && !p.lines() && s.best > 0) s.lines_points(q, p, true);
  if (!p.lines() && !q.lines() && s.best > 0) s.points_points(p, q);
  Pt on_a{}, on_b{};
  s.points(p, q, on_a, on_b);
  return NearestPoints{s.best, on_a.x, on_a.y, on_b.x, on_b.y};
}

namespace {

// A shape's lines and rings as one MultiLineString (a polygon's rings are its paths).
ShapeView as_lines(const ShapeView& v) {
  if (is_puntal_or_lineal(v.type)) return v;
  ShapeView lines = v;
  lines.type = ShapeType::MultiLineString;
  lines.polygons = {};
  return lines;
}

// Whether (x, y) is inside the polygons of `poly` by the even-odd rule over all their rings
// (shells and holes): exact for a point far from every ring.
bool inside(const ShapeView& poly, double x, double y) {
  bool in = false;
  std::size_t at = 0;
  for (auto n : poly.paths) {
    for (std::size_t i = at, j = at + n - 1; n > 0 && i < at + n; j = i++) {
      const double xi = poly.xy[2 * i], yi = poly.xy[2 * i + 1];
      const double xj = poly.xy[2 * j], yj = poly.xy[2 * j + 1];
      if ((yi > y) != (yj > y) && x < (xj - xi) * (y - yi) / (yj - yi) + xi) in = !in;
    }
    at += n;
  }
  return in;
}

// Whether the first vertex of any part (path) of `v` is inside the polygons of `poly`.
bool any_part_inside(const ShapeView& v, const ShapeView& poly) {
  std::size_t at = 0;
  for (auto n : v.paths) {
    if (n > 0 && inside(poly, v.xy[2 * at], v.xy[2 * at + 1])) return true;
    at += n;
  }
  return false;
}

}  // namespace

bool certainly_beyond(const ShapeView& a, const ShapeView& b, double limit) {
  constexpr double kMargin = 1e-6;  // far above the figure's rounding (~1e-9 m)
  const double margin = kMargin + std::fabs(limit) * 1e-9;
  auto near = nearest_points(as_lines(a), as_lines(b), limit + margin);
  if (!near || near->distance <= limit + margin) return false;
  // The lines and rings are apart: each part of one is wholly inside or wholly outside each
  // polygon of the other.
  if (!is_puntal_or_lineal(a.type) && any_part_inside(b, a)) return false;
  if (!is_puntal_or_lineal(b.type) && any_part_inside(a, b)) return false;
  return true;
}

}  // namespace digonce::geo
