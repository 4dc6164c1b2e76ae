// Well-known text (OGC 06-103r4, section 7) for the six GeoJSON types, by hand: one pass, no
// allocation beyond the Shape, bounded work per input byte (it is fuzzed: tests/fuzz/fuzz_wkt.cc).
//
// Accepted beyond the plain 2D grammar, because real feeds write them: any letter case; Z, M and ZM
// tags, spaced or not ("POINT Z (1 2 3)", "POINTZ(1 2 3)"), their extra ordinates dropped; untagged
// 3D and 4D positions ("POINT (1 2 3)", as PostGIS writes), consistently within one geometry;
// MULTIPOINT with and without parentheses around each point; an EWKT "SRID=n;" prefix.
#include <charconv>
#include <cmath>

#include "geo/parse_internal.h"

namespace digonce::geo {
namespace {

char upper(char c) {
  return c >= 'a' && c <= 'z' ? static_cast<char>(c - 'a' + 'A') : c;
}
bool is_letter(char c) {
  return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z');
}
bool is_space(char c) {
  return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

struct TypeName {
  std::string_view name;
  ShapeType type;
};
constexpr TypeName kTypes[] = {
    {"POINT", ShapeType::Point},
    {"LINESTRING", ShapeType::LineString},
    {"POLYGON", ShapeType::Polygon},
    {"MULTIPOINT", ShapeType::MultiPoint},
    {"MULTILINESTRING", ShapeType::MultiLineString},
    {"MULTIPOLYGON", ShapeType::MultiPolygon},
};

class WktParser {
 public:
  WktParser(std::string_view text, const ParseLimits& limits) : s_(text), limits_(limits) {}

  Result<WktGeometry> run() {
    WktGeometry out;
    skip_ws();
    if (done()) return fail("the text is empty: expected a geometry type");
    if (s_.size() - at_ >= 5 && upper_word(s_.substr(at_, 5)) == "SRID=") {
      at_ += 5;
      DIGONCE_PARSE_ASSIGN(srid, srid_prefix());
      if (srid != 0) out.srid = srid;
      skip_ws();
    }
    DIGONCE_TRY(geometry_type());
    DIGONCE_TRY(body());
    skip_ws();
    if (!done()) return fail("unexpected text after the geometry");
    if (auto why = detail::check_vertex_count(shape_.vertex_count(), limits_)) return error(*why);
    out.shape = std::move(shape_);
    return out;
  }

 private:
  Error fail(std::string_view message) const { return fail_at(at_, message); }
  Error fail_at(std::size_t at, std::string_view message) const {
    std::string m = "bad WKT at offset " + std::to_string(at) + ": " + std::string(message);
    if (at < s_.size()) {
      std::string_view near = s_.substr(at, 20);
      m += " (near \"";
      for (char c : near) m += static_cast<unsigned char>(c) < 0x20 ? ' ' : c;
      m += at + 20 < s_.size() ? "...\")" : "\")";
    } else {
      m += " (at the end of the text)";
    }
    return error(std::move(m));
  }
  static std::string upper_word(std::string_view w) {
    std::string u(w);
    for (char& c : u) c = upper(c);
    return u;
  }
  bool done() const { return at_ >= s_.size(); }
  char peek() const { return at_ < s_.size() ? s_[at_] : '\0'; }
  void skip_ws() {
    while (at_ < s_.size() && is_space(s_[at_])) ++at_;
  }
  std::string_view word() {
    std::size_t begin = at_;
    while (at_ < s_.size() && is_letter(s_[at_])) ++at_;
    return s_.substr(begin, at_ - begin);
  }
  Status expect(char c) {
    skip_ws();
    if (peek() != c) return fail(std::string("expected '") + c + "'");
    ++at_;
    return {};
  }

  Result<std::int32_t> srid_prefix() {
    std::int32_t srid = 0;
    auto r = std::from_chars(s_.data() + at_, s_.data() + s_.size(), srid);
    if (r.ec != std::errc() || srid < 0) return fail("expected an SRID (a number >= 0)");
    at_ = static_cast<std::size_t>(r.ptr - s_.data());
    skip_ws();
    if (peek() != ';') return fail("expected ';' after the SRID");
    ++at_;
    return srid;
  }

  // The type, with its optional Z, M or ZM tag (attached, "POINTZ", or apart, "POINT Z"), and
  // EMPTY, which is refused: a work needs a place.
  Status geometry_type() {
    std::size_t begin = at_;
    std::string w = upper_word(word());
    if (w.empty()) {
      // GeoJSON where WKT belongs is the likely slip: name it.
      if (peek() == '{')
        return fail(
            "expected WKT (such as LINESTRING (530000 180000, 530010 180005)), not "
            "GeoJSON");
      return fail("expected a geometry type such as POINT or LINESTRING");
    }
    std::string_view tag;
    const TypeName* type = nullptr;
    for (std::string_view suffix : {"", "ZM", "Z", "M"}) {
      if (w.size() <= suffix.size() || w.substr(w.size() - suffix.size()) != suffix) continue;
      std::string_view base = std::string_view(w).substr(0, w.size() - suffix.size());
      for (const auto& t : kTypes)
        if (t.name == base) type = &t;
      if (type) {
        tag = suffix;
        break;
      }
    }
    if (!type) {
      std::string shown = w.substr(0, 30);
      if (w == "GEOMETRYCOLLECTION")
        return fail_at(begin, "GEOMETRYCOLLECTION is not supported: use a MULTI* geometry");
      return fail_at(begin, "unsupported geometry type " + shown +
                                ": expected POINT, LINESTRING, POLYGON, MULTIPOINT, "
                                "MULTILINESTRING or MULTIPOLYGON");
    }
    shape_.type = type->type;
    skip_ws();
    std::size_t tag_at = at_;
    std::string next = upper_word(word());
    if (!next.empty() && tag.empty() && (next == "Z" || next == "M" || next == "ZM")) {
      tag_ = next;
      skip_ws();
      tag_at = at_;
      next = upper_word(word());
    } else {
      tag_ = std::string(tag);
    }
    if (next == "EMPTY") return fail_at(tag_at, "EMPTY geometries are not supported");
    if (!next.empty()) return fail_at(tag_at, "expected '(' or a Z, M or ZM tag");
    if (!tag_.empty()) dims_ = tag_ == "ZM" ? 4 : 3;
    return {};
  }

  Status body() {
    switch (shape_.type) {
      case ShapeType::Point:
        DIGONCE_TRY(expect('('));
        DIGONCE_TRY(position());
        shape_.paths.push_back(1);
        return expect(')');
      case ShapeType::LineString:
        return line();
      case ShapeType::Polygon:
        return polygon();
      case ShapeType::MultiPoint:
        return list([&]() -> Status {
          // Both "MULTIPOINT (1 2, 3 4)" and "MULTIPOINT ((1 2), (3 4))" are in use.
          skip_ws();
          bool parenthesised = peek() == '(';
          if (parenthesised) ++at_;
          DIGONCE_TRY(position());
          shape_.paths.push_back(1);
          return parenthesised ? expect(')') : Status{};
        });
      case ShapeType::MultiLineString:
        return list([&] { return line(); });
      case ShapeType::MultiPolygon:
        return list([&] { return polygon(); });
    }
    return {};
  }

  // '(' item (',' item)* ')'
  template <class Item>
  Status list(Item item) {
    DIGONCE_TRY(expect('('));
    for (;;) {
      DIGONCE_TRY(item());
      skip_ws();
      if (peek() == ',') {
        ++at_;
        continue;
      }
      if (peek() == ')') {
        ++at_;
        return {};
      }
      return fail("expected ',' or ')'");
    }
  }

  // '(' position (',' position)* ')'; returns where it began and how many positions it had.
  Result<std::pair<std::size_t, std::size_t>> positions() {
    skip_ws();
    std::size_t begin = at_;
    std::size_t n = 0;
    DIGONCE_TRY(list([&] {
      ++n;
      return position();
    }));
    return std::pair{begin, n};
  }

  Status line() {
    DIGONCE_PARSE_ASSIGN(path, positions());
    if (auto why = detail::check_line(path.second)) return fail_at(path.first, *why);
    shape_.paths.push_back(static_cast<std::uint32_t>(path.second));
    return {};
  }

  Status ring() {
    std::size_t first = shape_.xy.size();
    DIGONCE_PARSE_ASSIGN(path, positions());
    if (auto why = detail::check_ring(shape_.xy.data() + first, path.second))
      return fail_at(path.first, *why);
    shape_.paths.push_back(static_cast<std::uint32_t>(path.second));
    return {};
  }

  Status polygon() {
    std::uint32_t rings = 0;
    DIGONCE_TRY(list([&] {
      ++rings;
      return ring();
    }));
    shape_.polygons.push_back(rings);
    return {};
  }

  // x y [z [m]]: 2 to 4 numbers apart by white space, as many as the tag or the first position
  // says; x and y are kept.
  Status position() {
    skip_ws();
    std::size_t begin = at_;
    double v[4] = {};
    int n = 0;
    while (n < 4) {
      DIGONCE_PARSE_ASSIGN(x, number());
      v[n++] = x;
      skip_ws();
      char c = peek();
      if (!(c == '-' || c == '+' || c == '.' || (c >= '0' && c <= '9'))) break;
    }
    if (n < 2) return fail("expected a second number: a position is x y");
    if (dims_ == 0) dims_ = n;  // untagged: the first position sets the dimension
    if (n != dims_) {
      std::string n_text = std::to_string(n), dims_text = std::to_string(dims_);
      return fail_at(begin,
                     tag_.empty()
                         ? "this position has " + n_text + " numbers but the first had " + dims_text
                         : "a " + tag_ + " position has " + dims_text + " numbers, not " + n_text);
    }
    shape_.xy.push_back(v[0]);
    shape_.xy.push_back(v[1]);
    return {};
  }

  Result<double> number() {
    skip_ws();
    std::size_t begin = at_;
    const char* p = s_.data() + at_;
    const char* end = s_.data() + s_.size();
    const char* digits = p;
    if (p < end && *p == '+') {
      digits = ++p;  // from_chars takes '-' but not '+'
    } else if (p < end && *p == '-') {
      digits = p + 1;
    }
    // from_chars also reads "inf" and "nan": insist on a digit or a point first.
    if (digits >= end || !(*digits == '.' || (*digits >= '0' && *digits <= '9')))
      return fail("expected a number");
    double d = 0;
    auto r = std::from_chars(p, end, d);
    if (r.ec == std::errc::result_out_of_range) return fail_at(begin, "number out of range");
    if (r.ec != std::errc() || !std::isfinite(d)) return fail_at(begin, "malformed number");
    at_ = static_cast<std::size_t>(r.ptr - s_.data());
    char next = peek();
    if (!(done() || is_space(next) || next == ',' || next == ')')) return fail("malformed number");
    return d;
  }

  std::string_view s_;
  const ParseLimits& limits_;
  std::size_t at_ = 0;
  int dims_ = 0;     // ordinates per position: 0 until known, then 2, 3 or 4
  std::string tag_;  // "", "Z", "M" or "ZM"
  Shape shape_;
};

}  // namespace

Result<WktGeometry> parse_ewkt(std::string_view wkt, const ParseLimits& limits) {
  if (wkt.size() > limits.max_bytes) {
    return error("the WKT is " + std::to_string(wkt.size()) + " bytes, more than the limit of " +
                 std::to_string(limits.max_bytes));
  }
  return WktParser(wkt, limits).run();
}

Result<Shape> parse_wkt(std::string_view wkt, const ParseLimits& limits) {
  auto g = parse_ewkt(wkt, limits);
  if (!g) return std::move(g).error();
  return std::move(g->shape);
}

}  // namespace digonce::geo
