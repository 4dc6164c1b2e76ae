// geo::SpaceTimeIndex on its own: random inserts and removals (many works sharing an element,
// removals in any order, elements emptied and filled again) against a brute-force list.
#include <doctest/doctest.h>

#include <cmath>
#include <iterator>
#include <limits>
#include <map>
#include <random>
#include <set>
#include <stdexcept>
#include <utility>
#include <vector>

#include "geo/space_time_index.h"

using namespace digonce::geo;

TEST_CASE("SpaceTimeIndex: queries find exactly the stored works that meet the window") {
  std::mt19937_64 rng(20261130);
  SpaceTimeIndex index(XzGrid::for_metric_crs(128));
  struct Held {
    Envelope env;
    std::uint64_t key;
  };
  std::map<std::uint32_t, Held> held;
  std::uniform_real_distribution<double> where(500000, 502000), size(0, 1), big(0, 3000);
  auto random_env = [&] {
    const double x = where(rng), y = where(rng);
    // Mostly points and small works, so that elements hold several; now and then a large one.
    const double w = size(rng) < 0.1 ? big(rng) : size(rng) * 40;
    return Envelope{x, y, x + w, y + w * size(rng)};
  };
  std::uint32_t next_id = 0;
  for (int round = 0; round < 20000; ++round) {
    if (held.empty() || size(rng) < 0.6) {
      const Envelope env = random_env();
      const std::uint32_t id = next_id++;
      const std::uint64_t key = index.insert(env, id, 0, 0, 1);
      held[id] = {env, key};
    } else {
      auto it = held.begin();
      std::advance(it, std::uniform_int_distribution<std::size_t>(0, held.size() - 1)(rng));
      index.remove(it->second.key, it->first);
      held.erase(it);
    }
    REQUIRE(index.size() == held.size());
    if (round % 50 != 0) continue;
    const Envelope window = random_env().expanded(25);
    // Half the queries with a distance: then the works within it of the window are wanted.
    const double d = round % 100 == 0 ? 0.0 : 20.0;
    std::multiset<std::uint32_t> found;
    index.query(
        window, d, [](const SpaceTimeIndex::Entry&) { return true; },
        [&](const SpaceTimeIndex::Entry& e) {
          found.insert(e.id());
          // The entry's box holds the work's envelope, and (inside the element) by less than a
          // step: a 256th of the element's width.
          const Held& h = held.at(e.id());
          const Envelope b = index.box(h.key, e);
          const double step = index.grid().cell_size(XzGrid::level_of(h.key)) * 2 / 256;
          CHECK(b.minx <= h.env.minx);
          CHECK(b.miny <= h.env.miny);
          CHECK(b.maxx >= h.env.maxx);
          CHECK(b.maxy >= h.env.maxy);
          if (std::isfinite(b.minx)) CHECK(h.env.minx - b.minx < step);
          if (std::isfinite(b.miny)) CHECK(h.env.miny - b.miny < step);
          if (std::isfinite(b.maxx)) CHECK(b.maxx - h.env.maxx < step);
          if (std::isfinite(b.maxy)) CHECK(b.maxy - h.env.maxy < step);
        });
    for (const auto& [id, h] : held) {
      if (h.env.distance(window) > d) continue;
      const std::uint32_t work = id;  // doctest's messages keep a reference: not to a binding
      CHECK_MESSAGE(found.count(work) == 1, "work ", work,
                    " is within d of the window but was not visited once");
    }
    for (auto id : found) CHECK(held.count(id) == 1);
  }
  // Everything removed again: no entry and no element is left (the ASan run of the unit tests
  // checks that their arrays were freed).
  for (const auto& [id, h] : held) index.remove(h.key, id);
  CHECK(index.size() == 0);
  CHECK(index.element_count() == 0);
  std::size_t visited = 0;
  index.query(
      Envelope{0, 0, 1e6, 1e6}, 0, [](const SpaceTimeIndex::Entry&) { return true; },
      [&](const SpaceTimeIndex::Entry&) { ++visited; });
  CHECK(visited == 0);
}

TEST_CASE("SpaceTimeIndex: one element's entries grow, shrink and are freed with the index") {
  // Many works in one element, removed from the middle (the last entry takes the hole), then the
  // element emptied and used again, and the index destroyed while it holds a work: the ASan run
  // of the unit tests finds a leak or a read of freed memory.
  SpaceTimeIndex index(XzGrid::for_metric_crs(128));
  std::uint64_t key = 0;
  for (std::uint32_t id = 0; id < 100; ++id)
    key = index.insert(Envelope{500000, 500000, 500001, 500001}, id, id % 4, 0, 1);
  CHECK(index.element_count() == 1);
  const std::size_t full = index.memory_bytes();
  for (std::uint32_t id = 0; id < 100; id += 2) index.remove(key, id);
  index.remove(key, 1000);  // not there: nothing happens
  CHECK(index.size() == 50);
  std::set<std::uint32_t> found;
  index.query(
      Envelope{499990, 499990, 500010, 500010}, 0,
      [](const SpaceTimeIndex::Entry&) { return true; },
      [&](const SpaceTimeIndex::Entry& e) {
        CHECK(e.flags() == e.id() % 4);
        found.insert(e.id());
      });
  CHECK(found.size() == 50);
  CHECK(*found.begin() == 1);
  CHECK(*found.rbegin() == 99);
  CHECK(index.memory_bytes() == full);  // an element keeps its room until it is empty
  for (std::uint32_t id = 1; id < 100; id += 2) index.remove(key, id);
  CHECK(index.element_count() == 0);
  CHECK(index.memory_bytes() < full);
  index.insert(Envelope{500000, 500000, 500001, 500001}, 7, 0, 0, 1);
}

