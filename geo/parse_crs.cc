// CRS names, and the structural rules the GeoJSON and WKT parsers share.
#include <charconv>

#include "base/ascii.h"
#include "geo/parse_internal.h"

namespace digonce::geo {
namespace {

// Removes `prefix` (any case) from the front of s.
bool consume(std::string_view& s, std::string_view prefix) {
  if (!ascii_istarts_with(s, prefix)) return false;
  s.remove_prefix(prefix.size());
  return true;
}

// An EPSG code: 1 to 9 digits, not 0.
std::optional<std::int32_t> epsg_code(std::string_view s) {
  if (s.empty() || s.size() > 9) return std::nullopt;
  std::int32_t code = 0;
  auto r = std::from_chars(s.data(), s.data() + s.size(), code);
  if (r.ec != std::errc() || r.ptr != s.data() + s.size() || code <= 0) return std::nullopt;
  return code;
}

// Skips a version ("9.8.15", "0", or nothing) up to and including `sep`.
bool skip_version(std::string_view& s, char sep) {
  auto at = s.find(sep);
  if (at > 16) return false;  // also when there is no `sep` (npos)
  for (char c : s.substr(0, at))
    if (!((c >= '0' && c <= '9') || c == '.')) return false;
  s.remove_prefix(at + 1);
  return true;
}

}  // namespace

Result<std::string> normalize_crs(std::string_view name) {
  std::string_view s = name;
  std::optional<std::int32_t> code;
  if (ascii_iequals(s, "CRS84") || ascii_iequals(s, "OGC:CRS84") ||
      ascii_iequals(s, "urn:ogc:def:crs:OGC:1.3:CRS84") ||
      ascii_iequals(s, "urn:ogc:def:crs:OGC::CRS84") ||
      ascii_iequals(s, "http://www.opengis.net/def/crs/OGC/1.3/CRS84") ||
      ascii_iequals(s, "https://www.opengis.net/def/crs/OGC/1.3/CRS84")) {
    code = 4326;  // CRS84 is WGS 84 with longitude first: EPSG:4326 as the contract reads it
  } else if (consume(s, "urn:ogc:def:crs:EPSG:")) {
    if (skip_version(s, ':')) code = epsg_code(s);
  } else if (consume(s, "http://www.opengis.net/def/crs/EPSG/") ||
             consume(s, "https://www.opengis.net/def/crs/EPSG/")) {
    if (skip_version(s, '/')) code = epsg_code(s);
  } else if (consume(s, "EPSG:")) {
    consume(s, ":");  // "EPSG::27700", as in the URN
    code = epsg_code(s);
  }
  if (!code) {
    std::string shown(name.substr(0, 60));
    return error("unknown CRS \"" + shown + (name.size() > 60 ? "..." : "") +
                 "\": expected EPSG:<code> (such as EPSG:27700), its OGC URN, or CRS84");
  }
  return "EPSG:" + std::to_string(*code);
}

namespace detail {

Result<std::string> parse_crs_member(const json::element& crs) {
  std::string_view name;
  if (crs.get_string().get(name) == simdjson::SUCCESS) return normalize_crs(name);
  json::object o;
  if (crs.get_object().get(o) != simdjson::SUCCESS)
    return json::wrong_type("", "a CRS name such as \"EPSG:27700\"", crs);
  // The GeoJSON 2008 named CRS: {"type":"name","properties":{"name":"urn:ogc:def:crs:EPSG::27700"}}
  ParseLimits limits;
  json::Fields f(o, limits);
  auto type = f.required_string("type");
  if (!type) return std::move(type).error();
  if (*type != "name") return Error{"type", "must be \"name\" (only named CRSs are supported)"};
  auto props = f.required_object("properties");
  if (!props) return std::move(props).error();
  auto n = json::Fields(*props, limits).required_string("name");
  if (!n) return std::move(n).error().within("properties");
  auto normalized = normalize_crs(*n);
  if (!normalized) return std::move(normalized).error().within("properties.name");
  return normalized;
}

std::optional<std::string> check_line(std::size_t positions) {
  if (positions >= 2) return std::nullopt;
  return "a LineString needs at least 2 positions, not " + std::to_string(positions);
}

std::optional<std::string> check_ring(const double* xy, std::size_t positions) {
  if (positions < 4)
    return "a polygon ring needs at least 4 positions, not " + std::to_string(positions);
  const double* last = xy + 2 * (positions - 1);
  if (xy[0] != last[0] || xy[1] != last[1])
    return std::string("a polygon ring must be closed: its last position must equal its first");
  return std::nullopt;
}

std::optional<std::string> check_vertex_count(std::size_t vertices, const ParseLimits& limits) {
  if (vertices <= limits.max_vertices) return std::nullopt;
  return "has " + std::to_string(vertices) + " vertices, more than the limit of " +
         std::to_string(limits.max_vertices);
}

}  // namespace detail
}  // namespace digonce::geo
