// Good inputs of every kind the parsers take, and the fields they map to (geo/parse.h).
// The bad ones are in test_parse_errors.cc.
#include <doctest/doctest.h>

#include <fstream>
#include <sstream>
#include <thread>

#include "base/json_writer.h"
#include "geo/parse.h"

using namespace digonce;
using namespace digonce::geo;

namespace {

std::string read_shared(const std::string& relative) {
  std::ifstream in(std::string(DIGONCE_SHARED_DATA) + "/" + relative, std::ios::binary);
  REQUIRE_MESSAGE(in.good(), "cannot read " << relative);
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

Micros ts(const char* text) {
  auto t = parse_timestamp(text, DateEnd::Start);
  REQUIRE(t.ok());
  return *t;
}

// The one work a submission must yield.
WorkEvent one_work(std::string_view input, Format format = Format::Auto,
                   const ParseLimits& limits = {}) {
  Parsed p = parse_submission(input, limits, format);
  for (const auto& e : p.errors) INFO("unexpected error: " << e.what());
  CHECK(p.errors.empty());
  REQUIRE(p.works.size() == 1);
  return p.works[0];
}

// A JSON string literal of s (for wrapping a notification into an SNS envelope).
std::string quoted(std::string_view s) {
  std::string out = "\"";
  for (char c : s) {
    if (c == '"' || c == '\\') out += '\\';
    if (c == '\n') {
      out += "\\n";
      continue;
    }
    out += c;
  }
  return out + "\"";
}

std::string replace(std::string s, std::string_view from, std::string_view to) {
  auto at = s.find(from);
  REQUIRE_MESSAGE(at != std::string::npos, "no " << from << " in the sample");
  return s.replace(at, from.size(), to);
}

}  // namespace

TEST_CASE("parse: contract work JSON with every field") {
  auto w = one_work(R"({
    "work_ref": "TSR-1/2.a_b", "promoter": "STPR", "event": "upsert", "version": 7,
    "kind": "work",
    "geometry": {"type": "LineString", "coordinates": [[-0.1, 51.5], [-0.2, 51.6, 12.5]]},
    "crs": "epsg:4326",
    "start": "2026-03-16T07:00:00Z", "end": "2026-03-20T17:30:00.5Z",
    "category": "major", "status": "in_progress",
    "highway_authority": "5990", "promoter_name": "Smoke Test Promoter",
    "street_name": "HIGH STREET", "usrn": "8401426", "traffic_management": "road_closure",
    "description": "Gas main", "unknown_member": {"kept": [1, 2, {"deep": null}]}
  })");
  CHECK(w.work_ref == "TSR-1/2.a_b");
  CHECK(w.promoter == "STPR");
  CHECK(w.event == EventType::Upsert);
  CHECK(w.kind == WorkKind::Work);
  CHECK(w.version == 7);
  CHECK(w.geometry == make_line({-0.1, 51.5, -0.2, 51.6}));
  CHECK(w.crs == "EPSG:4326");
  CHECK(w.start == ts("2026-03-16T07:00:00Z"));
  CHECK(w.end == ts("2026-03-20T17:30:00Z") + 500'000);
  CHECK(w.category == Category::Major);
  CHECK(w.status == WorkStatus::InProgress);
  CHECK(w.highway_authority == "5990");
  CHECK(w.promoter_name == "Smoke Test Promoter");
  CHECK(w.street_name == "HIGH STREET");
  CHECK(w.usrn == "8401426");
  CHECK(w.traffic_management == "road_closure");
  CHECK(w.description == "Gas main");
}

TEST_CASE("parse: defaults, nulls for optional fields, usrn as an integer") {
  auto w = one_work(R"({"work_ref":"W1","promoter":"STPR","start":"2026-03-16","end":"2026-03-16",
    "geometry":{"type":"Point","coordinates":[530000,180000]},"crs":"EPSG:27700",
    "version":null,"category":null,"status":null,"event":null,"kind":null,"description":null,
    "usrn":8401426})");
  CHECK(w.event == EventType::Upsert);
  CHECK(w.kind == WorkKind::Work);
  CHECK_FALSE(w.version.has_value());
  CHECK(w.category == Category::Standard);
  CHECK(w.status == WorkStatus::Planned);
  CHECK(w.crs == "EPSG:27700");
  CHECK(w.geometry == make_point(530000, 180000));
  CHECK(w.usrn == "8401426");
  CHECK(w.description.empty());
  // A bare date is the whole day: 00:00:00Z for start, 23:59:59Z for end (contract, section 1).
  CHECK(w.start == ts("2026-03-16T00:00:00Z"));
  CHECK(w.end == ts("2026-03-16T23:59:59Z"));
}

TEST_CASE("parse: timestamps with offsets and fractions, to the microsecond") {
  auto w = one_work(R"({"work_ref":"W1","promoter":"STPR","geometry":{"type":"Point",
    "coordinates":[0,51]},"start":"2026-03-16T08:00:00.250+01:00",
    "end":"2026-03-16t02:30:00.123456-05:30"})");
  CHECK(w.start == ts("2026-03-16T07:00:00Z") + 250'000);
  CHECK(w.end == ts("2026-03-16T08:00:00Z") + 123'456);
  CHECK(format_timestamp(w.end) == "2026-03-16T08:00:00.123456Z");
}

TEST_CASE("parse: a cancel needs only work_ref and promoter; its version is kept") {
  auto w = one_work(R"({"work_ref":"W1","promoter":"STPR","event":"cancel","version":12,
    "geometry":"ignored","start":false})");
  CHECK(w.event == EventType::Cancel);
  CHECK(w.version == 12);
  CHECK(w.work_ref == "W1");
  CHECK_FALSE(w.active());
}

TEST_CASE("parse: kind section58 is a restriction") {
  auto w = one_work(R"({"work_ref":"S58-1","promoter":"5990","kind":"section58",
    "geometry":{"type":"Point","coordinates":[0,51]},"start":"2026-01-01","end":"2026-06-30"})");
  CHECK(w.kind == WorkKind::Restriction);
  // The contract does not name "kind": any other value is an unknown field's, kept and ignored.
  for (const char* other : {R"("permit")", R"("work")", R"("Section58")", "1", "null", "{}"}) {
    std::string value = other;
    CAPTURE(value);
    auto o = one_work(R"({"work_ref":"W-1","promoter":"P","kind":)" + value +
                      R"(,"geometry":{"type":"Point","coordinates":[0,51]},"start":"2026-01-01",)"
                      R"("end":"2026-06-30"})");
    CHECK(o.kind == WorkKind::Work);
  }
}

