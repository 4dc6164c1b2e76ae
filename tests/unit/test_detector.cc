// The detector and the alert lifecycle on hand-made cases: every rule, each change of a pair.
#include <doctest/doctest.h>

#include <algorithm>

#include "detection_fixtures.h"
#include "geo/engine.h"
#include "store/keys.h"
#include "store/memory_store.h"

using namespace digonce;
using namespace digonce::geo;
using digonce::testing::cancel;
using digonce::testing::day;
using digonce::testing::work;

namespace {

struct Harness {
  store::MemoryStore store{kEngineFamilies.size()};
  Geos geos;
  digonce::testing::IdentityLocator locator;
  Engine engine{store, DetectorOptions{}, geos, locator};
  std::vector<Alert> alerts;

  Harness() { REQUIRE(engine.open().ok()); }
  std::vector<Alert> apply(const WorkEvent& e) {
    std::vector<Alert> out;
    auto s = engine.apply(e, out);
    REQUIRE_MESSAGE(s.ok(), (s.ok() ? "" : s.error().what()));
    alerts.insert(alerts.end(), out.begin(), out.end());
    return out;
  }
};

const Micros kT0 = day(20000);  // 2024-10-04

// An engine over `store` takes works A and B, 5 m apart at the same time (one clash), and closes.
void open_clash_and_close(store::Store& store, Geos& geos, Locator& locator) {
  Engine engine(store, DetectorOptions{}, geos, locator);
  REQUIRE(engine.open().ok());
  std::vector<Alert> out;
  REQUIRE(engine.apply(work("A", make_point(0, 0), kT0, kT0 + day(10)), out).ok());
  REQUIRE(engine.apply(work("B", make_point(5, 0), kT0, kT0 + day(1)), out).ok());
  REQUIRE(out.size() == 1);
}

// The keys of `family` that start with `prefix` (the cells family's own records, the keys that
// start with 0xff, left out).
std::vector<std::string> keys_of(const store::Store& store, store::Family family,
                                 std::string_view prefix) {
  std::vector<std::string> keys;
  REQUIRE(store
              .scan(family, prefix,
                    [&](std::string_view k, std::string_view) {
                      if (k.empty() || k[0] != '\xff') keys.emplace_back(k);
                      return true;
                    })
              .ok());
  return keys;
}

}  // namespace

TEST_CASE("clash: two works within 25 m at the same time") {
  Harness h;
  CHECK(h.apply(work("A", make_point(1000, 1000), kT0, kT0 + day(5))).empty());
  auto out = h.apply(work("B", make_line({1010, 1000, 1100, 1000}), kT0 + day(2), kT0 + day(9)));
  REQUIRE(out.size() == 1);
  CHECK(out[0].kind == AlertKind::Clash);
  CHECK(out[0].state == AlertState::Open);
  CHECK(out[0].revision == 1);
  CHECK(out[0].a.ref == "A");
  CHECK(out[0].b.ref == "B");
  CHECK(out[0].distance_m == doctest::Approx(10));
  CHECK(out[0].gap == -day(3));
  CHECK(out[0].alert_id == make_alert_id(AlertKind::Clash, "A", "B"));
  CHECK(out[0].lon == doctest::Approx(1005));  // midpoint of the closest points
  CHECK(out[0].reason.find("Clash") == 0);
}

TEST_CASE("the limits: exactly 25 m and exactly 90 days qualify, a hair more does not") {
  Harness h;
  h.apply(work("A", make_point(0, 0), kT0, kT0 + day(1)));
  auto at_limit = h.apply(work("B", make_point(25, 0), kT0 + day(91), kT0 + day(92)));
  REQUIRE(at_limit.size() == 1);
  CHECK(at_limit[0].kind == AlertKind::Collaboration);
  CHECK(at_limit[0].gap == day(90));
  CHECK(h.apply(work("C", make_point(-25.000001, 0), kT0, kT0 + day(1))).empty());
  CHECK(h.apply(work("D", make_point(0, -25), kT0 + day(91) + 1, kT0 + day(92))).empty());
  auto touching = h.apply(work("E", make_point(0, 25), kT0 + day(1), kT0 + day(3)));
  REQUIRE(touching.size() == 1);                // with A only: B is 35 m away
  CHECK(touching[0].kind == AlertKind::Clash);  // end == start: gap 0 is a clash
  CHECK(touching[0].gap == 0);
}

TEST_CASE("an immediate work is exempt from a restriction, and only from one") {
  const auto R = WorkKind::Restriction, W = WorkKind::Work;
  CHECK(exempt_from_restriction(W, Category::ImmediateEmergency, R));
  CHECK(exempt_from_restriction(W, Category::ImmediateUrgent, R));
  CHECK_FALSE(exempt_from_restriction(W, Category::Major, R));
  CHECK_FALSE(exempt_from_restriction(W, Category::ImmediateUrgent, W));  // two works: rules apply
  CHECK_FALSE(exempt_from_restriction(R, Category::ImmediateUrgent, R));
  // The time rule agrees, from either side.
  const Rules rules;
  const RuleSide urgent{W, Category::ImmediateUrgent, day(1), day(2)};
  const RuleSide major{W, Category::Major, day(1), day(2)};
  const RuleSide restriction{R, Category::Standard, day(0), day(900)};
  CHECK_FALSE(time_may_qualify(rules, urgent, restriction));
  CHECK_FALSE(time_may_qualify(rules, restriction, urgent));
  CHECK(time_may_qualify(rules, major, restriction));
  CHECK(time_may_qualify(rules, urgent, major));
}

