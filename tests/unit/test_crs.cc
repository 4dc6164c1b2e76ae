#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <random>
#include <string>
#include <utility>
#include <vector>

#include "geo/crs.h"
#include "geo/geos.h"
#include "geo/normalize.h"

using namespace digonce::geo;

namespace {

const std::string kGridDir = DIGONCE_SHARED_DATA "/proj";

std::unique_ptr<CrsContext> make_context(const CrsOptions& options) {
  auto c = CrsContext::create(options);
  REQUIRE_MESSAGE(c.ok(), (c.ok() ? "" : c.error().what()));
  return std::move(*c);
}

std::unique_ptr<CrsContext> with_grid(std::string metric = "EPSG:27700") {
  CrsOptions o;
  o.metric_crs = std::move(metric);
  o.search_paths = {kGridDir};
  return make_context(o);
}

// Ordnance Survey's OSTN15 test points: ETRS89 latitude/longitude and the National Grid
// easting/northing OS publishes for them (OSTN15_OSGM15_TestInput_ETRStoOSGB.txt and
// TestOutput_ETRStoOSGB.txt of the OSTN15 developer pack; also quoted in OSGeo/PROJ issue 2173).
struct TestPoint {
  const char* id;
  double lat, lon, e, n;
};
constexpr TestPoint kOsTestPoints[] = {
    {"TP01 St Mary's, Scilly", 49.92226393730, -6.29977752014, 91492.146, 11318.804},
    {"TP02 Lizard Point", 49.96006137820, -5.20304609998, 170370.718, 11572.405},
    {"TP05 former OS HQ", 50.93127937910, -1.45051433700, 438710.920, 114792.250},
    {"TP07 North Foreland", 51.37447025550, 1.44454730409, 639821.835, 169565.858},
    {"TP09 Lambeth", 51.48936564950, -0.11992557180, 530624.974, 178388.464},
    {"TP10 Carmarthen", 51.85890896400, -4.30852476960, 241124.584, 220332.641},
};

}  // namespace

TEST_CASE("CrsContext: OS test points, EPSG:4326 -> EPSG:27700 within 1 cm with the OSTN15 grid") {
  auto crs = with_grid();
  REQUIRE(crs->grid_available());
  CHECK(crs->wgs84_to_metric().description().find("OSGB36 to WGS 84 (9)") != std::string::npos);
  CHECK(crs->metric_to_wgs84().uses_grid());
  CHECK_FALSE(crs->wgs84_to_metric().degraded());
  CHECK(crs->diagnostics().warnings() == 0);
  auto t4326 = crs->to_metric("EPSG:4326");
  auto t4258 = crs->to_metric("EPSG:4258");  // ETRS89, the datum of OS's published input
  REQUIRE(t4326.ok());
  REQUIRE(t4258.ok());
  CHECK(*t4326 == &crs->wgs84_to_metric());
  CHECK((*t4258)->uses_grid());
  for (const auto& tp : kOsTestPoints) {
    CAPTURE(tp.id);
    for (const Transform* t : {*t4326, *t4258}) {
      CAPTURE(t->source_crs());
      double x = tp.lon, y = tp.lat;  // GeoJSON order: longitude first
      REQUIRE(t->apply(x, y).ok());
      CHECK(std::fabs(x - tp.e) < 0.01);
      CHECK(std::fabs(y - tp.n) < 0.01);
    }
    // And back: 1e-7 degree is about 1 cm.
    double lon = tp.e, lat = tp.n;
    REQUIRE(crs->metric_to_wgs84().apply(lon, lat).ok());
    CHECK(std::fabs(lon - tp.lon) < 1e-7);
    CHECK(std::fabs(lat - tp.lat) < 1e-7);
  }
}

