#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <random>
#include <string>
#include <utility>
#include <vector>

#include <simdjson.h>

#include "geo/authorities.h"

using namespace digonce::geo;

namespace {

std::unique_ptr<CrsContext> london_crs() {
  CrsOptions o;
  o.search_paths = {DIGONCE_SHARED_DATA "/proj"};
  auto c = CrsContext::create(o);
  REQUIRE_MESSAGE(c.ok(), (c.ok() ? "" : c.error().what()));
  return std::move(*c);
}

AuthorityOptions london_options() {
  auto o = load_authority_options(DIGONCE_SOURCE_DIR "/config/london-authorities.yaml",
                                  DIGONCE_SHARED_DATA);
  REQUIRE_MESSAGE(o.ok(), (o.ok() ? "" : o.error().what()));
  return *o;
}

std::vector<std::string> codes_at(const AuthorityMap& map, CrsContext& crs, double lon,
                                  double lat) {
  double x = lon, y = lat;
  REQUIRE(crs.wgs84_to_metric().apply(x, y).ok());
  std::vector<std::string> out;
  for (const auto* a : map.at(x, y)) out.push_back(a->code);
  return out;
}

// EPSG:4326 lon, lat pairs in the metric CRS.
std::vector<double> to_metric(CrsContext& crs, std::vector<double> lonlat) {
  for (std::size_t i = 0; i + 1 < lonlat.size(); i += 2)
    REQUIRE(crs.wgs84_to_metric().apply(lonlat[i], lonlat[i + 1]).ok());
  return lonlat;
}

using Codes = std::vector<std::string>;

}  // namespace

TEST_CASE("load_authority_options: the London YAML") {
  auto o = london_options();
  CHECK(o.path == DIGONCE_SHARED_DATA "/london/boroughs.geojson");
  CHECK(o.code_property == "gss_code");
  CHECK(o.name_property == "name");
  CHECK(o.codes.size() == 33);
  CHECK(o.codes.at("E09000033") == "5990");
  CHECK(o.codes.at("E09000001") == "5030");
}

TEST_CASE("load_authority_options: errors are values") {
  auto dir = std::filesystem::temp_directory_path() / "digonce-test-authorities";
  std::filesystem::create_directories(dir);
  auto write = [&](const char* name, const char* text) {
    std::ofstream(dir / name) << text;
    return (dir / name).string();
  };
  auto missing = load_authority_options((dir / "absent.yaml").string(), "");
  REQUIRE_FALSE(missing.ok());
  CHECK(missing.error().what() == (dir / "absent.yaml").string() + ": no such file");
  auto folder = load_authority_options(dir.string(), "");
  REQUIRE_FALSE(folder.ok());
  CHECK(folder.error().what() == dir.string() + ": is a folder, not a file");
  auto broken = load_authority_options(write("broken.yaml", "file: [unclosed\n"), "");
  CHECK_FALSE(broken.ok());
  auto no_file = load_authority_options(write("nofile.yaml", "code_property: x\n"), "");
  REQUIRE_FALSE(no_file.ok());
  CHECK(no_file.error().field == "file");
  auto bad_codes =
      load_authority_options(write("codes.yaml", "file: a.geojson\ncodes: [1, 2]\n"), "");
  REQUIRE_FALSE(bad_codes.ok());
  CHECK(bad_codes.error().field == "codes");
  auto absolute =
      load_authority_options(write("abs.yaml", "file: /x/a.geojson\ncodes:\n  A: 12\n"), "/data");
  REQUIRE(absolute.ok());
  CHECK(absolute->path == "/x/a.geojson");
  CHECK(absolute->codes.at("A") == "12");
  // A misspelt or repeated key is refused, naming it: `code:` for `codes:` left every alert
  // named by the areas' own property values.
  for (const auto& [text, field] : std::vector<std::pair<const char*, const char*>>{
           {"file: a.geojson\ncode:\n  A: 12\n", "code"},
           {"file: a.geojson\nfile: b.geojson\n", "file"},
           {"file: a.geojson\ncodes:\n  A: 12\n  A: 13\n", "codes.A"}}) {
    const char* const yaml = text;  // CAPTURE keeps a reference: not to a structured binding
    CAPTURE(yaml);
    auto refused = load_authority_options(write("typo.yaml", text), "");
    REQUIRE_FALSE(refused.ok());
    CHECK(refused.error().field == field);
  }
  auto listed = load_authority_options(write("typo.yaml", "file: a.geojson\n[codes]: 1\n"), "");
  REQUIRE_FALSE(listed.ok());
  CHECK(listed.error().what() == "a key must be a plain word (line 2)");
  auto unknown = load_authority_options(write("typo.yaml", "file: a.geojson\ncode: 1\n"), "");
  REQUIRE_FALSE(unknown.ok());
  CHECK(unknown.error().what() ==
        "code: unknown key (an authorities file takes: file, code_property, name_property, "
        "codes)");
  std::filesystem::remove_all(dir);
}

