#include "geo/shape.h"

#include <cstdio>
#include <cstring>

#include "base/varint.h"

namespace digonce::geo {

const char* shape_type_name(ShapeType t) {
  switch (t) {
    case ShapeType::Point:
      return "Point";
    case ShapeType::LineString:
      return "LineString";
    case ShapeType::Polygon:
      return "Polygon";
    case ShapeType::MultiPoint:
      return "MultiPoint";
    case ShapeType::MultiLineString:
      return "MultiLineString";
    case ShapeType::MultiPolygon:
      return "MultiPolygon";
  }
  return "?";
}

Shape make_point(double x, double y) {
  return Shape{ShapeType::Point, {x, y}, {1}, {}};
}

Shape make_line(const std::vector<double>& xy) {
  return Shape{ShapeType::LineString, xy, {static_cast<std::uint32_t>(xy.size() / 2)}, {}};
}

Shape make_polygon(const std::vector<std::vector<double>>& rings) {
  Shape s{ShapeType::Polygon, {}, {}, {static_cast<std::uint32_t>(rings.size())}};
  for (const auto& r : rings) {
    s.xy.insert(s.xy.end(), r.begin(), r.end());
    s.paths.push_back(static_cast<std::uint32_t>(r.size() / 2));
  }
  return s;
}

std::size_t PackedShape::head_words(const Header& h) {
  std::size_t count_bytes = (std::size_t{h.paths} + h.polygons) * sizeof(std::uint32_t);
  return (sizeof(Header) + count_bytes + sizeof(double) - 1) / sizeof(double);
}

PackedShape::PackedShape(const Shape& s) {
  Header h{s.type, static_cast<std::uint32_t>(s.paths.size()),
           static_cast<std::uint32_t>(s.polygons.size()), static_cast<std::uint32_t>(s.xy.size())};
  const std::size_t head = head_words(h);
  data_ = std::make_unique<double[]>(head + s.xy.size());
  auto* base = reinterpret_cast<char*>(data_.get());
  std::memcpy(base, &h, sizeof h);
  char* counts = base + sizeof h;
  if (!s.paths.empty()) std::memcpy(counts, s.paths.data(), s.paths.size() * 4);
  if (!s.polygons.empty())
    std::memcpy(counts + s.paths.size() * 4, s.polygons.data(), s.polygons.size() * 4);
  if (!s.xy.empty()) std::memcpy(data_.get() + head, s.xy.data(), s.xy.size() * sizeof(double));
}

std::size_t PackedShape::bytes() const {
  if (!data_) return 0;
  Header h;
  std::memcpy(&h, data_.get(), sizeof h);
  return (head_words(h) + h.doubles) * sizeof(double);
}

ShapeView PackedShape::view() const {
  if (!data_) return {};
  Header h;
  const auto* base = reinterpret_cast<const char*>(data_.get());
  std::memcpy(&h, base, sizeof h);
  const auto* counts = reinterpret_cast<const std::uint32_t*>(base + sizeof h);
  const std::size_t head = head_words(h);
  return ShapeView{
      h.type, {data_.get() + head, h.doubles}, {counts, h.paths}, {counts + h.paths, h.polygons}};
}

Shape PackedShape::unpack() const {
  auto v = view();
  return Shape{v.type,
               {v.xy.begin(), v.xy.end()},
               {v.paths.begin(), v.paths.end()},
               {v.polygons.begin(), v.polygons.end()}};
}

void encode_shape(const Shape& s, std::string& out) {
  out.push_back(static_cast<char>(s.type));
  put_varint(out, s.paths.size());
  for (auto n : s.paths) put_varint(out, n);
  put_varint(out, s.polygons.size());
  for (auto n : s.polygons) put_varint(out, n);
  put_varint(out, s.xy.size());
  for (double d : s.xy) put_double(out, d);
}

bool decode_shape(std::string_view in, std::size_t& at, Shape& out) {
  if (at >= in.size()) return false;
  auto t = static_cast<std::uint8_t>(in[at++]);
  if (t < 1 || t > 6) return false;
  out.type = static_cast<ShapeType>(t);
  std::uint64_t n = 0;
  auto read_counts = [&](std::vector<std::uint32_t>& v) {
    if (!get_varint(in, at, n) || n > in.size()) return false;
    v.resize(n);
    for (auto& c : v) {
      std::uint64_t c64 = 0;
      if (!get_varint(in, at, c64) || c64 > UINT32_MAX) return false;
      c = static_cast<std::uint32_t>(c64);
    }
    return true;
  };
  if (!read_counts(out.paths) || !read_counts(out.polygons)) return false;
  if (!get_varint(in, at, n) || n > (in.size() - at) / 8) return false;
  out.xy.resize(n);
  for (auto& d : out.xy)
    if (!get_double(in, at, d)) return false;
  std::uint64_t total = 0;
  for (auto c : out.paths) total += c;
  return total * 2 == out.xy.size();
}

namespace {

void append_coord(std::string& out, double x, double y, int precision) {
  char buf[80];
  std::snprintf(buf, sizeof buf, "%.*g %.*g", precision, x, precision, y);
  out += buf;
}

void append_path(std::string& out, const Shape& s, std::size_t& vertex, std::uint32_t count,
                 int precision) {
  out += '(';
  for (std::uint32_t i = 0; i < count; ++i, ++vertex) {
    if (i) out += ", ";
    append_coord(out, s.xy[2 * vertex], s.xy[2 * vertex + 1], precision);
  }
  out += ')';
}

}  // namespace

std::string to_wkt(const Shape& s, int precision) {
  std::string out;
  std::size_t vertex = 0;
  std::size_t path = 0;
  switch (s.type) {
    case ShapeType::Point:
      out = "POINT (";
      append_coord(out, s.xy[0], s.xy[1], precision);
      out += ')';
      break;
    case ShapeType::LineString:
      out = "LINESTRING ";
      append_path(out, s, vertex, s.paths[0], precision);
      break;
    case ShapeType::MultiPoint:
    case ShapeType::MultiLineString:
      out = s.type == ShapeType::MultiPoint ? "MULTIPOINT (" : "MULTILINESTRING (";
      for (std::size_t i = 0; i < s.paths.size(); ++i) {
        if (i) out += ", ";
        append_path(out, s, vertex, s.paths[i], precision);
      }
      out += ')';
      break;
    case ShapeType::Polygon:
    case ShapeType::MultiPolygon: {
      bool multi = s.type == ShapeType::MultiPolygon;
      out = multi ? "MULTIPOLYGON (" : "POLYGON ";
      for (std::size_t p = 0; p < s.polygons.size(); ++p) {
        if (p) out += ", ";
        out += '(';
        for (std::uint32_t r = 0; r < s.polygons[p]; ++r, ++path) {
          if (r) out += ", ";
          append_path(out, s, vertex, s.paths[path], precision);
        }
        out += ')';
      }
      if (multi) out += ')';
      break;
    }
  }
  return out;
}

}  // namespace digonce::geo