TEST_CASE("CrsContext: a shape is transformed vertex by vertex, as single points are") {
  auto crs = with_grid();
  Shape line = make_line({-0.1276, 51.5080, -0.1200, 51.5100, -0.1100, 51.5200});
  Shape copy = line;
  REQUIRE(crs->wgs84_to_metric().apply(line).ok());
  for (std::size_t i = 0; i < copy.vertex_count(); ++i) {
    double x = copy.xy[2 * i], y = copy.xy[2 * i + 1];
    REQUIRE(crs->wgs84_to_metric().apply(x, y).ok());
    CHECK(line.xy[2 * i] == x);
    CHECK(line.xy[2 * i + 1] == y);
  }
  CHECK(line.paths == copy.paths);
  Shape bad = make_line({-0.1, 51.5, std::numeric_limits<double>::quiet_NaN(), 51.5});
  auto st = crs->wgs84_to_metric().apply(bad);
  REQUIRE_FALSE(st.ok());
  CHECK(st.error().field == "geometry");
  CHECK(st.error().message.find("vertex 1") != std::string::npos);
}

TEST_CASE("CrsContext: EPSG:27700 -> EPSG:4326 through the copy of PROJ's OSTN15 pipeline") {
  auto crs = with_grid();
  const Transform& t = crs->metric_to_wgs84();
  REQUIRE(t.fast_path() != nullptr);
  CHECK(crs->wgs84_to_metric().fast_path() == nullptr);  // only this direction is copied

  // PROJ itself, in a context of its own: the same operation, picked the same way.
  PJ_CONTEXT* ctx = proj_context_create();
  const std::string default_dir = "/usr/share/proj";
  const char* paths[] = {kGridDir.c_str(), default_dir.c_str()};
  proj_context_set_search_paths(ctx, 2, paths);
  proj_context_set_enable_network(ctx, 0);
  PJ* raw = proj_create_crs_to_crs(ctx, "EPSG:27700", "EPSG:4326", nullptr);
  REQUIRE(raw != nullptr);
  PJ* proj = proj_normalize_for_visualization(ctx, raw);
  REQUIRE(proj != nullptr);

  // Great Britain and beyond (south of 49.75 N, west of 9 W, past the grid: PROJ's other
  // operations), London densely, and the grid's cell corners' neighbourhood at random.
  std::mt19937_64 rng(27700);
  std::uniform_real_distribution<double> gx(-250000, 750000), gy(-150000, 1300000);
  std::uniform_real_distribution<double> lx(500000, 560000), ly(150000, 210000);
  std::vector<std::pair<double, double>> points;
  points.reserve(320000);
  for (int i = 0; i < 40000; ++i) points.emplace_back(gx(rng), gy(rng));
  for (int i = 0; i < 60000; ++i) points.emplace_back(lx(rng), ly(rng));
  // Every 2 km over the National Grid: every block of the grid, and the band near 55 N whose
  // latitude shifts are too small to read back exactly (their cells are left to PROJ).
  for (int x = 1000; x < 700000; x += 2000)
    for (int y = 1000; y < 1250000; y += 2000) points.emplace_back(x, y);
  // Where the northing wraps round the globe to London's latitude: outside the box PROJ tests
  // before it considers the operation, so PROJ's ballpark, not OSTN15 (110 m apart).
  points.emplace_back(530000, 40180000);
  points.emplace_back(530000, -39820000);
  std::sort(points.begin(), points.end(),  // rows: PROJ reads its grid in tiles
            [](const auto& a, const auto& b) { return a.second < b.second; });
  std::size_t same = 0, differ = 0;
  double worst = 0;
  for (auto [x, y] : points) {
    PJ_COORD want = proj_trans(proj, PJ_FWD, proj_coord(x, y, 0, HUGE_VAL));
    proj_errno_reset(proj);
    double lon = x, lat = y;
    auto st = t.apply(lon, lat);
    if (!std::isfinite(want.xy.x) || !std::isfinite(want.xy.y)) {
      CHECK_FALSE(st.ok());
      continue;
    }
    REQUIRE(st.ok());
    if (lon == want.xy.x && lat == want.xy.y) {
      ++same;
    } else {
      ++differ;
      worst = std::max({worst, std::fabs(lon - want.xy.x), std::fabs(lat - want.xy.y)});
    }
  }
  proj_destroy(proj);
  proj_destroy(raw);
  proj_context_destroy(ctx);
  const BngToWgs84* fast = t.fast_path();
  REQUIRE(fast != nullptr);  // no block's check against PROJ failed
  MESSAGE("answered by the copy: ", fast->answered(), ", left to PROJ: ", fast->declined(),
          "; equal to PROJ bit for bit: ", same, ", differing: ", differ, " (worst ", worst,
          " degree)");
  CHECK(fast->answered() > 280000);
  CHECK(fast->declined() > 1000);
  CHECK(worst <= 1e-12);  // 0.1 micrometre; the output has 7 decimals (1 cm)
  CHECK(differ == 0);     // all equal bit for bit (see geo/bng_to_wgs84.h)

  // A vertex that cannot be transformed is named as on PROJ's own path.
  Shape bad = make_line({530000, 180000, std::numeric_limits<double>::quiet_NaN(), 180000});
  auto failed = t.apply(bad);
  REQUIRE_FALSE(failed.ok());
  CHECK(failed.error().field == "geometry");
  CHECK(failed.error().message.find(
            "vertex 1 cannot be transformed from EPSG:27700 to EPSG:4326") != std::string::npos);

  // A shape goes vertex by vertex through the same path.
  Shape line = make_line({530624.974, 178388.464, 530700.0, 178400.0, 91492.146, 11318.804});
  Shape copy = line;
  REQUIRE(t.apply(line).ok());
  for (std::size_t i = 0; i < copy.vertex_count(); ++i) {
    double x = copy.xy[2 * i], y = copy.xy[2 * i + 1];
    REQUIRE(t.apply(x, y).ok());
    CHECK(line.xy[2 * i] == x);
    CHECK(line.xy[2 * i + 1] == y);
  }
}

