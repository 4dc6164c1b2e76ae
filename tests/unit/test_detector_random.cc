// Randomized checks of detection against independent computations:
//  1. >= 100,000 works with updates, cancels, completions and stale events: the alerts open at
//     the end are exactly the pairs a brute-force check of the final works finds.
//  2. The stream layout simulated in-process: works routed to tiles over several detector
//     partitions that run in a random interleaving, their facts reaching the ledger in a random
//     interleaving: the same open alerts as one engine, and revisions 1, 2, ... with no repeat.
#include <doctest/doctest.h>

#include <algorithm>
#include <cstdlib>
#include <deque>
#include <map>
#include <set>
#include <tuple>

#include "geo/engine.h"
#include "geo/tiles.h"
#include "random_works.h"
#include "store/memory_store.h"

using namespace digonce;
using namespace digonce::geo;
using digonce::testing::RandomWorks;

namespace {

using PairSet = std::set<std::tuple<int, std::string, std::string>>;

std::size_t scale(std::size_t n) {
  // DIGONCE_TEST_SCALE=0.1 shrinks the randomized tests (e.g. under sanitizers).
  const char* s = std::getenv("DIGONCE_TEST_SCALE");
  double f = s ? std::strtod(s, nullptr) : 1.0;
  return std::max<std::size_t>(1000, static_cast<std::size_t>(static_cast<double>(n) * f));
}

/// Every pair of live works checked exactly: a plane sweep over x visits every pair whose
/// x-extents come within d; each is decided with GEOSDistance and the rules.
PairSet brute_force(const std::map<std::string, WorkEvent>& live, const Rules& rules, Geos& geos) {
  struct Item {
    Envelope env;
    const WorkEvent* w;
    Geos::GeomPtr g;
  };
  std::vector<Item> items;
  items.reserve(live.size());
  for (const auto& [ref, w] : live)
    items.push_back({w.geometry.envelope(), &w, *geos.to_geos(w.geometry)});
  std::sort(items.begin(), items.end(),
            [](const Item& a, const Item& b) { return a.env.minx < b.env.minx; });
  PairSet out;
  const double d = rules.distance_m;
  for (std::size_t i = 0; i < items.size(); ++i) {
    for (std::size_t j = i + 1; j < items.size() && items[j].env.minx <= items[i].env.maxx + d;
         ++j) {
      if (items[i].env.distance(items[j].env) > d) continue;
      const auto& a = *items[i].w;
      const auto& b = *items[j].w;
      RuleSide sa{a.kind, a.category, a.start, a.end}, sb{b.kind, b.category, b.start, b.end};
      if (!time_may_qualify(rules, sa, sb)) continue;
      double dist = *geos.distance(items[i].g.get(), items[j].g.get());
      auto kind = classify(rules, sa, sb, dist);
      if (!kind) continue;
      auto [ra, rb] = std::minmax(a.work_ref, b.work_ref);
      out.emplace(static_cast<int>(*kind), ra, rb);
    }
  }
  return out;
}

PairSet open_alerts(const AlertLedger& ledger) {
  PairSet out;
  auto s = ledger.for_each_open(
      [&](const Alert& a) { out.emplace(static_cast<int>(a.kind), a.a.ref, a.b.ref); });
  REQUIRE(s.ok());
  return out;
}

/// A random stream: new works (some at the limits of others), then updates, cancels,
/// completions, and stale replays of old versions. `live` ends as the final live works.
std::vector<WorkEvent> random_stream(RandomWorks& gen, std::size_t n, const Rules& rules,
                                     std::map<std::string, WorkEvent>& live) {
  std::vector<WorkEvent> events;
  std::map<std::string, WorkEvent> latest;  // by ref, with its version
  std::vector<std::string> refs;
  auto emit = [&](WorkEvent e) {
    e.version = latest.count(e.work_ref) ? *latest[e.work_ref].version + 1 : 1;
    latest[e.work_ref] = e;
    if (e.active()) {
      live[e.work_ref] = e;
    } else {
      live.erase(e.work_ref);
    }
    events.push_back(std::move(e));
  };
  for (std::size_t i = 0; i < n; ++i) {
    std::string ref = "W" + std::to_string(i);
    if (i > 10 && gen.uniform(0, 1) < 0.03) {
      const auto& other = latest[refs[gen.pick(refs.size())]];
      if (other.active() && other.kind == WorkKind::Work) {
        emit(gen.at_limit(ref, other, rules.distance_m, rules.collaboration_window,
                          gen.uniform(0, 1) < 0.5));
        refs.push_back(ref);
        continue;
      }
    }
    emit(gen.next(ref));
    refs.push_back(ref);
  }
  std::size_t changes = n / 5;
  for (std::size_t i = 0; i < changes; ++i) {
    const std::string& ref = refs[gen.pick(refs.size())];
    double u = gen.uniform(0, 1);
    if (u < 0.6) {
      auto e = gen.next(ref);
      if (gen.uniform(0, 1) < 0.5 && latest[ref].event == EventType::Upsert) {
        e.geometry = latest[ref].geometry;  // rescheduled only
        e.kind = latest[ref].kind;
      }
      emit(e);
    } else if (u < 0.8) {
      emit(digonce::testing::cancel(ref));
    } else if (u < 0.9) {
      auto e = latest[ref];
      if (e.event != EventType::Upsert) continue;
      e.status = WorkStatus::Completed;
      emit(e);
    } else {
      // A replay of an older version: stale, ignored.
      auto e = gen.next(ref);
      e.version = 0;
      events.push_back(e);
    }
  }
  return events;
}

}  // namespace

