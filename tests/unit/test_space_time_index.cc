// geo::SpaceTimeIndex on its own: random inserts and removals (many works sharing an element,
// removals in any order, elements emptied and filled again) against a brute-force list.
#include <doctest/doctest.h>

#include <iterator>
#include <map>
#include <random>
#include <set>
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
    std::multiset<std::uint32_t> found;
    index.query(
        window, [](const SpaceTimeIndex::Entry&) { return true; },
        [&](const SpaceTimeIndex::Entry& e) {
          found.insert(e.id);
          // The entry's float box holds the work's envelope.
          const Held& h = held.at(e.id);
          CHECK(double{e.box[0]} <= h.env.minx);
          CHECK(double{e.box[1]} <= h.env.miny);
          CHECK(double{e.box[2]} >= h.env.maxx);
          CHECK(double{e.box[3]} >= h.env.maxy);
        });
    for (const auto& [id, h] : held) {
      if (!h.env.intersects(window)) continue;
      const std::uint32_t work = id;  // doctest's messages keep a reference: not to a binding
      CHECK_MESSAGE(found.count(work) == 1, "work ", work,
                    " meets the window but was not visited once");
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
      Envelope{0, 0, 1e6, 1e6}, [](const SpaceTimeIndex::Entry&) { return true; },
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
    key = index.insert(Envelope{500000, 500000, 500001, 500001}, id, id, 0, 1);
  CHECK(index.element_count() == 1);
  const std::size_t full = index.memory_bytes();
  for (std::uint32_t id = 0; id < 100; id += 2) index.remove(key, id);
  index.remove(key, 1000);  // not there: nothing happens
  CHECK(index.size() == 50);
  std::set<std::uint32_t> found;
  index.query(
      Envelope{499990, 499990, 500010, 500010}, [](const SpaceTimeIndex::Entry&) { return true; },
      [&](const SpaceTimeIndex::Entry& e) {
        CHECK(e.flags == e.id);
        found.insert(e.id);
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
      Envelope{-10, -10, 1000.0 * intervals.size() + 10, 10},
      [](const SpaceTimeIndex::Entry&) { return true; },
      [&](const SpaceTimeIndex::Entry& e) {
        ++seen;
        const auto [start, end] = intervals[e.id];
        CAPTURE(e.id);
        CHECK(e.start() <= start);
        CHECK(e.end() >= end);
        if (start > -kFar / 2 && start < kFar / 2) CHECK(start - e.start() < kMinute);
        if (end > -kFar / 2 && end < kFar / 2) CHECK(e.end() - end < kMinute);
      });
  CHECK(seen == intervals.size());
}
