// Geometry as flat arrays: compact to keep in memory, cheap to hand to GEOS.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>
#include <memory>
#include <span>
#include <string>
#include <vector>

namespace digonce::geo {

enum class ShapeType : std::uint8_t {
  Point = 1,
  LineString = 2,
  Polygon = 3,
  MultiPoint = 4,
  MultiLineString = 5,
  MultiPolygon = 6,
};

/// The GeoJSON / WKT name of the type ("Point", "MultiPolygon", ...).
const char* shape_type_name(ShapeType t);

/// An axis-aligned box; empty when minx > maxx.
struct Envelope {
  double minx = std::numeric_limits<double>::infinity();
  double miny = std::numeric_limits<double>::infinity();
  double maxx = -std::numeric_limits<double>::infinity();
  double maxy = -std::numeric_limits<double>::infinity();

  bool empty() const { return minx > maxx; }
  void add(double x, double y) {
    minx = std::min(minx, x);
    miny = std::min(miny, y);
    maxx = std::max(maxx, x);
    maxy = std::max(maxy, y);
  }
  Envelope expanded(double d) const { return {minx - d, miny - d, maxx + d, maxy + d}; }
  bool intersects(const Envelope& o) const {
    return minx <= o.maxx && o.minx <= maxx && miny <= o.maxy && o.miny <= maxy;
  }
  /// Euclidean distance between the boxes (0 when they touch or overlap): a lower bound of the
  /// distance between anything inside them.
  double distance(const Envelope& o) const {
    double dx = std::max({0.0, o.minx - maxx, minx - o.maxx});
    double dy = std::max({0.0, o.miny - maxy, miny - o.maxy});
    return std::sqrt(dx * dx + dy * dy);
  }
  double width() const { return maxx - minx; }
  double height() const { return maxy - miny; }
};

/// A read-only view of a geometry's arrays (of a Shape, or of a PackedShape held in an index).
struct ShapeView {
  ShapeType type = ShapeType::Point;
  std::span<const double> xy;
  std::span<const std::uint32_t> paths;
  std::span<const std::uint32_t> polygons;
};

/// A geometry of one of the six GeoJSON types.
///   xy:       every vertex, x then y, in order
///   paths:    vertex count of each path: each point of a (Multi)Point, each (Multi)LineString's
///             line, each ring of a (Multi)Polygon (shell first, then holes)
///   polygons: ring count of each polygon of a (Multi)Polygon; empty otherwise
struct Shape {
  ShapeType type = ShapeType::Point;
  std::vector<double> xy;
  std::vector<std::uint32_t> paths;
  std::vector<std::uint32_t> polygons;

  std::size_t vertex_count() const { return xy.size() / 2; }
  bool empty() const { return xy.empty(); }
  Envelope envelope() const {
    Envelope e;
    for (std::size_t i = 0; i + 1 < xy.size(); i += 2) e.add(xy[i], xy[i + 1]);
    return e;
  }
  ShapeView view() const { return {type, xy, paths, polygons}; }
  bool operator==(const Shape&) const = default;
};

/// A Shape in one heap block (counts, then the coordinates), for geometries kept in memory by
/// the index: a 4-vertex line takes 88 bytes here against about 170 as a Shape.
class PackedShape {
 public:
  PackedShape() = default;
  explicit PackedShape(const Shape& s);
  PackedShape(PackedShape&&) noexcept = default;
  PackedShape& operator=(PackedShape&&) noexcept = default;

  bool empty() const { return !data_; }
  ShapeView view() const;
  Shape unpack() const;
  /// Heap bytes held.
  std::size_t bytes() const;
  /// Asks the processor to fetch the start of the shape (its header and first coordinates).
  void prefetch() const { __builtin_prefetch(data_.get()); }

 private:
  struct Header {
    ShapeType type;
    std::uint32_t paths;
    std::uint32_t polygons;
    std::uint32_t doubles;
  };
  /// Doubles before the coordinates (the header and counts, rounded up).
  static std::size_t head_words(const Header& h);

  std::unique_ptr<double[]> data_;  // Header, counts, then doubles; double-aligned
};

/// Builders for the common cases (tests, benchmarks).
Shape make_point(double x, double y);
Shape make_line(const std::vector<double>& xy);
Shape make_polygon(const std::vector<std::vector<double>>& rings);

/// Compact binary form (for the works column family and the tiled topic):
/// type, counts as varints, coordinates as raw little-endian doubles.
void encode_shape(const Shape& s, std::string& out);
/// Decodes what encode_shape wrote, starting at `at` (advanced past it); false when malformed.
bool decode_shape(std::string_view in, std::size_t& at, Shape& out);

/// Well-known text of the shape, coordinates with up to `precision` significant digits.
std::string to_wkt(const Shape& s, int precision = 15);

}  // namespace digonce::geo