TEST_CASE("parse: a UTF-8 byte order mark before the JSON is ignored (RFC 8259, 8.1)") {
  auto w = one_work(
      "\xEF\xBB\xBF"
      R"({"work_ref":"W-1","promoter":"P",)"
      R"("geometry":{"type":"Point","coordinates":[0,51]},"start":"2026-01-01",)"
      R"("end":"2026-06-30"})");
  CHECK(w.work_ref == "W-1");
  CHECK_FALSE(parse_submission("\xEF\xBB\xBF").errors.empty());
  CHECK_FALSE(parse_submission("\xEF\xBB\xBF\xEF\xBB\xBF{}").errors.empty());
}

TEST_CASE("parse: every GeoJSON geometry type, altitudes dropped") {
  auto geometry = [](const std::string& g) {
    return one_work(R"({"work_ref":"W1","promoter":"P","start":"2026-01-01","end":"2026-01-02",
      "geometry":)" +
                    g + "}")
        .geometry;
  };
  CHECK(geometry(R"({"type":"Point","coordinates":[1,2,3]})") == make_point(1, 2));
  CHECK(geometry(R"({"type":"LineString","coordinates":[[1,2],[3,4],[5,6]]})") ==
        make_line({1, 2, 3, 4, 5, 6}));
  Shape poly = make_polygon({{0, 0, 10, 0, 10, 10, 0, 0}, {1, 1, 2, 1, 2, 2, 1, 1}});
  CHECK(geometry(R"({"type":"Polygon","coordinates":[[[0,0],[10,0],[10,10],[0,0]],
    [[1,1],[2,1],[2,2],[1,1]]]})") == poly);
  Shape mp{ShapeType::MultiPoint, {1, 2, 3, 4}, {1, 1}, {}};
  CHECK(geometry(R"({"type":"MultiPoint","coordinates":[[1,2],[3,4,99]]})") == mp);
  Shape ml{ShapeType::MultiLineString, {1, 2, 3, 4, 5, 6, 7, 8, 9, 10}, {2, 3}, {}};
  CHECK(geometry(R"({"type":"MultiLineString","coordinates":[[[1,2],[3,4]],
    [[5,6],[7,8],[9,10]]]})") == ml);
  Shape mpoly{
      ShapeType::MultiPolygon,
      {0, 0, 1, 0, 1, 1, 0, 0, 5, 5, 6, 5, 6, 6, 5, 5, 5.2, 5.1, 5.3, 5.1, 5.3, 5.2, 5.2, 5.1},
      {4, 4, 4},
      {1, 2}};
  CHECK(geometry(R"({"type":"MultiPolygon","coordinates":[[[[0,0],[1,0],[1,1],[0,0]]],
    [[[5,5],[6,5],[6,6],[5,5]],[[5.2,5.1],[5.3,5.1],[5.3,5.2],[5.2,5.1]]]],
    "bbox":[0,0,6,6]})") == mpoly);
  // Integers beyond int64 that fit uint64 are numbers too.
  CHECK(geometry(R"({"type":"Point","coordinates":[18446744073709551615,-1e-400]})") ==
        make_point(18446744073709551615.0, 0));
}

TEST_CASE("parse: the vertex limit is inclusive and configurable") {
  ParseLimits limits;
  limits.max_vertices = 3;
  auto w = one_work(R"({"work_ref":"W1","promoter":"P","start":"2026-01-01","end":"2026-01-02",
    "geometry":{"type":"LineString","coordinates":[[0,0],[1,1],[2,2]]}})",
                    Format::Auto, limits);
  CHECK(w.geometry.vertex_count() == 3);
}

TEST_CASE("parse: CRS names") {
  struct Case {
    const char* in;
    const char* out;
  };
  for (auto [in, out] : {Case{"EPSG:27700", "EPSG:27700"}, Case{"epsg:2154", "EPSG:2154"},
                         Case{"EPSG::27700", "EPSG:27700"}, Case{"EPSG:027700", "EPSG:27700"},
                         Case{"urn:ogc:def:crs:EPSG::27700", "EPSG:27700"},
                         Case{"URN:OGC:DEF:CRS:EPSG:9.8.15:3857", "EPSG:3857"},
                         Case{"http://www.opengis.net/def/crs/EPSG/0/27700", "EPSG:27700"},
                         Case{"OGC:CRS84", "EPSG:4326"}, Case{"CRS84", "EPSG:4326"},
                         Case{"urn:ogc:def:crs:OGC:1.3:CRS84", "EPSG:4326"},
                         Case{"http://www.opengis.net/def/crs/OGC/1.3/CRS84", "EPSG:4326"}}) {
    std::string name = in;
    CAPTURE(name);
    auto n = normalize_crs(in);
    REQUIRE(n.ok());
    CHECK(*n == out);
  }
  auto w = one_work(R"({"work_ref":"W1","promoter":"P","start":"2026-01-01","end":"2026-01-02",
    "geometry":{"type":"Point","coordinates":[530000,180000]},
    "crs":{"type":"name","properties":{"name":"urn:ogc:def:crs:EPSG::27700"}}})");
  CHECK(w.crs == "EPSG:27700");
}

TEST_CASE("parse: a GeoJSON Feature carries the contract fields in its properties") {
  const char* feature = R"({"type":"Feature","id":"x",
    "crs":{"type":"name","properties":{"name":"urn:ogc:def:crs:EPSG::27700"}},
    "geometry":{"type":"Point","coordinates":[530000,180000]},
    "properties":{"work_ref":"F1","promoter":"STPR","start":"2026-01-01","end":"2026-01-31",
                  "category":"minor","version":3}})";
  auto w = one_work(feature);
  CHECK(w.work_ref == "F1");
  CHECK(w.crs == "EPSG:27700");
  CHECK(w.version == 3);
  CHECK(w.category == Category::Minor);
  CHECK(w.geometry == make_point(530000, 180000));
  CHECK(one_work(feature, Format::GeoJson).work_ref == "F1");
  // As contract JSON it has no work_ref at the top.
  Parsed as_work = parse_submission(feature, {}, Format::WorkJson);
  REQUIRE(as_work.errors.size() == 1);
  CHECK(as_work.errors[0].field == "work_ref");
  // Where its members are, for an answer that names one (the API's 403).
  CHECK(parse_submission(feature).field(0, "promoter") == "properties.promoter");
  CHECK(parse_submission(feature).field(0, "geometry") == "geometry");
  CHECK(as_work.field(0, "promoter") == "promoter");
}

