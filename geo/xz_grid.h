// XZ-ordering of extended objects over a square of the metric CRS.
//
// Follows C. Böhm, G. Klump, H.-P. Kriegel, "XZ-Ordering: A Space-Filling Curve for Objects with
// Spatial Extension", SSD 1999 (as used by GeoMesa's XZ2 index): the square is cut into a quadtree
// of levels; level l has 2^l x 2^l cells of side s_l. An object is stored once, in the *enlarged
// element* of the finest level whose 2x2 block of cells, starting at the cell of the object's
// lower-left corner, holds its whole envelope. A 3 m point lands in a fine element and a 5 km
// polygon in a coarse one, each under one key, so nothing is duplicated and nothing is too big.
//
// Here the fit test is done on cell indices (the cell of max x is at most one right of the cell
// of min x), not on coordinates, so that the query below is exact in floating point: an element
// (l, i, j) can hold an object meeting the window W only if
//   cell_l(W.minx) - 1 <= i <= cell_l(W.maxx)   (and the same for j),
// because cell_l() is monotone. Levels finer than `max_level` are not used: objects smaller than a
// finest cell share it, which keeps the number of cells a query visits small.
#pragma once

#include <array>
#include <cmath>
#include <cstdint>

#include "geo/shape.h"

namespace digonce::geo {

class XzGrid {
 public:
  /// The square [x0, x0 + extent) x [y0, y0 + extent); extent / 2^max_level is the finest cell.
  XzGrid(double x0, double y0, double extent, int max_level)
      : x0_(x0), y0_(y0), extent_(extent), max_level_(max_level) {}

  /// A square of 2^26 m (67,108 km) centred on the origin, finest cell `finest_m` (rounded to a
  /// power of two): it holds any projected CRS's coordinates (EPSG:3857 reaches 20,037 km).
  static XzGrid for_metric_crs(double finest_m = 128.0) {
    constexpr double kExtent = 67108864.0;  // 2^26
    int levels = static_cast<int>(std::lround(std::log2(kExtent / finest_m)));
    return XzGrid(-kExtent / 2, -kExtent / 2, kExtent, levels);
  }

  int max_level() const { return max_level_; }
  double cell_size(int level) const { return std::ldexp(extent_, -level); }

  /// Index of the cell holding x (or y) at a level, clamped to the grid.
  std::int64_t cell_x(double x, int level) const { return cell(x - x0_, level); }
  std::int64_t cell_y(double y, int level) const { return cell(y - y0_, level); }

  /// The element (level, i, j) of an object with this envelope, packed as a key.
  std::uint64_t element(const Envelope& e) const {
    int level = max_level_;
    while (level > 0 && (cell_x(e.maxx, level) - cell_x(e.minx, level) > 1 ||
                         cell_y(e.maxy, level) - cell_y(e.miny, level) > 1))
      --level;
    return pack(level, cell_x(e.minx, level), cell_y(e.miny, level));
  }

  /// Calls f(key) for every element of `level` that may hold an object meeting the window.
  template <class F>
  void for_each_element(const Envelope& window, int level, F&& f) const {
    std::int64_t i0 = cell_x(window.minx, level) - 1, i1 = cell_x(window.maxx, level);
    std::int64_t j0 = cell_y(window.miny, level) - 1, j1 = cell_y(window.maxy, level);
    if (i0 < 0) i0 = 0;
    if (j0 < 0) j0 = 0;
    for (std::int64_t i = i0; i <= i1; ++i)
      for (std::int64_t j = j0; j <= j1; ++j) f(pack(level, i, j));
  }

  /// The lower-left corner of element `key` and the side of its cells (the element is the 2x2
  /// block of cells from that corner). Exact: multiples of a power of two below 2^53.
  struct Corner {
    double x, y, side;
  };
  Corner corner(std::uint64_t key) const {
    constexpr std::uint64_t kIndexMask = (std::uint64_t{1} << 29) - 1;
    const double side = extent_ / pow2(level_of(key));
    return Corner{x0_ + static_cast<double>((key >> 29) & kIndexMask) * side,
                  y0_ + static_cast<double>(key & kIndexMask) * side, side};
  }

  static int level_of(std::uint64_t key) { return static_cast<int>(key >> 58); }
  static std::uint64_t pack(int level, std::int64_t i, std::int64_t j) {
    // clang-tidy 14's analyzer calls 0 << 58 undefined on uint64_t (it is not).
    // NOLINTNEXTLINE(clang-analyzer-core.UndefinedBinaryOperatorResult)
    return (static_cast<std::uint64_t>(level) << 58) | (static_cast<std::uint64_t>(i) << 29) |
           static_cast<std::uint64_t>(j);
  }

 private:
  // 2^level, from a table: std::ldexp is a libm call (scalbn), and a query asks for four cells
  // a level. Multiplying by a power of two is exact, so the cells are those ldexp gives.
  static double pow2(int level) {
    static constexpr auto kPow2 = [] {
      std::array<double, 64> t{};
      double v = 1;
      for (double& x : t) {
        x = v;
        v *= 2;
      }
      return t;
    }();
    return kPow2[static_cast<std::size_t>(level)];
  }

  std::int64_t cell(double offset, int level) const {
    const double n = pow2(level);
    double c = std::floor(offset / extent_ * n);
    if (!(c >= 0)) return 0;  // also NaN
    return static_cast<std::int64_t>(c >= n ? n - 1 : c);
  }

  double x0_, y0_, extent_;
  int max_level_;
};

}  // namespace digonce::geo