TEST_CASE("AuthorityMap: London boroughs by point, with Street Works Act codes") {
  auto crs = london_crs();
  Geos geos;
  auto loaded = AuthorityMap::load(london_options(), *crs, geos);
  REQUIRE_MESSAGE(loaded.ok(), (loaded.ok() ? "" : loaded.error().what()));
  AuthorityMap map = std::move(*loaded);  // movable: the GEOS objects move with it
  REQUIRE(map.all().size() == 33);
  CHECK(std::is_sorted(map.all().begin(), map.all().end(),
                       [](const Authority& a, const Authority& b) { return a.code < b.code; }));

  CHECK(codes_at(map, *crs, -0.1281, 51.5080) == Codes{"5990"});  // Trafalgar Square: Westminster
  CHECK(codes_at(map, *crs, -0.1057, 51.5322) == Codes{"5570"});  // Angel: Islington
  CHECK(codes_at(map, *crs, -0.0918, 51.5138) == Codes{"5030"});  // Bank: City of London
  CHECK(codes_at(map, *crs, -0.1426, 51.5390) == Codes{"5210"});  // Camden Town: Camden
  CHECK(codes_at(map, *crs, -1.2577, 51.7520).empty());           // Oxford: outside London
  CHECK(codes_at(map, *crs, 0.1218, 52.2053).empty());            // Cambridge

  // A vertex the file gives both Westminster and Camden (Kilburn / Maida Vale boundary): on a
  // shared boundary a point belongs to both, sorted by code.
  CHECK(codes_at(map, *crs, -0.191427690716014, 51.53624175245798) == Codes{"5210", "5990"});
  // And one of Hackney and Islington.
  CHECK(codes_at(map, *crs, -0.104510704106447, 51.56470576362964) == Codes{"5360", "5570"});

  const Authority* w = map.find("5990");
  REQUIRE(w != nullptr);
  CHECK(w->name == "Westminster");
  CHECK(map.find("westminster") == w);
  CHECK(map.find("E09000033") == nullptr);  // reported codes only
  CHECK(map.find("nowhere") == nullptr);

  auto e = map.envelope_of("5990");
  REQUIRE(e.has_value());
  double x = -0.1281, y = 51.5080;
  REQUIRE(crs->wgs84_to_metric().apply(x, y).ok());
  CHECK(e->minx <= x);
  CHECK(x <= e->maxx);
  CHECK(e->miny <= y);
  CHECK(y <= e->maxy);
  CHECK(e->width() < 10000);  // metres: Westminster is about 7 km across
  CHECK_FALSE(map.envelope_of("9999").has_value());
}

