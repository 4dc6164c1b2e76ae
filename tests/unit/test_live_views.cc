// The gateway's live views (services/live_views.h) and request targets (services/http_query.h):
// what GET /v1/works, GET /v1/alerts and the live stream answer from.
#include <doctest/doctest.h>

#include <string>

#include "services/http_api.h"
#include "services/http_query.h"
#include "services/live_views.h"

using namespace digonce;
using namespace digonce::services;

namespace {

std::string work_json(const std::string& ref, const std::string& promoter, double lon, double lat,
                      const std::string& start, const std::string& end,
                      const std::string& authority = "") {
  std::string j = R"({"work_ref":")" + ref + R"(","promoter":")" + promoter +
                  R"(","geometry":{"type":"LineString","coordinates":[[)" + std::to_string(lon) +
                  "," + std::to_string(lat) + "],[" + std::to_string(lon + 0.001) + "," +
                  std::to_string(lat + 0.001) + R"(]]},"crs":"EPSG:4326","start":")" + start +
                  R"(","end":")" + end + "\"";
  if (!authority.empty()) j += R"(,"highway_authority":")" + authority + "\"";
  return j + R"(,"seq":3})";
}

std::string alert_json(const std::string& id, const std::string& state, int revision,
                       const std::string& promoter_a, const std::string& promoter_b,
                       const std::string& authority) {
  return R"({"alert_id":")" + id + R"(","kind":"clash","state":")" + state + R"(","revision":)" +
         std::to_string(revision) + R"(,"works":[{"work_ref":"A1","promoter":")" + promoter_a +
         R"(","category":"standard","start":"2026-03-16T00:00:00Z","end":"2026-03-20T23:59:59Z"},)" +
         R"({"work_ref":"B1","promoter":")" + promoter_b +
         R"(","category":"standard","start":"2026-03-16T00:00:00Z","end":"2026-03-20T23:59:59Z"}],)" +
         R"("distance_m":3,"gap_days":-4,"location":{"type":"Point","coordinates":[-0.1,51.5]},)" +
         R"("highway_authorities":[")" + authority + R"("],"reason":"They clash."})";
}

std::vector<std::string> refs(const std::vector<std::shared_ptr<const LiveWork>>& works) {
  std::vector<std::string> out;
  out.reserve(works.size());
  for (const auto& w : works) out.push_back(w->work_ref);
  return out;
}

std::vector<std::string> ids(const std::vector<std::shared_ptr<const LiveAlert>>& alerts) {
  std::vector<std::string> out;
  out.reserve(alerts.size());
  for (const auto& a : alerts) out.push_back(a->alert_id);
  return out;
}

geo::Micros at(const char* text) {
  auto t = geo::parse_timestamp(text, geo::DateEnd::Start);
  REQUIRE(t.ok());
  return *t;
}

}  // namespace

TEST_CASE("live works: parse what ingest writes to works.current") {
  auto w =
      parse_live_work(work_json("W/1", "STPR", -0.1, 51.5, "2026-03-16", "2026-03-20", "5990"));
  REQUIRE(w.ok());
  CHECK(w->work_ref == "W/1");
  CHECK(w->promoter == "STPR");
  CHECK(w->authority == "5990");
  CHECK(w->envelope.minx == doctest::Approx(-0.1));
  CHECK(w->envelope.maxy == doctest::Approx(51.501));
  CHECK(w->start == at("2026-03-16T00:00:00Z"));
  CHECK(w->end == at("2026-03-20T23:59:59Z"));

  auto polygon = parse_live_work(
      R"({"work_ref":"P","promoter":"X","start":"2026-01-01","end":"2026-01-02","geometry":)"
      R"({"type":"MultiPolygon","coordinates":[[[[0,0],[2,0],[2,3],[0,0]]],[[[5,5],[6,5],[6,6],[5,5]]]]}})");
  REQUIRE(polygon.ok());
  CHECK(polygon->envelope.maxx == 6);
  CHECK(polygon->envelope.miny == 0);

  // An authority ingest derived from the location is shown, not used to decide who reads it.
  std::string derived = work_json("W/2", "STPR", -0.1, 51.5, "2026-03-16", "2026-03-20", "5990");
  derived.insert(derived.size() - 1, R"(,"highway_authority_derived":true)");
  auto d = parse_live_work(derived);
  REQUIRE(d.ok());
  CHECK(d->authority.empty());
  CHECK(d->json.find(R"("highway_authority":"5990")") != std::string::npos);

  CHECK(parse_live_work("not json").error().message.find("invalid JSON") == 0);
  CHECK(parse_live_work(R"({"promoter":"X"})").error().field == "work_ref");
  CHECK(parse_live_work(R"({"work_ref":"A","start":"2026-01-01","end":"2026-01-01"})")
            .error()
            .field == "geometry");
  CHECK(parse_live_work(R"({"work_ref":"A","start":"tuesday","end":"2026-01-01",)"
                        R"("geometry":{"type":"Point","coordinates":[1,2]}})")
            .error()
            .field == "start");
}