TEST_CASE("CrsContext: without the grid, a Helmert fallback (metres off) and one warning") {
  auto diagnostics = std::make_shared<CrsDiagnostics>();
  CrsOptions o;
  o.diagnostics = diagnostics;
  auto plain = make_context(o);
  if (plain->grid_available()) {
    MESSAGE("the OSTN15 grid is on PROJ's default search path here: nothing to test");
    return;
  }
  const Transform& t = plain->wgs84_to_metric();
  CHECK_FALSE(t.uses_grid());
  CHECK(t.degraded());
  CHECK(t.description().find("OSGB36 to WGS 84 (6)") != std::string::npos);
  CHECK(t.accuracy_m() == doctest::Approx(2.0));
  // PROJ picks another operation back to EPSG:4326 too: the copy of its grid pipeline stays off.
  CHECK(plain->metric_to_wgs84().fast_path() == nullptr);
  REQUIRE(diagnostics->warnings() == 1);
  CHECK(diagnostics->messages()[0].find("uk_os_OSTN15_NTv2_OSGBtoETRS.tif") != std::string::npos);

  // Lambeth (OS TP09): the fallback is off by metres, against the grid and OS's figure alike.
  auto grid = with_grid();
  const TestPoint& tp = kOsTestPoints[4];
  double xh = tp.lon, yh = tp.lat, xg = tp.lon, yg = tp.lat;
  REQUIRE(t.apply(xh, yh).ok());
  REQUIRE(grid->wgs84_to_metric().apply(xg, yg).ok());
  double off = std::hypot(xh - xg, yh - yg);
  CHECK(off > 0.5);
  CHECK(off < 10);
  CHECK(std::hypot(xh - tp.e, yh - tp.n) > 0.5);

  // Once per process: more transforms and more contexts sharing the diagnostics add nothing.
  REQUIRE(plain->to_metric("EPSG:4326").ok());
  auto second = make_context(o);
  CHECK_FALSE(second->grid_available());
  CHECK(diagnostics->warnings() == 1);
  CHECK(grid->diagnostics().warnings() == 0);
}

