// geo::nearest_points against GEOS (GEOSDistance, GEOSNearestPoints) on random points, lines and
// their multi forms, with the awkward cases made common: a coarse grid of coordinates so that
// segments touch, cross at vertices, overlap collinearly and repeat vertices.
#include <doctest/doctest.h>

#include <cmath>
#include <random>

#include "geo/geos.h"
#include "geo/nearest.h"

using namespace digonce::geo;

namespace {

Shape random_shape(std::mt19937_64& rng, double grid) {
  std::uniform_int_distribution<int> type(0, 3), count(1, 5), paths(1, 3);
  std::uniform_real_distribution<double> coord(0, 40);
  auto c = [&](double base) {
    double v = coord(rng);
    if (grid > 0) v = std::round(v / grid) * grid;
    return base + v;
  };
  Shape s;
  const int t = type(rng);
  const int n = t >= 2 ? paths(rng) : 1;
  s.type = t == 0   ? ShapeType::Point
           : t == 1 ? ShapeType::MultiPoint
           : t == 2 ? ShapeType::LineString
                    : ShapeType::MultiLineString;
  if (s.type == ShapeType::LineString) {
    const int v = count(rng) + 1;
    for (int i = 0; i < v; ++i) s.xy.insert(s.xy.end(), {c(530000), c(180000)});
    s.paths = {static_cast<std::uint32_t>(v)};
  } else if (s.type == ShapeType::MultiLineString) {
    for (int p = 0; p < n; ++p) {
      const int v = count(rng) + 1;
      for (int i = 0; i < v; ++i) s.xy.insert(s.xy.end(), {c(530000), c(180000)});
      s.paths.push_back(static_cast<std::uint32_t>(v));
    }
  } else {
    const int v = s.type == ShapeType::Point ? 1 : count(rng);
    for (int i = 0; i < v; ++i) {
      s.xy.insert(s.xy.end(), {c(530000), c(180000)});
      s.paths.push_back(1);
    }
  }
  return s;
}

}  // namespace

TEST_CASE("nearest_points: GEOS's distance and nearest points for points and lines") {
  Geos geos;
  std::mt19937_64 rng(20261130);
  int cases = 0, zero = 0, same_points = 0;
  double worst = 0;
  for (double grid : {0.0, 5.0, 10.0}) {
    for (int i = 0; i < 20000; ++i) {
      const Shape a = random_shape(rng, grid), b = random_shape(rng, grid);
      auto mine = nearest_points(a.view(), b.view());
      REQUIRE(mine.has_value());
      auto ga = geos.to_geos(a.view()), gb = geos.to_geos(b.view());
      REQUIRE(ga.ok());
      REQUIRE(gb.ok());
      auto d = geos.distance(ga->get(), gb->get());
      auto np = geos.nearest_points(ga->get(), gb->get());
      REQUIRE(d.ok());
      REQUIRE(np.ok());
      ++cases;
      // The figure: GEOSDistance's, bar rounding.
      worst = std::max(worst, std::fabs(mine->distance - *d));
      REQUIRE_MESSAGE(std::fabs(mine->distance - *d) <= 1e-9,
                      "case " << cases << ": " << mine->distance << " vs GEOS " << *d);
      if (*d == 0) ++zero;
      // The points attain the distance ...
      CHECK(std::hypot(mine->ax - mine->bx, mine->ay - mine->by) ==
            doctest::Approx(mine->distance).epsilon(1e-9));
      // ... and are GEOS's (a tie between pairs is broken by the same order of search).
      const auto& p = *np;
      const bool same = std::hypot(mine->ax - p[0], mine->ay - p[1]) <= 1e-6 &&
                        std::hypot(mine->bx - p[2], mine->by - p[3]) <= 1e-6;
      if (same) ++same_points;
      CHECK_MESSAGE(same, "case " << cases << ": (" << mine->ax << " " << mine->ay << ", "
                                  << mine->bx << " " << mine->by << ") vs GEOS (" << p[0] << " "
                                  << p[1] << ", " << p[2] << " " << p[3] << ")");
    }
  }
  MESSAGE(cases << " pairs, " << zero << " touching; largest difference " << worst << " m; "
                << same_points << " with GEOS's points");
  CHECK(zero > 1000);  // the grids make touching and overlapping pairs common
}

TEST_CASE("nearest_points: polygons are left to GEOS") {
  auto poly = make_polygon({{0, 0, 10, 0, 10, 10, 0, 0}});
  auto pt = make_point(20, 20);
  CHECK_FALSE(nearest_points(poly.view(), pt.view()).has_value());
  CHECK_FALSE(nearest_points(pt.view(), poly.view()).has_value());
  CHECK(nearest_points(pt.view(), make_point(23, 24).view())->distance == 5);
}