TEST_CASE("live works: tombstones remove, upserts replace, queries filter by bbox and time") {
  WorksView view;
  auto put = [&](const std::string& ref, const std::string& json) {
    auto r = view.apply(ref, json);
    REQUIRE(r.ok());
    REQUIRE(r->has_value());
    return **r;
  };
  auto first = put("A", work_json("A", "STPR", -0.10, 51.50, "2026-03-01", "2026-03-10", "5990"));
  CHECK(first.now);
  CHECK_FALSE(first.before);
  put("B", work_json("B", "TFL", -0.12, 51.51, "2026-03-05", "2026-03-20", "5210"));
  put("C", work_json("C", "STPR", 2.35, 48.85, "2026-04-01", "2026-04-02"));
  CHECK(view.size() == 3);

  WorkQuery all;
  CHECK(refs(view.query(all)) == std::vector<std::string>{"A", "B", "C"});

  // A page at a time: one more than the limit comes back when there are more (the caller
  // gives `limit` and names the last as `next`), starting after `after`.
  WorkQuery page;
  page.limit = 1;
  CHECK(refs(view.query(page)) == std::vector<std::string>{"A", "B"});
  page.after = "A";
  CHECK(refs(view.query(page)) == std::vector<std::string>{"B", "C"});
  page.after = "B";
  CHECK(refs(view.query(page)) == std::vector<std::string>{"C"});
  page.after = "Bzz";  // an id that is not there: after it all the same
  page.limit = 5;
  CHECK(refs(view.query(page)) == std::vector<std::string>{"C"});

  WorkQuery london;
  london.bbox = geo::Envelope{-0.2, 51.4, 0.0, 51.6};
  CHECK(refs(view.query(london)) == std::vector<std::string>{"A", "B"});
  london.limit = 1;
  CHECK(refs(view.query(london)) == std::vector<std::string>{"A", "B"});
  london.limit = 0;
  WorkQuery edge;  // a box that only touches A's envelope still finds it
  edge.bbox = geo::Envelope{-0.099, 51.501, -0.05, 51.55};
  CHECK(refs(view.query(edge)) == std::vector<std::string>{"A"});

  WorkQuery later;
  later.from = at("2026-03-11T00:00:00Z");
  CHECK(refs(view.query(later)) == std::vector<std::string>{"B", "C"});
  WorkQuery window;
  window.from = at("2026-03-11T00:00:00Z");  // A ends on the 10th at 23:59:59
  window.to = at("2026-03-31T00:00:00Z");
  CHECK(refs(view.query(window)) == std::vector<std::string>{"B"});
  WorkQuery until;
  until.to = at("2026-03-04T00:00:00Z");
  CHECK(refs(view.query(until)) == std::vector<std::string>{"A"});

  // A new plan replaces the old one (here: moved to Paris).
  auto moved = put("A", work_json("A", "STPR", 2.30, 48.80, "2026-03-01", "2026-03-10"));
  REQUIRE(moved.before);
  CHECK(moved.before->authority == "5990");
  CHECK(refs(view.query(london)) == std::vector<std::string>{"B"});

  // A tombstone removes the work and says what it was.
  auto gone = view.apply("B", std::nullopt);
  REQUIRE(gone.ok());
  REQUIRE(gone->has_value());
  CHECK_FALSE((*gone)->now);
  CHECK((*gone)->before->promoter == "TFL");
  CHECK(view.find("B") == nullptr);
  CHECK(view.size() == 2);
  // Its reference stays TFL's (the API refuses another promoter's work under it) until a work
  // under it is live again.
  CHECK(view.holder_of("B").promoter == "TFL");
  CHECK_FALSE(view.holder_of("B").live);
  CHECK(view.holder_of("A").promoter == "STPR");
  CHECK(view.holder_of("A").live);
  CHECK(view.holder_of("Z").promoter.empty());
  // A tombstone for a work not held changes nothing.
  auto again = view.apply("B", std::nullopt);
  REQUIRE(again.ok());
  CHECK_FALSE(again->has_value());

  put("B", work_json("B", "TFL", -0.12, 51.51, "2026-05-05", "2026-05-20", "5210"));
  CHECK(view.holder_of("B").live);
  REQUIRE(view.apply("B", std::nullopt).ok());
  CHECK(view.holder_of("B").promoter == "TFL");

  // At most max_finished references are remembered, the oldest forgotten first; one that
  // finished again since is kept.
  WorksView small(2);
  for (const char* ref : {"P", "Q", "P", "R"}) {
    REQUIRE(small.apply(ref, work_json(ref, "TW", -0.1, 51.5, "2026-03-01", "2026-03-02")).ok());
    REQUIRE(small.apply(ref, std::nullopt).ok());
  }
  CHECK(small.finished_size() == 2);
  CHECK(small.holder_of("P").promoter == "TW");  // finished last but one
  CHECK(small.holder_of("Q").promoter.empty());  // the oldest
  CHECK(small.holder_of("R").promoter == "TW");

  // An unreadable value is an error and leaves the view as it was.
  CHECK_FALSE(view.apply("A", std::string_view("{")).ok());
  CHECK(view.find("A") != nullptr);
}