TEST_CASE("CrsContext: axis order is x = easting/longitude, y = northing/latitude") {
  auto crs = with_grid();
  // EPSG:4326 in, lon/lat order (RFC 7946), whatever the EPSG axis order says.
  Shape p = make_point(-0.1276, 51.5080);  // Trafalgar Square area
  REQUIRE(crs->wgs84_to_metric().apply(p).ok());
  CHECK(p.xy[0] == doctest::Approx(530000).epsilon(0.01));
  CHECK(p.xy[1] == doctest::Approx(180400).epsilon(0.01));

  // EPSG:27700 in: the identity.
  auto bng = crs->to_metric("EPSG:27700");
  REQUIRE(bng.ok());
  CHECK((*bng)->description() == "identity");
  double e = 530000, n = 180000;
  REQUIRE((*bng)->apply(e, n).ok());
  CHECK(e == 530000);
  CHECK(n == 180000);

  // Metric -> WGS 84 out: lon/lat order.
  double lon = 530000, lat = 180000;
  REQUIRE(crs->metric_to_wgs84().apply(lon, lat).ok());
  CHECK(lon == doctest::Approx(-0.13).epsilon(0.05));
  CHECK(lat == doctest::Approx(51.50).epsilon(0.001));

  // EPSG:3857 (web Mercator, metres on the WGS 84 sphere) lands where EPSG:4326 does.
  const double r = 6378137.0, pi = std::acos(-1.0);
  const TestPoint& tp = kOsTestPoints[4];
  double mx = r * tp.lon * pi / 180, my = r * std::log(std::tan(pi / 4 + tp.lat * pi / 360));
  auto merc = crs->to_metric("EPSG:3857");
  REQUIRE(merc.ok());
  REQUIRE((*merc)->apply(mx, my).ok());
  CHECK(std::fabs(mx - tp.e) < 0.05);
  CHECK(std::fabs(my - tp.n) < 0.05);
}

TEST_CASE("CrsContext: another region, metric CRS EPSG:2154 (France, Lambert-93)") {
  auto crs = with_grid("EPSG:2154");
  CHECK(crs->metric_crs() == "EPSG:2154");
  // The copy of PROJ's pipeline is of EPSG:27700's operation only.
  CHECK(crs->metric_to_wgs84().fast_path() == nullptr);
  double x = 2.3499, y = 48.8530;  // Notre-Dame de Paris
  REQUIRE(crs->wgs84_to_metric().apply(x, y).ok());
  // Lambert-93: false easting 700 000 at 3°E, false northing 6 600 000 at 46.5°N.
  CHECK(x == doctest::Approx(652000).epsilon(0.005));
  CHECK(y == doctest::Approx(6862000).epsilon(0.0005));
  auto identity = crs->to_metric("epsg:2154");
  REQUIRE(identity.ok());
  CHECK((*identity)->description() == "identity");
  Shape paris = make_point(2.3499, 48.8530);
  CHECK(crs->project_to_metric(paris, "EPSG:4326").ok());
  // The area of use is a lon/lat box (9.86W..10.38E, 41.15N..51.56N): London is inside it,
  // Berlin is not.
  Shape berlin = make_point(13.4050, 52.5200);
  auto st = crs->project_to_metric(berlin, "EPSG:4326");
  REQUIRE_FALSE(st.ok());
  CHECK(st.error().field == "geometry");
}

TEST_CASE("CrsContext: a CRS with no horizontal position is refused, naming its kind") {
  auto crs = with_grid();
  struct Case {
    const char* name;
    const char* kind;
  };
  for (const Case& c : {Case{"EPSG:5701", "is a vertical CRS"},     // ODN height
                        Case{"EPSG:4978", "is a geocentric CRS"},   // WGS 84 X, Y, Z
                        Case{"EPSG:5714", "is a vertical CRS"}}) {  // mean sea level height
    CAPTURE(c.name);
    auto t = crs->to_metric(c.name);
    REQUIRE_FALSE(t.ok());
    CHECK(t.error().field == "crs");
    CHECK(t.error().message.find(std::string(c.name) + " " + c.kind) != std::string::npos);
    Shape p = make_point(52, -1);
    auto st = crs->project_to_metric(p, c.name);
    REQUIRE_FALSE(st.ok());
    CHECK(st.error().field == "crs");
  }
  // Geographic 2D and 3D, projected, and compound CRSs whose horizontal part is one of those.
  for (const char* name : {"EPSG:4326", "EPSG:4979", "EPSG:27700", "EPSG:7405", "EPSG:4258"}) {
    CAPTURE(name);
    CHECK(crs->to_metric(name).ok());
  }
}