TEST_CASE(
    "nearest_points with a limit: the same result at or under it, a figure above it over it") {
  // The random shapes of the case above span 40 m; limits around the distances they give, and
  // the exact figure of each pair as a limit (the pair then sits at the limit).
  std::mt19937_64 rng(20261201);
  int within = 0, beyond = 0, pruned = 0;
  for (double grid : {0.0, 5.0}) {
    for (int i = 0; i < 20000; ++i) {
      Shape a = random_shape(rng, grid), b = random_shape(rng, grid);
      // Move b away at times, so that many pairs are farther apart than the limits.
      const double shift = static_cast<double>(i % 4) * 15.0;
      for (std::size_t k = 0; k < b.xy.size(); k += 2) b.xy[k] += shift;
      const auto full = nearest_points(a.view(), b.view());
      REQUIRE(full.has_value());
      for (double limit : {0.0, 1.0, 5.0, 12.5, 25.0, full->distance}) {
        const auto cut = nearest_points(a.view(), b.view(), limit);
        REQUIRE(cut.has_value());
        if (full->distance <= limit) {
          ++within;
          // Bit for bit the figure and points found without the limit.
          REQUIRE(cut->distance == full->distance);
          CHECK(cut->ax == full->ax);
          CHECK(cut->ay == full->ay);
          CHECK(cut->bx == full->bx);
          CHECK(cut->by == full->by);
        } else {
          ++beyond;
          REQUIRE(cut->distance > limit);
          CHECK(cut->distance >= full->distance);
          if (cut->distance > full->distance) ++pruned;
        }
      }
    }
  }
  MESSAGE(within << " results within the limit, " << beyond << " beyond it (" << pruned
                 << " of them with parts left unmeasured)");
  CHECK(within > 10000);
  CHECK(beyond > 10000);
  CHECK(pruned > 1000);  // the limit does leave parts out
}

TEST_CASE("certainly_beyond: never says so of a pair GEOS puts within the limit") {
  // Rotated rectangles (some with a hole, some as two polygons) against points, lines and other
  // rectangles, placed so that many pairs straddle the limit and some sit inside each other.
  Geos geos;
  std::mt19937_64 rng(20261202);
  std::uniform_real_distribution<double> pos(0, 120), ang(0, 3.14159265358979), size(2, 40);
  auto ring = [](double cx, double cy, double w, double h, double a) {
    std::vector<double> r;
    const double c = std::cos(a), s = std::sin(a);
    for (auto [u, v] : {std::pair{-1.0, -1.0}, {1.0, -1.0}, {1.0, 1.0}, {-1.0, 1.0}, {-1.0, -1.0}})
      r.insert(r.end(), {530000 + cx + c * u * w / 2 - s * v * h / 2,
                         180000 + cy + s * u * w / 2 + c * v * h / 2});
    return r;
  };
  auto rectangle = [&]() {
    const double cx = pos(rng), cy = pos(rng), w = size(rng), h = size(rng), a = ang(rng);
    const int form = static_cast<int>(rng() % 3);
    if (form == 1) return make_polygon({ring(cx, cy, w, h, a), ring(cx, cy, w / 3, h / 3, a)});
    Shape s = make_polygon({ring(cx, cy, w, h, a)});
    if (form == 2) {  // a second, disjoint polygon: a MultiPolygon
      const auto far = ring(cx + 60, cy, w / 2, h / 2, a);
      s.type = ShapeType::MultiPolygon;
      s.xy.insert(s.xy.end(), far.begin(), far.end());
      s.paths.push_back(5);
      s.polygons = {1, 1};
    }
    return s;
  };
  int beyond = 0, within = 0, inside_cases = 0;
  for (int i = 0; i < 20000; ++i) {
    const Shape a = rectangle();
    Shape b;
    switch (i % 3) {
      case 0:
        b = make_point(530000 + pos(rng), 180000 + pos(rng));
        break;
      case 1: {
        const double x = pos(rng), y = pos(rng);
        b = make_line({530000 + x, 180000 + y, 530000 + x + size(rng), 180000 + y + size(rng),
                       530000 + x + size(rng), 180000 + y - size(rng)});
        break;
      }
      default:
        b = rectangle();
    }
    auto ga = geos.to_geos(a.view()), gb = geos.to_geos(b.view());
    REQUIRE(ga.ok());
    REQUIRE(gb.ok());
    const double d = *geos.distance(ga->get(), gb->get());
    for (double limit : {0.0, 5.0, 25.0}) {
      const bool says = certainly_beyond(a.view(), b.view(), limit);
      CHECK(says == certainly_beyond(b.view(), a.view(), limit));
      if (says) {
        ++beyond;
        REQUIRE_MESSAGE(d > limit, "case " << i << ": said beyond " << limit << ", GEOS " << d);
      } else if (d > limit + 1e-3) {
        ++within;  // a false "perhaps": allowed only when a part is inside the other
      }
      if (d == 0 && !says) ++inside_cases;
    }
  }
  MESSAGE(beyond << " pairs beyond their limit, " << within << " far ones measured anyway, "
                 << inside_cases << " touching or inside");
  CHECK(beyond > 10000);
  CHECK(within == 0);  // for these shapes the rings decide every pair beyond the limit
  CHECK(inside_cases > 1000);
}