TEST_CASE("live works: each key sees only what it may read") {
  WorksView view;
  REQUIRE(
      view.apply("A", work_json("A", "STPR", -0.1, 51.5, "2026-03-01", "2026-03-10", "5990")).ok());
  REQUIRE(
      view.apply("B", work_json("B", "TFL", -0.1, 51.5, "2026-03-01", "2026-03-10", "5210")).ok());
  REQUIRE(view.apply("C", work_json("C", "TFL", -0.1, 51.5, "2026-03-01", "2026-03-10")).ok());
  ApiKey stpr{"k", "STPR", Role::Promoter};
  ApiKey tfl{"k", "TFL", Role::Promoter};
  ApiKey camden{"k", "5210", Role::Authority};
  ApiKey ops{"k", "OPS", Role::Ops};
  WorkQuery q;
  q.viewer = &stpr;
  CHECK(refs(view.query(q)) == std::vector<std::string>{"A"});
  q.viewer = &tfl;
  CHECK(refs(view.query(q)) == std::vector<std::string>{"B", "C"});
  q.viewer = &camden;
  CHECK(refs(view.query(q)) == std::vector<std::string>{"B"});
  q.viewer = &ops;
  CHECK(refs(view.query(q)) == std::vector<std::string>{"A", "B", "C"});
}