TEST_CASE("CrsContext: unknown CRSs are errors of field crs, and cached") {
  auto crs = with_grid();
  for (const char* name : {"EPSG:999999", "nonsense", "+proj=longlat", "EPSG:", ":4326"}) {
    CAPTURE(name);
    auto t = crs->to_metric(name);
    REQUIRE_FALSE(t.ok());
    CHECK(t.error().field == "crs");
    CHECK(t.error().message == std::string("unknown CRS ") + name);
    auto again = crs->to_metric(name);
    REQUIRE_FALSE(again.ok());
    CHECK(again.error().message == t.error().message);
  }
  auto a = crs->to_metric("EPSG:3857");
  auto b = crs->to_metric("epsg:3857");
  REQUIRE(a.ok());
  REQUIRE(b.ok());
  CHECK(*a == *b);

  CrsOptions o;
  o.metric_crs = "EPSG:999999";
  auto bad = CrsContext::create(o);
  REQUIRE_FALSE(bad.ok());
  CHECK(bad.error().field == "metric_crs");
  o.metric_crs = "EPSG:4326";  // degrees: no good for distances
  bad = CrsContext::create(o);
  REQUIRE_FALSE(bad.ok());
  CHECK(bad.error().field == "metric_crs");
}

TEST_CASE("CrsContext: coordinates outside the CRS's area of use") {
  auto crs = with_grid();
  SUBCASE("a point in Australia given in EPSG:4326 passes the source check, not the metric one") {
    Shape p = make_point(135.0, -25.0);
    CHECK(crs->wgs84_to_metric().check_source_area(p).ok());  // EPSG:4326 covers the world
    Shape q = p;
    auto st = crs->project_to_metric(q, "EPSG:4326");
    REQUIRE_FALSE(st.ok());
    CHECK(st.error().field == "geometry");
    CHECK(st.error().message.find("outside the area of use of the metric CRS EPSG:27700") !=
          std::string::npos);
    CHECK(st.error().message.find("United Kingdom") != std::string::npos);
    // The vertex as it was sent, in the CRS it was sent in, not as it landed.
    CHECK(st.error().message.find("vertex 0 (135, -25 in EPSG:4326)") != std::string::npos);
    MESSAGE(st.error().what());
  }
  SUBCASE("latitude beyond 90 in EPSG:4326") {
    Shape p = make_line({-0.1, 51.5, -0.1, 95.0});
    auto st = crs->wgs84_to_metric().check_source_area(p);
    REQUIRE_FALSE(st.ok());
    CHECK(st.error().field == "geometry");
    CHECK(st.error().message.find("vertex 1") != std::string::npos);
  }
  SUBCASE("EPSG:27700 coordinates far off the grid") {
    Shape p = make_point(-5e6, 1e9);
    auto t = crs->to_metric("EPSG:27700");
    REQUIRE(t.ok());
    auto st = (*t)->check_source_area(p);
    REQUIRE_FALSE(st.ok());
    CHECK(st.error().field == "geometry");
    CHECK(st.error().message.find("vertex 0 (-5000000, 1000000000)") != std::string::npos);
    CHECK_FALSE(crs->check_metric_area(p).ok());
    CHECK_FALSE(crs->project_to_metric(p, "EPSG:27700").ok());
  }
  SUBCASE("longitude, latitude sent for a projected CRS are named as such") {
    // London in degrees labelled EPSG:27700 lies inside its box (in the sea off Scilly, by the
    // false origin): refused, naming the mistake, for every projected source CRS.
    Shape london = make_line({-0.1276, 51.5080, -0.1270, 51.5085});
    auto st = crs->project_to_metric(london, "EPSG:27700");
    REQUIRE_FALSE(st.ok());
    CHECK(st.error().field == "geometry");
    CHECK(st.error().message.find("looks like longitude, latitude") != std::string::npos);
    CHECK(st.error().message.find("vertex 0 is (-0.1276, 51.508)") != std::string::npos);
    CHECK(st.error().message.find("\"crs\": \"EPSG:4326\"") != std::string::npos);
    MESSAGE(st.error().what());
    // Paris in degrees labelled EPSG:2154 is outside its box too; the message names the cause.
    Shape paris = make_point(2.35, 48.85);
    st = crs->project_to_metric(paris, "EPSG:2154");
    REQUIRE_FALSE(st.ok());
    CHECK(st.error().message.find("looks like longitude, latitude inside the area of use of "
                                  "EPSG:2154") != std::string::npos);
    // A compound CRS (British National Grid + ODN height) is judged by its horizontal part.
    Shape bng_odn = make_point(-0.1276, 51.5080);
    st = crs->project_to_metric(bng_odn, "EPSG:7405");
    REQUIRE_FALSE(st.ok());
    CHECK(st.error().message.find("looks like longitude, latitude") != std::string::npos);
    // One vertex in metres is enough to be taken as metres.
    Shape mixed = make_line({-0.1276, 51.5080, 530000, 180000});
    st = crs->project_to_metric(mixed, "EPSG:27700");
    CHECK(st.ok());
    // Degrees outside the CRS's own lon/lat area are metres by the origin, refused or not by
    // the box alone (here inside it: the box check is the only one).
    Shape origin = make_point(50, 50);
    CHECK(crs->project_to_metric(origin, "EPSG:27700").ok());
    // A geographic CRS is not second-guessed.
    Shape deg = make_point(-0.1276, 51.5080);
    CHECK(crs->project_to_metric(deg, "EPSG:4326").ok());
  }
  SUBCASE("London passes both") {
    Shape p = make_point(-0.1276, 51.5080);
    CHECK(crs->project_to_metric(p, "EPSG:4326").ok());
    CHECK(crs->check_metric_area(p).ok());
    // The box of EPSG:27700 in its own coordinates: the whole of Great Britain's grid.
    CHECK(crs->metric_box().minx < 0);
    CHECK(crs->metric_box().maxx > 650000);
    CHECK(crs->metric_box().maxy > 1200000);
  }
}

