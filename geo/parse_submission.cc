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

// What Format::Auto takes a JSON object for (see parse.h).
Format detect(const json::object& o) {
  std::string_view type;
  auto sns_type = json::member(o, "Type");
  if (sns_type && sns_type->get_string().get(type) == simdjson::SUCCESS &&
      (type == "Notification" || type == "SubscriptionConfirmation" ||
       type == "UnsubscribeConfirmation"))
    return Format::StreetManager;
  if (json::member(o, "object_type") && json::member(o, "object_data"))
    return Format::StreetManager;
  auto geojson_type = json::member(o, "type");
  if (geojson_type && geojson_type->get_string().get(type) == simdjson::SUCCESS &&
      (type == "Feature" || type == "FeatureCollection"))
    return Format::GeoJson;
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
      detail::parse_streetmanager(o, reader, limits, out);
      break;
  }
  return out;
}

std::optional<std::vector<std::string>> feature_documents(std::string_view bytes) {
  if (bytes.starts_with("\xEF\xBB\xBF")) bytes.remove_prefix(3);
  // Its own reader: an element of parse_submission's lives until that reader's next parse.
  thread_local json::JsonReader reader;
  auto root = reader.parse(bytes);
  json::object o;
  if (!root || root->get_object().get(o) != simdjson::SUCCESS) return std::nullopt;
  std::string_view type;
  auto type_member = json::member(o, "type");
  if (!type_member || type_member->get_string().get(type) != simdjson::SUCCESS ||
      type != "FeatureCollection")
    return std::nullopt;
  auto features_member = json::member(o, "features");
  json::array features;
  if (!features_member || features_member->get_array().get(features) != simdjson::SUCCESS)
    return std::nullopt;
  const auto crs = json::member(o, "crs");
  const std::string crs_text = crs ? simdjson::minify(*crs) : std::string();
  std::vector<std::string> out;
  for (json::element f : features) {
    std::string text = simdjson::minify(f);
    json::element own;
    if (crs && f.is_object() && f["crs"].get(own) != simdjson::SUCCESS && text.size() > 1)
      text.insert(1, "\"crs\":" + crs_text + (text.size() > 2 ? "," : ""));
    out.push_back(std::move(text));
  }
  return out;
}

}  // namespace digonce::geo