TEST_CASE("live alerts: the latest revision wins; filters by state, authority and key") {
  AlertsView view;
  auto apply = [&](const std::string& json) {
    auto r = view.apply("", json);
    REQUIRE(r.ok());
    return r->has_value();
  };
  CHECK(apply(alert_json("clash-2", "open", 1, "STPR", "TFL", "5990")));
  CHECK(apply(alert_json("clash-1", "open", 1, "TW", "TFL", "5210")));
  CHECK(apply(alert_json("clash-1", "updated", 2, "TW", "TFL", "5210")));
  CHECK(apply(alert_json("clash-3", "open", 1, "STPR", "TW", "5210")));
  CHECK(apply(alert_json("clash-3", "closed", 2, "STPR", "TW", "5210")));
  // A replayed older revision changes nothing.
  CHECK_FALSE(apply(alert_json("clash-3", "open", 1, "STPR", "TW", "5210")));
  // The same revision again is applied (idempotent).
  CHECK(apply(alert_json("clash-3", "closed", 2, "STPR", "TW", "5210")));
  CHECK(view.size() == 3);

  AlertQuery all;
  auto everything = view.query(all);
  CHECK(ids(everything) == std::vector<std::string>{"clash-1", "clash-2", "clash-3"});
  CHECK(everything[0]->revision == 2);
  CHECK(everything[0]->state == "updated");
  CHECK(everything[2]->state == "closed");

  AlertQuery open;
  open.state = StateFilter::Open;  // open or updated
  CHECK(ids(view.query(open)) == std::vector<std::string>{"clash-1", "clash-2"});
  AlertQuery closed;
  closed.state = StateFilter::Closed;
  CHECK(ids(view.query(closed)) == std::vector<std::string>{"clash-3"});
  AlertQuery camden;
  camden.authority = "5210";
  CHECK(ids(view.query(camden)) == std::vector<std::string>{"clash-1", "clash-3"});
  camden.state = StateFilter::Open;
  CHECK(ids(view.query(camden)) == std::vector<std::string>{"clash-1"});

  ApiKey stpr{"k", "STPR", Role::Promoter};
  ApiKey westminster{"k", "5990", Role::Authority};
  AlertQuery mine;
  mine.viewer = &stpr;
  CHECK(ids(view.query(mine)) == std::vector<std::string>{"clash-2", "clash-3"});
  mine.viewer = &westminster;
  CHECK(ids(view.query(mine)) == std::vector<std::string>{"clash-2"});

  // A tombstone removes the alert.
  auto removed = view.apply("clash-2", std::nullopt);
  REQUIRE(removed.ok());
  CHECK(view.size() == 2);

  CHECK(view.apply("x", std::string_view(R"({"alert_id":"x"})")).error().field == "state");
  CHECK(parse_state_filter("open") == StateFilter::Open);
  CHECK(parse_state_filter("") == StateFilter::All);
  CHECK(parse_state_filter("all") == StateFilter::All);
  CHECK_FALSE(parse_state_filter("opened").has_value());
}

TEST_CASE("live alerts: fields read from the contract's alert JSON") {
  auto a = parse_live_alert(alert_json("clash-9", "open", 4, "STPR", "TFL", "5990"));
  REQUIRE(a.ok());
  CHECK(a->kind == "clash");
  CHECK(a->revision == 4);
  CHECK(a->work_refs == std::vector<std::string>{"A1", "B1"});
  CHECK(a->promoters == std::vector<std::string>{"STPR", "TFL"});
  CHECK(a->authorities == std::vector<std::string>{"5990"});
  CHECK(a->open());
  // The authority a work names reads the alert, though highway_authorities (the areas holding
  // the location, as the contract has it) does not hold it.
  std::string named = alert_json("clash-9", "open", 4, "STPR", "TFL", "5990");
  named.replace(named.find(R"("promoter":"TFL",)"), 17,
                R"("promoter":"TFL","highway_authority":"TFL",)");
  auto b = parse_live_alert(named);
  REQUIRE(b.ok());
  CHECK(b->authorities == std::vector<std::string>{"5990", "TFL"});
  ApiKey tfl{"k", "TFL", Role::Authority}, camden{"k", "5210", Role::Authority};
  CHECK(visible_to(&tfl, *b));
  CHECK_FALSE(visible_to(&tfl, *a));
  CHECK_FALSE(visible_to(&camden, *b));
}