TEST_CASE("a window of a fraction of days is that many days to the microsecond") {
  // 0.7 * 86,400,000,000 is 60,479,999,999.99999 in floating point: truncated, a gap of exactly
  // 0.7 days fell outside a 0.7-day window (nearly four in five one-decimal values did the same).
  CHECK(window_of_days(0.7) == 60'480'000'000);
  CHECK(window_of_days(90) == 90 * kMicrosPerDay);
  CHECK(window_of_days(0) == 0);
  int exact = 0;
  for (int tenths = 0; tenths <= 36500 * 10; ++tenths)
    exact += window_of_days(tenths / 10.0) == Micros{tenths} * (kMicrosPerDay / 10);
  CHECK(exact == 36500 * 10 + 1);
}

TEST_CASE("the 25 m limit holds far from the origin, where the index's float boxes are coarse") {
  // At x ~ 1.2e6 a float is a multiple of 0.125 m; x.3125 is exact in double but not in float.
  // The index keeps each work's box in floats rounded outward, so a pair exactly at the limit on
  // either side is still a candidate.
  Harness h;
  h.apply(work("A", make_point(1234567.3125, 654321.6875), kT0, kT0 + day(1)));
  auto right = h.apply(work("B", make_point(1234592.3125, 654321.6875), kT0, kT0 + day(1)));
  REQUIRE(right.size() == 1);
  CHECK(right[0].distance_m == 25);
  auto left = h.apply(work("C", make_point(1234542.3125, 654321.6875), kT0, kT0 + day(1)));
  REQUIRE(left.size() == 1);  // with A only: B is 50 m away
  auto above = h.apply(work("D", make_point(1234567.3125, 654346.6875), kT0, kT0 + day(1)));
  REQUIRE(above.size() == 1);
  auto below = h.apply(work("E", make_point(1234567.3125, 654296.6875), kT0, kT0 + day(1)));
  REQUIRE(below.size() == 1);
  CHECK(h.apply(work("F", make_point(1234592.4375, 654296.6875), kT0, kT0 + day(1))).empty());
}

TEST_CASE("an event that changes nothing leaves its alerts alone, whichever work it is") {
  // Shapes whose edges run side by side 5 m apart, so that many places are equally near: the
  // alert's location must not depend on which of the two works the event is.
  auto rect = [](double x0, double y0, double x1, double y1) {
    return make_polygon({{x0, y0, x1, y0, x1, y1, x0, y1, x0, y0}});
  };
  const std::vector<std::pair<Shape, Shape>> cases = {
      {rect(0, 0, 10, 5), rect(0, 10, 10, 15)},
      {rect(0, 0, 10, 5), rect(-3, 10, 8, 14)},
      {rect(0, 0, 10, 5), rect(2, 10, 8, 12)},
      {rect(0, 0, 10, 5), make_line({-2, 10, 12, 10})},
      {make_line({0, 0, 10, 0}), make_line({-4, 5, 7, 5})},
  };
  for (std::size_t i = 0; i < cases.size(); ++i) {
    CAPTURE(i);
    Harness h;
    h.apply(work("A", cases[i].first, kT0, kT0 + day(10)));
    auto opened = h.apply(work("B", cases[i].second, kT0, kT0 + day(10)));
    REQUIRE(opened.size() == 1);
    CHECK(opened[0].distance_m == doctest::Approx(5));
    CHECK(h.apply(work("A", cases[i].first, kT0, kT0 + day(10))).empty());
    CHECK(h.apply(work("B", cases[i].second, kT0, kT0 + day(10))).empty());
  }
}

TEST_CASE("lifecycle: update, kind change, move apart, come back, cancel") {
  Harness h;
  h.apply(work("A", make_point(0, 0), kT0, kT0 + day(10)));
  auto opened = h.apply(work("B", make_point(5, 0), kT0 + day(5), kT0 + day(6)));
  REQUIRE(opened.size() == 1);
  std::string clash_id = opened[0].alert_id;

  SUBCASE("same plan again: nothing") {
    CHECK(h.apply(work("B", make_point(5, 0), kT0 + day(5), kT0 + day(6))).empty());
  }
  SUBCASE("moved by less than the alert shows (rounding noise): nothing; by 1 mm: updated") {
    // (The test locator's "degrees" are metres, so the location shows 0.1 um: 10 nm is below.)
    CHECK(h.apply(work("B", make_point(5.00000001, 0), kT0 + day(5), kT0 + day(6))).empty());
    auto out = h.apply(work("B", make_point(5.0011, 0), kT0 + day(5), kT0 + day(6)));
    REQUIRE(out.size() == 1);
    CHECK(out[0].state == AlertState::Updated);
    CHECK(out[0].revision == 2);
    CHECK(out[0].distance_m == doctest::Approx(5.0011));
  }
  SUBCASE("moved closer: updated") {
    auto out = h.apply(work("B", make_point(3, 0), kT0 + day(5), kT0 + day(6)));
    REQUIRE(out.size() == 1);
    CHECK(out[0].state == AlertState::Updated);
    CHECK(out[0].revision == 2);
    CHECK(out[0].alert_id == clash_id);
  }
  SUBCASE("rescheduled after A: clash closed, collaboration opened") {
    auto out = h.apply(work("B", make_point(5, 0), kT0 + day(40), kT0 + day(41)));
    REQUIRE(out.size() == 2);
    CHECK(out[0].alert_id == clash_id);
    CHECK(out[0].state == AlertState::Closed);
    CHECK(out[0].revision == 2);
    CHECK(out[1].kind == AlertKind::Collaboration);
    CHECK(out[1].state == AlertState::Open);
    CHECK(out[1].revision == 1);
    SUBCASE("and back: collaboration closed, the clash reopens at revision 3") {
      auto back = h.apply(work("B", make_point(5, 0), kT0 + day(5), kT0 + day(6)));
      REQUIRE(back.size() == 2);
      CHECK(back[0].kind == AlertKind::Collaboration);
      CHECK(back[0].state == AlertState::Closed);
      CHECK(back[1].alert_id == clash_id);
      CHECK(back[1].state == AlertState::Open);
      CHECK(back[1].revision == 3);
    }
  }
  SUBCASE("moved away: closed") {
    auto out = h.apply(work("B", make_point(500, 0), kT0 + day(5), kT0 + day(6)));
    REQUIRE(out.size() == 1);
    CHECK(out[0].state == AlertState::Closed);
    CHECK(out[0].reason.find("no longer") != std::string::npos);
  }
  SUBCASE("cancelled: closed, naming the cancelled work") {
    auto out = h.apply(cancel("A"));
    REQUIRE(out.size() == 1);
    CHECK(out[0].state == AlertState::Closed);
    CHECK(out[0].reason == "Closed: work A was cancelled.");
    CHECK(h.engine.detector().live_works() == 1);
    SUBCASE("and submitted again: the clash reopens at revision 3, not 1") {
      // A is not on its first event (its registry record outlives the cancel), so the ledger
      // reads the pair's record and goes on from its revisions.
      auto again = h.apply(work("A", make_point(0, 0), kT0, kT0 + day(10)));
      REQUIRE(again.size() == 1);
      CHECK(again[0].alert_id == clash_id);
      CHECK(again[0].state == AlertState::Open);
      CHECK(again[0].revision == 3);
    }
  }
  SUBCASE("completed: closed") {
    auto done = work("B", make_point(5, 0), kT0 + day(5), kT0 + day(6));
    done.status = WorkStatus::Completed;
    auto out = h.apply(done);
    REQUIRE(out.size() == 1);
    CHECK(out[0].reason == "Closed: work B was completed.");
  }
}

TEST_CASE("versions: a lower version is stale and ignored; equal or higher applies") {
  Harness h;
  auto a = work("A", make_point(0, 0), kT0, kT0 + day(10));
  a.version = 5;
  h.apply(a);
  auto b = work("B", make_point(5, 0), kT0, kT0 + day(1));
  h.apply(b);
  auto old = work("A", make_point(900, 0), kT0, kT0 + day(10));
  old.version = 4;
  CHECK(h.apply(old).empty());
  CHECK(h.engine.stats().stale == 1);
  auto old_cancel = cancel("A");
  old_cancel.version = 3;
  CHECK(h.apply(old_cancel).empty());
  auto same = work("A", make_point(900, 0), kT0, kT0 + day(10));
  same.version = 5;
  CHECK(h.apply(same).size() == 1);  // moved away: closed
}

TEST_CASE("restriction: a work starting before a Section 58 restriction ends, not immediate") {
  Harness h;
  auto s58 = work("S58-1", make_line({0, 0, 200, 0}), kT0, kT0 + day(180), Category::Standard,
                  WorkKind::Restriction);
  h.apply(s58);
  auto out = h.apply(work("W1", make_point(100, 10), kT0 + day(30), kT0 + day(31)));
  REQUIRE(out.size() == 1);
  CHECK(out[0].kind == AlertKind::Restriction);
  CHECK(out[0].reason.find("Section 58 restriction S58-1") != std::string::npos);
  // Immediate works may dig; works starting after the end do not clash with it.
  CHECK(h.apply(work("W2", make_point(100, 10), kT0 + day(30), kT0 + day(31),
                     Category::ImmediateEmergency))
            .size() == 1);  // only the clash with W1
  CHECK(h.apply(work("W3", make_point(150, 10), kT0 + day(180), kT0 + day(181))).empty());
  // W1 made immediate: its restriction alert closes, saying why (it is as near as before).
  auto now_immediate =
      work("W1", make_point(100, 10), kT0 + day(30), kT0 + day(31), Category::ImmediateUrgent);
  now_immediate.version = 2;
  auto closed = h.apply(now_immediate);
  REQUIRE(closed.size() == 2);  // the restriction closed; the clash with W2 updated or kept
  const auto restriction = std::find_if(closed.begin(), closed.end(), [](const Alert& a) {
    return a.kind == AlertKind::Restriction;
  });
  REQUIRE(restriction != closed.end());
  CHECK(restriction->state == AlertState::Closed);
  CHECK(restriction->reason ==
        "Closed: work W1 is now immediate (urgent or emergency), and immediate works may go ahead "
        "inside a Section 58 restriction.");
  // Two restrictions never alert each other.
  CHECK(h.apply(work("S58-2", make_point(0, 1), kT0, kT0 + day(10), Category::Standard,
                     WorkKind::Restriction))
            .empty());
}

TEST_CASE("large and long geometries are found from small ones and vice versa") {
  Harness h;
  // A 5 km line and a 3 km polygon, then points near their far ends.
  h.apply(work("LINE", make_line({0, 0, 5000, 0}), kT0, kT0 + day(10)));
  h.apply(work("POLY", make_polygon({{10000, 0, 13000, 0, 13000, 3000, 10000, 3000, 10000, 0}}),
               kT0, kT0 + day(10)));
  CHECK(h.apply(work("P1", make_point(4990, 20), kT0, kT0 + day(1))).size() == 1);
  CHECK(h.apply(work("P2", make_point(12000, 1500), kT0, kT0 + day(1))).size() == 1);  // inside
  CHECK(h.apply(work("P3", make_point(13024, 3000), kT0, kT0 + day(1))).size() == 1);
  CHECK(h.apply(work("P4", make_point(13000, 3026), kT0, kT0 + day(1))).empty());
}

TEST_CASE("restart: a reopened store goes on where it was") {
  store::MemoryStore store(kEngineFamilies.size());
  Geos geos;
  digonce::testing::IdentityLocator locator;
  open_clash_and_close(store, geos, locator);
  Engine engine(store, DetectorOptions{}, geos, locator);
  REQUIRE(engine.open().ok());
  CHECK(engine.detector().live_works() == 2);
  std::vector<Alert> out;
  REQUIRE(engine.apply(work("C", make_point(0, 5), kT0, kT0 + day(1)), out).ok());
  CHECK(out.size() == 2);
  out.clear();
  REQUIRE(engine.apply(cancel("A"), out).ok());
  REQUIRE(out.size() == 2);  // A-B and A-C closed: the reported pairs survived the restart
  CHECK(out[0].state == AlertState::Closed);
  CHECK(out[0].revision == 2);
}

TEST_CASE("a live work's order is in its cell record; the registry records only the others") {
  store::MemoryStore store(kEngineFamilies.size());
  Geos geos;
  digonce::testing::IdentityLocator locator;
  auto registry_records = [&] { return keys_of(store, kWorksFamily, "r"); };
  auto versioned = [](std::string ref, double x, std::optional<std::int64_t> version) {
    auto w = work(std::move(ref), make_point(x, 0), kT0, kT0 + day(10));
    w.version = version;
    return w;
  };
  std::vector<Alert> out;
  {
    Engine engine(store, DetectorOptions{}, geos, locator);
    REQUIRE(engine.open().ok());
    REQUIRE(engine.apply(versioned("A", 0, 5), out).ok());
    REQUIRE(engine.apply(versioned("B", 5, std::nullopt), out).ok());
    REQUIRE(out.size() == 1);
    REQUIRE(engine.apply(versioned("D", 5000, std::nullopt), out).ok());  // alone, unversioned
    REQUIRE(out.size() == 1);
    // A without a version keeps version 5 (and moves 1 m: the clash is updated).
    REQUIRE(engine.apply(versioned("A", 1, std::nullopt), out).ok());
    REQUIRE(out.size() == 2);
    CHECK(out[1].revision == 2);
    // A work cancelled before it was ever placed, and a completed one, are recorded.
    auto gone = cancel("GONE");
    gone.version = 7;
    REQUIRE(engine.apply(gone, out).ok());
    auto done = versioned("DONE", 500, 2);
    done.status = WorkStatus::Completed;
    REQUIRE(engine.apply(done, out).ok());
    CHECK(registry_records() == std::vector<std::string>{"rDONE", "rGONE"});
  }
  // Reopened: the versions and sequence numbers held before hold still.
  Engine engine(store, DetectorOptions{}, geos, locator);
  REQUIRE(engine.open().ok());
  out.clear();
  REQUIRE(engine.apply(versioned("A", 900, 4), out).ok());   // older than 5: stale
  REQUIRE(engine.apply(versioned("GONE", 0, 6), out).ok());  // older than the cancel: stale
  REQUIRE(engine.apply(versioned("DONE", 0, 1), out).ok());  // older than the completion: stale
  CHECK(out.empty());
  CHECK(engine.stats().stale == 3);
  REQUIRE(engine.apply(versioned("A", 2, 5), out).ok());  // moved 1 m more: updated
  REQUIRE(out.size() == 1);
  CHECK(out[0].state == AlertState::Updated);
  CHECK(out[0].revision == 3);
  REQUIRE(engine.apply(cancel("A"), out).ok());  // no longer live: now recorded
  REQUIRE(out.size() == 2);
  CHECK(out[1].state == AlertState::Closed);
  CHECK(out[1].revision == 4);
  CHECK(registry_records() == std::vector<std::string>{"rA", "rDONE", "rGONE"});
  // Back again after its cancel: the pair's record is read (not a first sight), so its
  // revisions go on.
  out.clear();
  REQUIRE(engine.apply(versioned("A", 0, 6), out).ok());
  REQUIRE(out.size() == 1);
  CHECK(out[0].state == AlertState::Open);
  CHECK(out[0].revision == 5);

  // A store written before 2026-12-05: B and D, live with no version in their cell records,
  // have registry records that say version 9 (an unversioned event kept it); 8 is stale.
  WorkRegistry registry(store, kWorksFamily);
  Admission held_9;
  held_9.seq = 1;
  held_9.version = 9;
  REQUIRE(registry.record("B", held_9, {}).ok());
  REQUIRE(registry.record("D", held_9, {}).ok());
  Engine older(store, DetectorOptions{}, geos, locator);
  REQUIRE(older.open().ok());
  out.clear();
  REQUIRE(older.apply(versioned("B", 900, 8), out).ok());
  CHECK(out.empty());
  CHECK(older.stats().stale == 1);
  REQUIRE(older.apply(versioned("B", 900, 9), out).ok());
  REQUIRE(out.size() == 1);  // moved away: the clash with A closes
  CHECK(out[0].state == AlertState::Closed);
  // D is finished by an event without a version: it keeps version 9, which the registry's new
  // record must carry, so that 8 is still stale after it.
  out.clear();
  REQUIRE(older.apply(cancel("D"), out).ok());
  REQUIRE(older.apply(versioned("D", 5000, 8), out).ok());
  CHECK(out.empty());
  CHECK(older.stats().stale == 2);
  CHECK(older.detector().live_works() == 2);  // A and B: D stays finished
}

TEST_CASE("an engine store records its layout; a newer layout is refused, an older one read") {
  store::MemoryStore store(kEngineFamilies.size());
  Geos geos;
  digonce::testing::IdentityLocator locator;
  auto layout = [&] {
    auto held = store.get(kCellsFamily, Engine::kLayoutKey);
    REQUIRE(held.ok());
    return held->value_or("(none)");
  };
  open_clash_and_close(store, geos, locator);
  CHECK(layout() == "3");
  // Shorter than any work record: a digonce that knew no such key refused the store as corrupt
  // instead of reading its live works without their registry records.
  CHECK(layout().size() < 8);
  auto set_layout = [&](const std::string& value) {
    store::WriteBatch b;
    b.put(kCellsFamily, Engine::kLayoutKey, value);
    REQUIRE(store.write(b).ok());
  };
  // A newer layout is refused as such; a value no digonce writes as damage.
  for (const char* held : {"4", "10", "3x", "", "0", "-1"}) {
    CAPTURE(held);
    set_layout(held);
    Engine engine(store, DetectorOptions{}, geos, locator);
    auto opened = engine.open();
    REQUIRE_FALSE(opened.ok());
    CHECK(opened.error().permanent);
    const std::string value = held;
    CHECK(opened.error().what() ==
          (value == "4" || value == "10"
               ? "the store was written by a newer digonce (store layout " + value +
                     "; this one reads layouts 1 to 3)"
               : "the store's layout record holds \"" + value +
                     "\", which no digonce writes: the folder is damaged, or not a digonce store"));
    CHECK(engine.detector().live_works() == 0);  // refused before anything was read
    CHECK(layout() == value);                    // nor written
    auto record = engine.read_layout();          // (what detect's advice follows)
    REQUIRE(record.ok());
    CHECK(record->kind == (value == "4" || value == "10" ? Engine::LayoutRecord::Newer
                                                         : Engine::LayoutRecord::Damaged));
    CHECK(record->text == value);
  }
  // An older layout (a store written before 2026-12-05 records none) is read, and recorded as 3.
  set_layout("1");
  Engine engine(store, DetectorOptions{}, geos, locator);
  REQUIRE(engine.read_layout().ok());
  CHECK(engine.read_layout()->kind == Engine::LayoutRecord::Readable);
  REQUIRE(engine.open().ok());
  CHECK(engine.detector().live_works() == 2);
  CHECK(layout() == "3");
  // The pipeline's detector, which shares the cells family's format, passes over the record.
  Detector detector(store, {kWorksFamily, kCellsFamily, kAlertsFamily}, DetectorOptions{}, geos,
                    locator);
  REQUIRE(detector.open().ok());
  CHECK(detector.live_works() == 2);
}

TEST_CASE("a change of the finest cell rewrites the cell keys; cancelling then leaves none") {
  store::MemoryStore store(kEngineFamilies.size());
  Geos geos;
  digonce::testing::IdentityLocator locator;
  auto cell_keys = [&] { return keys_of(store, kCellsFamily, ""); };
  const std::vector<std::pair<std::string, Shape>> works = {
      {"A", make_point(0, 0)},
      {"B", make_point(5, 0)},
      {"C", make_line({100, 100, 900, 140})},
      {"D", make_polygon({{2000, 2000, 2600, 2000, 2600, 2400, 2000, 2000}})}};
  std::vector<std::string> at_128;
  {
    Engine engine(store, DetectorOptions{}, geos, locator);
    REQUIRE(engine.open().ok());
    std::vector<Alert> out;
    for (const auto& [ref, shape] : works)
      REQUIRE(engine.apply(work(ref, shape, kT0, kT0 + day(3)), out).ok());
    at_128 = cell_keys();
    CHECK(at_128.size() == works.size());
  }
  DetectorOptions finer;
  finer.finest_cell_m = 16;
  {
    Engine engine(store, finer, geos, locator);
    REQUIRE(engine.open().ok());
    const auto at_16 = cell_keys();
    CHECK(at_16.size() == works.size());
    CHECK(at_16 != at_128);  // the small works now sit in finer elements
    std::vector<Alert> out;
    for (const auto& [ref, shape] : works) REQUIRE(engine.apply(cancel(ref), out).ok());
    CHECK(cell_keys().empty());
  }
  // Reopened with the same grid, nothing is rewritten (the record matches).
  Engine again(store, finer, geos, locator);
  REQUIRE(again.open().ok());
  CHECK(cell_keys().empty());
}

TEST_CASE("one key per live work: the cells family holds the works; an older store is moved") {
  store::MemoryStore store(kEngineFamilies.size());
  Geos geos;
  digonce::testing::IdentityLocator locator;
  using Records = std::vector<std::pair<std::string, std::string>>;
  auto records = [&](store::Family f, std::string_view prefix) {
    Records out;
    REQUIRE(store
                .scan(f, prefix,
                      [&](std::string_view k, std::string_view v) {
                        if (k.empty() || k[0] != '\xff') out.emplace_back(k, v);
                        return true;
                      })
                .ok());
    return out;
  };
  open_clash_and_close(store, geos, locator);
  const Records cells = records(kCellsFamily, "");
  REQUIRE(cells.size() == 2);
  for (const auto& [k, v] : cells) {
    WorkEvent e;
    CHECK(v.size() > 8);
    REQUIRE(decode_work(std::string_view(v).substr(8), e));
    CHECK(k.ends_with(e.work_ref));  // the value is the work its key names
  }
  CHECK(records(kWorksFamily, "w").empty());
  CHECK(records(kWorksFamily, "r").empty());  // live works: their order is in the cell record

  // The layout of the stores written before 2026-12-01: each work under "w" ref in the works
  // family, and an empty value under its cell key.
  store::WriteBatch old;
  for (const auto& [k, v] : cells) {
    WorkEvent e;
    REQUIRE(decode_work(std::string_view(v).substr(8), e));
    old.put(kWorksFamily, "w" + e.work_ref, v);
    old.put(kCellsFamily, k, "");
  }
  REQUIRE(store.write(old).ok());
  {
    Engine engine(store, DetectorOptions{}, geos, locator);
    REQUIRE(engine.open().ok());
    CHECK(engine.detector().live_works() == 2);
    CHECK(records(kWorksFamily, "w").empty());
    CHECK(records(kCellsFamily, "") == cells);  // moved back to exactly what the new layout has
    std::vector<Alert> out;
    REQUIRE(engine.apply(cancel("B"), out).ok());
    REQUIRE(out.size() == 1);  // the pair and its alert came through the move
    CHECK(out[0].state == AlertState::Closed);
    out.clear();
    REQUIRE(engine.apply(work("C", make_point(0, 3), kT0, kT0 + day(1)), out).ok());
    CHECK(out.size() == 1);  // A is in the index
  }
  // A work recorded in both layouts is refused, not silently doubled.
  store::WriteBatch both;
  for (const auto& [k, v] : records(kCellsFamily, "")) {
    WorkEvent e;
    REQUIRE(decode_work(std::string_view(v).substr(8), e));
    if (e.work_ref == "A") both.put(kWorksFamily, "wA", v);
  }
  REQUIRE(store.write(both).ok());
  Engine engine(store, DetectorOptions{}, geos, locator);
  auto opened = engine.open();
  REQUIRE_FALSE(opened.ok());
  CHECK(std::string(opened.error().what()).find("work A is recorded twice") != std::string::npos);

  // A record that does not decode is refused with the work's ref and its family.
  store::MemoryStore broken(kEngineFamilies.size());
  store::WriteBatch bad;
  bad.put(kCellsFamily, std::string(12, '\0') + "W9", "12345678garbage");
  REQUIRE(broken.write(bad).ok());
  Engine again(broken, DetectorOptions{}, geos, locator);
  opened = again.open();
  REQUIRE_FALSE(opened.ok());
  CHECK(std::string(opened.error().what()) == "corrupt work record of W9 in the cells family");
}

TEST_CASE("the engine keeps no detector markers; markers of an older store are dropped at open") {
  store::MemoryStore store(kEngineFamilies.size());
  Geos geos;
  digonce::testing::IdentityLocator locator;
  auto markers = [&] {
    int n = 0;
    REQUIRE(store
                .scan(kAlertsFamily, "m",
                      [&](std::string_view, std::string_view) {
                        ++n;
                        return true;
                      })
                .ok());
    return n;
  };
  open_clash_and_close(store, geos, locator);
  CHECK(markers() == 0);
  // What an engine before 2026-11-30 also wrote: the detector's marker of the pair.
  store::WriteBatch old;
  old.put(kAlertsFamily, std::string("mA\0B", 4), std::string(1, '\0'));
  REQUIRE(store.write(old).ok());
  Engine engine(store, DetectorOptions{}, geos, locator);
  REQUIRE(engine.open().ok());
  CHECK(markers() == 0);
  std::vector<Alert> out;
  REQUIRE(engine.apply(cancel("B"), out).ok());
  REQUIRE(out.size() == 1);
  CHECK(out[0].state == AlertState::Closed);
}

TEST_CASE("alert JSON carries the contract's fields") {
  Alert a;
  a.alert_id = make_alert_id(AlertKind::Clash, "A", "B");
  a.kind = AlertKind::Clash;
  a.revision = 1;
  a.a = WorkSummary{"A", "STPR", Category::Minor, WorkKind::Work, 0, kMicrosPerDay, "HIGH ST", ""};
  a.b = WorkSummary{"B", "TMOB", Category::Major, WorkKind::Work, 0, kMicrosPerDay, "", "5990"};
  a.distance_m = 12.3456;
  a.gap = -kMicrosPerDay / 2;
  a.lon = -0.1234567891;
  a.lat = 51.5;
  a.authorities = {"5990"};
  a.reason = "r";
  auto json = alert_to_json(a);
  CHECK(json.find("\"alert_id\":\"clash-") != std::string::npos);
  CHECK(json.find("\"state\":\"open\"") != std::string::npos);
  CHECK(json.find("\"distance_m\":12.346") != std::string::npos);
  CHECK(json.find("\"gap_days\":-0.5") != std::string::npos);
  // A gap of a few milliseconds rounds to 0 at six decimals; above 0 it shows as the least
  // figure above 0 instead (a collaboration's gap_days is never 0), below 0 as 0.
  for (const auto& [gap, shown] :
       std::vector<std::pair<Micros, std::string>>{{20'000, "0.000001"},
                                                   {1, "0.000001"},
                                                   {0, "0"},
                                                   {-20'000, "0"},
                                                   {kMicrosPerDay / 10, "0.1"},
                                                   {kMicrosPerDay * 90, "90"}}) {
    a.gap = gap;
    const Micros g = gap;  // CAPTURE keeps a reference: not of a structured binding (clang 14)
    CAPTURE(g);
    CHECK(alert_to_json(a).find("\"gap_days\":" + shown + ",") != std::string::npos);
  }
  CHECK(json.find("\"coordinates\":[-0.1234568,51.5]") != std::string::npos);
  CHECK(json.find("\"highway_authorities\":[\"5990\"]") != std::string::npos);
  CHECK(json.find("\"start\":\"1970-01-01T00:00:00Z\"") != std::string::npos);
  CHECK(make_alert_id(AlertKind::Clash, "A", "B") !=
        make_alert_id(AlertKind::Collaboration, "A", "B"));
  // The first 128 bits of SHA-256 of "clash\0A\0B", computed apart (Python:
  // hashlib.sha256(b"clash\0A\0B").hexdigest()[:32]), so that the id cannot drift with the code
  // that makes it.
  CHECK(make_alert_id(AlertKind::Clash, "A", "B") == "clash-3a609addac2facc8a757f72f1a78dc0d");
  CHECK(make_alert_id(AlertKind::Collaboration, "W1", "W2") ==
        "collaboration-13b7682eac8733a968b67e9b1f371049");
}

TEST_CASE("ledger: one record per pair; a store with the older alert records goes on from them") {
  store::MemoryStore store(1);
  AlertLedger ledger(store, 0);
  auto fact = [](AlertKind kind, std::uint64_t seq_b, double distance) {
    PairFact f;
    f.a.ref = "A";
    f.b.ref = "B";
    f.a.promoter = f.b.promoter = "PROM";
    f.seq_a = 1;
    f.seq_b = seq_b;
    f.related = true;
    f.kind = kind;
    f.distance_m = distance;
    return f;
  };
  auto keys = [&] {
    std::vector<std::string> out;
    REQUIRE(store
                .scan(0, "",
                      [&](std::string_view k, std::string_view) {
                        out.emplace_back(k);
                        return true;
                      })
                .ok());
    return out;
  };
  auto open_now = [&] {
    std::vector<std::pair<std::string, std::uint32_t>> out;
    REQUIRE(ledger.for_each_open([&](const Alert& a) { out.emplace_back(a.alert_id, a.revision); })
                .ok());
    return out;
  };
  const std::string clash = make_alert_id(AlertKind::Clash, "A", "B");
  const std::string collab = make_alert_id(AlertKind::Collaboration, "A", "B");

  SUBCASE("new store: a pair's alerts live in its one record") {
    std::vector<Alert> out;
    REQUIRE(ledger.apply(fact(AlertKind::Clash, 1, 5), out).ok());
    REQUIRE(ledger.apply(fact(AlertKind::Clash, 2, 4), out).ok());
    REQUIRE(ledger.apply(fact(AlertKind::Collaboration, 3, 4), out).ok());
    REQUIRE(ledger.apply(fact(AlertKind::Clash, 4, 4), out).ok());
    REQUIRE(out.size() == 6);  // open, updated, closed + open, closed + open
    CHECK(out[5].alert_id == clash);
    CHECK(out[5].revision == 4);  // the clash's revisions go on after its close
    CHECK(keys() == std::vector<std::string>{"p" + pair_key("A", "B")});
    CHECK(open_now() == std::vector<std::pair<std::string, std::uint32_t>>{{clash, 4}});
  }
  SUBCASE("a pair said to be new: the same alert; a record already there is an error (Debug)") {
    std::vector<Alert> out;
    REQUIRE(ledger.apply(fact(AlertKind::Clash, 1, 5), out, true).ok());
    REQUIRE(out.size() == 1);
    CHECK(out[0].alert_id == clash);
    CHECK(out[0].state == AlertState::Open);
    CHECK(out[0].revision == 1);
    CHECK(keys() == std::vector<std::string>{"p" + pair_key("A", "B")});
#ifndef NDEBUG
    // Release builds trust the caller and do not read the record (geo::Engine's first events).
    CHECK_FALSE(ledger.apply(fact(AlertKind::Clash, 2, 4), out, true).ok());
#endif
  }
  SUBCASE("older store: 17-byte pair record and \"a\" records are read, then replaced") {
    // As the ledger wrote them before 2026-11-30: the clash open at revision 2, a collaboration
    // closed at revision 3.
    store::WriteBatch old;
    std::string p;
    store::put_u64_be(p, 1);
    store::put_u64_be(p, 2);
    p.push_back(static_cast<char>(AlertKind::Clash));
    old.put(0, "p" + pair_key("A", "B"), p);
    auto alert_record = [](std::uint32_t revision, AlertState state, const PairFact& f) {
      std::string v;
      store::put_u32_be(v, revision);
      v.push_back(static_cast<char>(state));
      encode_fact(f, v);
      return v;
    };
    old.put(0, "a" + clash, alert_record(2, AlertState::Updated, fact(AlertKind::Clash, 2, 5)));
    old.put(0, "a" + collab,
            alert_record(3, AlertState::Closed, fact(AlertKind::Collaboration, 1, 5)));
    REQUIRE(store.write(old).ok());
    CHECK(open_now() == std::vector<std::pair<std::string, std::uint32_t>>{{clash, 2}});

    std::vector<Alert> out;
    REQUIRE(ledger.apply(fact(AlertKind::Clash, 3, 5), out).ok());
    CHECK(out.empty());  // the content the old record holds: nothing to say
    CHECK(keys() == std::vector<std::string>{"p" + pair_key("A", "B")});
    REQUIRE(ledger.apply(fact(AlertKind::Collaboration, 4, 5), out).ok());
    REQUIRE(out.size() == 2);
    CHECK(out[0].alert_id == clash);
    CHECK(out[0].state == AlertState::Closed);
    CHECK(out[0].revision == 3);
    CHECK(out[1].alert_id == collab);
    CHECK(out[1].state == AlertState::Open);
    CHECK(out[1].revision == 4);
    CHECK(open_now() == std::vector<std::pair<std::string, std::uint32_t>>{{collab, 4}});
  }
}

TEST_CASE("ledger: a work's first pairs share a group record until each has one of its own") {
  store::MemoryStore store(1);
  AlertLedger ledger(store, 0, /*groups=*/true);
  // A fact about the pair of x and y (in either order), each at its event sequence number.
  auto fact = [](std::string x, std::string y, std::uint64_t seq_x, std::uint64_t seq_y,
                 std::optional<AlertKind> kind, double distance = 5) {
    if (y < x) {
      std::swap(x, y);
      std::swap(seq_x, seq_y);
    }
    PairFact f;
    f.a.ref = x;
    f.b.ref = y;
    f.a.promoter = f.b.promoter = "PROM";
    f.seq_a = seq_x;
    f.seq_b = seq_y;
    f.related = kind.has_value();
    f.kind = kind.value_or(AlertKind::Clash);
    f.distance_m = distance;
    if (!kind) {
      f.cause = CloseCause::Cancelled;
      f.cause_ref = x;
    }
    return f;
  };
  auto keys = [&] { return keys_of(store, 0, ""); };

  using Open = std::vector<std::pair<std::string, std::uint32_t>>;
  auto open_in = [](const AlertLedger& l) {
    Open out;
    REQUIRE(
        l.for_each_open([&](const Alert& a) { out.emplace_back(a.alert_id, a.revision); }).ok());
    std::sort(out.begin(), out.end());
    return out;
  };
  auto sorted = [](Open v) {
    std::sort(v.begin(), v.end());
    return v;
  };
  const auto clash = [](const char* a, const char* b) {
    return make_alert_id(AlertKind::Clash, a, b);
  };
  const auto collab = [](const char* a, const char* b) {
    return make_alert_id(AlertKind::Collaboration, a, b);
  };

  // M's first event meets A and B (before M in key order) and Z (after it); a fact about two
  // older works in the same event is not the group's, nor is a new pair outside a group.
  std::vector<Alert> out;
  ledger.begin_group("M");
  REQUIRE(ledger.apply(fact("M", "A", 1, 1, AlertKind::Clash), out, true).ok());
  REQUIRE(ledger.apply(fact("M", "B", 1, 3, AlertKind::Collaboration), out, true).ok());
  REQUIRE(ledger.apply(fact("M", "Z", 1, 2, AlertKind::Clash), out, true).ok());
  REQUIRE(ledger.apply(fact("A", "B", 2, 3, AlertKind::Clash), out).ok());
  REQUIRE(ledger.end_group().ok());
  REQUIRE(out.size() == 4);
  for (const auto& a : out) {
    CHECK(a.state == AlertState::Open);
    CHECK(a.revision == 1);
  }
  CHECK(keys() == std::vector<std::string>{"gM", "p" + pair_key("A", "B")});
  const Open first = {
      {clash("A", "M"), 1}, {collab("B", "M"), 1}, {clash("M", "Z"), 1}, {clash("A", "B"), 1}};
  CHECK(open_in(ledger) == sorted(first));
  // The pairs whose alerts are open, from both kinds of record, each once.
  std::vector<std::string> pairs;
  REQUIRE(ledger
              .for_each_open_pair([&](std::string_view a, std::string_view b) {
                pairs.push_back(pair_key(a, b));
                return Status{};
              })
              .ok());
  std::sort(pairs.begin(), pairs.end());
  CHECK(pairs == std::vector<std::string>{pair_key("A", "B"), pair_key("A", "M"),
                                          pair_key("B", "M"), pair_key("M", "Z")});

  // The next fact about a grouped pair reads its entry and puts the pair's own record beside the
  // group, which is the one read from then on.
  out.clear();
  REQUIRE(ledger.apply(fact("M", "A", 2, 1, AlertKind::Clash, 4), out).ok());
  REQUIRE(out.size() == 1);
  CHECK(out[0].alert_id == clash("A", "M"));
  CHECK(out[0].state == AlertState::Updated);
  CHECK(out[0].revision == 2);
  CHECK(keys() == std::vector<std::string>{"gM", "gM\nA", "p" + pair_key("A", "B")});
  REQUIRE(ledger.apply(fact("M", "A", 3, 1, AlertKind::Clash, 3), out).ok());
  CHECK(out.back().revision == 3);  // from the pair's own record, not the group's entry
  // An entry's sequence numbers hold: an older fact about a grouped pair is stale.
  REQUIRE(ledger.apply(fact("M", "B", 1, 2, AlertKind::Clash), out).ok());
  CHECK(ledger.stats().stale_facts == 1);
  CHECK(out.size() == 2);
  // So do its content (a fact saying the same: nothing to say) and its revisions.
  REQUIRE(ledger.apply(fact("M", "Z", 2, 2, AlertKind::Clash), out).ok());
  CHECK(out.size() == 2);
  out.clear();
  REQUIRE(ledger.apply(fact("M", "B", 2, 3, std::nullopt), out).ok());
  REQUIRE(out.size() == 1);
  CHECK(out[0].alert_id == collab("B", "M"));
  CHECK(out[0].state == AlertState::Closed);
  CHECK(out[0].revision == 2);
  REQUIRE(ledger.apply(fact("M", "B", 3, 3, AlertKind::Collaboration), out).ok());
  CHECK(out.back().revision == 3);  // opened again: its revisions go on
  const Open now = {
      {clash("A", "M"), 3}, {collab("B", "M"), 3}, {clash("M", "Z"), 1}, {clash("A", "B"), 1}};
  CHECK(open_in(ledger) == sorted(now));
  // A ledger opened on the store later (a restart) reads the same.
  AlertLedger again(store, 0, true);
  CHECK(open_in(again) == sorted(now));

  // A group holds kGroupMaxPairs pairs; the rest of a first event's new pairs get records of
  // their own.
  const std::size_t n = AlertLedger::kGroupMaxPairs + 3;
  ledger.begin_group("N");
  for (std::size_t i = 0; i < n; ++i)
    REQUIRE(
        ledger.apply(fact("N", "W" + std::to_string(100 + i), 1, 1, AlertKind::Clash), out, true)
            .ok());
  REQUIRE(ledger.end_group().ok());
  auto held = keys();
  CHECK(std::count(held.begin(), held.end(), "gN") == 1);
  CHECK(std::count_if(held.begin(), held.end(),
                      [](const std::string& k) { return k.rfind("pN\n", 0) == 0; }) == 3);
  CHECK(open_in(again).size() == now.size() + n);
  // A first event without a new pair writes no group.
  ledger.begin_group("Q");
  REQUIRE(ledger.end_group().ok());
  held = keys();
  CHECK(std::count(held.begin(), held.end(), "gQ") == 0);

  // A work whose ref begins with another's ("M1", "M"): its group and its pairs' own records
  // sort after M's own records, and each pair still counts once.
  ledger.begin_group("M1");
  REQUIRE(ledger.apply(fact("M1", "B", 1, 3, AlertKind::Clash), out, true).ok());
  REQUIRE(ledger.apply(fact("M1", "C", 1, 1, AlertKind::Clash), out, true).ok());
  REQUIRE(ledger.end_group().ok());
  out.clear();
  REQUIRE(ledger.apply(fact("M1", "B", 2, 3, AlertKind::Clash, 2), out).ok());
  REQUIRE(out.size() == 1);
  CHECK(out[0].revision == 2);
  held = keys();
  CHECK(std::count(held.begin(), held.end(), "gM1\nB") == 1);
  CHECK(open_in(again).size() == now.size() + n + 2);
#ifndef NDEBUG
  // A group is written once (Debug builds check it).
  ledger.begin_group("M1");
  REQUIRE(ledger.apply(fact("M1", "D", 1, 1, AlertKind::Clash), out, true).ok());
  CHECK_FALSE(ledger.end_group().ok());
#endif

  // A ledger without groups (the pipeline's ledger stage) makes none.
  store::MemoryStore plain_store(1);
  AlertLedger plain(plain_store, 0);
  plain.begin_group("M");
  REQUIRE(plain.apply(fact("M", "A", 1, 1, AlertKind::Clash), out, true).ok());
  REQUIRE(plain.end_group().ok());
  CHECK(keys_of(plain_store, 0, "") == std::vector<std::string>{"p" + pair_key("A", "M")});

  // A grouped pair's own record without its group, and a damaged group record, are errors, not
  // pairs without records.
  store::WriteBatch b;
  b.put(0, "gK\nL", store.get(0, "gM\nA")->value());
  REQUIRE(store.write(b).ok());
  auto refused = again.for_each_open([](const Alert&) {});
  REQUIRE_FALSE(refused.ok());
  CHECK(refused.error().what() == "ledger: a grouped pair's record without its group: K, L");
  b.clear();
  b.del(0, "gK\nL");
  b.put(0, "gM",
        std::string("\x05"
                    "A",
                    2));  // an entry's ref of 5 bytes, with 1 left
  REQUIRE(store.write(b).ok());
  CHECK_FALSE(ledger.apply(fact("M", "Y", 2, 1, AlertKind::Clash), out).ok());
  CHECK_FALSE(again.for_each_open([](const Alert&) {}).ok());
}

TEST_CASE("describe: days as the works write them, and how long after") {
  auto at = [](const char* text) { return *parse_timestamp(text, DateEnd::Start); };
  auto summary = [&](const char* ref, const char* start, const char* end) {
    WorkSummary w;
    w.ref = ref;
    w.promoter = "STPR";
    w.start = at(start);
    w.end = at(end);
    return w;
  };
  Alert a;
  a.distance_m = 3;
  SUBCASE("a clash of Street Manager days (UK midnights, 23:00Z in summer) reads as UK days") {
    a.kind = AlertKind::Clash;
    a.a = summary("A", "2027-06-09T23:00:00Z", "2027-06-10T22:59:59Z");  // 10 June, BST
    a.b = summary("B", "2027-06-08T23:00:00Z", "2027-06-12T22:59:59Z");
    const std::string r = describe(a);
    CAPTURE(r);
    CHECK(r.find("from 2027-06-10 to 2027-06-10") != std::string::npos);
  }
  SUBCASE("contract bare dates are UTC days; other instants show their UTC time") {
    a.kind = AlertKind::Clash;
    a.a = summary("A", "2027-01-05T00:00:00Z", "2027-01-09T23:59:59Z");
    a.b = summary("B", "2027-01-03T07:30:00Z", "2027-01-08T18:00:00Z");
    const std::string r = describe(a);
    CAPTURE(r);
    CHECK(r.find("from 2027-01-05 to 2027-01-08 18:00 UTC") != std::string::npos);
    a.b = summary("B", "2027-01-06T23:00:00Z", "2027-01-08T18:00:05Z");  // winter: 23:00 is 23:00
    CHECK(describe(a).find("from 2027-01-06 23:00 UTC to 2027-01-08 18:00:05 UTC") !=
          std::string::npos);
  }
  SUBCASE("an overlap whose days would read backwards is given in UTC times") {
    // A Street Manager start at a UK midnight (10 June 23:00Z is 11 June) meets a contract end
    // on a bare date (10 June, 23:59:59Z): the overlap is an hour of 10 June UTC.
    a.kind = AlertKind::Clash;
    a.a = summary("A", "2026-06-01T00:00:00Z", "2026-06-10T23:59:59Z");
    a.b = summary("B", "2026-06-10T23:00:00Z", "2026-06-20T22:59:59Z");
    std::string r = describe(a);
    CAPTURE(r);
    CHECK(r.find("from 2026-06-10 23:00 UTC to 2026-06-10 23:59:59 UTC") != std::string::npos);
    a.a.end = at("2026-06-10T23:30:00Z");
    r = describe(a);
    CHECK(r.find("from 2026-06-10 23:00 UTC to 2026-06-10 23:30 UTC") != std::string::npos);
  }
  SUBCASE("a restriction: its dates, and whether the work is planned to end before it starts") {
    a.kind = AlertKind::Restriction;
    a.a = summary("S58-1", "2027-06-01T00:00:00Z", "2027-12-31T23:59:59Z");
    a.a.kind = WorkKind::Restriction;
    a.b = summary("W", "2027-07-01T00:00:00Z", "2027-07-05T23:59:59Z");
    std::string r = describe(a);
    CAPTURE(r);
    CHECK(r.find("starts 2027-07-01 3.0 m from Section 58 restriction S58-1, which runs from "
                 "2027-06-01 until 2027-12-31: only immediate works") != std::string::npos);
    a.b = summary("W", "2027-01-04T00:00:00Z", "2027-01-08T23:59:59Z");
    r = describe(a);
    CHECK(r.find("which starts 2027-06-01 and lasts until 2027-12-31: the work is planned to end "
                 "2027-01-08, before it;") != std::string::npos);
  }
  SUBCASE("a collaboration of date-only works on consecutive days starts right after") {
    a.kind = AlertKind::Collaboration;
    a.a = summary("A", "2027-05-01T00:00:00Z", "2027-05-10T23:59:59Z");
    a.b = summary("B", "2027-05-11T00:00:00Z", "2027-05-12T23:59:59Z");
    a.gap = a.b.start - a.a.end;
    std::string r = describe(a);
    CAPTURE(r);
    CHECK(r.find("ends 2027-05-10 and STPR's standard work B starts 2027-05-11, right after,") !=
          std::string::npos);
    a.b = summary("B", "2027-05-15T00:00:00Z", "2027-05-16T23:59:59Z");
    a.gap = a.b.start - a.a.end;
    CHECK(describe(a).find("starts 2027-05-15, 4 days later,") != std::string::npos);
    a.b = summary("B", "2027-05-11T06:00:00Z", "2027-05-16T23:59:59Z");
    a.gap = a.b.start - a.a.end;
    CHECK(describe(a).find("starts 2027-05-11 06:00 UTC, 6 hours later,") != std::string::npos);
    a.b = summary("B", "2027-05-12T12:00:00Z", "2027-05-16T23:59:59Z");
    a.gap = a.b.start - a.a.end;
    CHECK(describe(a).find("1.5 days later") != std::string::npos);
    auto later = [&](const char* end, const char* start) {
      a.a = summary("A", "2027-01-01T00:00:00Z", end);
      a.b = summary("B", start, "2027-12-31T23:59:59Z");
      a.gap = a.b.start - a.a.end;
      const std::string text = describe(a);
      const auto from = text.find(", ", text.find(" starts ")) + 2;
      return text.substr(from, text.find(',', from) - from);
    };
    CHECK(later("2027-01-10T10:00:00Z", "2027-01-10T10:00:02Z") == "less than a minute later");
    CHECK(later("2027-01-10T10:00:00Z", "2027-01-10T10:59:59.500Z") == "1 hour later");
    CHECK(later("2027-01-10T10:00:00Z", "2027-01-10T11:02:00Z") == "1 hour later");
    CHECK(later("2027-01-10T10:00:00Z", "2027-01-10T11:30:00Z") == "1.5 hours later");
    CHECK(later("2027-01-10T10:00:00Z", "2027-01-10T10:17:00Z") == "17 minutes later");
    CHECK(later("2027-01-10T10:00:00Z", "2027-01-11T09:59:59Z") == "1 day later");
    // Between days as the works write them, the free days between, whatever the clocks did:
    // 27 March to 29 March 2027 (a UK day: 23:00Z, the clocks having gone forward on the 28th).
    CHECK(later("2027-03-27T23:59:59Z", "2027-03-28T23:00:00Z") == "1 day later");
    CHECK(later("2027-10-30T22:59:59Z", "2027-11-01T00:00:00Z") == "1 day later");
  }
}

TEST_CASE("a store records the metric CRS its works were measured in, and refuses another") {
  store::MemoryStore store(kEngineFamilies.size());
  Geos geos;
  digonce::testing::IdentityLocator locator;
  auto options = [](const char* crs) {
    DetectorOptions o;
    o.metric_crs = crs;
    return o;
  };
  // A store written before the CRS was recorded: taken as measured in the CRS it opens with.
  open_clash_and_close(store, geos, locator);
  {
    Engine engine(store, options("EPSG:27700"), geos, locator);
    REQUIRE(engine.open().ok());
    CHECK(engine.detector().crs_was_unrecorded());
    CHECK(engine.detector().live_works() == 2);
  }
  {
    Engine engine(store, options("EPSG:27700"), geos, locator);  // now it is recorded
    REQUIRE(engine.open().ok());
    CHECK_FALSE(engine.detector().crs_was_unrecorded());
    std::vector<Alert> out;  // the record is no work: the pair still closes
    REQUIRE(engine.apply(cancel("B"), out).ok());
    CHECK(out.size() == 1);
  }
  Engine other(store, options("EPSG:32630"), geos, locator);
  auto opened = other.open();
  REQUIRE_FALSE(opened.ok());
  CHECK(opened.error().permanent);
  CHECK(opened.error().what() ==
        "the store holds works measured in EPSG:27700, and this detector measures in "
        "EPSG:32630: works in two CRSs cannot be compared");
  // A new store is not "unrecorded": it has no works to take as measured.
  store::MemoryStore fresh(kEngineFamilies.size());
  {
    Engine engine(fresh, options("EPSG:32630"), geos, locator);
    REQUIRE(engine.open().ok());
    CHECK_FALSE(engine.detector().crs_was_unrecorded());
  }
  // A store that holds no works takes another CRS (a detector first started with the wrong one).
  Engine engine(fresh, options("EPSG:27700"), geos, locator);
  REQUIRE(engine.open().ok());
  CHECK_FALSE(engine.detector().crs_was_unrecorded());
  auto held = fresh.get(kCellsFamily,
                        "\xff"
                        "crs");
  REQUIRE(held.ok());
  REQUIRE(held->has_value());
  CHECK(**held == "EPSG:27700");
}