TEST_CASE("AuthorityMap::of_shape: the authority of a work that names none") {
  auto crs = london_crs();
  Geos geos;
  auto map = AuthorityMap::load(london_options(), *crs, geos);
  REQUIRE_MESSAGE(map.ok(), (map.ok() ? "" : map.error().what()));
  auto metric = [&](std::vector<double> lonlat) { return to_metric(*crs, std::move(lonlat)); };
  auto code = [&](const Shape& s) {
    const Authority* a = map->of_shape(s);
    return a ? a->code : std::string("none");
  };
  Shape point{ShapeType::Point, metric({-0.1281, 51.5080}), {1}, {}};
  CHECK(code(point) == "5990");  // Trafalgar Square
  // A line from Westminster (Trafalgar Square) to the City (Bank), with a short first leg: its
  // halfway point is near Fleet Street's east end / Ludgate, in the City (not its first vertex).
  Shape line{ShapeType::LineString,
             metric({-0.1281, 51.5080, -0.1280, 51.5081, -0.0918, 51.5138}),
             {3},
             {}};
  CHECK(code(line) == "5030");
  // A polygon whose shell's vertices are all outside Islington's Angel but whose surface holds
  // it: a diamond around Angel, 300 m across.
  Shape diamond{ShapeType::Polygon,
                metric({-0.1057, 51.5309, -0.1035, 51.5322, -0.1057, 51.5335, -0.1079, 51.5322,
                        -0.1057, 51.5309}),
                {5},
                {1}};
  CHECK(code(diamond) == "5570");
  Shape oxford{ShapeType::Point, metric({-1.2577, 51.7520}), {1}, {}};
  CHECK(map->of_shape(oxford) == nullptr);
  CHECK(map->of_shape(Shape{}) == nullptr);
}

TEST_CASE("AuthorityMap::meeting: every authority whose area a work meets, fast or exact") {
  auto crs = london_crs();
  Geos geos;
  auto map = AuthorityMap::load(london_options(), *crs, geos);
  REQUIRE_MESSAGE(map.ok(), (map.ok() ? "" : map.error().what()));
  auto metric = [&](std::vector<double> lonlat) { return to_metric(*crs, std::move(lonlat)); };
  auto codes = [&](const Shape& s) {
    std::vector<std::string> out;
    for (const auto* a : map->meeting(s)) out.push_back(a->code);
    return out;
  };
  Shape point{ShapeType::Point, metric({-0.1281, 51.5080}), {1}, {}};
  CHECK(codes(point) == Codes{"5990"});  // Trafalgar Square
  // Westminster (Trafalgar Square) to the City (Bank), along the Strand and Fleet Street.
  Shape line{ShapeType::LineString, metric({-0.1281, 51.5080, -0.0918, 51.5138}), {2}, {}};
  const Codes through = codes(line);
  CHECK(std::find(through.begin(), through.end(), "5990") != through.end());
  CHECK(std::find(through.begin(), through.end(), "5030") != through.end());
  // A short line on Cowcross Street, Islington, near Hackney and the City: Islington only (the
  // envelopes of Hackney's and the City's areas hold it; their areas do not).
  Shape cowcross{ShapeType::LineString, metric({-0.1045, 51.5205, -0.1040, 51.5206}), {2}, {}};
  CHECK(codes(cowcross) == Codes{"5570"});
  // The same answers as the exact test, across many small works: lines of 20-300 m anywhere.
  std::mt19937_64 rng(11);
  std::uniform_real_distribution<double> ux(500000, 560000), uy(160000, 200000), len(20, 300),
      turn(0, 6.283185307179586);
  int crossing = 0;
  for (int k = 0; k < 3000; ++k) {
    const double x = ux(rng), y = uy(rng), l = len(rng), a = turn(rng);
    Shape s{ShapeType::LineString, {x, y, x + l * std::cos(a), y + l * std::sin(a)}, {2}, {}};
    const auto got = codes(s);
    std::vector<std::string> exact;
    for (const auto* c : map->meeting_exact(s)) exact.push_back(c->code);
    REQUIRE_MESSAGE(got == exact, "line " << k);
    // And the authorities covering either end are among them.
    for (double t : {0.0, 1.0}) {
      for (const auto* c : map->at_exact(x + t * l * std::cos(a), y + t * l * std::sin(a)))
        REQUIRE_MESSAGE(std::find(got.begin(), got.end(), c->code) != got.end(),
                        "line " << k << " misses " << c->code);
    }
    if (got.size() > 1) ++crossing;
  }
  MESSAGE(crossing << " of 3000 lines meet two areas or more");
  CHECK(crossing > 0);
  Shape oxford{ShapeType::Point, metric({-1.2577, 51.7520}), {1}, {}};
  CHECK(codes(oxford).empty());
  CHECK(codes(Shape{}).empty());
}