TEST_CASE("SpaceTimeIndex: an entry's interval is whole minutes, rounded outward") {
  // The entry keeps bounds of the interval, not the interval: a filter on them may let a work
  // through, never drop one. Times on both sides of 1970, on a minute, and beyond an int32 of
  // minutes (then the extremes).
  constexpr Micros kMinute = SpaceTimeIndex::kMicrosPerMinute;
  constexpr Micros kFar = Micros{1} << 62;
  const std::vector<std::pair<Micros, Micros>> intervals = {
      {0, 1},
      {-1, 0},
      {-kMinute, kMinute},
      {kMinute + 1, 2 * kMinute - 1},
      {-kMinute - 1, -kMinute + 1},
      {1'790'000'000'000'000, 1'790'000'000'000'001},
      {-kFar, kFar},
      {kFar, kFar + 1},
      {-kFar - 1, -kFar}};
  SpaceTimeIndex index(XzGrid::for_metric_crs(128));
  for (std::uint32_t id = 0; id < intervals.size(); ++id)
    index.insert(Envelope{1000.0 * id, 0, 1000.0 * id + 1, 1}, id, 0, intervals[id].first,
                 intervals[id].second);
  std::size_t seen = 0;
  index.query(
      Envelope{-10, -10, 1000.0 * intervals.size() + 10, 10}, 0,
      [](const SpaceTimeIndex::Entry&) { return true; },
      [&](const SpaceTimeIndex::Entry& e) {
        ++seen;
        const auto [start, end] = intervals[e.id()];
        CAPTURE(e.id());
        CHECK(e.start() <= start);
        CHECK(e.end() >= end);
        if (start > -kFar / 2 && start < kFar / 2) CHECK(start - e.start() < kMinute);
        if (end > -kFar / 2 && end < kFar / 2) CHECK(e.end() - end < kMinute);
      });
  CHECK(seen == intervals.size());
}

TEST_CASE("SpaceTimeIndex: an entry's box holds its envelope at the grid's edges and beyond") {
  // The box is kept in steps from the element's corner. Where the grid clamps the element (an
  // envelope beyond its square), the steps cannot reach: the box is then open on that side, and
  // a query near the envelope still finds it. Also a box on the corner and on a step.
  const XzGrid grid = XzGrid::for_metric_crs(128);
  SpaceTimeIndex index(grid);
  constexpr double kEdge = 33554432.0;  // 2^25, the grid's half width
  const std::vector<Envelope> envs = {
      {500000, 500000, 500000, 500000},                  // a point on a cell corner: exact steps
      {500001, 500002, 500003.5, 500004.25},             // on and between steps
      {-kEdge - 5000, 100, -kEdge - 4000, 200},          // left of the grid
      {kEdge + 10, kEdge + 20, kEdge + 30, kEdge + 40},  // beyond its top right
      {-1e12, -1e12, 1e12, 1e12},                        // far larger than the grid
      {kEdge - 1, 0, kEdge - 0.5, 1}};                   // in the last cell
  std::vector<std::uint64_t> keys;
  for (std::uint32_t id = 0; id < envs.size(); ++id)
    keys.push_back(index.insert(envs[id], id, 0, 0, 1));
  for (std::uint32_t id = 0; id < envs.size(); ++id) {
    CAPTURE(id);
    const Envelope& env = envs[id];
    // Near the envelope: a window the size of the grid would visit some 10^11 elements.
    const Envelope probe = env.maxx - env.minx > 1e6 ? Envelope{0, 0, 1, 1} : env;
    std::set<std::uint32_t> found;
    index.query(
        probe, 0.5, [](const SpaceTimeIndex::Entry&) { return true; },
        [&](const SpaceTimeIndex::Entry& e) {
          found.insert(e.id());
          if (e.id() != id) return;
          const Envelope b = index.box(keys[id], e);
          CHECK(b.minx <= env.minx);
          CHECK(b.miny <= env.miny);
          CHECK(b.maxx >= env.maxx);
          CHECK(b.maxy >= env.maxy);
        });
    CHECK(found.count(id) == 1);
  }
  // The point on a step and the box on and between steps: held exactly, and rounded outward.
  index.query(
      envs[1], 3, [](const SpaceTimeIndex::Entry&) { return true; },
      [&](const SpaceTimeIndex::Entry& e) {
        if (e.id() == 0) CHECK(index.box(keys[0], e).minx == 500000);
        if (e.id() == 1) {
          const Envelope b = index.box(keys[1], e);
          CHECK(b.minx == 500001);
          CHECK(b.miny == 500002);
          CHECK(b.maxx == 500004);
          CHECK(b.maxy == 500005);
        }
      });
  // What an entry cannot hold is refused.
  CHECK_THROWS_AS(index.insert(envs[0], SpaceTimeIndex::kMaxId + 1, 0, 0, 1), std::length_error);
  CHECK_THROWS_AS(index.insert(envs[0], 1, SpaceTimeIndex::kMaxFlags + 1, 0, 1), std::length_error);
  CHECK(index.size() == envs.size());
}