TEST_CASE("parse: a work event's unknown fields do not make it another format") {
  // The contract keeps and ignores unknown fields: a top-level work_ref is a work event, though
  // a "type" or "object_type" beside it would otherwise look like GeoJSON or Street Manager.
  const std::string base = R"("work_ref":"U1","promoter":"STPR","crs":"EPSG:27700",)"
                           R"("geometry":{"type":"Point","coordinates":[530000,180000]},)"
                           R"("start":"2026-06-01","end":"2026-06-10")";
  for (const char* extra : {R"("type":"Feature")", R"("type":"FeatureCollection")",
                            R"("object_type":"trench","object_data":{"depth_m":1})"}) {
    CAPTURE(extra);
    auto w = one_work("{" + std::string(extra) + "," + base + "}");
    CHECK(w.work_ref == "U1");
    CHECK(w.geometry == make_point(530000, 180000));
  }
  // A Feature with properties is still a Feature, work_ref at the top or not (the properties'
  // work_ref is the one taken), and a Feature without a work_ref is still named as one.
  auto feature = one_work(
      R"({"type":"Feature","work_ref":"TOP","geometry":{"type":"Point","coordinates":[0.1,51.5]},)"
      R"("properties":{"work_ref":"F2","promoter":"STPR","start":"2026-06-01","end":"2026-06-10"}})");
  CHECK(feature.work_ref == "F2");
  Parsed bare = parse_submission(R"({"type":"Feature","geometry":null})");
  REQUIRE(bare.errors.size() == 1);
  CHECK(bare.errors[0].field == "properties");
}

TEST_CASE("parse: a FeatureCollection yields one work per feature, CRS inherited or overridden") {
  Parsed p = parse_submission(R"({"type":"FeatureCollection",
    "crs":{"type":"name","properties":{"name":"EPSG:27700"}},
    "features":[
      {"type":"Feature","geometry":{"type":"Point","coordinates":[530000,180000]},
       "properties":{"work_ref":"A","promoter":"P","start":"2026-01-01","end":"2026-01-02"}},
      {"type":"Feature","geometry":{"type":"Point","coordinates":[-0.1,51.5]},
       "properties":{"work_ref":"B","promoter":"P","start":"2026-01-01","end":"2026-01-02",
                     "crs":"OGC:CRS84"}},
      {"type":"Feature","geometry":null,
       "properties":{"work_ref":"C","promoter":"P","event":"cancel"}}]})");
  CHECK(p.errors.empty());
  REQUIRE(p.works.size() == 3);
  CHECK(p.works[0].work_ref == "A");
  CHECK(p.works[0].crs == "EPSG:27700");
  CHECK(p.works[1].crs == "EPSG:4326");
  CHECK(p.works[2].event == EventType::Cancel);
  CHECK(p.field(2, "promoter") == "features[2].properties.promoter");
}

TEST_CASE("parse: a FeatureCollection's works know their feature, past a bad one") {
  Parsed p = parse_submission(R"({"type":"FeatureCollection","features":[
      {"type":"Feature","geometry":{"type":"Point","coordinates":[-0.1,51.5]},
       "properties":{"work_ref":"A","promoter":"P","start":"2026-01-01","end":"2026-01-02"}},
      {"type":"Feature","geometry":{"type":"Point","coordinates":[-0.1,51.5]},
       "properties":{"work_ref":"B","promoter":"P","start":"2026-01-03","end":"2026-01-02"}},
      {"type":"Feature","geometry":{"type":"Point","coordinates":[-0.1,51.5]},
       "properties":{"work_ref":"C","promoter":"Q","start":"2026-01-01","end":"2026-01-02"}}]})");
  REQUIRE(p.errors.size() == 1);
  CHECK(p.errors[0].field.starts_with("features[1]."));
  REQUIRE(p.works.size() == 2);
  CHECK(p.field(0, "work_ref") == "features[0].properties.work_ref");
  CHECK(p.field(1, "promoter") == "features[2].properties.promoter");
  CHECK(p.field(1, "geometry") == "features[2].geometry");  // a member of the feature itself
  // A Street Manager notification's members have names of their own: the contract's is given.
  Parsed sm = parse_submission(R"({"object_type":"PERMIT","object_data":{}})");
  CHECK(sm.field(0, "promoter") == "promoter");
}

TEST_CASE("parse: a FeatureCollection's features as documents of their own parse the same") {
  const char* fc = R"({"type":"FeatureCollection",
    "crs":{"type":"name","properties":{"name":"EPSG:27700"}},
    "features":[
      {"type":"Feature","geometry":{"type":"Point","coordinates":[530000.25,180000]},
       "properties":{"work_ref":"A","promoter":"P","start":"2026-01-01","end":"2026-01-02",
                     "permit_ref":"kept"}},
      {"type":"Feature","geometry":{"type":"Point","coordinates":[-0.1,51.5]},
       "properties":{"work_ref":"B","promoter":"P","start":"2026-01-01","end":"2026-01-02",
                     "crs":"OGC:CRS84"}},
      {"type":"Feature","crs":{"type":"name","properties":{"name":"EPSG:4326"}},
       "geometry":{"type":"Point","coordinates":[-0.2,51.4]},
       "properties":{"work_ref":"C","promoter":"P","start":"2026-01-01","end":"2026-01-02"}},
      {"type":"Feature","geometry":null,
       "properties":{"work_ref":"D","promoter":"P","event":"cancel"}}]})";
  Parsed whole = parse_submission(fc);
  REQUIRE(whole.errors.empty());
  auto docs = feature_documents(fc);
  REQUIRE(docs.has_value());
  REQUIRE(docs->size() == 4);
  for (std::size_t i = 0; i < docs->size(); ++i) {
    Parsed one = parse_submission((*docs)[i]);
    CAPTURE((*docs)[i]);
    REQUIRE(one.errors.empty());
    REQUIRE(one.works.size() == 1);
    CHECK(work_to_json(one.works[0]) == work_to_json(whole.works[i]));
  }
  CHECK(docs->at(0).find("\"permit_ref\":\"kept\"") != std::string::npos);  // as sent
  CHECK(parse_submission(docs->at(0)).works[0].crs == "EPSG:27700");        // the collection's
  CHECK(parse_submission(docs->at(2)).works[0].crs == "EPSG:4326");         // its own
  // Each feature's bytes as sent: a number out of range stays as written, so that its own
  // parse names it (a DOM would have stood 0 in for it), and a name given twice in one feature
  // costs only that feature.
  auto odd = feature_documents(R"({"type":"FeatureCollection","features":[
      {"type":"Feature","geometry":{"type":"Point","coordinates":[1e400,51.5]},
       "properties":{"work_ref":"A","promoter":"P","start":"2026-01-01","end":"2026-01-02"}},
      {"type":"Feature","geometry":null,"properties":{"work_ref":"B","work_ref":"C",
       "promoter":"P","event":"cancel"}},
      {"type":"Feature","geometry":null,"properties":{"work_ref":"D","promoter":"P",
       "event":"cancel","cost":1e999}}]})");
  REQUIRE(odd.has_value());
  REQUIRE(odd->size() == 3);
  CHECK(odd->at(0).find("1e400") != std::string::npos);
  auto first = parse_submission(odd->at(0));
  REQUIRE(first.errors.size() == 1);
  CHECK(first.errors[0].field == "geometry.coordinates[0]");
  auto second = parse_submission(odd->at(1));
  REQUIRE(second.errors.size() == 1);
  CHECK(second.errors[0].field == "properties.work_ref");
  CHECK(odd->at(2).find("1e999") != std::string::npos);  // an unknown field, kept as sent
  CHECK(parse_submission(odd->at(2)).errors.empty());
  // A feature whose crs is null inherits the collection's, alone as in the collection.
  auto nulls = feature_documents(R"({"type":"FeatureCollection","crs":{"type":"name",
      "properties":{"name":"EPSG:27700"}},"features":[{"type":"Feature","crs":null,
      "geometry":{"type":"Point","coordinates":[530000,180000]},
      "properties":{"work_ref":"A","promoter":"P","start":"2026-01-01","end":"2026-01-02"}}]})");
  REQUIRE(nulls.has_value());
  REQUIRE(nulls->size() == 1);
  auto alone = parse_submission(nulls->at(0));
  REQUIRE(alone.works.size() == 1);
  CHECK(alone.works[0].crs == "EPSG:27700");
  CHECK(feature_documents(R"({"type":"FeatureCollection","features":[]})")->empty());
  CHECK_FALSE(feature_documents(R"({"type":"Feature","geometry":null,"properties":{}})"));
  CHECK_FALSE(feature_documents(R"({"type":"FeatureCollection","features":{}})"));
  CHECK_FALSE(feature_documents("not json"));
}