TEST_CASE(
    "AuthorityMap: the cells answer as the exact lookup does, boundaries and cell edges too") {
  auto crs = london_crs();
  Geos geos;
  auto loaded = AuthorityMap::load(london_options(), *crs, geos);
  REQUIRE(loaded.ok());
  const AuthorityMap& map = *loaded;
  REQUIRE(map.cell_size() >= 250);
  // Greater London's envelope with a margin (EPSG:27700).
  std::mt19937_64 rng(7);
  std::uniform_real_distribution<double> ux(495000, 570000), uy(150000, 210000);
  std::uniform_int_distribution<int> pick(0, 3);
  int n = 0, covered = 0, shared = 0;
  auto same = [&](double x, double y) {
    auto fast = map.at(x, y), exact = map.at_exact(x, y);
    ++n;
    if (!exact.empty()) ++covered;
    if (exact.size() > 1) ++shared;
    return fast == exact;
  };
  for (int k = 0; k < 100000; ++k) {
    double x = ux(rng), y = uy(rng);
    // A quarter of the points on a sub-cell's edge or corner (where rounding decides the cell;
    // one in eight of those on a cell's edge too).
    const double c = map.cell_size() / AuthorityMap::kSplit;
    const auto [x0, y0] = map.cell_origin();
    if (pick(rng) == 0) x = x0 + std::round((x - x0) / c) * c;
    if (pick(rng) == 0) y = y0 + std::round((y - y0) / c) * c;
    REQUIRE_MESSAGE(same(x, y), "at " << x << " " << y);
  }
  // Every vertex of two shared boundaries' neighbourhoods: points exactly on a boundary.
  for (auto [lon, lat] : {std::pair{-0.191427690716014, 51.53624175245798},
                          std::pair{-0.104510704106447, 51.56470576362964}}) {
    double x = lon, y = lat;
    REQUIRE(crs->wgs84_to_metric().apply(x, y).ok());
    REQUIRE(same(x, y));
    for (double dx : {-1e-7, 0.0, 1e-7})
      for (double dy : {-1e-7, 0.0, 1e-7}) REQUIRE(same(x + dx, y + dy));
  }
  MESSAGE(n << " points, " << covered << " in an area, " << shared << " on a shared boundary");
  CHECK(covered > 30000);
  CHECK(shared >= 1);
}

TEST_CASE("AuthorityMap: without a codes map, the property values are the codes") {
  auto crs = london_crs();
  Geos geos;
  AuthorityOptions o;
  o.path = DIGONCE_SHARED_DATA "/london/boroughs.geojson";
  auto map = AuthorityMap::load(o, *crs, geos);
  REQUIRE(map.ok());
  CHECK(codes_at(*map, *crs, -0.1281, 51.5080) == Codes{"E09000033"});
}