TEST_CASE("normalize: an invalid polygon is repaired, and why is said where a planner finds it") {
  auto crs = with_grid();
  Geos geos;
  Normalizer n(*crs, geos);
  WorkEvent e;
  e.work_ref = "BT1";
  e.crs = "EPSG:4326";
  // A bow-tie near Charing Cross, in longitude and latitude: the ring crosses itself once.
  e.geometry.type = ShapeType::Polygon;
  e.geometry.xy = {-0.1277, 51.5071, -0.1274, 51.5074, -0.1274,
                   51.5071, -0.1277, 51.5074, -0.1277, 51.5071};
  e.geometry.paths = {5};
  e.geometry.polygons = {1};
  REQUIRE(n.normalize(e).ok());
  CHECK(n.repaired() == 1);
  CHECK(std::string(n.last_repair_how()).starts_with("the rings are split where they cross"));
  // GEOS names the crossing in EPSG:27700; the reason gives it in longitude and latitude too.
  const std::string& why = n.last_repair();
  CHECK_MESSAGE(why.starts_with("Self-intersection at longitude -0.127550, latitude 51.507250 ("),
                why);
  CHECK_MESSAGE(why.ends_with(" in EPSG:27700)"), why);
  CHECK(e.geometry.type == ShapeType::MultiPolygon);  // the two triangles
}