TEST_CASE("parse: an empty FeatureCollection is no works and no errors") {
  Parsed p = parse_submission(R"({"type":"FeatureCollection","features":[]})");
  CHECK(p.works.empty());
  CHECK(p.errors.empty());
}

TEST_CASE("parse: real boroughs GeoJSON is read through, each feature lacking a work_ref") {
  std::string boroughs = read_shared("london/boroughs.geojson");
  Parsed p = parse_submission(boroughs);
  CHECK(p.works.empty());
  REQUIRE(p.errors.size() == 33);
  CHECK(p.errors[0].field == "features[0].properties.work_ref");
  CHECK(p.errors[32].field == "features[32].properties.work_ref");
}

TEST_CASE("parse: Street Manager SNS notification (PERMIT, WORK_START)") {
  auto w = one_work(read_shared("streetmanager/notification_event.json"));
  CHECK(w.event == EventType::Upsert);
  CHECK(w.kind == WorkKind::Work);
  CHECK(w.work_ref == "0000218889274");
  CHECK(w.promoter == "STPR");
  CHECK(w.promoter_name == "Smoke Test Promoter");
  CHECK(w.version == 678);  // event_reference, not the schema "version" (1)
  CHECK(w.crs == "EPSG:27700");
  CHECK(w.geometry == make_point(527155.3328125, 182227.946386719));
  // actual_start_date_time replaces proposed_start_date (2020-06-23T23:00:00.000Z)
  CHECK(w.start == ts("2020-06-24T10:11:00Z"));
  // proposed_end_time is null: the end of the day of proposed_end_date (28 June, BST)
  CHECK(w.end == ts("2020-06-28T22:59:59Z"));
  CHECK(w.status == WorkStatus::InProgress);
  CHECK(w.category == Category::Minor);
  CHECK(w.street_name == "CHURCH STREET");
  CHECK(w.usrn == "8400794");
  CHECK(w.highway_authority == "5990");
  CHECK(w.traffic_management == "road_closure");
  CHECK(w.description == "Section 58");
  CHECK(one_work(read_shared("streetmanager/notification_event.json"), Format::StreetManager)
            .version == 678);
}