TEST_CASE("randomized: the open alerts equal a brute-force check of the final works") {
  RandomWorks gen(20261128, 20000);
  Rules rules;
  std::map<std::string, WorkEvent> live;
  auto events = random_stream(gen, scale(100000), rules, live);
  MESSAGE("events: " << events.size() << ", live works at the end: " << live.size());

  store::MemoryStore store(kEngineFamilies.size());
  Geos geos;
  digonce::testing::IdentityLocator locator;
  Engine engine(store, DetectorOptions{rules}, geos, locator);
  REQUIRE(engine.open().ok());
  std::vector<Alert> out;
  for (const auto& e : events) {
    auto s = engine.apply(e, out);
    REQUIRE_MESSAGE(s.ok(), (s.ok() ? "" : s.error().what()));
  }
  CHECK(engine.detector().live_works() == live.size());
  CHECK(engine.stats().stale > 0);

  PairSet expected = brute_force(live, rules, geos);
  PairSet got = open_alerts(engine.ledger());
  MESSAGE("open alerts: " << got.size() << ", brute force: " << expected.size());
  CHECK(expected.size() > 1000);
  std::vector<std::tuple<int, std::string, std::string>> missing, extra;
  std::set_difference(expected.begin(), expected.end(), got.begin(), got.end(),
                      std::back_inserter(missing));
  std::set_difference(got.begin(), got.end(), expected.begin(), expected.end(),
                      std::back_inserter(extra));
  for (std::size_t i = 0; i < std::min<std::size_t>(5, missing.size()); ++i)
    MESSAGE("missing: " << std::get<0>(missing[i]) << " " << std::get<1>(missing[i]) << " "
                        << std::get<2>(missing[i]));
  for (std::size_t i = 0; i < std::min<std::size_t>(5, extra.size()); ++i)
    MESSAGE("extra: " << std::get<0>(extra[i]) << " " << std::get<1>(extra[i]) << " "
                      << std::get<2>(extra[i]));
  CHECK(missing.empty());
  CHECK(extra.empty());

  // Every alert's revisions count 1, 2, 3, ... and alternate sensibly.
  std::map<std::string, std::uint32_t> last;
  for (const auto& a : out) {
    CHECK(a.revision == last[a.alert_id] + 1);
    last[a.alert_id] = a.revision;
  }
}