TEST_CASE("AuthorityMap: multipolygons, holes, shared codes, bad input") {
  auto crs = london_crs();
  Geos geos;
  // In EPSG:27700 (a GeoJSON 2008 "crs" member): A is a square with a hole, and an island
  // feature of the same code; B fills A's hole.
  const char* json = R"({"type":"FeatureCollection",
    "crs":{"type":"name","properties":{"name":"urn:ogc:def:crs:EPSG::27700"}},
    "features":[
    {"type":"Feature","properties":{"code":"A","name":"Alpha"},"geometry":{"type":"Polygon",
      "coordinates":[[[500000,170000],[510000,170000],[510000,180000],[500000,180000],[500000,170000]],
                     [[504000,174000],[506000,174000],[506000,176000],[504000,176000],[504000,174000]]]}},
    {"type":"Feature","properties":{"code":"B","name":"Beta"},"geometry":{"type":"MultiPolygon",
      "coordinates":[[[[504000,174000],[506000,174000],[506000,176000],[504000,176000],[504000,174000]]]]}},
    {"type":"Feature","properties":{"code":"A","name":"Alpha"},"geometry":{"type":"MultiPolygon",
      "coordinates":[[[[520000,170000],[521000,170000],[521000,171000],[520000,171000],[520000,170000]]]]}}
  ]})";
  AuthorityOptions o;
  o.code_property = "code";
  auto map = AuthorityMap::parse(json, o, *crs, geos);
  REQUIRE_MESSAGE(map.ok(), (map.ok() ? "" : map.error().what()));
  REQUIRE(map->all().size() == 2);
  auto at = [&](double x, double y) {
    Codes out;
    for (const auto* a : map->at(x, y)) out.push_back(a->code);
    return out;
  };
  CHECK(at(501000, 171000) == Codes{"A"});
  CHECK(at(505000, 175000) == Codes{"B"});       // in A's hole
  CHECK(at(504000, 175000) == Codes{"A", "B"});  // on the hole's edge
  CHECK(at(520500, 170500) == Codes{"A"});       // A's island
  CHECK(at(515000, 175000).empty());
  auto e = map->envelope_of("A");
  REQUIRE(e.has_value());
  CHECK(e->minx == 500000);
  CHECK(e->maxx == 521000);

  auto bad = [&](const char* text) {
    auto m = AuthorityMap::parse(text, o, *crs, geos);
    REQUIRE_FALSE(m.ok());
    return m.error();
  };
  CHECK_FALSE(bad("not json").message.empty());
  CHECK(bad(R"({"type":"Feature"})").message.find("FeatureCollection") != std::string::npos);
  CHECK(bad(R"({"type":"FeatureCollection","features":[{"type":"Feature","properties":{},
      "geometry":{"type":"Point","coordinates":[0,51]}}]})")
            .field == "features[0].properties.code");
  CHECK(bad(R"({"type":"FeatureCollection","features":[{"type":"Feature","properties":{"code":"X"},
      "geometry":{"type":"Point","coordinates":[0,51]}}]})")
            .field == "features[0].geometry.type");
  CHECK(bad(R"({"type":"FeatureCollection","features":[{"type":"Feature","properties":{"code":"X"},
      "geometry":{"type":"Polygon","coordinates":[[[0,51],[1,51],[0,51]]]}}]})")
            .field == "features[0].geometry.coordinates[0]");
  // Australia is outside EPSG:27700's area of use.
  CHECK(bad(R"({"type":"FeatureCollection","features":[{"type":"Feature","properties":{"code":"X"},
      "geometry":{"type":"Polygon","coordinates":[[[135,-25],[136,-25],[136,-24],[135,-25]]]}}]})")
            .field == "features[0].geometry");
  AuthorityOptions absent;
  absent.path = "/nonexistent/areas.geojson";
  auto m = AuthorityMap::load(absent, *crs, geos);
  REQUIRE_FALSE(m.ok());
  CHECK(m.error().field == "file");
}

TEST_CASE("AuthorityMap::areas_geojson: every area for maps, in EPSG:4326, simplified") {
  auto crs = london_crs();
  Geos geos;
  auto map = AuthorityMap::load(london_options(), *crs, geos);
  REQUIRE(map.ok());
  const std::string json = map->areas_geojson(crs->metric_to_wgs84(), 10.0);
  simdjson::dom::parser parser;
  simdjson::dom::element doc;
  REQUIRE(parser.parse(json).get(doc) == simdjson::SUCCESS);
  CHECK(std::string_view(doc["type"]) == "FeatureCollection");
  simdjson::dom::array features = doc["features"];
  REQUIRE(features.size() == 33);
  std::size_t vertices = 0;
  bool westminster = false;
  for (auto f : features) {
    CHECK(std::string_view(f["geometry"]["type"]) == "MultiPolygon");
    if (std::string_view(f["properties"]["code"]) == "5990") {
      westminster = true;
      CHECK(std::string_view(f["properties"]["name"]) == "Westminster");
    }
    for (auto polygon : simdjson::dom::array(f["geometry"]["coordinates"]))
      for (auto ring : simdjson::dom::array(polygon)) {
        simdjson::dom::array r = ring;
        REQUIRE(r.size() >= 4);
        // Closed, and in London (longitude, latitude).
        CHECK(double(r.at(0).at(0)) == double(r.at(r.size() - 1).at(0)));
        for (auto p : r) {
          const double lon = p.at(0), lat = p.at(1);
          CHECK((lon > -0.6 && lon < 0.4 && lat > 51.2 && lat < 51.8));
          ++vertices;
        }
      }
  }
  CHECK(westminster);
  // The file's 2 MB of outlines, simplified to 10 m: a map's worth, not the survey's.
  CHECK(vertices < 40000);
  CHECK(json.size() < 400000);
  MESSAGE(features.size() << " areas, " << vertices << " vertices, " << json.size() << " bytes");
}
