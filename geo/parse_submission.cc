// One submission in, works and errors out: the size limit, format detection, and dispatch to
// the parser of each format.
#include "geo/parse_internal.h"

namespace digonce::geo {
namespace {

bool blank(std::string_view s) {
  for (char c : s)
    if (c != ' ' && c != '\t' && c != '\n' && c != '\r') return false;
  return true;
}

// What Format::Auto takes a JSON object for (see parse.h). An SNS envelope first, whatever else
// it holds. Then a top-level `work_ref` is the contract's own work event, whose unknown fields
// are kept and ignored: a `"type": "Feature"` or `object_type` beside it is one of those, not
// another format (a Feature with `properties`, or a collection with `features`, is still
// GeoJSON).
Format detect(const json::object& o) {
  const bool contract = json::member(o, "work_ref").has_value();
  std::string_view type;
  // An SNS envelope stays one, work_ref or not: only its signed Message is read, so fields added
  // beside it (a work_ref, a geometry) must not turn a signed notification into a work.
  auto sns_type = json::member(o, "Type");
  if (sns_type && sns_type->get_string().get(type) == simdjson::SUCCESS &&
      (type == "Notification" || type == "SubscriptionConfirmation" ||
       type == "UnsubscribeConfirmation"))
    return Format::StreetManager;
  if (!contract && json::member(o, "object_type") && json::member(o, "object_data"))
    return Format::StreetManager;
  auto geojson_type = json::member(o, "type");
  if (geojson_type && geojson_type->get_string().get(type) == simdjson::SUCCESS) {
    if (type == "Feature" && (!contract || json::member(o, "properties"))) return Format::GeoJson;
    if (type == "FeatureCollection" && (!contract || json::member(o, "features")))
      return Format::GeoJson;
  }
  return Format::WorkJson;
}

}  // namespace

Parsed parse_submission(std::string_view bytes, const ParseLimits& limits, Format format) {
  Parsed out;
  if (bytes.size() > limits.max_bytes) {
    out.errors.push_back(error("the submission is " + std::to_string(bytes.size()) +
                               " bytes, more than the limit of " +
                               std::to_string(limits.max_bytes)));
    return out;
  }
  // RFC 8259 section 8.1: a parser may ignore a byte order mark; editors that save "UTF-8 with
  // BOM" put one before the first line of a file.
  if (bytes.starts_with("\xEF\xBB\xBF")) bytes.remove_prefix(3);
  if (blank(bytes)) {
    out.errors.push_back(error("the submission is empty"));
    return out;
  }
  // One parser per thread: simdjson's buffers are reused from call to call, and parse_submission
  // stays callable from any thread without a parser passed in.
  thread_local json::JsonReader reader;
  auto root = reader.parse(bytes);
  if (!root) {
    out.errors.push_back(std::move(root).error());
    return out;
  }
  json::object o;
  if (root->get_object().get(o) != simdjson::SUCCESS) {
    out.errors.push_back(
        error(std::string("the submission must be a JSON object, not ") + json::type_name(*root)));
    return out;
  }
  switch (format == Format::Auto ? detect(o) : format) {
    case Format::Auto:
    case Format::WorkJson: {
      if (auto bad = reader.bad_number_in("", detail::kWorkNumbers)) {
        out.errors.push_back(std::move(*bad));
        break;
      }
      auto w = detail::parse_work_object(o, limits);
      if (w) {
        out.works.push_back(std::move(*w));
      } else {
        out.errors.push_back(std::move(w).error());
      }
      break;
    }
    case Format::GeoJson:
      detail::parse_geojson(o, reader, limits, out);
      break;
    case Format::StreetManager:
      out.layout = Parsed::Layout::StreetManager;
      detail::parse_streetmanager(o, reader, limits, out);
      break;
  }
  return out;
}

std::string Parsed::field(std::size_t i, std::string_view name) const {
  if (name == "crs") {
    if (layout == Layout::StreetManager) return field(i, "geometry");
    const CrsGiven given = i < crs_given.size() ? crs_given[i] : CrsGiven::None;
    const std::string feature = layout == Layout::Collection && i < feature_index.size()
                                    ? "features[" + std::to_string(feature_index[i]) + "]."
                                    : "";
    if (given == CrsGiven::Properties) return feature + "properties.crs";
    if (given == CrsGiven::Feature) return feature + "crs";
    return std::string(name);
  }
  if (name != "work_ref" && name != "promoter" && name != "kind" && name != "geometry" &&
      name != "version")
    return std::string(name);
  if (layout == Layout::StreetManager) {
    if (name == "version") return notification_prefix + "event_reference";
    // The members each object type names its work's with (geo/parse_streetmanager.cc).
    struct Members {
      std::string_view object_type, work_ref, promoter, geometry;
    };
    static constexpr Members kMembers[] = {
        {"PERMIT", "work_reference_number", "promoter_swa_code", "works_location_coordinates"},
        {"ACTIVITY", "activity_reference_number", "highway_authority_swa_code",
         "activity_coordinates"},
        {"SECTION_58", "section_58_reference_number", "highway_authority_swa_code",
         "section_58_coordinates"},
    };
    if (name == "kind") return notification_prefix + "object_type";
    for (const auto& m : kMembers) {
      if (m.object_type != object_type) continue;
      const std::string_view member = name == "work_ref"   ? m.work_ref
                                      : name == "promoter" ? m.promoter
                                                           : m.geometry;
      return notification_prefix + "object_data." + std::string(member);
    }
    return std::string(name);
  }
  // A Feature's geometry is its own member; the contract's other members are its properties.
  std::string member = name == "geometry" ? std::string(name) : "properties." + std::string(name);
  switch (layout) {
    case Layout::Feature:
      return member;
    case Layout::Collection:
      if (i < feature_index.size())
        return "features[" + std::to_string(feature_index[i]) + "]." + member;
      break;
    case Layout::Work:
    case Layout::StreetManager:
      break;
  }
  return std::string(name);
}

bool for_each_feature_document(std::string_view bytes,
                               const std::function<void(const FeatureDocument&)>& each) {
  if (bytes.starts_with("\xEF\xBB\xBF")) bytes.remove_prefix(3);
  // On-Demand, not the DOM: each feature's bytes as sent (numbers as written, member order and
  // all), found without building a tape of the whole document.
  namespace od = simdjson::ondemand;
  thread_local od::parser parser;
  const simdjson::padded_string padded(bytes);
  od::document doc;
  od::object root;
  if (parser.iterate(padded).get(doc) != simdjson::SUCCESS ||
      doc.get_object().get(root) != simdjson::SUCCESS)
    return false;
  std::string_view type;
  if (root.find_field_unordered("type").get_string().get(type) != simdjson::SUCCESS ||
      type != "FeatureCollection")
    return false;
  // The text of a value as sent (trailing blanks trimmed); false if the document is bad there.
  auto raw_of = [](od::value& v, std::string_view& raw) {
    od::json_type t;
    if (v.type().get(t) != simdjson::SUCCESS) return false;
    if (t == od::json_type::object) {
      od::object o;
      if (v.get_object().get(o) != simdjson::SUCCESS || o.raw_json().get(raw)) return false;
    } else if (t == od::json_type::array) {
      od::array arr;
      if (v.get_array().get(arr) != simdjson::SUCCESS || arr.raw_json().get(raw)) return false;
    } else {
      raw = v.raw_json_token();
    }
    while (!raw.empty() &&
           (raw.back() == ' ' || raw.back() == '\n' || raw.back() == '\r' || raw.back() == '\t'))
      raw.remove_suffix(1);
    return true;
  };
  // A legacy (GeoJSON 2008) crs member of the collection: each feature then goes as a
  // collection of its own with that crs, so that it parses as it did in the collection.
  std::string crs;
  if (od::value c; root.find_field_unordered("crs").get(c) == simdjson::SUCCESS) {
    std::string_view raw;
    if (!raw_of(c, raw)) return false;
    crs = std::string(raw);
  }
  od::array features;
  if (root.find_field_unordered("features").get_array().get(features) != simdjson::SUCCESS)
    return false;
  // Every feature found before any is passed on: a document that turns out bad half way
  // through passes none. (One that is not an object is passed as it is: its parse says so.)
  std::vector<std::string_view> found;
  for (auto item : features) {
    od::value f;
    std::string_view raw;
    if (item.get(f) != simdjson::SUCCESS || !raw_of(f, raw)) return false;
    found.push_back(raw);
  }
  std::string wrapped;
  const bool wrap = !crs.empty() && crs != "null";
  for (std::size_t i = 0; i < found.size(); ++i) {
    if (wrap) {
      wrapped.assign(R"({"type":"FeatureCollection","crs":)");
      wrapped.append(crs).append(R"(,"features":[)").append(found[i]).append("]}");
    }
    each(FeatureDocument{wrap ? std::string_view(wrapped) : found[i], i, found.size(), wrap});
  }
  return true;
}

std::optional<std::vector<std::string>> feature_documents(std::string_view bytes) {
  std::vector<std::string> out;
  if (!for_each_feature_document(bytes,
                                 [&](const FeatureDocument& f) { out.emplace_back(f.json); }))
    return std::nullopt;
  return out;
}

}  // namespace digonce::geo
