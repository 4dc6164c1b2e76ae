#include "geo/authorities.h"

#include <simdjson.h>
#include <spdlog/fmt/fmt.h>
#include <spdlog/fmt/ranges.h>
#include <spdlog/spdlog.h>
#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <exception>
#include <filesystem>
#include <set>

#include "base/ascii.h"
#include "base/json_writer.h"
#include "base/yaml_keys.h"
#include "geo/parse.h"
#include "geo/work.h"

namespace digonce::geo {

namespace {

using simdjson::dom::array;
using simdjson::dom::element;
using simdjson::dom::object;

/// A property as text: strings as they are, integers in decimal (codes are sometimes numbers).
std::optional<std::string> property_text(element v) {
  std::string_view s;
  if (v.get_string().get(s) == simdjson::SUCCESS) return std::string(s);
  std::int64_t i;
  if (v.get_int64().get(i) == simdjson::SUCCESS) return std::to_string(i);
  return std::nullopt;
}

/// A ring of a GeoJSON polygon, appended to `s`: positions [x, y] (more dimensions ignored),
/// closed, at least four positions (RFC 7946, 3.1.6).
Status read_ring(element ring, Shape& s, const std::string& field) {
  array positions;
  if (ring.get_array().get(positions) != simdjson::SUCCESS)
    return Error{field, "is not an array of positions"};
  std::uint32_t n = 0;
  for (element pos : positions) {
    array xy;
    double c[2];
    std::size_t k = 0;
    if (pos.get_array().get(xy) == simdjson::SUCCESS) {
      for (element v : xy) {
        if (k == 2) break;
        if (v.get_double().get(c[k]) != simdjson::SUCCESS) break;
        ++k;
      }
    }
    if (k != 2 || !std::isfinite(c[0]) || !std::isfinite(c[1]))
      return Error{fmt::format("{}[{}]", field, n), "is not a position [x, y]"};
    s.xy.push_back(c[0]);
    s.xy.push_back(c[1]);
    ++n;
  }
  const std::size_t first = s.xy.size() - 2 * n;
  if (n < 4) return Error{field, "a ring needs at least 4 positions"};
  if (s.xy[first] != s.xy[s.xy.size() - 2] || s.xy[first + 1] != s.xy.back())
    return Error{field, "a ring must end where it starts"};
  s.paths.push_back(n);
  return Status::Ok();
}

Status read_polygon(element rings, Shape& s, const std::string& field) {
  array list;
  if (rings.get_array().get(list) != simdjson::SUCCESS || list.size() == 0)
    return Error{field, "is not an array of rings"};
  std::uint32_t count = 0;
  for (element ring : list) {
    DIGONCE_TRY(read_ring(ring, s, fmt::format("{}[{}]", field, count)));
    ++count;
  }
  s.polygons.push_back(count);
  return Status::Ok();
}

/// A Polygon or MultiPolygon geometry object as a Shape (in the file's CRS).
Result<Shape> read_area(element geometry, const std::string& field) {
  std::string_view type;
  if (geometry["type"].get_string().get(type) != simdjson::SUCCESS)
    return Error{field + ".type", "missing"};
  element coords;
  if (geometry["coordinates"].get(coords) != simdjson::SUCCESS)
    return Error{field + ".coordinates", "missing"};
  Shape s;
  if (type == "Polygon") {
    s.type = ShapeType::Polygon;
    DIGONCE_TRY(read_polygon(coords, s, field + ".coordinates"));
  } else if (type == "MultiPolygon") {
    s.type = ShapeType::MultiPolygon;
    array polygons;
    if (coords.get_array().get(polygons) != simdjson::SUCCESS || polygons.size() == 0)
      return Error{field + ".coordinates", "is not an array of polygons"};
    std::size_t i = 0;
    for (element p : polygons)
      DIGONCE_TRY(read_polygon(p, s, fmt::format("{}.coordinates[{}]", field, i++)));
  } else {
    return Error{field + ".type",
                 "is " + std::string(type) + "; an area is a Polygon or MultiPolygon"};
  }
  return s;
}

/// Polygon `p` of a (Multi)Polygon shape, as a Polygon shape of its own.
Shape polygon_part(const Shape& s, std::size_t p, std::size_t& ring, std::size_t& vertex) {
  Shape out;
  out.type = ShapeType::Polygon;
  out.polygons.push_back(s.polygons[p]);
  for (std::uint32_t r = 0; r < s.polygons[p]; ++r, ++ring) {
    std::uint32_t n = s.paths[ring];
    out.paths.push_back(n);
    out.xy.insert(out.xy.end(), s.xy.begin() + 2 * vertex, s.xy.begin() + 2 * (vertex + n));
    vertex += n;
  }
  return out;
}

void collect_candidate(void* item, void* userdata) {
  static_cast<std::vector<const void*>*>(userdata)->push_back(item);
}

}  // namespace

AuthorityMap::~AuthorityMap() = default;

Result<AuthorityMap> AuthorityMap::load(const AuthorityOptions& options, CrsContext& crs,
                                        Geos& geos) {
  simdjson::padded_string json;
  if (auto err = simdjson::padded_string::load(options.path).get(json); err)
    return Error{"file", "cannot read " + options.path + ": " + simdjson::error_message(err)};
  return parse(json, options, crs, geos);
}

Result<AuthorityMap> AuthorityMap::parse(std::string_view geojson, const AuthorityOptions& options,
                                         CrsContext& crs, Geos& geos) {
  auto in_file = [&](Error e) {
    if (!options.path.empty()) e.message += " (in " + options.path + ")";
    return e;
  };
  simdjson::dom::parser parser;
  element doc;
  if (auto err = parser.parse(geojson.data(), geojson.size()).get(doc); err)
    return in_file(error(std::string("not JSON: ") + simdjson::error_message(err)));
  std::string_view type;
  array features;
  if (doc["type"].get_string().get(type) != simdjson::SUCCESS || type != "FeatureCollection" ||
      doc["features"].get_array().get(features) != simdjson::SUCCESS)
    return in_file(error("not a GeoJSON FeatureCollection"));

  // RFC 7946 files are CRS84; older ones may name their CRS (GeoJSON 2008 "crs" member).
  std::string source = "EPSG:4326";
  std::string_view crs_name;
  if (doc["crs"]["properties"]["name"].get_string().get(crs_name) == simdjson::SUCCESS) {
    auto normalized = normalize_crs(crs_name);
    if (!normalized.ok()) return in_file(normalized.error().within("crs"));
    source = *normalized;
  }

  AuthorityMap map;
  map.geos_ = &geos;
  GEOSContextHandle_t h = geos.handle();
  struct Raw {
    std::string code, name;
  };
  std::vector<Raw> raw;                          // per authority, in order of first appearance
  std::map<std::string, std::uint32_t> by_code;  // reported code -> index into raw
  std::set<std::string> unmapped, mapped;
  std::vector<Envelope> part_envelopes;

  std::size_t index = 0;
  for (element feature : features) {
    const std::string field = fmt::format("features[{}]", index++);
    object properties;
    if (feature["properties"].get_object().get(properties) != simdjson::SUCCESS)
      return in_file(Error{field + ".properties", "missing"});
    element value;
    std::optional<std::string> code, name;
    if (properties[options.code_property].get(value) == simdjson::SUCCESS)
      code = property_text(value);
    if (!code || code->empty())
      return in_file(Error{field + ".properties." + options.code_property, "missing"});
    if (properties[options.name_property].get(value) == simdjson::SUCCESS)
      name = property_text(value);
    if (!options.codes.empty()) {
      if (auto it = options.codes.find(*code); it != options.codes.end()) {
        mapped.insert(*code);
        code = it->second;
      } else {
        unmapped.insert(*code);
      }
    }

    element geometry;
    if (feature["geometry"].get(geometry) != simdjson::SUCCESS || geometry.is_null())
      return in_file(Error{field + ".geometry", "missing"});
    auto shape = read_area(geometry, field + ".geometry");
    if (!shape.ok()) return in_file(shape.error());
    if (Status st = crs.project_to_metric(*shape, source); !st.ok())
      return in_file(st.error().within(field));

    auto [it, fresh] = by_code.emplace(*code, static_cast<std::uint32_t>(raw.size()));
    if (fresh) raw.push_back({*code, name.value_or(*code)});
    std::size_t ring = 0, vertex = 0;
    for (std::size_t p = 0; p < shape->polygons.size(); ++p) {
      Shape part = polygon_part(*shape, p, ring, vertex);
      auto g = geos.to_geos(part);
      if (!g.ok()) return in_file(g.error().within(field + ".geometry"));
      // Boundary files are not always valid (self-touching rings, slivers); "covers" on an
      // invalid polygon can answer wrongly, so repair, as the Normalizer does for works.
      if (GEOSisValid_r(h, g->get()) != 1) {
        auto repaired = geos.own(GEOSMakeValid_r(h, g->get()));
        if (!repaired)
          return in_file(
              Error{field + ".geometry", "invalid and not repairable: " + geos.last_error()});
        spdlog::warn("{}: {} ({}) polygon {} is not valid; repaired", options.path, *code,
                     name.value_or(""), p);
        *g = std::move(repaired);
      }
      Part stored;
      stored.authority = it->second;
      stored.geometry = std::move(*g);
      stored.prepared = geos.prepare(stored.geometry.get());
      if (!stored.prepared)
        return in_file(Error{field + ".geometry", "cannot prepare: " + geos.last_error()});
      part_envelopes.push_back(part.envelope());
      map.parts_.push_back(std::move(stored));
    }
  }
  if (raw.empty()) return in_file(error("no features"));
  if (!unmapped.empty())
    spdlog::warn("{}: {} {} value(s) not in the codes map, reported as they are: {}", options.path,
                 unmapped.size(), options.code_property, fmt::join(unmapped, ", "));
  for (const auto& [from, to] : options.codes)
    if (!mapped.count(from))
      spdlog::warn("{}: codes maps {} -> {}, but no feature has {} {}", options.path, from, to,
                   options.code_property, from);

  // Authorities sorted by code, so that at() returns them sorted by sorting indices.
  std::vector<std::uint32_t> order(raw.size());
  for (std::uint32_t i = 0; i < order.size(); ++i) order[i] = i;
  std::sort(order.begin(), order.end(),
            [&](std::uint32_t a, std::uint32_t b) { return raw[a].code < raw[b].code; });
  std::vector<std::uint32_t> rank(raw.size());
  for (std::uint32_t i = 0; i < order.size(); ++i) {
    rank[order[i]] = i;
    map.authorities_.push_back({std::move(raw[order[i]].code), std::move(raw[order[i]].name)});
  }
  map.envelopes_.resize(map.authorities_.size());
  for (std::size_t i = 0; i < map.parts_.size(); ++i) {
    map.parts_[i].authority = rank[map.parts_[i].authority];
    const Envelope& e = part_envelopes[i];
    Envelope& total = map.envelopes_[map.parts_[i].authority];
    total.add(e.minx, e.miny);
    total.add(e.maxx, e.maxy);
  }

  // Node capacity 10: GEOS's own default for its C API trees.
  map.tree_ =
      std::unique_ptr<GEOSSTRtree, StrTreeDeleter>(GEOSSTRtree_create_r(h, 10), StrTreeDeleter{h});
  if (!map.tree_) return in_file(error("cannot create a GEOS STRtree: " + geos.last_error()));
  for (std::size_t i = 0; i < map.parts_.size(); ++i)
    GEOSSTRtree_insert_r(h, map.tree_.get(), map.parts_[i].geometry.get(), &map.parts_[i]);

  // The cells: 250 m, or larger so that a country's map stays near a million cells (4 MB).
  Envelope all;
  for (const auto& e : map.envelopes_) {
    all.add(e.minx, e.miny);
    all.add(e.maxx, e.maxy);
  }
  if (!all.empty()) {
    map.cell_ = std::max(250.0, std::sqrt(all.width() * all.height() / double{1 << 20}));
    map.grid_x_ = all.minx;
    map.grid_y_ = all.miny;
    map.nx_ = static_cast<std::size_t>(all.width() / map.cell_) + 1;
    map.ny_ = static_cast<std::size_t>(all.height() / map.cell_) + 1;
    map.cells_.assign(map.nx_ * map.ny_, 0);
  }
  return map;
}

std::uint32_t AuthorityMap::classify_box(double x, double y, double size) const {
  // The box grown by a millimetre, so that a point placed in it by rounded arithmetic is inside
  // the box tested: a box covered by one authority's part and met by no other authority's is
  // answered for every point in it.
  const double slack = 1e-3;
  const double x0 = x - slack, y0 = y - slack;
  GEOSContextHandle_t h = geos_->handle();
  auto box = geos_->own(
      GEOSGeom_createRectangle_r(h, x0, y0, x0 + size + 2 * slack, y0 + size + 2 * slack));
  if (!box) return kMixed;
  std::vector<const void*> candidates;
  GEOSSTRtree_query_r(h, tree_.get(), box.get(), &collect_candidate, &candidates);
  constexpr std::uint32_t kNobody = UINT32_MAX;
  std::uint32_t covering = kNobody;
  std::vector<std::uint32_t> touching;
  for (const void* item : candidates) {
    const auto* part = static_cast<const Part*>(item);
    const char covers = GEOSPreparedCovers_r(h, part->prepared.get(), box.get());
    if (covers == 1) {
      if (covering != kNobody && covering != part->authority) return kMixed;
      covering = part->authority;
      continue;
    }
    const char meets =
        covers == 2 ? 2 : GEOSPreparedIntersects_r(h, part->prepared.get(), box.get());
    if (meets == 2) return kMixed;  // a GEOS failure: leave the cell to the exact path
    if (meets == 1) touching.push_back(part->authority);
  }
  for (auto a : touching)
    if (a != covering) return kMixed;
  return covering == kNobody ? kNone : kFirstAuthority + covering;
}

std::uint32_t AuthorityMap::cell(std::size_t i, std::size_t j) const {
  std::uint32_t& cell = cells_[j * nx_ + i];
  if (cell == 0) {
    cell = classify_box(grid_x_ + static_cast<double>(i) * cell_,
                        grid_y_ + static_cast<double>(j) * cell_, cell_);
    if (cell == kMixed) {
      cell = kSplitCell | static_cast<std::uint32_t>(sub_cells_.size() / (kSplit * kSplit));
      sub_cells_.resize(sub_cells_.size() + kSplit * kSplit, 0);
    }
  }
  return cell;
}

std::vector<const Authority*> AuthorityMap::at(double x, double y) const {
  if (!cells_.empty() && std::isfinite(x) && std::isfinite(y)) {
    const double fx = std::floor((x - grid_x_) / cell_), fy = std::floor((y - grid_y_) / cell_);
    if (fx >= 0 && fy >= 0 && fx < static_cast<double>(nx_) && fy < static_cast<double>(ny_)) {
      const auto i = static_cast<std::size_t>(fx), j = static_cast<std::size_t>(fy);
      const double cx = grid_x_ + static_cast<double>(i) * cell_;
      const double cy = grid_y_ + static_cast<double>(j) * cell_;
      const std::uint32_t whole = cell(i, j);
      std::uint32_t code = whole;
      if (whole & kSplitCell) {
        // The sub-cell, from the offset in the cell (clamped: rounding may put a point on the
        // cell's far edge one sub-cell out).
        const double sub = cell_ / kSplit;
        const auto si =
            std::min(kSplit - 1, static_cast<std::size_t>(std::max(0.0, (x - cx) / sub)));
        const auto sj =
            std::min(kSplit - 1, static_cast<std::size_t>(std::max(0.0, (y - cy) / sub)));
        std::uint32_t& s = sub_cells_[(whole & ~kSplitCell) * kSplit * kSplit + sj * kSplit + si];
        if (s == 0)
          s = classify_box(cx + static_cast<double>(si) * sub, cy + static_cast<double>(sj) * sub,
                           sub);
        code = s;
      }
      if (code == kNone) return {};
      if (code >= kFirstAuthority) return {&authorities_[code - kFirstAuthority]};
    }
  }
  return at_exact(x, y);
}

std::vector<const Authority*> AuthorityMap::meeting(const Shape& s) const {
  if (!tree_ || s.xy.size() < 2) return {};
  const Envelope env = s.envelope();
  if (!std::isfinite(env.minx) || !std::isfinite(env.miny) || !std::isfinite(env.maxx) ||
      !std::isfinite(env.maxy))
    return {};
  std::vector<std::uint32_t> hits;
  // Most works lie in a cell or a few, each wholly inside one area or outside every area: the
  // answer is theirs. The cells cover every area's envelope, so what lies beyond them meets none.
  bool whole = false;
  if (!cells_.empty()) {
    auto index = [&](double v, double origin, std::size_t n) {
      const double f = std::floor((v - origin) / cell_);
      return static_cast<std::int64_t>(std::clamp(f, -1.0, static_cast<double>(n)));
    };
    const std::int64_t i0 = std::max<std::int64_t>(0, index(env.minx, grid_x_, nx_));
    const std::int64_t i1 =
        std::min<std::int64_t>(static_cast<std::int64_t>(nx_) - 1, index(env.maxx, grid_x_, nx_));
    const std::int64_t j0 = std::max<std::int64_t>(0, index(env.miny, grid_y_, ny_));
    const std::int64_t j1 =
        std::min<std::int64_t>(static_cast<std::int64_t>(ny_) - 1, index(env.maxy, grid_y_, ny_));
    if (i0 > i1 || j0 > j1) return {};  // beyond every area
    if ((i1 - i0 + 1) * (j1 - j0 + 1) <= 16) {
      whole = true;
      for (auto j = j0; j <= j1 && whole; ++j)
        for (auto i = i0; i <= i1 && whole; ++i) {
          const std::uint32_t c = cell(static_cast<std::size_t>(i), static_cast<std::size_t>(j));
          if (c & kSplitCell)
            whole = false;
          else if (c >= kFirstAuthority)
            hits.push_back(c - kFirstAuthority);
        }
    }
  }
  if (!whole) return meeting_exact(s);
  return authorities_of(std::move(hits));
}

std::vector<const Authority*> AuthorityMap::meeting_exact(const Shape& s) const {
  if (!tree_ || s.xy.size() < 2) return {};
  auto g = geos_->to_geos(s);
  if (!g) return {};
  return parts_where(g->get(), &GEOSPreparedIntersects_r);
}

std::vector<const Authority*> AuthorityMap::at_exact(double x, double y) const {
  if (!tree_ || !std::isfinite(x) || !std::isfinite(y)) return {};
  auto point = geos_->own(GEOSGeom_createPointFromXY_r(geos_->handle(), x, y));
  if (!point) return {};
  return parts_where(point.get(), &GEOSPreparedCovers_r);
}

std::vector<const Authority*> AuthorityMap::parts_where(const GEOSGeometry* g,
                                                        PreparedTest test) const {
  GEOSContextHandle_t h = geos_->handle();
  std::vector<const void*> candidates;
  GEOSSTRtree_query_r(h, tree_.get(), g, &collect_candidate, &candidates);
  std::vector<std::uint32_t> hits;
  for (const void* item : candidates) {
    const auto* part = static_cast<const Part*>(item);
    if (test(h, part->prepared.get(), g) == 1) hits.push_back(part->authority);
  }
  return authorities_of(std::move(hits));
}

std::vector<const Authority*> AuthorityMap::authorities_of(std::vector<std::uint32_t> hits) const {
  std::sort(hits.begin(), hits.end());
  hits.erase(std::unique(hits.begin(), hits.end()), hits.end());
  std::vector<const Authority*> out;
  out.reserve(hits.size());
  for (auto a : hits) out.push_back(&authorities_[a]);
  return out;
}

std::string AuthorityMap::areas_geojson(const Transform& to_wgs84, double tolerance_m) const {
  GEOSContextHandle_t h = geos_->handle();
  std::vector<Shape> areas(authorities_.size());
  for (auto& a : areas) a.type = ShapeType::MultiPolygon;
  for (const auto& part : parts_) {
    const std::string& name = authorities_[part.authority].name;
    auto simple = geos_->own(GEOSTopologyPreserveSimplify_r(h, part.geometry.get(), tolerance_m));
    if (!simple) {
      spdlog::warn("authority area {}: a part not simplified ({}); left off the map", name,
                   geos_->last_error());
      continue;
    }
    auto shape = geos_->from_geos(simple.get());
    if (!shape || shape->polygons.empty()) continue;  // nothing of it left at this tolerance
    if (auto s = to_wgs84.apply(*shape); !s.ok()) {
      spdlog::warn("authority area {}: a part not taken to EPSG:4326 ({}); left off the map", name,
                   s.error().what());
      continue;
    }
    for (double& v : shape->xy) v = std::round(v * 1e6) / 1e6;
    Shape& area = areas[part.authority];
    area.xy.insert(area.xy.end(), shape->xy.begin(), shape->xy.end());
    area.paths.insert(area.paths.end(), shape->paths.begin(), shape->paths.end());
    area.polygons.insert(area.polygons.end(), shape->polygons.begin(), shape->polygons.end());
  }
  std::string out = R"({"type":"FeatureCollection","features":[)";
  bool first = true;
  for (std::size_t i = 0; i < areas.size(); ++i) {
    if (areas[i].polygons.empty()) continue;
    if (!first) out += ',';
    first = false;
    JsonObject f(out);
    f.str("type", "Feature");
    {
      JsonObject p(f.key("properties"));
      p.str("code", authorities_[i].code);
      p.str("name", authorities_[i].name);
    }
    append_geojson_geometry(f.key("geometry"), areas[i]);
  }
  out += "]}";
  return out;
}

std::optional<Envelope> AuthorityMap::envelope_of(std::string_view code) const {
  auto it = std::lower_bound(authorities_.begin(), authorities_.end(), code,
                             [](const Authority& a, std::string_view c) { return a.code < c; });
  if (it == authorities_.end() || it->code != code) return std::nullopt;
  return envelopes_[static_cast<std::size_t>(it - authorities_.begin())];
}

const Authority* AuthorityMap::of_shape(const Shape& s) const {
  if (s.xy.size() < 2) return nullptr;
  double x = s.xy[0], y = s.xy[1];
  if ((s.type == ShapeType::LineString || s.type == ShapeType::MultiLineString) &&
      !s.paths.empty()) {
    // Halfway along the first path.
    const std::size_t n = std::min<std::size_t>(s.paths[0], s.xy.size() / 2);
    double length = 0;
    for (std::size_t i = 1; i < n; ++i)
      length += std::hypot(s.xy[2 * i] - s.xy[2 * i - 2], s.xy[2 * i + 1] - s.xy[2 * i - 1]);
    double left = length / 2;
    for (std::size_t i = 1; i < n; ++i) {
      const double x0 = s.xy[2 * i - 2], y0 = s.xy[2 * i - 1];
      const double dx = s.xy[2 * i] - x0, dy = s.xy[2 * i + 1] - y0;
      const double step = std::hypot(dx, dy);
      if (step >= left && step > 0) {
        x = x0 + dx * (left / step);
        y = y0 + dy * (left / step);
        break;
      }
      left -= step;
    }
  } else if ((s.type == ShapeType::Polygon || s.type == ShapeType::MultiPolygon) && geos_) {
    if (auto g = geos_->to_geos(s)) {
      GEOSContextHandle_t h = geos_->handle();
      auto p = geos_->own(GEOSPointOnSurface_r(h, g->get()));
      double px = 0, py = 0;
      if (p && GEOSGeomGetX_r(h, p.get(), &px) == 1 && GEOSGeomGetY_r(h, p.get(), &py) == 1) {
        x = px;
        y = py;
      }
    }
  }
  auto covering = at(x, y);
  return covering.empty() ? nullptr : covering.front();
}

const Authority* AuthorityMap::find(std::string_view code_or_name) const {
  auto it = std::lower_bound(authorities_.begin(), authorities_.end(), code_or_name,
                             [](const Authority& a, std::string_view c) { return a.code < c; });
  if (it != authorities_.end() && it->code == code_or_name) return &*it;
  // Names: a scan, fine for the few hundred authorities of a country; lookups by point, the hot
  // path, go through the tree.
  for (const auto& a : authorities_)
    if (ascii_iequals(a.name, code_or_name)) return &a;
  return nullptr;
}

Result<AuthorityOptions> load_authority_options(const std::string& yaml_path,
                                                const std::string& data_dir) {
  {
    std::error_code ec;  // yaml-cpp says only "bad file" for either
    if (!std::filesystem::exists(yaml_path, ec))
      return error(yaml_path + ": " + (ec ? ec.message() : std::string("no such file")));
    if (std::filesystem::is_directory(yaml_path, ec))
      return error(yaml_path + ": is a folder, not a file");
  }
  // yaml-cpp reports everything by exception; none leaves this function.
  try {
    YAML::Node root = YAML::LoadFile(yaml_path);
    if (!root.IsMap()) return error(yaml_path + ": not a YAML mapping");
    // A misspelt key (`code:` for `codes:`) would otherwise be ignored without a word, and every
    // alert named by the areas' own property values, which no authority's key or webhook knows;
    // YAML keeps the first of two equal keys and drops the second.
    if (auto bad = yaml_key_problem(root, {"file", "code_property", "name_property", "codes"},
                                    "an authorities file"))
      return Error{bad->key, bad->what};
    AuthorityOptions o;
    auto text = [&](const char* key, std::string& out) -> Status {
      YAML::Node n = root[key];
      if (!n) return Status::Ok();
      if (!n.IsScalar() || n.as<std::string>().empty())
        return Error{key, "must be a non-empty string"};
      out = n.as<std::string>();
      return Status::Ok();
    };
    std::string file;
    DIGONCE_TRY(text("file", file));
    if (file.empty()) return Error{"file", "missing: the GeoJSON of the authorities' areas"};
    std::filesystem::path p(file);
    o.path = p.is_absolute() || data_dir.empty() ? p.string()
                                                 : (std::filesystem::path(data_dir) / p).string();
    DIGONCE_TRY(text("code_property", o.code_property));
    DIGONCE_TRY(text("name_property", o.name_property));
    if (YAML::Node codes = root["codes"]; codes && !codes.IsNull()) {
      if (!codes.IsMap()) return Error{"codes", "must be a mapping of property values to codes"};
      for (const auto& kv : codes) {
        auto from = kv.first.as<std::string>();
        if (!kv.second.IsScalar() || kv.second.as<std::string>().empty())
          return Error{"codes." + from, "must be a code (a string or a number)"};
        if (!o.codes.emplace(from, kv.second.as<std::string>()).second)
          return Error{"codes." + from, "given twice; write it once"};
      }
    }
    return o;
  } catch (const YAML::Exception& e) {
    return error(yaml_path + ": " + e.what());
  } catch (const std::exception& e) {
    return error(yaml_path + ": " + e.what());
  }
}

}  // namespace digonce::geo
