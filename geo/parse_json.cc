// Contract work JSON (contract section 1) and GeoJSON Features that carry the same fields in
// their properties.
#include <array>

#include "geo/parse_internal.h"

namespace digonce::geo::detail {
namespace {

// Reads an optional enumerated string member: absent gives `fallback`, an unknown value an Error
// listing the accepted ones.
template <class T, std::size_t N>
Result<T> enum_member(const json::Fields& f, std::string_view key,
                      const std::array<std::pair<std::string_view, T>, N>& values, T fallback) {
  DIGONCE_PARSE_ASSIGN(s, f.optional_string(key));
  if (!s) return fallback;
  for (const auto& [name, v] : values)
    if (name == *s) return v;
  std::string accepted;
  for (const auto& value : values) {
    if (!accepted.empty()) accepted += ", ";
    accepted += value.first;
  }
  return Error{std::string(key), "must be one of " + accepted};
}

constexpr std::array<std::pair<std::string_view, EventType>, 2> kEvents = {{
    {"upsert", EventType::Upsert},
    {"cancel", EventType::Cancel},
}};
constexpr std::array<std::pair<std::string_view, Category>, 7> kCategories = {{
    {"minor", Category::Minor},
    {"standard", Category::Standard},
    {"major", Category::Major},
    {"immediate_urgent", Category::ImmediateUrgent},
    {"immediate_emergency", Category::ImmediateEmergency},
    {"paa", Category::Paa},
    {"hs2_highway", Category::Hs2Highway},
}};
constexpr std::array<std::pair<std::string_view, WorkStatus>, 4> kStatuses = {{
    {"planned", WorkStatus::Planned},
    {"in_progress", WorkStatus::InProgress},
    {"completed", WorkStatus::Completed},
    {"cancelled", WorkStatus::Cancelled},
}};

// The contract fields other than the geometry; errors relative to the fields' object.
Result<WorkEvent> parse_fields(const json::Fields& f, const std::optional<std::string>& crs) {
  WorkEvent w;
  DIGONCE_PARSE_ASSIGN(ref, f.required_string("work_ref"));
  if (auto why = check_work_ref(ref)) return Error{"work_ref", *why};
  w.work_ref.assign(ref);
  DIGONCE_PARSE_ASSIGN(promoter, f.required_string("promoter"));
  if (auto why = check_promoter(promoter)) return Error{"promoter", *why};
  w.promoter.assign(promoter);
  DIGONCE_PARSE_ASSIGN(event, enum_member(f, "event", kEvents, EventType::Upsert));
  w.event = event;
  // The version decides whether an event is stale, a cancel's too: it is checked for both.
  DIGONCE_PARSE_ASSIGN(version, f.optional_count("version"));
  w.version = version;
  if (w.event == EventType::Cancel) return w;  // a cancel needs nothing else (contract, section 1)

  // digonce's extension (docs/API.md): "kind": "section58" marks a Section 58 restriction. The
  // contract does not name the field, so any other value is kept and ignored, as an unknown
  // field is: a producer may use "kind" for something of its own.
  if (auto k = f.get("kind")) {
    std::string_view text;
    if (k->get_string().get(text) == simdjson::SUCCESS && text == "section58")
      w.kind = WorkKind::Restriction;
  }
  if (auto c = f.get("crs")) {
    auto normalized = parse_crs_member(*c);
    if (!normalized) return std::move(normalized).error().within("crs");
    w.crs = std::move(*normalized);
  } else if (crs) {
    w.crs = *crs;
  }
  DIGONCE_PARSE_ASSIGN(start, f.optional_timestamp("start", DateEnd::Start));
  if (!start) return Error{"start", "is required"};
  DIGONCE_PARSE_ASSIGN(end, f.optional_timestamp("end", DateEnd::End));
  if (!end) return Error{"end", "is required"};
  if (*end < *start) {
    return Error{"end", "is before start (" + format_timestamp(*end) + " < " +
                            format_timestamp(*start) + ")"};
  }
  w.start = *start;
  w.end = *end;
  DIGONCE_PARSE_ASSIGN(category, enum_member(f, "category", kCategories, Category::Standard));
  w.category = category;
  DIGONCE_PARSE_ASSIGN(status, enum_member(f, "status", kStatuses, WorkStatus::Planned));
  w.status = status;
  DIGONCE_TRY(f.copy_string("highway_authority", w.highway_authority));
  DIGONCE_TRY(f.copy_string("promoter_name", w.promoter_name));
  DIGONCE_TRY(f.copy_string("street_name", w.street_name));
  DIGONCE_TRY(f.copy_string("traffic_management", w.traffic_management));
  DIGONCE_TRY(f.copy_string("description", w.description));
  DIGONCE_PARSE_ASSIGN(usrn, f.optional_string_or_integer("usrn"));
  if (usrn) w.usrn = std::move(*usrn);
  return w;
}

// A legacy (GeoJSON 2008) crs member of a Feature or FeatureCollection, if there is one.
Result<std::optional<std::string>> legacy_crs(const json::object& o,
                                              const std::optional<std::string>& inherited) {
  auto c = json::member(o, "crs");
  if (!c) return inherited;
  auto normalized = parse_crs_member(*c);
  if (!normalized) return std::move(normalized).error().within("crs");
  return std::optional<std::string>{std::move(*normalized)};
}

// Where a feature gives its CRS: its properties' crs, else its own legacy member, else
// `otherwise` (the collection's, or none).
Parsed::CrsGiven crs_given(const json::object& feature, Parsed::CrsGiven otherwise) {
  json::object properties;
  if (auto p = json::member(feature, "properties");
      p && p->get_object().get(properties) == simdjson::SUCCESS && json::member(properties, "crs"))
    return Parsed::CrsGiven::Properties;
  if (json::member(feature, "crs")) return Parsed::CrsGiven::Feature;
  return otherwise;
}

Result<WorkEvent> parse_feature(const json::object& o, const ParseLimits& limits,
                                const std::optional<std::string>& inherited_crs) {
  json::Fields f(o, limits);
  DIGONCE_PARSE_ASSIGN(type, f.required_string("type"));
  if (type != "Feature") return Error{"type", "must be \"Feature\""};
  DIGONCE_PARSE_ASSIGN(properties, f.required_object("properties"));
  DIGONCE_PARSE_ASSIGN(crs, legacy_crs(o, inherited_crs));
  return parse_work(WorkSource{properties, "properties", f.get("geometry"), "geometry", crs},
                    limits);
}

}  // namespace

std::optional<std::string> check_work_ref(std::string_view ref) {
  if (valid_work_ref(ref)) return std::nullopt;
  return std::string("must be 1 to 64 characters of A-Z a-z 0-9 _ . / -");
}

std::optional<std::string> check_promoter(std::string_view promoter) {
  bool blank = true;
  for (char ch : promoter) {
    auto c = static_cast<unsigned char>(ch);
    if (c < 0x20 || c == 0x7f) return std::string("must not contain control characters");
    if (c != ' ') blank = false;
  }
  if (blank || promoter.size() > 64) return std::string("must be 1 to 64 printable characters");
  return std::nullopt;
}

Result<WorkEvent> parse_work(const WorkSource& source, const ParseLimits& limits) {
  auto w = parse_fields(json::Fields(source.fields, limits), source.crs);
  if (!w) return std::move(w).error().within(source.fields_at);
  if (w->event == EventType::Cancel) return w;
  if (!source.geometry) return Error{source.geometry_at, "is required"};
  auto shape = parse_geojson_geometry(*source.geometry, limits);
  if (!shape) return std::move(shape).error().within(source.geometry_at);
  w->geometry = std::move(*shape);
  return w;
}

Result<WorkEvent> parse_work_object(const json::object& o, const ParseLimits& limits) {
  return parse_work(WorkSource{o, "", json::member(o, "geometry"), "geometry", std::nullopt},
                    limits);
}

void parse_geojson(const json::object& root, const json::JsonReader& reader,
                   const ParseLimits& limits, Parsed& out) {
  json::Fields f(root, limits);
  auto type = f.required_string("type");
  if (!type) return out.errors.push_back(std::move(type).error());
  if (*type == "Feature") {
    if (auto bad = reader.bad_number_in("", kFeatureNumbers))
      return out.errors.push_back(std::move(*bad));
    out.layout = Parsed::Layout::Feature;
    auto w = parse_feature(root, limits, std::nullopt);
    if (!w) return out.errors.push_back(std::move(w).error());
    out.crs_given.push_back(crs_given(root, Parsed::CrsGiven::None));
    return out.works.push_back(std::move(*w));
  }
  if (*type != "FeatureCollection")
    return out.errors.push_back(Error{"type", "must be \"Feature\" or \"FeatureCollection\""});

  out.layout = Parsed::Layout::Collection;
  auto crs = legacy_crs(root, std::nullopt);
  if (!crs) return out.errors.push_back(std::move(crs).error());
  auto features_member = f.get("features");
  if (!features_member) return out.errors.push_back(Error{"features", "is required"});
  json::array features;
  if (features_member->get_array().get(features) != simdjson::SUCCESS)
    return out.errors.push_back(json::wrong_type("features", "an array", *features_member));
  std::size_t count = 0;
  for (auto it = features.begin(); it != features.end(); ++it) ++count;
  if (count > limits.max_features) {
    return out.errors.push_back(Error{"features", "has " + std::to_string(count) +
                                                      " features, more than the limit of " +
                                                      std::to_string(limits.max_features)});
  }
  // Each feature stands alone: a bad one is reported and the others still come through.
  std::size_t i = 0;
  for (json::element feature : features) {
    std::string at = "features[" + std::to_string(i++) + "]";
    if (auto bad = reader.bad_number_in(at + ".", kFeatureNumbers)) {
      out.errors.push_back(std::move(*bad));
      continue;
    }
    json::object o;
    if (feature.get_object().get(o) != simdjson::SUCCESS) {
      out.errors.push_back(json::wrong_type(at, "a GeoJSON Feature object", feature));
      continue;
    }
    auto w = parse_feature(o, limits, *crs);
    if (w) {
      out.works.push_back(std::move(*w));
      out.feature_index.push_back(i - 1);
      out.crs_given.push_back(
          crs_given(o, *crs ? Parsed::CrsGiven::Collection : Parsed::CrsGiven::None));
    } else {
      out.errors.push_back(std::move(w).error().within(at));
    }
  }
}

}  // namespace digonce::geo::detail