TEST_CASE("parse: Street Manager bare PERMIT message, event_type spelt work-start") {
  std::string sample = read_shared("streetmanager/permit_notification_message.json");
  auto w = one_work(sample);
  CHECK(w.work_ref == "TSR1591199404915");
  CHECK(w.version == 529770);
  CHECK(w.status == WorkStatus::InProgress);
  CHECK(w.category == Category::Standard);
  CHECK(w.geometry == make_line({501251.53, 222574.64, 501305.92, 222506.65}));
  CHECK(w.start == ts("2020-06-11T10:11:00Z"));  // actual start
  CHECK(w.end == ts("2020-06-12T23:59:59Z"));    // end of the day of proposed_end_date
  CHECK(w.description == "Remedial works");
  CHECK(w.street_name == "HIGH STREET NORTH");

  // Where its work's members are, for an answer that names one.
  Parsed bare = parse_submission(sample);
  CHECK(bare.field(0, "geometry") == "object_data.works_location_coordinates");
  CHECK(bare.field(0, "promoter") == "object_data.promoter_swa_code");
  CHECK(bare.field(0, "work_ref") == "object_data.work_reference_number");
  // (Its CRS is the WKT's: EPSG:27700, or an SRID prefix.)
  CHECK(bare.field(0, "crs") == "object_data.works_location_coordinates");
  CHECK(bare.field(0, "version") == "event_reference");

  SUBCASE("the same in an SNS envelope") {
    const std::string envelope =
        R"({"Type":"Notification","MessageId":"x","Message":)" + quoted(sample) + "}";
    CHECK(parse_submission(envelope).field(0, "geometry") ==
          "Message.object_data.works_location_coordinates");
    auto enveloped = one_work(envelope);
    CHECK(enveloped.work_ref == w.work_ref);
    CHECK(enveloped.start == w.start);
    CHECK(enveloped.end == w.end);
    CHECK(enveloped.geometry == w.geometry);
    // Fields added beside a (signed) envelope's Message are not read: a work_ref and a geometry
    // at the top do not turn the notification into a work of the sender's choosing.
    const std::string forged = R"({"work_ref":"FORGED","promoter":"X","start":"2026-01-01",)"
                               R"("end":"2026-01-02","geometry":{"type":"Point",)"
                               R"("coordinates":[0,51]},)" +
                               envelope.substr(1);
    auto still = one_work(forged);
    CHECK(still.work_ref == w.work_ref);
    CHECK(still.geometry == w.geometry);
  }
  SUBCASE("without actual dates: the proposed time and the end of the proposed end date") {
    std::string planned = replace(sample, R"("actual_start_date_time": "2020-06-11T10:11:00.000Z")",
                                  R"("actual_start_date_time": null)");
    planned =
        replace(planned, R"("event_type": "work-start")", R"("event_type": "PERMIT_GRANTED")");
    planned =
        replace(planned, R"("work_status_ref": "in_progress")", R"("work_status_ref": "planned")");
    auto p = one_work(planned);
    CHECK(p.start == ts("2020-06-10T13:50:00Z"));
    CHECK(p.end == ts("2020-06-12T23:59:59Z"));
    CHECK(p.status == WorkStatus::Planned);
  }
  SUBCASE("a proposed end date with a time of day is taken as it is, not to the end of its day") {
    auto p = one_work(replace(sample, R"("proposed_end_date": "2020-06-12T00:00:00.000Z")",
                              R"("proposed_end_date": "2020-06-12T17:00:00.000Z")"));
    CHECK(p.end == ts("2020-06-12T17:00:00Z"));
    auto local_midnight =
        one_work(replace(sample, R"("proposed_end_date": "2020-06-12T00:00:00.000Z")",
                         R"("proposed_end_date": "2020-06-12T23:00:00.000Z")"));
    CHECK(local_midnight.end == ts("2020-06-13T22:59:59Z"));  // 13 June, BST
  }
  SUBCASE("a proposed end time is taken as it is") {
    auto p = one_work(replace(sample, R"("proposed_end_time": null)",
                              R"("proposed_end_time": "2020-06-12T16:00:00.000Z")"));
    CHECK(p.end == ts("2020-06-12T16:00:00Z"));
  }
  SUBCASE("an actual start after the planned end: the work lasts as long as planned") {
    // Planned 2020-06-10T13:50:00Z to the end of 12 June (23:59:59Z, the sample's UTC midnight
    // date): 2 days 10:09:59, from the actual start on.
    auto p = one_work(replace(sample, R"("actual_start_date_time": "2020-06-11T10:11:00.000Z")",
                              R"("actual_start_date_time": "2020-06-15T08:00:00.000Z")"));
    CHECK(p.start == ts("2020-06-15T08:00:00Z"));
    CHECK(p.end == ts("2020-06-17T18:09:59Z"));
    // With no planned start to measure by, the end moves up to the start.
    auto q = one_work(replace(
        replace(replace(sample, R"("actual_start_date_time": "2020-06-11T10:11:00.000Z")",
                        R"("actual_start_date_time": "2020-06-15T08:00:00.000Z")"),
                R"("proposed_start_time": "2020-06-10T13:50:00.000Z")",
                R"("proposed_start_time": null)"),
        R"("proposed_start_date": "2020-06-10T00:00:00.000Z")", R"("proposed_start_date": null)"));
    CHECK(q.start == ts("2020-06-15T08:00:00Z"));
    CHECK(q.end == q.start);
  }
  SUBCASE("an actual end") {
    auto p = one_work(replace(sample, R"("actual_end_date_time": null)",
                              R"("actual_end_date_time": "2020-06-11T15:00:00.000Z")"));
    CHECK(p.end == ts("2020-06-11T15:00:00Z"));
  }
  SUBCASE("event types") {
    struct Case {
      const char* event;
      EventType type;
      WorkStatus status;
    };
    for (auto c : {Case{"PERMIT_CANCELLED", EventType::Cancel, WorkStatus::Planned},
                   Case{"permit-revoked", EventType::Cancel, WorkStatus::Planned},
                   Case{"PERMIT_REFUSED", EventType::Cancel, WorkStatus::Planned},
                   Case{"WORK_STOP", EventType::Upsert, WorkStatus::Completed},
                   Case{"work-stop-reverted", EventType::Upsert, WorkStatus::InProgress},
                   Case{"WORK_START_REVERTED", EventType::Upsert, WorkStatus::Planned},
                   Case{"PERMIT_GRANTED", EventType::Upsert, WorkStatus::InProgress},
                   Case{"PERMIT_ALTERATION_GRANTED", EventType::Upsert, WorkStatus::InProgress},
                   Case{"PERMIT_SUBMITTED", EventType::Upsert, WorkStatus::InProgress}}) {
      std::string event = c.event;
      CAPTURE(event);
      auto p = one_work(replace(sample, "work-start", c.event));
      CHECK(p.event == c.type);
      CHECK(p.version == 529770);
      if (c.type == EventType::Upsert) CHECK(p.status == c.status);
    }
  }
  SUBCASE("statuses and categories from their refs, or from their text") {
    struct Case {
      const char* from;
      const char* to;
      WorkStatus status;
      Category category;
    };
    std::string granted = replace(sample, "work-start", "PERMIT_GRANTED");
    for (auto c : {Case{R"("work_status_ref": "in_progress")", R"("work_status_ref": "historical")",
                        WorkStatus::Completed, Category::Standard},
                   Case{R"("work_status_ref": "in_progress")", R"("work_status_ref": "section_81")",
                        WorkStatus::Planned, Category::Standard},
                   Case{R"("work_status_ref": "in_progress")", R"("work_status_ref": "cancelled")",
                        WorkStatus::Cancelled, Category::Standard},
                   Case{R"("work_category_ref": "standard")", R"("work_category_ref": null)",
                        WorkStatus::InProgress, Category::Standard},
                   Case{R"("work_category_ref": "standard")", R"("work_category_ref": "paa")",
                        WorkStatus::InProgress, Category::Paa},
                   Case{R"("work_category_ref": "standard",)", "", WorkStatus::InProgress,
                        Category::Standard}}) {
      std::string to = c.to;
      CAPTURE(to);
      auto p = one_work(replace(granted, c.from, c.to));
      CHECK(p.status == c.status);
      CHECK(p.category == c.category);
    }
    std::string text_only = replace(granted, R"("work_category_ref": "standard",)", "");
    text_only = replace(text_only, R"("work_status_ref": "in_progress",)", "");
    for (auto [text, category] :
         {std::pair{"Major (PAA)", Category::Paa}, std::pair{"Major(PAA)", Category::Paa},
          std::pair{"Immediate - urgent", Category::ImmediateUrgent},
          std::pair{"Immediate - emergency", Category::ImmediateEmergency},
          std::pair{"HS2 (Highway)", Category::Hs2Highway}, std::pair{"Minor", Category::Minor},
          std::pair{"Major", Category::Major}}) {
      std::string category_text = text;
      CAPTURE(category_text);
      auto p = one_work(replace(text_only, R"("work_category": "Standard")",
                                std::string(R"("work_category": ")") + text + "\""));
      CHECK(p.category == category);
      CHECK(p.status == WorkStatus::InProgress);  // from work_status "Works in progress"
    }
  }
  SUBCASE("an EWKT SRID sets the CRS") {
    auto p = one_work(replace(sample, R"x("LINESTRING(501251.53 222574.64,501305.92 222506.65)")x",
                              R"x("SRID=4326;LINESTRING(-0.1 51.5,-0.2 51.6)")x"));
    CHECK(p.crs == "EPSG:4326");
    CHECK(p.geometry == make_line({-0.1, 51.5, -0.2, 51.6}));
  }
}