TEST_CASE("normalize: invalid polygons are read as Shapely's and PostGIS's make_valid reads them") {
  auto crs = with_grid();
  Geos geos;
  Normalizer n(*crs, geos);
  // The repaired work's distance to a point, as the detector measures it (EPSG:27700 metres).
  auto distance_after_repair = [&](std::vector<double> xy, std::vector<std::uint32_t> paths,
                                   double px, double py, std::vector<std::uint32_t> polygons = {}) {
    WorkEvent e;
    e.work_ref = "R";
    e.crs = "EPSG:27700";
    e.geometry.type = polygons.empty() ? ShapeType::Polygon : ShapeType::MultiPolygon;
    e.geometry.xy = std::move(xy);
    e.geometry.paths = std::move(paths);
    e.geometry.polygons =
        polygons.empty()
            ? std::vector<std::uint32_t>{static_cast<std::uint32_t>(e.geometry.paths.size())}
            : std::move(polygons);
    auto before = n.repaired();
    REQUIRE(n.normalize(e).ok());
    CHECK(n.repaired() == before + 1);
    auto g = geos.to_geos(e.geometry);
    REQUIRE(g.ok());
    auto p = geos.to_geos(make_point(px, py));
    REQUIRE(p.ok());
    auto d = geos.distance(g->get(), p->get());
    REQUIRE(d.ok());
    return *d;
  };
  // A ring that goes round twice: the area it encloses twice is not the work (even-odd, as
  // GEOS's distance to the ring as sent says: 49 m), only the band it encloses once.
  CHECK(distance_after_repair(
            {530000, 180000, 530100, 180000, 530100, 180100, 530000, 180100, 530000, 180001,
             530099, 180001, 530099, 180099, 530001, 180099, 530001, 180000, 530000, 180000},
            {10}, 530050, 180050) == doctest::Approx(49.0));
  CHECK(std::string(n.last_repair_how()).starts_with("the rings are split where they cross"));
  // A hole outside its shell encloses an area of its own: the point inside it is on the work.
  CHECK(distance_after_repair(
            {530000, 180000, 530010, 180000, 530010, 180010, 530000, 180010, 530000, 180000,
             530100, 180100, 530200, 180100, 530200, 180200, 530100, 180200, 530100, 180100},
            {5, 5}, 530150, 180150) == doctest::Approx(0.0));
  // Two parts of a multi-polygon that overlap: a point in both is on the work (GEOS's distance
  // to the parts as sent says 0; linework over all their rings at once would cut the overlap).
  CHECK(distance_after_repair(
            {530000, 180000, 530100, 180000, 530100, 180100, 530000, 180100, 530000, 180000,
             530040, 180040, 530160, 180040, 530160, 180160, 530040, 180160, 530040, 180040},
            {5, 5}, 530070, 180070, {1, 1}) == doctest::Approx(0.0));
  CHECK(std::string(n.last_repair_how()).starts_with("the rings are split where they cross"));
  // A pit inside a site, as two parts: the pit is on the work, not a hole in it.
  CHECK(distance_after_repair(
            {530000, 180000, 530200, 180000, 530200, 180200, 530000, 180200, 530000, 180000,
             530050, 180050, 530150, 180050, 530150, 180150, 530050, 180150, 530050, 180050},
            {5, 5}, 530100, 180100, {1, 1}) == doctest::Approx(0.0));
  // A ring with a spike (out and back along one line): make_valid gives the square and the
  // spike's line, and GEOS's distance to the ring as sent reaches the spike's tip (10 m from the
  // point, not the 20 m to the square alone): the spike is kept, as a sliver 20 µm wide.
  const std::vector<double> spiked{530000, 180000, 530010, 180000, 530010, 180010, 530005, 180010,
                                   530005, 180020, 530005, 180010, 530000, 180010, 530000, 180000};
  CHECK(distance_after_repair(spiked, {8}, 530005, 180030) == doctest::Approx(10.0).epsilon(1e-5));
  CHECK(std::string(n.last_repair_how()).ends_with("is kept as a sliver 20 µm wide"));
  CHECK(distance_after_repair(spiked, {8}, 530008, 180015) == doctest::Approx(3.0).epsilon(1e-5));
  // Inside the square: still on the work.
  CHECK(distance_after_repair(spiked, {8}, 530003, 180004) == doctest::Approx(0.0));
  // A bow-tie alone has areas only: the note says nothing of slivers.
  CHECK(distance_after_repair(
            {530000, 180000, 530010, 180010, 530010, 180000, 530000, 180010, 530000, 180000}, {5},
            530020, 180005) == doctest::Approx(10.0));
  CHECK(std::string(n.last_repair_how())
            .ends_with("as Shapely's and PostGIS's make_valid read them"));
  // A ring of one repeated point encloses nothing: it is that point, and the note says so.
  CHECK(distance_after_repair({530000, 180000, 530000, 180000, 530000, 180000, 530000, 180000}, {4},
                              530003, 180004) == doctest::Approx(5.0));
  CHECK(std::string(n.last_repair_how()) ==
        "a ring that encloses no area is read as the line or point it draws");
}
