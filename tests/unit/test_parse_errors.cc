// Bad inputs, table-driven: each row must be rejected with an error that names the field at fault
// (and, where there is one, says where in the text). Good inputs are in test_parse.cc.
#include <doctest/doctest.h>

#include <string>
#include <utility>
#include <vector>

#include "geo/parse.h"

using namespace digonce;
using namespace digonce::geo;

namespace {

// --- Building inputs: a valid base, one member changed -------------------------------------

using Members = std::vector<std::pair<std::string, std::string>>;  // name -> raw JSON value
const std::string kDrop = "\x01drop";                              // removes the member

std::string object(Members base, const Members& changes) {
  for (const auto& [name, value] : changes) {
    auto it = base.begin();
    while (it != base.end() && it->first != name) ++it;
    if (it == base.end()) {
      if (value != kDrop) base.emplace_back(name, value);
    } else if (value == kDrop) {
      base.erase(it);
    } else {
      it->second = value;
    }
  }
  std::string out = "{";
  for (const auto& [name, value] : base) {
    if (out.size() > 1) out += ',';
    out += '"' + name + "\":" + value;
  }
  return out + "}";
}

const Members kWork = {
    {"work_ref", R"("W-1")"},
    {"promoter", R"("STPR")"},
    {"geometry", R"({"type":"Point","coordinates":[-0.1,51.5]})"},
    {"start", R"("2026-03-16T07:00:00Z")"},
    {"end", R"("2026-03-20T17:00:00Z")"},
};
std::string work(const Members& changes = {}) {
  return object(kWork, changes);
}
std::string geometry(const std::string& g) {
  return work({{"geometry", g}});
}
std::string coords(const std::string& type, const std::string& c) {
  return geometry(R"({"type":")" + type + R"(","coordinates":)" + c + "}");
}

const Members kProperties = {
    {"work_ref", R"("F-1")"},
    {"promoter", R"("STPR")"},
    {"start", R"("2026-03-16")"},
    {"end", R"("2026-03-20")"},
};
std::string feature(const Members& properties = {}, const Members& changes = {}) {
  return object({{"type", R"("Feature")"},
                 {"geometry", R"({"type":"Point","coordinates":[0,51]})"},
                 {"properties", object(kProperties, properties)}},
                changes);
}
std::string collection(const std::vector<std::string>& features, const Members& changes = {}) {
  std::string list = "[";
  for (const auto& f : features) list += (list.size() > 1 ? "," : "") + f;
  return object({{"type", R"("FeatureCollection")"}, {"features", list + "]"}}, changes);
}

const Members kPermitData = {
    {"work_reference_number", R"("TSR1591199404915")"},
    {"promoter_swa_code", R"("STPR")"},
    {"promoter_organisation", R"("Smoke Test Promoter")"},
    {"works_location_coordinates", R"j("LINESTRING(501251.53 222574.64,501305.92 222506.65)")j"},
    {"street_name", R"("HIGH STREET NORTH")"},
    {"usrn", R"("8401426")"},
    {"highway_authority_swa_code", R"("5990")"},
    {"work_category", R"("Standard")"},
    {"work_category_ref", R"("standard")"},
    {"work_status_ref", R"("in_progress")"},
    {"traffic_management_type_ref", R"("road_closure")"},
    {"proposed_start_date", R"("2020-06-10T00:00:00.000Z")"},
    {"proposed_start_time", R"("2020-06-10T13:50:00.000Z")"},
    {"proposed_end_date", R"("2020-06-12T00:00:00.000Z")"},
    {"proposed_end_time", "null"},
    {"actual_start_date_time", "null"},
    {"actual_end_date_time", "null"},
    {"activity_type", R"("Remedial works")"},
};
const Members kActivityData = {
    {"activity_reference_number", R"("ARN-5990-85775436")"},
    {"activity_coordinates", R"j("LINESTRING(501251.53 222574.64,501305.92 222506.65)")j"},
    {"activity_name", R"("London Marathon")"},
    {"start_date", R"("2020-06-10T00:00:00.000Z")"},
    {"start_time", R"("2020-06-10T14:30:00.000Z")"},
    {"end_date", R"("2020-06-11T00:00:00.000Z")"},
    {"end_time", R"("2020-06-11T09:00:00.000Z")"},
    {"cancelled", R"("No")"},
    {"highway_authority", R"("CITY OF WESTMINSTER")"},
    {"highway_authority_swa_code", R"("5990")"},
};
const Members kSection58Data = {
    {"section_58_reference_number", R"("S58-5990-46589070")"},
    {"section_58_coordinates", R"j("LINESTRING(501251.53 222574.64,501305.92 222506.65)")j"},
    {"section_58_status", R"("proposed")"},
    {"start_date", R"("2020-06-10T14:30:00.000Z")"},
    {"end_date", R"("2020-06-11T09:00:00.000Z")"},
    {"highway_authority_swa_code", R"("5990")"},
};
std::string notification(const std::string& object_type, const std::string& event_type,
                         const Members& data, const Members& data_changes,
                         const Members& changes = {}) {
  return object({{"event_reference", "529770"},
                 {"event_type", '"' + event_type + '"'},
                 {"object_data", object(data, data_changes)},
                 {"event_time", R"("2020-06-04T08:00:00.000Z")"},
                 {"object_type", '"' + object_type + '"'},
                 {"version", "1"}},
                changes);
}
std::string permit(const Members& data_changes, const Members& changes = {}) {
  return notification("PERMIT", "PERMIT_GRANTED", kPermitData, data_changes, changes);
}
std::string activity(const Members& data_changes) {
  return notification("ACTIVITY", "ACTIVITY_CREATED", kActivityData, data_changes);
}
std::string section58(const Members& data_changes) {
  return notification("SECTION_58", "SECTION_58_CREATED", kSection58Data, data_changes);
}
std::string wkt(const std::string& text) {
  return permit({{"works_location_coordinates", text}});
}

// A JSON string literal holding s.
std::string quoted(const std::string& s) {
  std::string out = "\"";
  for (char c : s) {
    if (c == '"' || c == '\\') out += '\\';
    out += c;
  }
  return out + "\"";
}
std::string envelope(const Members& changes) {
  return object(
      {{"Type", R"("Notification")"}, {"MessageId", R"("GUID")"}, {"Message", quoted(permit({}))}},
      changes);
}

ParseLimits with_vertices(std::size_t n) {
  ParseLimits l;
  l.max_vertices = n;
  return l;
}
ParseLimits with_features(std::size_t n) {
  ParseLimits l;
  l.max_features = n;
  return l;
}
ParseLimits with_bytes(std::size_t n) {
  ParseLimits l;
  l.max_bytes = n;
  return l;
}

// --- The table ---------------------------------------------------------------------------------

struct Row {
  std::string input;
  std::string field;    // the field the (first) error must name
  std::string message;  // a part of its message
  Format format = Format::Auto;
  ParseLimits limits = {};
  std::size_t works = 0;  // good items still parsed (FeatureCollections)
};

std::vector<Row> json_rows() {
  const std::string deep = std::string(200, '[') + std::string(200, ']');
  // Where the nesting goes too deep, cut at 120 characters as the error's field is.
  std::string deep_path = "deep";
  while (deep_path.size() < 120) deep_path += "[0]";
  deep_path = deep_path.substr(0, 120) + "...";
  const std::string long_ref(65, 'A');
  const std::string long_text = '"' + std::string(5000, 'x') + '"';
  return {
      // Not JSON at all, or not an object
      {"", "", "empty"},
      {" \n\t ", "", "empty"},
      {"{", "", "invalid JSON"},
      {R"({"work_ref":)", "work_ref", "invalid JSON at byte 12: unexpected end of input"},
      {work().substr(0, work().size() - 1), "", "invalid JSON"},
      {work().substr(0, 40), "", "invalid JSON"},
      {work() + "x", "", "unexpected text after the JSON value"},
      {work() + "{}", "", "invalid JSON"},
      {work() + "," + work(), "", "invalid JSON"},
      {"[]", "", "must be a JSON object, not an array"},
      {"[" + work() + "]", "", "must be a JSON object"},
      {"42", "", "must be a JSON object, not an integer"},
      {R"("work")", "", "must be a JSON object, not a string"},
      {"null", "", "must be a JSON object, not null"},
      {"true", "", "must be a JSON object, not a boolean"},
      {"{'work_ref':'W'}", "", "invalid JSON"},
      {R"({"work_ref":"W",})", "", "at byte"},
      {R"({"work_ref" "W"})", "", "expected ':'"},
      {R"({"work_ref":"W" "promoter":"P"})", "", "expected ',' or '}'"},
      {R"({"a":[1 2],"work_ref":"W"})", "a", "expected ',' or ']'"},
      {R"({"a":{"b":1 "c":2}})", "a", "expected ',' or '}'"},
      // (A syntax error inside a member names it, as a bad value does.)
      {R"({"work_ref":"W\x"})", "work_ref", "invalid escape"},
      {"{\"work_ref\":\"W\x01\"}", "work_ref", "unescaped control character"},
      {"{\"work_ref\":\"\xff\xfe\"}", "work_ref", "UTF-8"},
      {"{\"work_ref\":\"\xc0\xaf\"}", "work_ref", "UTF-8"},
      {R"({"work_ref":"\ud800"})", "work_ref", "lone high surrogate"},
      {R"({"work_ref":"\udc00x"})", "work_ref", "lone low surrogate"},
      {R"({"work_ref":"\u12G4"})", "work_ref", "4 hex digits"},
      {R"({"work_ref":tru})", "work_ref", "invalid JSON"},
      {R"({"work_ref":nul})", "work_ref", "invalid JSON"},
      {R"({"version":01})", "version", "leading zero"},
      {R"({"version":-})", "version", "malformed number"},
      {R"({"version":1.})", "version", "malformed number"},
      {R"({"version":1e})", "version", "malformed number"},
      {work({{"deep", deep}}), deep_path, "nesting deeper than"},
      // Two members of one name: readers differ on which counts (simdjson the first, Python's
      // json the last), so the record would be read two ways
      {R"({"work_ref":"A","work_ref":"B"})", "work_ref", "is given twice"},
      {R"({"a":{"x":1,"y":2,"x":3}})", "a.x", "is given twice"},
      {R"({"a":[1,{"k":1},{"k":1,"k":2}]})", "a[2].k", "is given twice"},
      {R"({"type":"FeatureCollection","features":[{"type":"Feature","geometry":null,"properties":{"work_ref":"A","promoter":"P","promoter":"Q"}}]})",
       "features[0].properties.promoter", "is given twice"},
      {coords("Point", "[NaN, 1]"), "geometry.coordinates[0]", "unexpected character 'N'"},
      {coords("Point", "[Infinity, 1]"), "geometry.coordinates[0]", "invalid JSON"},
      {coords("Point", "[-Infinity, 1]"), "geometry.coordinates[0]", "invalid JSON"},
      {work(), "", "more than the limit of 100", Format::Auto, with_bytes(100)},

      // work_ref
      {work({{"work_ref", kDrop}}), "work_ref", "is required"},
      {work({{"work_ref", "null"}}), "work_ref", "is required"},
      {work({{"work_ref", "12"}}), "work_ref", "must be a string, not an integer"},
      {work({{"work_ref", "true"}}), "work_ref", "must be a string"},
      {work({{"work_ref", "[]"}}), "work_ref", "must be a string, not an array"},
      {work({{"work_ref", "{}"}}), "work_ref", "must be a string, not an object"},
      {work({{"work_ref", R"("")"}}), "work_ref", "1 to 64 characters"},
      {work({{"work_ref", R"("a b")"}}), "work_ref", "A-Z a-z 0-9"},
      {work({{"work_ref", R"("W;1")"}}), "work_ref", "A-Z a-z 0-9"},
      {work({{"work_ref", R"("W\u00e9")"}}), "work_ref", "A-Z a-z 0-9"},
      {work({{"work_ref", '"' + long_ref + '"'}}), "work_ref", "1 to 64"},
      // promoter
      {work({{"promoter", kDrop}}), "promoter", "is required"},
      {work({{"promoter", "null"}}), "promoter", "is required"},
      {work({{"promoter", "5"}}), "promoter", "must be a string"},
      {work({{"promoter", R"("")"}}), "promoter", "1 to 64 printable"},
      {work({{"promoter", R"("   ")"}}), "promoter", "1 to 64 printable"},
      {work({{"promoter", R"("ST\nPR")"}}), "promoter", "control characters"},
      {work({{"promoter", '"' + long_ref + '"'}}), "promoter", "1 to 64 printable"},
      // event, version, kind
      {work({{"event", R"("delete")"}}), "event", "must be one of upsert, cancel"},
      {work({{"event", R"("CANCEL")"}}), "event", "must be one of upsert, cancel"},
      {work({{"event", "1"}}), "event", "must be a string"},
      {work({{"event", R"("cancel")"}, {"promoter", kDrop}}), "promoter", "is required"},
      {work({{"event", R"("cancel")"}, {"version", "-1"}}), "version", "integer >= 0"},
      {work({{"version", "-1"}}), "version", "must be an integer >= 0"},
      {work({{"version", "1.5"}}), "version", "must be an integer >= 0"},
      {work({{"version", "1.0"}}), "version", "written in digits only (1, not 1.0"},
      {work({{"version", "1e3"}}), "version", "written in digits only"},
      {work({{"version", "2.5"}}), "version", "not a fractional number"},
      {work({{"version", R"("1")"}}), "version", "must be an integer >= 0, not a string"},
      {work({{"version", "true"}}), "version", "must be an integer >= 0, not a boolean"},
      {work({{"version", "[1]"}}), "version", "must be an integer >= 0"},
      {work({{"version", "9223372036854775808"}}), "version", "at most 9223372036854775807"},
      {work({{"version", "99999999999999999999"}}), "version",
       "must be a number in range: 99999999999999999999 is out of range (beyond 64 bits)"},
      {work({{"version", "1e999"}}), "version", "must be a finite number"},
      // A long literal is shown cut at 40 characters, but read whole: an integer stays one.
      {work({{"version", std::string(45, '9')}}), "version",
       "must be a number in range: " + std::string(40, '9') + "... is out of range (beyond 64"},
      {work({{"version", std::string(45, '9') + "e999"}}), "version",
       "must be a finite number: " + std::string(40, '9') + "... is out of range"},
      {work({{"version", "-9223372036854775809"}}), "version", "out of range"},
      // category, status
      {work({{"category", R"("urgent")"}}), "category", "must be one of minor, standard, major"},
      {work({{"category", R"("MINOR")"}}), "category", "must be one of"},
      {work({{"category", "3"}}), "category", "must be a string"},
      {work({{"status", R"("done")"}}), "status",
       "must be one of planned, in_progress, completed, cancelled"},
      {work({{"status", "false"}}), "status", "must be a string"},
      // start, end
      {work({{"start", kDrop}}), "start", "is required"},
      {work({{"start", "null"}}), "start", "is required"},
      {work({{"end", kDrop}}), "end", "is required"},
      {work({{"end", "null"}}), "end", "is required"},
      {work({{"start", "20260316"}}), "start", "must be a string"},
      {work({{"start", R"("2026-13-01T00:00:00Z")"}}), "start", "month out of range"},
      {work({{"start", R"("2026-02-30")"}}), "start", "day out of range"},
      {work({{"start", R"("2026-02-29T00:00:00Z")"}}), "start", "day out of range"},
      {work({{"start", R"("2026-03-16T07:00:00")"}}), "start", "missing time zone"},
      {work({{"start", R"("2026-03-16T25:00:00Z")"}}), "start", "time out of range"},
      {work({{"start", R"("2026-03-16T07:00Z")"}}), "start", "hh:mm:ss"},
      {work({{"start", R"("next tuesday")"}}), "start", "not an RFC 3339 timestamp"},
      {work({{"start", R"("")"}}), "start", "not an RFC 3339 timestamp"},
      {work({{"start", R"("2026-03-16T07:00:00+1:00")"}}), "start", "bad UTC offset"},
      {work({{"start", R"("2026-03-16T07:00:00Z junk")"}}), "start", "unexpected text"},
      {work({{"end", R"("2026-03-16T07:00:00.Z")"}}), "end", "digits after '.'"},
      {work({{"end", R"("0000-01-01")"}}), "end", "year out of range"},
      {work({{"end", "[]"}}), "end", "must be a string"},
      {work({{"start", R"("0001-01-01T00:30:00+01:00")"}}), "start", "out of range"},
      {work({{"end", R"("2026-03-16T06:59:59Z")"}}), "end", "is before start"},
      {work({{"start", R"("2026-03-17")"}, {"end", R"("2026-03-16")"}}), "end", "is before start"},
      {work({{"end", R"("2026-03-16T08:00:00+02:00")"}}), "end", "is before start"},
      // crs
      {work({{"crs", R"("EPSG:")"}}), "crs", "unknown CRS"},
      {work({{"crs", R"("EPSG:abc")"}}), "crs", "unknown CRS"},
      {work({{"crs", R"("EPSG:0")"}}), "crs", "unknown CRS"},
      {work({{"crs", R"("EPSG:27700x")"}}), "crs", "unknown CRS"},
      {work({{"crs", R"("WGS84")"}}), "crs", "unknown CRS \"WGS84\""},
      {work({{"crs", R"("urn:ogc:def:crs:EPSG::x")"}}), "crs", "unknown CRS"},
      {work({{"crs", R"("+proj=longlat")"}}), "crs", "unknown CRS"},
      {work({{"crs", "4326"}}), "crs", "must be a CRS name"},
      {work({{"crs", R"({"type":"link","properties":{"href":"x"}})"}}), "crs.type",
       "must be \"name\""},
      {work({{"crs", R"({"type":"name","properties":{}})"}}), "crs.properties.name", "is required"},
      {work({{"crs", R"({"type":"name","properties":{"name":"bogus"}})"}}), "crs.properties.name",
       "unknown CRS"},
      {work({{"crs", R"({"type":"name"})"}}), "crs.properties", "is required"},
      // optional strings
      {work({{"highway_authority", "1"}}), "highway_authority", "must be a string"},
      {work({{"promoter_name", "[]"}}), "promoter_name", "must be a string"},
      {work({{"street_name", "{}"}}), "street_name", "must be a string"},
      {work({{"traffic_management", "2"}}), "traffic_management", "must be a string"},
      {work({{"description", "false"}}), "description", "must be a string"},
      {work({{"description", long_text}}), "description", "more than the limit of 4096"},
      {work({{"street_name", long_text}}), "street_name", "more than the limit"},
      {work({{"usrn", "-5"}}), "usrn", "a string or an integer >= 0"},
      {work({{"usrn", "1.5"}}), "usrn", "a string or an integer >= 0"},
      {work({{"usrn", "true"}}), "usrn", "a string or an integer >= 0"},
  };
}

std::vector<Row> geometry_rows() {
  const std::string square = "[[0,0],[1,0],[1,1],[0,0]]";
  std::string eleven = "[";
  for (int i = 0; i < 11; ++i) eleven += (i ? ",[" : "[") + std::to_string(i) + ",0]";
  eleven += "]";
  std::string many_bad = "[";
  for (int i = 0; i < 1500; ++i) many_bad += (i ? ",[1e999," : "[1e999,") + std::to_string(i) + "]";
  many_bad += "]";
  return {
      {coords("MultiPoint", many_bad), "geometry.coordinates[0][0]",
       "and so are at least 1000 other numbers"},
      {work({{"geometry", kDrop}}), "geometry", "is required"},
      {work({{"geometry", "null"}}), "geometry", "is required"},
      {geometry(R"j("POINT(1 2)")j"), "geometry",
       "must be a GeoJSON geometry object, not a string"},
      {geometry("[]"), "geometry", "must be a GeoJSON geometry object"},
      {geometry("{}"), "geometry.type", "is required"},
      {geometry(R"({"type":1,"coordinates":[1,2]})"), "geometry.type", "must be a string"},
      {geometry(R"({"type":"Circle","coordinates":[1,2]})"), "geometry.type",
       "unsupported geometry type \"Circle\""},
      {geometry(R"({"type":"point","coordinates":[1,2]})"), "geometry.type", "unsupported"},
      {geometry(R"({"type":"Feature","coordinates":[1,2]})"), "geometry.type", "unsupported"},
      {geometry(R"({"type":"GeometryCollection","geometries":[]})"), "geometry.type",
       "GeometryCollection is not supported"},
      {geometry(R"({"type":"Point"})"), "geometry.coordinates", "is required"},
      {geometry(R"({"type":"Point","coordinates":null})"), "geometry.coordinates", "is required"},
      // positions
      {coords("Point", "[]"), "geometry.coordinates", "2 or 3 numbers"},
      {coords("Point", "[1]"), "geometry.coordinates", "not 1"},
      {coords("Point", "[1,2,3,4]"), "geometry.coordinates", "not 4"},
      {coords("Point", "[1,2,3,4,5,6]"), "geometry.coordinates", "not 6"},
      {coords("Point", R"("1,2")"), "geometry.coordinates", "must be a position"},
      {coords("Point", "5"), "geometry.coordinates", "must be a position"},
      {coords("Point", R"([1,"2"])"), "geometry.coordinates[1]", "must be a number, not a string"},
      {coords("Point", R"(["NaN",1])"), "geometry.coordinates[0]", "must be a number"},
      {coords("Point", "[1,null]"), "geometry.coordinates[1]", "must be a number, not null"},
      {coords("Point", "[true,1]"), "geometry.coordinates[0]", "must be a number"},
      {coords("Point", "[[1,2]]"), "geometry.coordinates[0]", "must be a number, not an array"},
      {coords("Point", "[1e999,2]"), "geometry.coordinates[0]", "must be a finite number"},
      {coords("Point", "[1,-1e999]"), "geometry.coordinates[1]", "out of range"},
      {coords("Point", "[1,2,1E400]"), "geometry.coordinates[2]", "out of range"},
      {coords("Point", "[123456789012345678901234567890,2]"), "geometry.coordinates[0]",
       "out of range"},
      // LineString
      {coords("LineString", "[]"), "geometry.coordinates", "at least 2 positions, not 0"},
      {coords("LineString", "[[1,2]]"), "geometry.coordinates", "at least 2 positions, not 1"},
      {coords("LineString", "[1,2]"), "geometry.coordinates[0]", "must be a position"},
      {coords("LineString", "[[1,2],[3]]"), "geometry.coordinates[1]", "not 1"},
      {coords("LineString", "[[1,2],[3,4,5,6]]"), "geometry.coordinates[1]", "not 4"},
      {coords("LineString", R"([[1,2],"x"])"), "geometry.coordinates[1]", "must be a position"},
      {coords("LineString", "[[1,2],[true,4]]"), "geometry.coordinates[1][0]", "must be a number"},
      {coords("LineString", "[[1,2],[3,4e999]]"), "geometry.coordinates[1][1]", "finite"},
      {coords("LineString", "[[[1,2],[3,4]]]"), "geometry.coordinates[0][0]", "must be a number"},
      {coords("LineString", R"({"a":1})"), "geometry.coordinates",
       "must be an array of positions, not an object"},
      {coords("LineString", eleven), "geometry.coordinates",
       "has 11 vertices, more than the limit of 10", Format::Auto, with_vertices(10)},
      // Polygon
      {coords("Polygon", "[]"), "geometry.coordinates", "at least one ring"},
      {coords("Polygon", "[[]]"), "geometry.coordinates[0]", "at least 4 positions, not 0"},
      {coords("Polygon", "[[[0,0],[1,0],[0,0]]]"), "geometry.coordinates[0]",
       "at least 4 positions, not 3"},
      {coords("Polygon", "[[[0,0],[1,0],[1,1],[0,1]]]"), "geometry.coordinates[0]",
       "must be closed"},
      {coords("Polygon", "[[[0,0],[1,0],[1,1],[0,0.000001]]]"), "geometry.coordinates[0]",
       "must be closed"},
      {coords("Polygon", "[" + square + ",[[0.1,0.1],[0.2,0.1],[0.2,0.2]]]"),
       "geometry.coordinates[1]", "not 3"},
      {coords("Polygon", "[" + square + ",[[0.1,0.1],[0.2,0.1],[0.2,0.2],[0.1,0.2]]]"),
       "geometry.coordinates[1]", "must be closed"},
      {coords("Polygon", square), "geometry.coordinates[0][0]", "must be a position"},
      {coords("Polygon", "[[[[0,0],[1,0],[1,1],[0,0]]]]"), "geometry.coordinates[0][0][0]",
       "must be a number"},
      {coords("Polygon", "[[[0,0],[1,0],[1,1],[0,0]],5]"), "geometry.coordinates[1]",
       "must be an array of positions"},
      {coords("Polygon", "[[[0,0],[1,0],[1,\"1\"],[0,0]]]"), "geometry.coordinates[0][2][1]",
       "must be a number"},
      {coords("Polygon", "7"), "geometry.coordinates", "must be an array of linear rings"},
      {coords("Polygon", "[" + square + "]"), "geometry.coordinates", "has 4 vertices",
       Format::Auto, with_vertices(3)},
      // Multi*
      {coords("MultiPoint", "[]"), "geometry.coordinates", "must not be empty"},
      {coords("MultiPoint", "[[1]]"), "geometry.coordinates[0]", "not 1"},
      {coords("MultiPoint", "[1,2]"), "geometry.coordinates[0]", "must be a position"},
      {coords("MultiPoint", "[[1,2],[3,4],[5,6,7,8]]"), "geometry.coordinates[2]", "not 4"},
      {coords("MultiPoint", "[[1,2],[3,4],[5,6]]"), "geometry.coordinates", "has 3 vertices",
       Format::Auto, with_vertices(2)},
      {coords("MultiLineString", "[]"), "geometry.coordinates", "must not be empty"},
      {coords("MultiLineString", "[[]]"), "geometry.coordinates[0]", "at least 2 positions, not 0"},
      {coords("MultiLineString", "[[[1,2],[3,4]],[[5,6]]]"), "geometry.coordinates[1]",
       "at least 2 positions, not 1"},
      {coords("MultiLineString", "[[1,2],[3,4]]"), "geometry.coordinates[0][0]",
       "must be a position"},
      {coords("MultiLineString", "{}"), "geometry.coordinates", "must be an array"},
      {coords("MultiPolygon", "[]"), "geometry.coordinates", "must not be empty"},
      {coords("MultiPolygon", "[[]]"), "geometry.coordinates[0]", "at least one ring"},
      {coords("MultiPolygon", "[[" + square + "],[[[0,0],[1,0],[1,1],[0,1]]]]"),
       "geometry.coordinates[1][0]", "must be closed"},
      {coords("MultiPolygon", "[[" + square + "],[[[0,0],[1,0],[0,0]]]]"),
       "geometry.coordinates[1][0]", "not 3"},
      {coords("MultiPolygon", "[[[[0,0],[1,0],[1e999,1],[0,0]]]]"),
       "geometry.coordinates[0][0][2][0]", "finite"},
      {coords("MultiPolygon", "[" + square + "]"), "geometry.coordinates[0][0][0]",
       "must be a position"},
  };
}

std::vector<Row> geojson_rows() {
  const std::string good = feature();
  const std::string bad_end = feature({{"end", R"("2026-03-01")"}});
  return {
      {feature({}, {{"properties", kDrop}}), "properties", "is required"},
      {feature({}, {{"properties", "null"}}), "properties", "is required"},
      {feature({}, {{"properties", "[]"}}), "properties", "must be an object, not an array"},
      {feature({{"work_ref", kDrop}}), "properties.work_ref", "is required"},
      {feature({{"promoter", "1"}}), "properties.promoter", "must be a string"},
      {feature({{"start", R"("2026-02-30")"}}), "properties.start", "day out of range"},
      {bad_end, "properties.end", "is before start"},
      {feature({{"version", "-3"}}), "properties.version", "integer >= 0"},
      {feature({{"crs", R"("EPSG:x")"}}), "properties.crs", "unknown CRS"},
      {feature({}, {{"geometry", "null"}}), "geometry", "is required"},
      {feature({}, {{"geometry", kDrop}}), "geometry", "is required"},
      {feature({}, {{"geometry", R"({"type":"LineString","coordinates":[[0,0]]})"}}),
       "geometry.coordinates", "at least 2 positions"},
      {feature({}, {{"geometry", R"({"type":"Point","coordinates":[0,1e999]})"}}),
       "geometry.coordinates[1]", "finite"},
      {feature({}, {{"crs", R"({"type":"name","properties":{"name":"EPSG:x"}})"}}),
       "crs.properties.name", "unknown CRS"},
      {feature({}, {{"crs", R"({"type":"link"})"}}), "crs.type", "must be \"name\""},
      {feature({}, {{"type", R"("Point")"}}), "type",
       "must be \"Feature\" or \"FeatureCollection\"", Format::GeoJson},
      {feature({}, {{"type", kDrop}}), "type", "is required", Format::GeoJson},
      {feature({}, {{"type", "1"}}), "type", "must be a string", Format::GeoJson},
      {work(), "type", "is required", Format::GeoJson},
      // FeatureCollection: the bad features are reported, the good ones still come through
      {collection({}, {{"features", kDrop}}), "features", "is required"},
      {collection({}, {{"features", "{}"}}), "features", "must be an array, not an object"},
      {collection({good, good, good}), "features", "has 3 features, more than the limit of 2",
       Format::Auto, with_features(2)},
      {collection({"5", good}),
       "features[0]",
       "must be a GeoJSON Feature object",
       Format::Auto,
       {},
       1},
      {collection({good, feature({}, {{"type", R"("Feature ")"}})}),
       "features[1].type",
       "must be \"Feature\"",
       Format::Auto,
       {},
       1},
      {collection({good, bad_end, good}),
       "features[1].properties.end",
       "is before start",
       Format::Auto,
       {},
       2},
      {collection({good, good,
                   feature({}, {{"geometry", R"({"type":"Point","coordinates":[1e999,0]})"}})}),
       "features[2].geometry.coordinates[0]",
       "finite",
       Format::Auto,
       {},
       2},
      {collection({feature({{"work_ref", R"("bad ref")"}}), good}),
       "features[0].properties.work_ref",
       "A-Z a-z",
       Format::Auto,
       {},
       1},
      {collection({good, feature({}, {{"properties", "null"}})}),
       "features[1].properties",
       "is required",
       Format::Auto,
       {},
       1},
      {collection({good}, {{"crs", R"({"type":"name","properties":{"name":"nope"}})"}}),
       "crs.properties.name", "unknown CRS"},
  };
}

std::vector<Row> streetmanager_rows() {
  return {
      // the notification
      {permit({}, {{"event_type", kDrop}}), "event_type", "is required"},
      {permit({}, {{"event_type", "5"}}), "event_type", "must be a string"},
      {permit({}, {{"event_type", R"("")"}}), "event_type", "must not be empty"},
      {permit({}, {{"event_type", R"(" ")"}}), "event_type", "must not be empty"},
      {permit({}, {{"event_type", R"("ACTIVITY_CREATED")"}}), "event_type",
       "ACTIVITY_CREATED does not apply to object_type PERMIT"},
      {permit({}, {{"object_type", R"("WIDGET")"}}), "object_type",
       "must be one of PERMIT, ACTIVITY, SECTION_58", Format::StreetManager},
      {permit({}, {{"object_type", "3"}}), "object_type", "must be a string"},
      {permit({}, {{"object_type", kDrop}}), "object_type", "is required", Format::StreetManager},
      {permit({}, {{"object_data", R"("x")"}}), "object_data", "must be an object, not a string"},
      {permit({}, {{"object_data", "null"}}), "object_data", "is required", Format::StreetManager},
      {permit({}, {{"event_reference", kDrop}}), "event_reference", "is required"},
      {permit({}, {{"event_reference", "-1"}}), "event_reference", "integer >= 0"},
      {permit({}, {{"event_reference", R"("678")"}}), "event_reference", "integer >= 0"},
      {permit({}, {{"event_reference", "6.5"}}), "event_reference", "integer >= 0"},
      {permit({}, {{"event_reference", "1e999"}}), "event_reference", "finite"},
      // PERMIT object_data
      {permit({{"work_reference_number", kDrop}}), "object_data.work_reference_number",
       "is required"},
      {permit({{"work_reference_number", R"("TSR 1")"}}), "object_data.work_reference_number",
       "A-Z a-z"},
      {permit({{"work_reference_number", "42"}}), "object_data.work_reference_number",
       "must be a string"},
      {permit({{"promoter_swa_code", kDrop}}), "object_data.promoter_swa_code", "is required"},
      {permit({{"promoter_swa_code", R"("")"}}), "object_data.promoter_swa_code", "printable"},
      {permit({{"works_location_coordinates", kDrop}}), "object_data.works_location_coordinates",
       "is required"},
      {permit({{"works_location_coordinates", "null"}}), "object_data.works_location_coordinates",
       "is required"},
      {permit({{"works_location_coordinates", "5"}}), "object_data.works_location_coordinates",
       "must be a string"},
      {permit({{"works_location_coordinates", R"({"type":"Point","coordinates":[1,2]})"}}),
       "object_data.works_location_coordinates", "must be a string, not an object"},
      {permit({{"proposed_start_date", kDrop}, {"proposed_start_time", kDrop}}),
       "object_data.proposed_start_date", "is required"},
      {permit({{"proposed_start_date", "null"}, {"proposed_start_time", "null"}}),
       "object_data.proposed_start_date", "is required"},
      {permit({{"proposed_start_date", R"("2020-13-10T00:00:00.000Z")"}}),
       "object_data.proposed_start_date", "month out of range"},
      {permit({{"proposed_start_time", R"("13:50")"}}), "object_data.proposed_start_time",
       "not an RFC 3339 timestamp"},
      {permit({{"proposed_end_date", kDrop}}), "object_data.proposed_end_date", "is required"},
      {permit({{"proposed_end_date", "20200612"}}), "object_data.proposed_end_date",
       "must be a string"},
      {permit({{"proposed_end_time", R"("2020-06-12T25:00:00Z")"}}),
       "object_data.proposed_end_time", "time out of range"},
      {permit({{"proposed_end_time", R"("2020-06-09T10:00:00.000Z")"}}),
       "object_data.proposed_end_time", "is before the start"},
      {permit({{"proposed_end_date", R"("2020-06-08T00:00:00.000Z")"}}),
       "object_data.proposed_end_date", "is before the start"},
      {permit({{"actual_start_date_time", R"("2020-06-12T08:00:00.000Z")"},
               {"actual_end_date_time", R"("2020-06-11T08:00:00.000Z")"}}),
       "object_data.actual_end_date_time", "is before the start"},
      {permit({{"actual_start_date_time", "5"}}), "object_data.actual_start_date_time",
       "must be a string"},
      {permit({{"actual_end_date_time", R"("yesterday")"}}), "object_data.actual_end_date_time",
       "not an RFC 3339"},
      {permit({{"work_category_ref", "7"}}), "object_data.work_category_ref", "must be a string"},
      {permit({{"promoter_swa_code", "-5"}}), "object_data.promoter_swa_code",
       "must be a string or an integer >= 0, not -5"},
      {permit({{"proposed_start_date", R"("")"}, {"proposed_start_time", kDrop}}),
       "object_data.proposed_start_date", "is required"},
      {permit({{"work_status_ref", "1"}}), "object_data.work_status_ref", "must be a string"},
      {permit({{"usrn", "[]"}}), "object_data.usrn", "a string or an integer"},
      {permit({{"street_name", "5"}}), "object_data.street_name", "must be a string"},
      {permit({{"promoter_organisation", "{}"}}), "object_data.promoter_organisation",
       "must be a string"},
      {permit({{"activity_type", "false"}}), "object_data.activity_type", "must be a string"},
      // WKT inside Street Manager: located under the field, and in the text
      {wkt(R"j("LINESTRING(501251.53 222574.64)")j"), "object_data.works_location_coordinates",
       "at least 2 positions, not 1"},
      {wkt(R"("POINT(1 2")"), "object_data.works_location_coordinates", "offset 9"},
      {wkt(R"("POINT EMPTY")"), "object_data.works_location_coordinates", "EMPTY"},
      {wkt(R"j("{\"type\": \"Point\", \"coordinates\": [1, 2]}")j"),
       "object_data.works_location_coordinates", "not GeoJSON"},
      {wkt(R"j("CIRCLE(1 2)")j"), "object_data.works_location_coordinates",
       "unsupported geometry type CIRCLE"},
      {wkt(R"j("POINT(1)")j"), "object_data.works_location_coordinates", "offset 7"},
      {wkt(R"("")"), "object_data.works_location_coordinates", "empty"},
      {wkt(R"j("POLYGON((0 0,1 0,1 1,0 1))")j"), "object_data.works_location_coordinates",
       "must be closed"},
      {wkt(R"j("LINESTRING(0 0,1 1,2 2)")j"), "object_data.works_location_coordinates",
       "has 3 vertices", Format::Auto, with_vertices(2)},
      // ACTIVITY
      {activity({{"activity_reference_number", kDrop}}), "object_data.activity_reference_number",
       "is required"},
      {activity({{"highway_authority_swa_code", kDrop}}), "object_data.highway_authority_swa_code",
       "is required"},
      {activity({{"activity_coordinates", kDrop}}), "object_data.activity_coordinates",
       "is required"},
      {activity({{"activity_coordinates", R"j("POINT(1 2) POINT(3 4)")j"}}),
       "object_data.activity_coordinates", "unexpected text after the geometry"},
      {activity({{"start_date", kDrop}, {"start_time", kDrop}}), "object_data.start_date",
       "is required"},
      {activity({{"end_date", kDrop}, {"end_time", kDrop}}), "object_data.end_date", "is required"},
      {activity({{"end_time", R"("2020-06-01T09:00:00.000Z")"}}), "object_data.end_time",
       "is before the start"},
      {activity({{"start_time", "1"}}), "object_data.start_time", "must be a string"},
      {activity({{"cancelled", "true"}}), "object_data.cancelled", "must be a string"},
      {activity({{"activity_name", "[]"}}), "object_data.activity_name", "must be a string"},
      {notification("ACTIVITY", "PERMIT_GRANTED", kActivityData, {}), "event_type",
       "does not apply to object_type ACTIVITY"},
      // SECTION_58
      {section58({{"section_58_reference_number", kDrop}}),
       "object_data.section_58_reference_number", "is required"},
      {section58({{"section_58_coordinates", R"j("MULTIPOLYGON(((0 0,1 0,0 0)))")j"}}),
       "object_data.section_58_coordinates", "at least 4 positions"},
      {section58({{"start_date", R"("garbage")"}}), "object_data.start_date", "not an RFC 3339"},
      {section58({{"end_date", kDrop}}), "object_data.end_date", "is required"},
      {section58({{"end_date", R"("2020-06-01T09:00:00.000Z")"}}), "object_data.end_date",
       "is before the start"},
      {section58({{"section_58_status", "3"}}), "object_data.section_58_status",
       "must be a string"},
      {notification("SECTION_58", "WORK_START", kSection58Data, {}), "event_type",
       "does not apply to object_type SECTION_58"},
      // the SNS envelope
      {envelope({{"Message", kDrop}}), "Message", "is required"},
      {envelope({{"Message", "5"}}), "Message", "must be a string, not an integer"},
      {envelope({{"Message", R"({"event_type":"WORK_START"})"}}), "Message",
       "must be a string, not an object"},
      {envelope({{"Message", R"("not json")"}}), "Message", "invalid JSON"},
      {envelope({{"Message", R"("")"}}), "Message", "invalid JSON"},
      {envelope({{"Message", R"("{\"event_type\":")"}}), "Message.event_type", "invalid JSON"},
      {envelope({{"Message", R"("[1,2]")"}}), "Message", "must be a Street Manager notification"},
      {envelope({{"Message", quoted(permit({{"work_reference_number", kDrop}}))}}),
       "Message.object_data.work_reference_number", "is required"},
      {envelope({{"Message", quoted(permit({{"works_location_coordinates", R"("POINT(1 2")"}}))}}),
       "Message.object_data.works_location_coordinates", "offset"},
      {envelope({{"Message", quoted(permit({}, {{"event_reference", "1e999"}}))}}),
       "Message.event_reference", "finite"},
      {envelope({{"Type", R"("Unknown")"}}), "Type", "must be \"Notification\"",
       Format::StreetManager},
      {envelope({{"Type", "5"}}), "Type", "must be a string", Format::StreetManager},
      {envelope({{"Type", R"("SubscriptionConfirmation")"},
                 {"SubscribeURL", R"("https://sns.example/confirm")"}}),
       "Type", "SubscribeURL (https://sns.example/confirm)"},
      {envelope({{"Type", R"("UnsubscribeConfirmation")"}}), "Type", "not a work"},
      {work(), "object_type", "is required", Format::StreetManager},
  };
}

// WKT on its own: no field, but the offset where it went wrong.
struct WktRow {
  std::string wkt;
  std::string message;
  ParseLimits limits = {};
};

std::vector<WktRow> wkt_rows() {
  return {
      {"", "empty"},
      {"   ", "empty"},
      {"POINT", "offset 5: expected '('"},
      {"POINT(", "offset 6: expected a number"},
      {"POINT()", "offset 6: expected a number"},
      {"POINT(1)", "offset 7: expected a second number"},
      {"POINT(1 2", "offset 9: expected ')'"},
      {"POINT(1 2))", "offset 10: unexpected text after the geometry"},
      {"POINT(1 2) x", "offset 11: unexpected text"},
      {"POINT 1 2", "offset 6: expected '('"},
      {"POINT EMPTY", "offset 6: EMPTY geometries are not supported"},
      {"point empty", "EMPTY"},
      {"LINESTRING Z EMPTY", "offset 13: EMPTY"},
      {"LINESTRING(1 2)", "offset 10: a LineString needs at least 2 positions, not 1"},
      {"LINESTRING()", "offset 11: expected a number"},
      {"LINESTRING(1 2,)", "offset 15: expected a number"},
      {"LINESTRING(1 2,, 3 4)", "offset 15: expected a number"},
      {"LINESTRING(1 2 3 4 5, 6 7)", "offset 19: expected ',' or ')'"},
      {"LINESTRING(1 2, 3 4 5)", "offset 16: this position has 3 numbers but the first had 2"},
      {"LINESTRING((1 2, 3 4))", "offset 11: expected a number"},
      {"POINT Z (1 2)", "offset 9: a Z position has 3 numbers, not 2"},
      {"POINT ZM (1 2 3)", "a ZM position has 4 numbers, not 3"},
      {"POINT Q (1 2)", "offset 6: expected '(' or a Z, M or ZM tag"},
      {"POINTQ(1 2)", "offset 0: unsupported geometry type POINTQ"},
      {"CIRCLE(1 2)", "offset 0: unsupported geometry type CIRCLE"},
      {"(1 2)", "offset 0: expected a geometry type"},
      {"GEOMETRYCOLLECTION(POINT(1 2))", "GEOMETRYCOLLECTION is not supported"},
      {"TRIANGLE((0 0,1 0,0 1,0 0))", "unsupported geometry type TRIANGLE"},
      {"POLYGON((0 0, 1 0, 1 1))", "offset 8: a polygon ring needs at least 4 positions, not 3"},
      {"POLYGON((0 0, 1 0, 1 1, 0 1))", "offset 8: a polygon ring must be closed"},
      {"POLYGON(0 0, 1 0, 1 1, 0 0)", "offset 8: expected '('"},
      {"POLYGON(())", "offset 9: expected a number"},
      {"POLYGON((0 0,1 0,1 1,0 0),(0 0,1 0,1 1))", "offset 26: a polygon ring needs at least 4"},
      {"POLYGON((0 0,1 0,1 1,0 0)", "offset 25: expected ',' or ')'"},
      {"MULTIPOINT()", "offset 11: expected a number"},
      {"MULTIPOINT((1 2),)", "offset 17: expected a number"},
      {"MULTIPOINT((1 2)(3 4))", "offset 16: expected ',' or ')'"},
      {"MULTIPOINT((1 2), (3 4)", "offset 23: expected ',' or ')'"},
      {"MULTILINESTRING((1 2, 3 4),(5 6))", "offset 27: a LineString needs at least 2"},
      {"MULTILINESTRING(1 2, 3 4)", "offset 16: expected '('"},
      {"MULTIPOLYGON(((0 0,1 0,1 1,0 0)),((0 0,1 0,0 0)))", "offset 34: a polygon ring needs"},
      {"MULTIPOLYGON((0 0,1 0,1 1,0 0))", "offset 14: expected '('"},
      {"POINT(1e999 2)", "offset 6: number out of range"},
      {"POINT(1 -1e400)", "offset 8: number out of range"},
      {"POINT(inf 2)", "offset 6: expected a number"},
      {"POINT(-inf 2)", "offset 6: expected a number"},
      {"POINT(nan nan)", "offset 6: expected a number"},
      {"POINT(NaN 1)", "offset 6: expected a number"},
      {"POINT(1.2.3 4)", "offset 9: malformed number"},
      {"POINT(1 2e)", "offset 9: malformed number"},
      {"POINT(0x10 2)", "offset 7: malformed number"},
      {"POINT(+-1 2)", "offset 6: expected a number"},
      {"POINT(- 1 2)", "offset 6: expected a number"},
      {"POINT(1,2)", "offset 7: expected a second number"},
      {"POINT(1 2)\x01", "offset 10: unexpected text"},
      {"SRID=abc;POINT(1 2)", "offset 5: expected an SRID"},
      {"SRID=27700 POINT(1 2)", "offset 11: expected ';' after the SRID"},
      {"SRID=-1;POINT(1 2)", "expected an SRID"},
      {"SRID=99999999999;POINT(1 2)", "expected an SRID"},
      {"SRID=27700;", "offset 11: expected a geometry type"},
      {"LINESTRING(0 0,1 1,2 2,3 3)", "has 4 vertices, more than the limit of 3",
       [] {
         ParseLimits l;
         l.max_vertices = 3;
         return l;
       }()},
      {"POINT(1 2)", "more than the limit of 5",
       [] {
         ParseLimits l;
         l.max_bytes = 5;
         return l;
       }()},
  };
}

int check_rows(const std::vector<Row>& rows) {
  int n = 0;
  for (const auto& row : rows) {
    ++n;
    std::string input = row.input.size() > 300 ? row.input.substr(0, 300) + "..." : row.input;
    CAPTURE(n);
    CAPTURE(input);
    Parsed p = parse_submission(row.input, row.limits, row.format);
    CHECK(p.works.size() == row.works);
    REQUIRE_FALSE(p.errors.empty());
    const Error& e = p.errors[0];
    std::string error = e.what();
    CAPTURE(error);
    CHECK(e.field == row.field);
    CHECK(e.message.find(row.message) != std::string::npos);
  }
  return n;
}

}  // namespace

TEST_CASE("parse errors: bad JSON and bad contract fields") {
  CHECK(check_rows(json_rows()) >= 100);
}

TEST_CASE("parse errors: bad GeoJSON geometries") {
  CHECK(check_rows(geometry_rows()) >= 60);
}

TEST_CASE("parse errors: bad GeoJSON Features and FeatureCollections") {
  CHECK(check_rows(geojson_rows()) >= 25);
}

TEST_CASE("parse errors: bad Street Manager notifications and SNS envelopes") {
  CHECK(check_rows(streetmanager_rows()) >= 70);
}

TEST_CASE("parse: numbers out of range in members nobody reads are kept and ignored") {
  // Contract section 1: unknown fields are kept and ignored, whatever they hold (a long numeric
  // id of another system, say); a bbox is not read either.
  const std::string huge = "123456789012345678901234567890";
  auto one = [](const std::string& text) {
    Parsed p = parse_submission(text);
    std::string errors;
    for (const auto& e : p.errors) errors += e.what() + "; ";
    CAPTURE(errors);
    CHECK(p.errors.empty());
    return p.works.size();
  };
  CHECK(one(work({{"external_id", huge}})) == 1);
  CHECK(one(work({{"extra", R"({"a":[1e999]})"}})) == 1);
  CHECK(one(feature({{"external_id", huge}}, {{"bbox", "[0,0,1e999,1]"}})) == 1);
  CHECK(one(collection({feature({{"external_id", "1e400"}}), feature()},
                       {{"bbox", "[0,0,1e999,1]"}})) == 2);
  CHECK(one(permit({{"external_id", huge}}, {{"other", "1e999"}})) == 1);
  CHECK(one(envelope({{"Message", quoted(permit({{"x", huge}}))}, {"Timestamp", "1e999"}})) == 1);
  // In a member that is read, the same number is an error naming it.
  auto field_of = [](const std::string& text) {
    Parsed p = parse_submission(text);
    CHECK(p.works.empty());
    return p.errors.size() == 1 ? p.errors[0].field
                                : std::string("(") + std::to_string(p.errors.size()) + " errors)";
  };
  CHECK(field_of(work({{"version", huge}})) == "version");
  CHECK(field_of(work({{"usrn", "1e999"}})) == "usrn");
  CHECK(field_of(feature({{"version", huge}})) == "properties.version");
  CHECK(field_of(feature({{"usrn", "1e999"}})) == "properties.usrn");
  CHECK(field_of(collection({feature({{"usrn", "1e999"}})})) == "features[0].properties.usrn");
  CHECK(field_of(permit({{"usrn", "1e999"}})) == "object_data.usrn");
  CHECK(field_of(permit({}, {{"event_reference", huge}})) == "event_reference");
  // The scanner names members as written; a name with an escape counts as read, however it
  // reads unescaped ("\u0076ersion" is "version").
  CHECK(field_of(work({{"\\u0076ersion", "1e999"}})) == "\\u0076ersion");
}

TEST_CASE("parse errors: bad WKT") {
  int n = 0;
  for (const auto& row : wkt_rows()) {
    ++n;
    CAPTURE(n);
    CAPTURE(row.wkt);
    auto s = parse_wkt(row.wkt, row.limits);
    REQUIRE_FALSE(s.ok());
    std::string error = s.error().what();
    CAPTURE(error);
    CHECK(s.error().field.empty());
    CHECK(s.error().message.find(row.message) != std::string::npos);
  }
  CHECK(n >= 60);
}

TEST_CASE("parse errors: a FeatureCollection keeps its good features in order") {
  std::string bad = feature({{"end", R"("2026-03-01")"}});
  Parsed p = parse_submission(collection(
      {feature({{"work_ref", R"("A")"}}), bad, feature({{"work_ref", R"("C")"}}), "null"}));
  REQUIRE(p.works.size() == 2);
  CHECK(p.works[0].work_ref == "A");
  CHECK(p.works[1].work_ref == "C");
  REQUIRE(p.errors.size() == 2);
  CHECK(p.errors[0].field == "features[1].properties.end");
  CHECK(p.errors[1].field == "features[3]");
}

TEST_CASE("parse errors: one error per rejected item, and nothing thrown on any prefix") {
  // Every prefix of a good submission is either that submission or rejected with one error.
  std::string whole = work({{"version", "3"}, {"usrn", "8401426"}});
  for (std::size_t n = 0; n < whole.size(); ++n) {
    Parsed p = parse_submission(std::string_view(whole).substr(0, n));
    CAPTURE(n);
    CHECK(p.works.empty());
    CHECK(p.errors.size() == 1);
  }
  CHECK(parse_submission(whole).works.size() == 1);
}

TEST_CASE("parse errors: the table has at least 200 rows") {
  std::size_t rows = json_rows().size() + geometry_rows().size() + geojson_rows().size() +
                     streetmanager_rows().size() + wkt_rows().size();
  MESSAGE("bad-input rows: " << rows);
  CHECK(rows >= 200);
}