TEST_CASE("parse: Street Manager ACTIVITY") {
  std::string sample = read_shared("streetmanager/activity_notification_message.json");
  auto cancelled = one_work(sample);  // the sample says "cancelled": "Yes"
  CHECK(cancelled.event == EventType::Cancel);
  CHECK(cancelled.work_ref == "ARN-5990-85775436");
  CHECK(cancelled.promoter == "5990");
  CHECK(cancelled.version == 529771);

  auto w = one_work(replace(sample, R"("cancelled": "Yes")", R"("cancelled": "No")"));
  CHECK(w.event == EventType::Upsert);
  CHECK(w.kind == WorkKind::Work);
  CHECK(w.promoter == "5990");
  CHECK(w.promoter_name == "CITY OF WESTMINSTER");
  CHECK(w.highway_authority == "5990");
  CHECK(w.crs == "EPSG:27700");
  CHECK(w.geometry == make_line({501251.53, 222574.64, 501305.92, 222506.65}));
  CHECK(w.start == ts("2020-06-10T14:30:00Z"));
  CHECK(w.end == ts("2020-06-11T09:00:00Z"));
  CHECK(w.description == "London Marathon");
  CHECK(w.traffic_management == "road_closure");
  CHECK(w.street_name == "Fake Street");
  CHECK(w.usrn == "8401426");

  auto dates_only = replace(replace(sample, R"("cancelled": "Yes")", R"("cancelled": "No")"),
                            R"("start_time": "2020-06-10T14:30:00.000Z")", R"("start_time": null)");
  dates_only = replace(dates_only, R"("end_time": "2020-06-11T09:00:00.000Z",)", "");
  auto d = one_work(dates_only);
  CHECK(d.start == ts("2020-06-10T00:00:00Z"));
  CHECK(d.end == ts("2020-06-11T23:59:59Z"));

  auto cancel_event =
      one_work(replace(replace(sample, R"("cancelled": "Yes")", R"("cancelled": "No")"),
                       "ACTIVITY_CREATED", "ACTIVITY_CANCELLED"));
  CHECK(cancel_event.event == EventType::Cancel);

  // A Section 58 restriction recorded as an activity (activity_type "section58" in the DfT
  // schema) restricts the street like a SECTION_58 object.
  auto s58 = one_work(replace(replace(sample, R"("cancelled": "Yes")", R"("cancelled": "No")"),
                              R"("activity_type": "event")", R"("activity_type": "Section58")"));
  CHECK(s58.kind == WorkKind::Restriction);
  CHECK(s58.event == EventType::Upsert);
}

TEST_CASE("parse: Street Manager SECTION_58") {
  std::string sample = read_shared("streetmanager/section58_notification_message.json");
  auto w = one_work(sample);
  CHECK(w.kind == WorkKind::Restriction);
  CHECK(w.event == EventType::Upsert);
  CHECK(w.work_ref == "S58-5990-46589070");
  CHECK(w.promoter == "5990");
  CHECK(parse_submission(sample).field(0, "promoter") == "object_data.highway_authority_swa_code");
  CHECK(parse_submission(sample).field(0, "kind") == "object_type");
  CHECK(w.version == 529771);
  CHECK(w.crs == "EPSG:27700");
  CHECK(w.start == ts("2020-06-10T14:30:00Z"));
  CHECK(w.end == ts("2020-06-11T09:00:00Z"));  // a time, kept
  CHECK(w.status == WorkStatus::Planned);
  CHECK(w.geometry == make_line({501251.53, 222574.64, 501305.92, 222506.65}));

  // An end date at local midnight (BST: 23:00Z) is that whole day.
  auto midnight = one_work(replace(sample, R"("end_date": "2020-06-11T09:00:00.000Z")",
                                   R"("end_date": "2020-06-11T23:00:00.000Z")"));
  CHECK(midnight.end == ts("2020-06-12T22:59:59Z"));
  // Its status in any case: "Closed" ends it as "closed" does.
  for (const char* closed : {"closed", "Closed", "CANCELLED"}) {
    CAPTURE(closed);
    auto c = one_work(replace(sample, R"("section_58_status": "proposed")",
                              std::string(R"("section_58_status": ")") + closed + "\""));
    CHECK(c.event == EventType::Cancel);
  }
  CHECK(one_work(replace(sample, R"("section_58_status": "proposed")",
                         R"("section_58_status": "In_Force")"))
            .status == WorkStatus::InProgress);
  auto bare = one_work(
      replace(sample, R"("end_date": "2020-06-11T09:00:00.000Z")", R"("end_date": "2020-12-11")"));
  CHECK(bare.end == ts("2020-12-11T23:59:59Z"));
  // 23:00Z is midnight only in summer time (BST: 29 March to 25 October 2020, from 01:00Z);
  // 00:00Z is a date all year (a producer that ignores summer time writes it so: in summer, a
  // UTC day).
  struct EndCase {
    const char* end_date;
    const char* end;
  };
  for (auto c : {EndCase{"2020-12-11T23:00:00.000Z", "2020-12-11T23:00:00Z"},
                 EndCase{"2020-03-28T23:00:00.000Z", "2020-03-28T23:00:00Z"},
                 EndCase{"2020-03-29T23:00:00.000Z", "2020-03-30T22:59:59Z"},
                 // The clocks go back at 01:00Z on 25 October: that local day lasts 25 hours,
                 // and forward on 29 March: 23 hours.
                 EndCase{"2020-10-24T23:00:00.000Z", "2020-10-25T23:59:59Z"},
                 EndCase{"2020-03-29T00:00:00.000Z", "2020-03-29T22:59:59Z"},
                 EndCase{"2020-10-25T23:00:00.000Z", "2020-10-25T23:00:00Z"},
                 EndCase{"2020-06-11T00:00:00.000Z", "2020-06-11T23:59:59Z"},
                 EndCase{"2020-12-11T00:00:00.000Z", "2020-12-11T23:59:59Z"}}) {
    std::string end_date = c.end_date;
    CAPTURE(end_date);
    auto early = replace(sample, R"("start_date": "2020-06-10T14:30:00.000Z")",
                         R"("start_date": "2020-01-01T00:00:00.000Z")");
    auto e = one_work(replace(early, R"("end_date": "2020-06-11T09:00:00.000Z")",
                              R"("end_date": ")" + end_date + "\""));
    CHECK(e.end == ts(c.end));
  }
  CHECK(one_work(replace(sample, R"("proposed")", R"("in_force")")).status ==
        WorkStatus::InProgress);
  CHECK(one_work(replace(sample, R"("proposed")", R"("closed")")).event == EventType::Cancel);
  CHECK(one_work(replace(sample, R"("proposed")", R"("cancelled")")).event == EventType::Cancel);
}