TEST_CASE("randomized: partitions by tile in any interleaving agree with one engine") {
  const int kPartitions = 4;
  const TileScheme scheme(300.0, 25.0);  // small tiles: many pairs span several
  RandomWorks gen(7, 5000);
  Rules rules;
  std::map<std::string, WorkEvent> live;
  auto events = random_stream(gen, scale(15000), rules, live);

  // The reference: one engine.
  Geos geos;
  digonce::testing::IdentityLocator locator;
  store::MemoryStore one_store(kEngineFamilies.size());
  Engine one(one_store, DetectorOptions{rules}, geos, locator);
  REQUIRE(one.open().ok());
  std::vector<Alert> ignored;
  for (const auto& e : events) REQUIRE(one.apply(e, ignored).ok());

  // The stream layout: a router (registry), kPartitions detectors, one ledger.
  struct Message {
    WorkEvent e;
    std::uint64_t seq;
    std::vector<std::uint64_t> tiles;
  };
  store::MemoryStore router_store(1);
  WorkRegistry registry(router_store, 0);
  std::vector<std::unique_ptr<store::MemoryStore>> stores;
  std::vector<std::unique_ptr<TileOwnership>> owners;
  std::vector<std::unique_ptr<Detector>> detectors;
  std::vector<std::deque<Message>> inbox(kPartitions);
  std::vector<std::deque<PairFact>> outbox(kPartitions);
  for (int p = 0; p < kPartitions; ++p) {
    stores.push_back(std::make_unique<store::MemoryStore>(kEngineFamilies.size()));
    owners.push_back(std::make_unique<TileOwnership>(scheme, p, kPartitions));
    detectors.push_back(std::make_unique<Detector>(*stores.back(), DetectorFamilies{0, 1, 2},
                                                   DetectorOptions{rules}, geos, locator,
                                                   owners.back().get()));
    REQUIRE(detectors.back()->open().ok());
  }
  store::MemoryStore ledger_store(1);
  AlertLedger ledger(ledger_store, 0);
  std::vector<Alert> alerts;

  std::size_t next = 0;
  std::mt19937_64 rng(99);
  auto busy = [&] {
    for (int p = 0; p < kPartitions; ++p)
      if (!inbox[p].empty() || !outbox[p].empty()) return true;
    return false;
  };
  while (next < events.size() || busy()) {
    auto choice = rng() % 3;
    if (choice == 0 && next < events.size()) {
      const WorkEvent& e = events[next++];
      std::vector<std::uint64_t> tiles;
      if (e.active()) tiles = scheme.tiles_for(e.geometry.envelope());
      auto adm = registry.admit(e, tiles);
      REQUIRE(adm.ok());
      if (adm->stale) continue;
      std::set<int> targets;
      for (auto t : tiles) targets.insert(TileScheme::partition(t, kPartitions));
      for (auto t : adm->old_tiles) targets.insert(TileScheme::partition(t, kPartitions));
      for (int p : targets) inbox[p].push_back({e, adm->seq, tiles});
    } else if (choice == 1) {
      int p = static_cast<int>(rng() % kPartitions);
      if (inbox[p].empty()) continue;
      Message m = std::move(inbox[p].front());
      inbox[p].pop_front();
      bool present = std::any_of(m.tiles.begin(), m.tiles.end(), [&](std::uint64_t t) {
        return TileScheme::partition(t, kPartitions) == p;
      });
      std::vector<PairFact> facts;
      auto s = detectors[p]->apply(m.e, m.seq, present, facts);
      REQUIRE_MESSAGE(s.ok(), (s.ok() ? "" : s.error().what()));
      outbox[p].insert(outbox[p].end(), facts.begin(), facts.end());
    } else {
      int p = static_cast<int>(rng() % kPartitions);
      if (outbox[p].empty()) continue;
      REQUIRE(ledger.apply(outbox[p].front(), alerts).ok());
      outbox[p].pop_front();
    }
  }

  PairSet expected = open_alerts(one.ledger());
  PairSet got = open_alerts(ledger);
  MESSAGE("events " << events.size() << ", open alerts: one engine " << expected.size()
                    << ", partitioned " << got.size() << ", stale facts "
                    << ledger.stats().stale_facts);
  CHECK(expected.size() > 100);
  CHECK(got == expected);
  CHECK(expected == brute_force(live, rules, geos));
  std::map<std::string, std::uint32_t> last;
  std::size_t gaps = 0;
  for (const auto& a : alerts) {
    if (a.revision != last[a.alert_id] + 1) ++gaps;
    last[a.alert_id] = a.revision;
  }
  CHECK(gaps == 0);
}
