// GeoJSON geometry objects (RFC 7946 section 3.1) into Shapes.
#include <cmath>
#include <string>

#include "geo/parse_internal.h"

namespace digonce::geo::detail {
namespace {

using json::array;
using json::element;

// The indices leading to the array being read, for error paths: "coordinates[1][0][4]". Built
// into a string only when there is an error.
struct Where {
  std::size_t index[4] = {};
  int depth = 0;

  Where at(std::size_t i) const {
    Where w = *this;
    w.index[w.depth++] = i;
    return w;
  }
  std::string path() const {
    std::string p = "coordinates";
    for (int d = 0; d < depth; ++d) p += "[" + std::to_string(index[d]) + "]";
    return p;
  }
  Error error(std::string message) const { return Error{path(), std::move(message)}; }
};

class GeometryReader {
 public:
  Shape shape;

  Result<array> as_array(const element& e, const Where& w, const char* of) const {
    array a;
    if (e.get_array().get(a) != simdjson::SUCCESS)
      return w.error(std::string("must be an array of ") + of + ", not " + json::type_name(e));
    return a;
  }

  Status position(const element& e, const Where& w) {
    array a;
    if (e.get_array().get(a) != simdjson::SUCCESS) {
      return w.error(std::string("must be a position (an array of 2 or 3 numbers), not ") +
                     json::type_name(e));
    }
    double v[3] = {};
    std::size_t n = 0;
    for (element x : a) {
      if (n == 3) break;
      if (x.get_double().get(v[n]) != simdjson::SUCCESS)
        return w.at(n).error(std::string("must be a number, not ") + json::type_name(x));
      if (!std::isfinite(v[n])) return w.at(n).error("must be a finite number");
      ++n;
    }
    std::size_t count = n == 3 ? a.size() : n;  // a.size() only when there may be more than 3
    if (count < 2 || count > 3) {
      return w.error("a position has 2 or 3 numbers (x, y and an optional altitude), not " +
                     std::to_string(count));
    }
    shape.xy.push_back(v[0]);
    shape.xy.push_back(v[1]);  // an altitude is dropped: detection is in the plane
    return {};
  }

  // An array of positions; returns how many.
  Result<std::size_t> positions(const element& e, const Where& w) {
    auto a = as_array(e, w, "positions");
    if (!a) return std::move(a).error();
    std::size_t i = 0;
    for (element p : *a) {
      DIGONCE_TRY(position(p, w.at(i)));
      ++i;
    }
    return i;
  }

  Status line(const element& e, const Where& w) {
    auto n = positions(e, w);
    if (!n) return std::move(n).error();
    if (auto why = check_line(*n)) return w.error(*why);
    shape.paths.push_back(static_cast<std::uint32_t>(*n));
    return {};
  }

  Status ring(const element& e, const Where& w) {
    std::size_t first = shape.xy.size();
    auto n = positions(e, w);
    if (!n) return std::move(n).error();
    if (auto why = check_ring(shape.xy.data() + first, *n)) return w.error(*why);
    shape.paths.push_back(static_cast<std::uint32_t>(*n));
    return {};
  }

  Status polygon(const element& e, const Where& w) {
    auto a = as_array(e, w, "linear rings");
    if (!a) return std::move(a).error();
    std::size_t rings = 0;
    for (element r : *a) {
      DIGONCE_TRY(ring(r, w.at(rings)));
      ++rings;
    }
    if (rings == 0) return w.error("a Polygon needs at least one ring (its exterior)");
    shape.polygons.push_back(static_cast<std::uint32_t>(rings));
    return {};
  }

  // The parts of a Multi* geometry, each read by `part`.
  template <class Part>
  Status parts(const element& e, const char* of, Part part) {
    Where w;
    auto a = as_array(e, w, of);
    if (!a) return std::move(a).error();
    std::size_t i = 0;
    for (element p : *a) {
      DIGONCE_TRY(part(p, w.at(i)));
      ++i;
    }
    if (i == 0) return w.error("must not be empty");
    return {};
  }
};

struct TypeName {
  std::string_view name;
  ShapeType type;
};
constexpr TypeName kTypes[] = {
    {"Point", ShapeType::Point},
    {"LineString", ShapeType::LineString},
    {"Polygon", ShapeType::Polygon},
    {"MultiPoint", ShapeType::MultiPoint},
    {"MultiLineString", ShapeType::MultiLineString},
    {"MultiPolygon", ShapeType::MultiPolygon},
};

}  // namespace

Result<Shape> parse_geojson_geometry(const element& geometry, const ParseLimits& limits) {
  json::object o;
  if (geometry.get_object().get(o) != simdjson::SUCCESS)
    return json::wrong_type("", "a GeoJSON geometry object", geometry);
  json::Fields f(o, limits);
  auto type_name = f.required_string("type");
  if (!type_name) return std::move(type_name).error();
  const TypeName* type = nullptr;
  for (const auto& t : kTypes)
    if (t.name == *type_name) type = &t;
  if (!type) {
    std::string shown(type_name->substr(0, 40));
    if (*type_name == "GeometryCollection") {
      return Error{"type",
                   "GeometryCollection is not supported: use a MultiPoint, MultiLineString or "
                   "MultiPolygon, or one work per geometry"};
    }
    return Error{"type", "unsupported geometry type \"" + shown +
                             "\": expected Point, LineString, Polygon, MultiPoint, "
                             "MultiLineString or MultiPolygon"};
  }
  auto coordinates = f.get("coordinates");
  if (!coordinates) return Error{"coordinates", "is required"};

  GeometryReader r;
  r.shape.type = type->type;
  Status st;
  switch (type->type) {
    case ShapeType::Point:
      st = r.position(*coordinates, Where{});
      r.shape.paths.push_back(1);
      break;
    case ShapeType::LineString:
      st = r.line(*coordinates, Where{});
      break;
    case ShapeType::Polygon:
      st = r.polygon(*coordinates, Where{});
      break;
    case ShapeType::MultiPoint:
      st = r.parts(*coordinates, "positions", [&](const element& p, const Where& w) -> Status {
        DIGONCE_TRY(r.position(p, w));
        r.shape.paths.push_back(1);
        return {};
      });
      break;
    case ShapeType::MultiLineString:
      st = r.parts(*coordinates, "LineString coordinates",
                   [&](const element& p, const Where& w) { return r.line(p, w); });
      break;
    case ShapeType::MultiPolygon:
      st = r.parts(*coordinates, "Polygon coordinates",
                   [&](const element& p, const Where& w) { return r.polygon(p, w); });
      break;
  }
  if (!st) return st.error();
  if (auto why = check_vertex_count(r.shape.vertex_count(), limits))
    return Error{"coordinates", *why};
  return std::move(r.shape);
}

}  // namespace digonce::geo::detail