TEST_CASE("parse: Street Manager event types digonce does not list, and lenient members") {
  // DfT adds event types without notice; each notification carries its object whole, so one
  // digonce does not list is an upsert of the object as it stands (status from its members).
  std::string permit = read_shared("streetmanager/permit_notification_message.json");
  for (const char* type :
       {"CURRENT_TRAFFIC_MANAGEMENT_TYPE_UPDATED", "PERMIT_EXTENDED", "some-new-event"}) {
    CAPTURE(type);
    auto w = one_work(replace(permit, R"("event_type": "work-start")",
                              std::string(R"("event_type": ")") + type + "\""));
    CHECK(w.event == EventType::Upsert);
    CHECK(w.work_ref == "TSR1591199404915");
    CHECK(w.status == WorkStatus::InProgress);  // work_status_ref
  }
  // Spaces at the ends, or between the words, are not a new type: a cancel stays a cancel.
  for (const char* type : {"PERMIT_CANCELLED ", " permit-cancelled", "Permit cancelled"}) {
    CAPTURE(type);
    auto w = one_work(replace(permit, R"("event_type": "work-start")",
                              std::string(R"("event_type": ")") + type + "\""));
    CHECK(w.event == EventType::Cancel);
  }
  // An unknown type on a permit whose status says it ended: a cancel (or completed).
  auto lapsed =
      replace(permit, R"("event_type": "work-start")", R"("event_type": "PERMIT_CANCELED")");
  CHECK(one_work(replace(lapsed, R"("permit_status": "permit_modification_request")",
                         R"("permit_status": "cancelled")"))
            .event == EventType::Cancel);
  CHECK(one_work(replace(lapsed, R"("permit_status": "permit_modification_request")",
                         R"("permit_status": "closed")"))
            .status == WorkStatus::Completed);
  // An SWA code beyond 64 bits is refused naming it, not read as 0.
  {
    Parsed p = parse_submission(replace(permit, R"("promoter_swa_code": "STPR")",
                                        R"("promoter_swa_code": 99999999999999999999)"));
    CHECK(p.works.empty());
    REQUIRE(p.errors.size() == 1);
    CHECK(p.errors[0].field == "object_data.promoter_swa_code");
  }
  auto completed =
      one_work(replace(replace(permit, R"("event_type": "work-start")", R"("event_type": "X")"),
                       R"("work_status_ref": "in_progress")", R"("work_status_ref": "completed")"));
  CHECK(completed.status == WorkStatus::Completed);

  // A restriction in force (SECTION_58_IN_FORCE, sent when it comes into force).
  std::string s58 = read_shared("streetmanager/section58_notification_message.json");
  for (const char* type : {"SECTION_58_IN_FORCE", "section-58-in-force"}) {
    CAPTURE(type);
    auto r = one_work(replace(s58, R"("event_type": "SECTION_58_CREATED")",
                              std::string(R"("event_type": ")") + type + "\""));
    CHECK(r.kind == WorkKind::Restriction);
    CHECK(r.event == EventType::Upsert);
    CHECK(r.status == WorkStatus::InProgress);
  }

  // An empty string, or the text "null", where a time may be null, is no time.
  auto no_time =
      one_work(replace(permit, R"("proposed_end_time": null)", R"("proposed_end_time": "")"));
  CHECK(no_time.end == ts("2020-06-12T23:59:59Z"));
  no_time = one_work(
      replace(permit, R"("actual_end_date_time": null)", R"("actual_end_date_time": "NULL")"));
  CHECK(no_time.end == ts("2020-06-12T23:59:59Z"));

  // A category neither member names leaves the work standard; a ref's spelling in the text
  // member is read; SWA codes written as numbers are the same codes.
  auto category = [&](const std::string& ref, const std::string& text) {
    return one_work(replace(replace(permit, R"("work_category_ref": "standard")",
                                    R"("work_category_ref": )" + ref),
                            R"("work_category": "Standard")", R"("work_category": )" + text))
        .category;
  };
  CHECK(category(R"("cat_unknown")", R"("Standard")") == Category::Standard);
  CHECK(category(R"("cat_unknown")", R"("Major")") == Category::Major);
  CHECK(category("null", R"("immediate_urgent")") == Category::ImmediateUrgent);
  CHECK(category("null", R"("Very big")") == Category::Standard);
  CHECK(category(R"("minor")", R"("Major")") == Category::Minor);
  auto numbers = one_work(
      replace(replace(permit, R"("promoter_swa_code": "STPR")", R"("promoter_swa_code": 7374)"),
              R"("highway_authority_swa_code": "5990")", R"("highway_authority_swa_code": 5990)"));
  CHECK(numbers.promoter == "7374");
  CHECK(numbers.highway_authority == "5990");
  // ... leading zeros included: the number 16 is the code "0016" (a string is read as sent).
  auto zeros = one_work(
      replace(replace(permit, R"("promoter_swa_code": "STPR")", R"("promoter_swa_code": 16)"),
              R"("highway_authority_swa_code": "5990")", R"("highway_authority_swa_code": 0)"));
  CHECK(zeros.promoter == "0016");
  CHECK(zeros.highway_authority == "0000");
  CHECK(one_work(replace(permit, R"("promoter_swa_code": "STPR")", R"("promoter_swa_code": "16")"))
            .promoter == "16");
  CHECK(
      one_work(replace(permit, R"("promoter_swa_code": "STPR")", R"("promoter_swa_code": 123456)"))
          .promoter == "123456");
}

TEST_CASE("parse: an SNS subscription confirmation is not a work, and says what to do") {
  Parsed p = parse_submission(read_shared("streetmanager/subscription_confirmation_event.json"));
  CHECK(p.works.empty());
  REQUIRE(p.errors.size() == 1);
  CHECK(p.errors[0].field == "Type");
  CHECK(p.errors[0].message.find("SubscribeURL (SUBSCRIPTION URL)") != std::string::npos);
}

TEST_CASE("parse: the Street Manager JSON schema is not a work") {
  Parsed p = parse_submission(read_shared("streetmanager/event-notifier-message.schema.json"));
  CHECK(p.works.empty());
  REQUIRE(p.errors.size() == 1);
  CHECK(p.errors[0].field == "work_ref");
}

TEST_CASE("parse: WKT round trip through to_wkt") {
  std::vector<Shape> shapes = {
      make_point(527155.3328125, 182227.946386719),
      make_line({501251.53, 222574.64, 501305.92, 222506.65, -1e-7, 3e12}),
      make_polygon({{0, 0, 10, 0, 10, 10, 0, 0}, {1, 1, 2, 1, 2, 2, 1, 1}}),
      Shape{ShapeType::MultiPoint, {1, 2, 3, 4}, {1, 1}, {}},
      Shape{ShapeType::MultiLineString, {1, 2, 3, 4, 5, 6, 7, 8, 9, 10}, {2, 3}, {}},
      Shape{
          ShapeType::MultiPolygon,
          {0, 0, 1, 0, 1, 1, 0, 0, 5, 5, 6, 5, 6, 6, 5, 5, 5.2, 5.1, 5.3, 5.1, 5.3, 5.2, 5.2, 5.1},
          {4, 4, 4},
          {1, 2}},
  };
  for (const auto& s : shapes) {
    std::string wkt = to_wkt(s, 17);
    CAPTURE(wkt);
    auto back = parse_wkt(wkt);
    REQUIRE(back.ok());
    CHECK(*back == s);
  }
}

