// Random works for the randomized detection tests: points, lines (some crossing many cells),
// polygons (some large), multi-geometries, restrictions, and pairs placed exactly at the distance
// and gap limits.
#pragma once

#include <cmath>
#include <random>
#include <string>
#include <vector>

#include "detection_fixtures.h"

namespace digonce::testing {

class RandomWorks {
 public:
  RandomWorks(std::uint64_t seed, double extent_m) : rng_(seed), extent_(extent_m) {}

  geo::WorkEvent next(const std::string& ref) {
    double x = uniform(0, extent_), y = uniform(0, extent_);
    geo::Shape shape;
    double u = uniform(0, 1);
    if (u < 0.50) {
      shape = geo::make_point(round(x), round(y));
    } else if (u < 0.80) {
      bool long_line = uniform(0, 1) < 0.05;
      shape = line(x, y, long_line ? 400.0 : 40.0, long_line ? 10 : 5);
    } else if (u < 0.92) {
      bool large = uniform(0, 1) < 0.01;
      double w = large ? uniform(300, 1500) : uniform(5, 150),
             h = large ? uniform(300, 1500) : uniform(5, 150);
      shape = geo::make_polygon({{round(x), round(y), round(x + w), round(y), round(x + w),
                                  round(y + h), round(x), round(y + h), round(x), round(y)}});
    } else if (u < 0.96) {
      shape = geo::Shape{geo::ShapeType::MultiPoint,
                         {round(x), round(y), round(x + uniform(-80, 80)), round(y + 30)},
                         {1, 1},
                         {}};
    } else {
      auto a = line(x, y, 30, 3), b = line(x + 60, y + 10, 30, 3);
      shape.type = geo::ShapeType::MultiLineString;
      shape.xy = a.xy;
      shape.xy.insert(shape.xy.end(), b.xy.begin(), b.xy.end());
      shape.paths = {a.paths[0], b.paths[0]};
    }
    geo::Micros start = day(20000) +
                        static_cast<geo::Micros>(uniform(0, 365)) * geo::kMicrosPerDay +
                        static_cast<geo::Micros>(uniform(0, 86400)) * geo::kMicrosPerSecond;
    geo::Micros dur =
        static_cast<geo::Micros>(std::exp(uniform(std::log(3600.0), std::log(120 * 86400.0)))) *
        geo::kMicrosPerSecond;
    double c = uniform(0, 1);
    auto category = c < 0.05  ? geo::Category::ImmediateUrgent
                    : c < 0.2 ? geo::Category::Minor
                              : geo::Category::Standard;
    auto kind = uniform(0, 1) < 0.04 ? geo::WorkKind::Restriction : geo::WorkKind::Work;
    return work(ref, std::move(shape), start, start + dur, category, kind);
  }

  /// A work exactly at (or, with over = true, just beyond) the distance or the gap limit of `w`.
  geo::WorkEvent at_limit(const std::string& ref, const geo::WorkEvent& w, double distance_m,
                          geo::Micros window, bool over) {
    geo::WorkEvent e = w;
    e.work_ref = ref;
    e.kind = geo::WorkKind::Work;
    e.category = geo::Category::Standard;
    auto env = w.geometry.envelope();
    if (uniform(0, 1) < 0.5) {
      // Distance: a point straight right of the rightmost x of the envelope of a point work.
      double off = over ? std::nextafter(distance_m, 1e9) : distance_m;
      e.geometry = geo::make_point(env.maxx + off, env.maxy);
      if (w.geometry.type != geo::ShapeType::Point)
        e.geometry = geo::make_point(env.maxx + 5000, 0);
    } else {
      // Gap: starts exactly `window` (or a microsecond more) after w ends, same place.
      e.start = w.end + window + (over ? 1 : 0);
      e.end = e.start + geo::kMicrosPerDay;
    }
    return e;
  }

  double uniform(double a, double b) { return std::uniform_real_distribution<double>(a, b)(rng_); }
  std::size_t pick(std::size_t n) {
    return std::uniform_int_distribution<std::size_t>(0, n - 1)(rng_);
  }

 private:
  static double round(double v) { return std::round(v * 100) / 100; }
  geo::Shape line(double x, double y, double seg, int max_vertices) {
    int n = 2 + static_cast<int>(pick(static_cast<std::size_t>(max_vertices - 1)));
    std::vector<double> xy{round(x), round(y)};
    double heading = uniform(0, 2 * M_PI);
    for (int i = 1; i < n; ++i) {
      heading += uniform(-0.8, 0.8);
      x += std::cos(heading) * uniform(seg / 4, seg);
      y += std::sin(heading) * uniform(seg / 4, seg);
      xy.push_back(round(x));
      xy.push_back(round(y));
    }
    return geo::make_line(xy);
  }

  std::mt19937_64 rng_;
  double extent_;
};

}  // namespace digonce::testing
