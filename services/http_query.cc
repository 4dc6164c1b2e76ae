#include "services/http_query.h"

#include <algorithm>
#include <charconv>
#include <cmath>

#include "base/ascii.h"

namespace digonce::services {
namespace {

int hex_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

}  // namespace

Result<std::string> percent_decode(std::string_view s, bool plus_is_space) {
  std::string out;
  out.reserve(s.size());
  for (std::size_t i = 0; i < s.size(); ++i) {
    char c = s[i];
    if (c == '%') {
      if (i + 2 >= s.size()) return error("bad percent escape");
      int hi = hex_value(s[i + 1]);
      int lo = hex_value(s[i + 2]);
      if (hi < 0 || lo < 0) return error("bad percent escape");
      char decoded = static_cast<char>(hi * 16 + lo);
      if (decoded == '\0') return error("an encoded NUL");
      out.push_back(decoded);
      i += 2;
    } else if (c == '+' && plus_is_space) {
      out.push_back(' ');
    } else {
      out.push_back(c);
    }
  }
  return out;
}

Result<Target> parse_target(std::string_view target) {
  Target t;
  // The absolute form ("http://host:port/v1/alerts"), which a server must accept (RFC 9112
  // section 3.2.2) and a proxy sends: its path and query are the target (an empty path is "/").
  std::string origin_form;
  for (std::string_view scheme : {"http://", "https://"}) {
    if (!ascii_istarts_with(target, scheme)) continue;
    const auto rest = target.substr(scheme.size());
    const auto path = std::min(rest.find_first_of("/?"), rest.size());
    origin_form = rest.substr(path);
    if (origin_form.empty() || origin_form.front() != '/') origin_form.insert(0, "/");
    target = origin_form;
    break;
  }
  auto q = target.find('?');
  auto path = percent_decode(target.substr(0, q), false);
  if (!path) return path.error().within("path");
  t.path = std::move(*path);
  if (q == std::string_view::npos) return t;
  std::string_view rest = target.substr(q + 1);
  while (!rest.empty()) {
    auto amp = rest.find('&');
    std::string_view pair = rest.substr(0, amp);
    rest = amp == std::string_view::npos ? std::string_view() : rest.substr(amp + 1);
    if (pair.empty()) continue;
    auto eq = pair.find('=');
    auto name = percent_decode(pair.substr(0, eq), true);
    auto value = percent_decode(eq == std::string_view::npos ? "" : pair.substr(eq + 1), true);
    // The parameter named, when its name can be read (bbox: bad percent escape).
    if (!name) return name.error().within("query");
    if (!value) return value.error().within(*name);
    if (!t.query.emplace(*name, std::move(*value)).second) t.repeated.insert(*name);
  }
  return t;
}

std::optional<Error> Target::repeated_among(std::initializer_list<std::string_view> names) const {
  for (auto n : names)
    if (repeated.contains(std::string(n)))
      return Error{std::string(n), "is given twice in the query"};
  return std::nullopt;
}

Result<geo::Envelope> parse_bbox(std::string_view text) {
  double v[4];
  std::string_view rest = text;
  for (int i = 0; i < 4; ++i) {
    auto comma = rest.find(',');
    if ((i < 3) != (comma != std::string_view::npos))
      return field_error("bbox", "must be minx,miny,maxx,maxy (four numbers, EPSG:4326)");
    std::string_view part = ascii_trim(rest.substr(0, comma));
    // from_chars reads a '-' but not a '+': one '+' is taken, before a digit or '.' only.
    std::string_view number = part;
    if (number.size() > 1 && number.front() == '+' &&
        ((number[1] >= '0' && number[1] <= '9') || number[1] == '.'))
      number.remove_prefix(1);
    auto r = std::from_chars(number.data(), number.data() + number.size(), v[i]);
    if (number.empty() || r.ec != std::errc() || r.ptr != number.data() + number.size() ||
        !std::isfinite(v[i]))
      return field_error("bbox", "'" + std::string(part) + "' is not a number");
    rest = comma == std::string_view::npos ? std::string_view() : rest.substr(comma + 1);
  }
  if (v[0] > v[2] || v[1] > v[3]) return field_error("bbox", "min must not exceed max");
  if (v[0] < -180 || v[2] > 180 || v[1] < -90 || v[3] > 90)
    return field_error("bbox", "must lie within longitude -180..180 and latitude -90..90");
  return geo::Envelope{v[0], v[1], v[2], v[3]};
}

Result<geo::Micros> parse_time_param(std::string_view text, geo::DateEnd bare_date,
                                     const std::string& field) {
  auto t = geo::parse_timestamp(text, bare_date);
  if (!t) return field_error(field, t.error().message);
  return *t;
}

}  // namespace digonce::services