TEST_CASE("parse: WKT spellings") {
  struct Case {
    const char* wkt;
    Shape shape;
  };
  Shape mp{ShapeType::MultiPoint, {1, 2, 3, 4}, {1, 1}, {}};
  for (const auto& c : {
           Case{"POINT(1 2)", make_point(1, 2)},
           Case{"  point ( 1   2 )  ", make_point(1, 2)},
           Case{"Point\n(\t-1.5e3\r\n+2.25E-1)", make_point(-1500, 0.225)},
           Case{"POINT Z (1 2 3)", make_point(1, 2)},
           Case{"POINTZ(1 2 3)", make_point(1, 2)},
           Case{"POINT M (1 2 3)", make_point(1, 2)},
           Case{"POINT ZM (1 2 3 4)", make_point(1, 2)},
           Case{"pointzm(1 2 3 4)", make_point(1, 2)},
           Case{"POINT (1 2 3)", make_point(1, 2)},
           Case{"POINT (.5 5.)", make_point(0.5, 5)},
           Case{"SRID=27700;POINT(1 2)", make_point(1, 2)},
           Case{"srid=4326 ; POINT(1 2)", make_point(1, 2)},
           Case{"LINESTRING Z (1 2 3, 4 5 6)", make_line({1, 2, 4, 5})},
           Case{"MULTIPOINT (1 2, 3 4)", mp},
           Case{"MULTIPOINT ((1 2), (3 4))", mp},
           Case{"MULTIPOINT ((1 2), 3 4)", mp},
           Case{"MULTIPOINT Z ((1 2 9), (3 4 9))", mp},
           Case{"POLYGON((0 0,10 0,10 10,0 0),(1 1,2 1,2 2,1 1))",
                make_polygon({{0, 0, 10, 0, 10, 10, 0, 0}, {1, 1, 2, 1, 2, 2, 1, 1}})},
       }) {
    std::string wkt = c.wkt;
    CAPTURE(wkt);
    auto s = parse_wkt(wkt);
    REQUIRE_MESSAGE(s.ok(), s.error().what());
    CHECK(*s == c.shape);
  }
  auto e = parse_ewkt("SRID=27700;POINT(1 2)");
  REQUIRE(e.ok());
  CHECK(e->srid == 27700);
  auto plain = parse_ewkt("POINT(1 2)");
  REQUIRE(plain.ok());
  CHECK_FALSE(plain->srid.has_value());
}

TEST_CASE("parse: bad JSON says where") {
  Parsed p =
      parse_submission(R"({"work_ref":"W1","geometry":{"type":"Point" "coordinates":[1,2]}})");
  REQUIRE(p.errors.size() == 1);
  CHECK(p.errors[0].field == "geometry");
  CAPTURE(p.errors[0].message);
  CHECK(p.errors[0].message == "invalid JSON at byte 44: expected ',' or '}'");
  // At the top, no member: no field.
  Parsed top = parse_submission(R"({"work_ref":"W1" "promoter":"P"})");
  REQUIRE(top.errors.size() == 1);
  CHECK(top.errors[0].field.empty());
  CHECK(top.errors[0].message.find("invalid JSON at byte 17") == 0);
}

TEST_CASE("parse: submissions parse on many threads at once") {
  std::string sample = read_shared("streetmanager/notification_event.json");
  std::vector<std::thread> threads;
  threads.reserve(4);
  std::vector<int> good(4, 0);
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < 200; ++i) {
        Parsed p = parse_submission(sample);
        if (p.works.size() == 1 && p.works[0].version == 678) ++good[static_cast<std::size_t>(t)];
      }
    });
  }
  for (auto& t : threads) t.join();
  for (int g : good) CHECK(g == 200);
}

TEST_CASE("parse: a work comes back the same through work_to_json, huge whole coordinates too") {
  // Found by fuzz_work_json: 1.8e20 was written as the integer 184467440737095516160, which
  // JSON readers refuse beyond 64 bits; it is written with an exponent now.
  std::string out;
  append_json_number(out, 184467440737095516160.0);
  CHECK(out == "1.844674407370955e+20");
  out.clear();
  append_json_number(out, 530123.25);
  CHECK(out == "530123.25");
  geo::ParseLimits limits;
  auto p = geo::parse_submission(
      R"({"work_ref":"W","promoter":"P","geometry":{"type":"LineString","coordinates":)"
      R"([[0.3,184467440737095516160.1],[0.3,0.2]]},"start":"2026-01-01","end":"2026-01-02"})",
      limits, geo::Format::WorkJson);
  REQUIRE(p.works.size() == 1);
  auto again = geo::parse_submission(geo::work_to_json(p.works[0]), limits, geo::Format::WorkJson);
  REQUIRE_MESSAGE(again.errors.empty(), (again.errors.empty() ? "" : again.errors[0].message));
  REQUIRE(again.works.size() == 1);
  CHECK(again.works[0].geometry == p.works[0].geometry);
}

TEST_CASE("parse: where each GeoJSON work's CRS was given, for an error about it") {
  const std::string point = R"("geometry":{"type":"Point","coordinates":[530000,180000]})";
  auto props = [](const std::string& ref, const std::string& extra) {
    return R"({"work_ref":")" + ref +
           R"(","promoter":"P","start":"2026-01-01","end":"2026-01-02")" + extra + "}";
  };
  Parsed feature = parse_submission(R"({"type":"Feature",)" + point + R"(,"properties":)" +
                                    props("A", R"(,"crs":"EPSG:27700")") + "}");
  REQUIRE(feature.works.size() == 1);
  CHECK(feature.field(0, "crs") == "properties.crs");
  Parsed plain = parse_submission(R"({"type":"Feature",)" + point + R"(,"properties":)" +
                                  props("A", "") + "}");
  REQUIRE(plain.works.size() == 1);
  CHECK(plain.field(0, "crs") == "crs");  // none given: EPSG:4326

  // In a collection: a feature's own property, its legacy member, or the collection's.
  const std::string legacy = R"("crs":{"type":"name","properties":{"name":"EPSG:27700"}})";
  Parsed collection = parse_submission(
      R"({"type":"FeatureCollection",)" + legacy + R"(,"features":[)" + R"({"type":"Feature",)" +
      point + R"(,"properties":)" + props("A", R"(,"crs":"EPSG:27700")") + "}," +
      R"({"type":"Feature",)" + legacy + "," + point + R"(,"properties":)" + props("B", "") + "}," +
      R"({"type":"Feature",)" + point + R"(,"properties":)" + props("C", "") + "}]}");
  REQUIRE(collection.errors.empty());
  REQUIRE(collection.works.size() == 3);
  CHECK(collection.field(0, "crs") == "features[0].properties.crs");
  CHECK(collection.field(1, "crs") == "features[1].crs");
  CHECK(collection.field(2, "crs") == "crs");
  CHECK(collection.field(1, "version") == "features[1].properties.version");
}
