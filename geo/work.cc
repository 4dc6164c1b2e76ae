#include "geo/work.h"

#include <array>

#include "base/json_writer.h"
#include "base/varint.h"

namespace digonce::geo {
namespace {

constexpr std::array<const char*, 7> kCategories = {
    "minor", "standard", "major", "immediate_urgent", "immediate_emergency", "paa", "hs2_highway"};
constexpr std::array<const char*, 4> kStatuses = {"planned", "in_progress", "completed",
                                                  "cancelled"};
constexpr std::uint8_t kCodecVersion = 1;

}  // namespace

const char* category_name(Category c) {
  return kCategories.at(static_cast<std::size_t>(c));
}
std::optional<Category> parse_category(std::string_view s) {
  for (std::size_t i = 0; i < kCategories.size(); ++i)
    if (s == kCategories[i]) return static_cast<Category>(i);
  return std::nullopt;
}

const char* status_name(WorkStatus s) {
  return kStatuses.at(static_cast<std::size_t>(s));
}
std::optional<WorkStatus> parse_status(std::string_view s) {
  for (std::size_t i = 0; i < kStatuses.size(); ++i)
    if (s == kStatuses[i]) return static_cast<WorkStatus>(i);
  return std::nullopt;
}

bool valid_work_ref(std::string_view ref) {
  if (ref.empty() || ref.size() > 64) return false;
  for (char c : ref) {
    bool ok = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
              c == '_' || c == '.' || c == '/' || c == '-';
    if (!ok) return false;
  }
  return true;
}

void encode_work(const WorkEvent& w, std::string& out) {
  out.push_back(static_cast<char>(kCodecVersion));
  out.push_back(static_cast<char>(w.event));
  out.push_back(static_cast<char>(w.kind));
  out.push_back(static_cast<char>(w.category));
  out.push_back(static_cast<char>(w.status));
  put_string(out, w.work_ref);
  put_string(out, w.promoter);
  out.push_back(w.version ? 1 : 0);
  if (w.version) put_svarint(out, *w.version);
  put_svarint(out, w.start);
  put_svarint(out, w.end);
  put_string(out, w.crs);
  for (const auto* s : {&w.highway_authority, &w.promoter_name, &w.street_name, &w.usrn,
                        &w.traffic_management, &w.description})
    put_string(out, *s);
  encode_shape(w.geometry, out);
}

bool decode_work(std::string_view in, WorkEvent& w) {
  if (in.size() < 6 || static_cast<std::uint8_t>(in[0]) != kCodecVersion) return false;
  auto event = static_cast<std::uint8_t>(in[1]);
  auto kind = static_cast<std::uint8_t>(in[2]);
  auto category = static_cast<std::uint8_t>(in[3]);
  auto status = static_cast<std::uint8_t>(in[4]);
  if (event > 1 || kind > 1 || category >= kCategories.size() || status >= kStatuses.size())
    return false;
  w.event = static_cast<EventType>(event);
  w.kind = static_cast<WorkKind>(kind);
  w.category = static_cast<Category>(category);
  w.status = static_cast<WorkStatus>(status);
  std::size_t at = 5;
  if (!get_string(in, at, w.work_ref) || !get_string(in, at, w.promoter)) return false;
  if (at >= in.size()) return false;
  bool has_version = in[at++] != 0;
  w.version.reset();
  if (has_version) {
    std::int64_t v = 0;
    if (!get_svarint(in, at, v)) return false;
    w.version = v;
  }
  if (!get_svarint(in, at, w.start) || !get_svarint(in, at, w.end)) return false;
  if (!get_string(in, at, w.crs)) return false;
  for (auto* s : {&w.highway_authority, &w.promoter_name, &w.street_name, &w.usrn,
                  &w.traffic_management, &w.description})
    if (!get_string(in, at, *s)) return false;
  w.geometry = Shape{};
  return decode_shape(in, at, w.geometry) && at == in.size();
}

namespace {

void append_position(std::string& out, const Shape& s, std::size_t v) {
  out.push_back('[');
  append_json_number(out, s.xy[2 * v]);
  out.push_back(',');
  append_json_number(out, s.xy[2 * v + 1]);
  out.push_back(']');
}

void append_path(std::string& out, const Shape& s, std::size_t& v, std::uint32_t n) {
  out.push_back('[');
  for (std::uint32_t i = 0; i < n; ++i, ++v) {
    if (i) out.push_back(',');
    append_position(out, s, v);
  }
  out.push_back(']');
}

}  // namespace

/// GeoJSON geometry object of a shape.
void append_geojson_geometry(std::string& out, const Shape& s) {
  JsonObject o(out);
  o.str("type", shape_type_name(s.type));
  auto& c = o.key("coordinates");
  std::size_t v = 0, path = 0;
  switch (s.type) {
    case ShapeType::Point:
      append_position(c, s, 0);
      break;
    case ShapeType::LineString:
      append_path(c, s, v, s.paths[0]);
      break;
    case ShapeType::MultiPoint:
    case ShapeType::MultiLineString:
      c.push_back('[');
      for (std::size_t i = 0; i < s.paths.size(); ++i) {
        if (i) c.push_back(',');
        if (s.type == ShapeType::MultiPoint) {
          append_position(c, s, v++);
        } else {
          append_path(c, s, v, s.paths[i]);
        }
      }
      c.push_back(']');
      break;
    case ShapeType::Polygon:
    case ShapeType::MultiPolygon: {
      bool multi = s.type == ShapeType::MultiPolygon;
      if (multi) c.push_back('[');
      for (std::size_t p = 0; p < s.polygons.size(); ++p) {
        if (p) c.push_back(',');
        c.push_back('[');
        for (std::uint32_t r = 0; r < s.polygons[p]; ++r, ++path) {
          if (r) c.push_back(',');
          append_path(c, s, v, s.paths[path]);
        }
        c.push_back(']');
      }
      if (multi) c.push_back(']');
      break;
    }
  }
}

std::string work_to_json(const WorkEvent& w) {
  std::string out;
  {
    JsonObject o(out);
    o.str("work_ref", w.work_ref);
    o.str("promoter", w.promoter);
    o.str("event", w.event == EventType::Upsert ? "upsert" : "cancel");
    if (w.version) o.integer("version", *w.version);
    if (w.event == EventType::Upsert) {
      if (w.kind == WorkKind::Restriction) o.str("kind", "section58");
      append_geojson_geometry(o.key("geometry"), w.geometry);
      o.str("crs", w.crs);
      o.str("start", format_timestamp(w.start));
      o.str("end", format_timestamp(w.end));
      o.str("category", category_name(w.category));
      o.str("status", status_name(w.status));
    }
    o.str_if("highway_authority", w.highway_authority);
    o.str_if("promoter_name", w.promoter_name);
    o.str_if("street_name", w.street_name);
    o.str_if("usrn", w.usrn);
    o.str_if("traffic_management", w.traffic_management);
    o.str_if("description", w.description);
  }
  return out;
}

}  // namespace digonce::geo