TEST_CASE("http query: targets, bbox and times") {
  auto t = parse_target("/v1/works/AB%2F12?bbox=-0.2,51.4,0,51.6&from=2026-03-01&x=a+b&flag");
  REQUIRE(t.ok());
  CHECK(t->path == "/v1/works/AB/12");
  CHECK(t->query["bbox"] == "-0.2,51.4,0,51.6");
  CHECK(t->query["x"] == "a b");
  CHECK(t->query.count("flag") == 1);
  // A bad escape names its parameter when the name can be read.
  CHECK(parse_target("/v1/works?bbox=%ZZ").error().field == "bbox");
  CHECK(parse_target("/v1/works?after=%00").error().what() == "after: an encoded NUL");
  CHECK(parse_target("/v1/works?b%Gx=1").error().field == "query");
  // A filter given twice would silently be one of them: the lists refuse it; a name they do
  // not read (a cache-buster) may repeat.
  auto twice = parse_target("/v1/works?bbox=0,0,1,1&_=1&bbox=0,0,0,0&_=2");
  REQUIRE(twice.ok());
  CHECK(twice->query["bbox"] == "0,0,1,1");
  auto refused = twice->repeated_among({"from", "bbox"});
  REQUIRE(refused.has_value());
  CHECK(refused->field == "bbox");
  CHECK(refused->message == "is given twice in the query");
  CHECK_FALSE(twice->repeated_among({"from", "to"}).has_value());
  CHECK_FALSE(parse_target("/v1/works/%zz").ok());
  CHECK_FALSE(parse_target("/v1/works/%4").ok());
  CHECK_FALSE(parse_target("/v1/%00").ok());
  // The absolute form (RFC 9112 section 3.2.2): the path and query after the authority.
  auto absolute = parse_target("HTTP://127.0.0.1:8080/v1/works/AB%2F12?limit=5");
  REQUIRE(absolute.ok());
  CHECK(absolute->path == "/v1/works/AB/12");
  CHECK(absolute->query["limit"] == "5");
  CHECK(parse_target("https://example.org")->path == "/");
  auto empty_path = parse_target("http://example.org?limit=5");
  REQUIRE(empty_path.ok());
  CHECK(empty_path->path == "/");
  CHECK(empty_path->query["limit"] == "5");

  auto b = parse_bbox("-0.2,51.4,0,51.6");
  REQUIRE(b.ok());
  CHECK(b->minx == -0.2);
  CHECK(b->maxy == 51.6);
  CHECK(parse_bbox(" -0.2, 51.4 ,0,51.6").ok());  // spaces and tabs around a number (API.md)
  CHECK(parse_bbox("\t-0.2,+51.4,0,51.6\t").ok());
  for (std::string bad :
       {"", "1,2,3", "1,2,3,4,5", "a,1,2,3", "1,2,0,3", "1,2,3,1", "-181,0,0,1", "0,-91,1,1",
        "nan,0,1,1", "1,,2,3", "1, \t,2,3", "1,2 5,3,4", "+-1,0,1,1", "++1,0,1,1", "+,0,1,1"}) {
    CAPTURE(bad);
    auto r = parse_bbox(bad);
    REQUIRE_FALSE(r.ok());
    CHECK(r.error().field == "bbox");
  }
  auto from = parse_time_param("2026-03-01", geo::DateEnd::Start, "from");
  REQUIRE(from.ok());
  CHECK(*from == at("2026-03-01T00:00:00Z"));
  auto to = parse_time_param("2026-03-01", geo::DateEnd::End, "to");
  REQUIRE(to.ok());
  CHECK(*to == at("2026-03-01T23:59:59Z"));
  CHECK(parse_time_param("soon", geo::DateEnd::End, "to").error().field == "to");
}

TEST_CASE("live alerts: a change carries the revision before it, so a stream can tell who saw it") {
  AlertsView view;
  auto first = view.apply("clash-1", alert_json("clash-1", "open", 1, "TW", "STPR", "5570"));
  REQUIRE(first.ok());
  REQUIRE(first->has_value());
  CHECK((*first)->now->revision == 1);
  CHECK((*first)->before == nullptr);
  // The location moved into another authority's area: 5570's key saw r1 and cannot read r2.
  auto moved = view.apply("clash-1", alert_json("clash-1", "updated", 2, "TW", "STPR", "5030"));
  REQUIRE(moved.ok());
  REQUIRE(moved->has_value());
  const auto& c = **moved;
  CHECK(c.now->authorities == std::vector<std::string>{"5030"});
  REQUIRE(c.before != nullptr);
  CHECK(c.before->authorities == std::vector<std::string>{"5570"});
  ApiKey islington{"k", "5570", Role::Authority};
  CHECK(visible_to(&islington, *c.before));
  CHECK_FALSE(visible_to(&islington, *c.now));
  // A tombstone removes it and says what it was; one for an alert not held changes nothing.
  auto gone = view.apply("clash-1", std::nullopt);
  REQUIRE(gone.ok());
  REQUIRE(gone->has_value());
  CHECK((*gone)->now == nullptr);
  CHECK((*gone)->before->revision == 2);
  CHECK(view.size() == 0);
  auto none = view.apply("clash-9", std::nullopt);
  REQUIRE(none.ok());
  CHECK_FALSE(none->has_value());
  CHECK(HttpApi::alert_removed_message("clash-1") ==
        R"({"type":"alert","data":{"alert_id":"clash-1","removed":true}})");
}
