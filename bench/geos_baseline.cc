#include "bench/geos_baseline.h"

#include <malloc.h>

#include <vector>

namespace digonce::bench {
namespace {

struct Item {
  GEOSGeometry* geometry;
  geo::Micros start;
  geo::Micros end;
};

struct Query {
  GEOSContextHandle_t h;
  const GEOSPreparedGeometry* prepared;
  geo::Micros start, end;
  const geo::Rules* rules;
  Counts* counts;
};

void visit(void* item, void* data) {
  auto* q = static_cast<Query*>(data);
  const auto* it = static_cast<const Item*>(item);
  geo::Micros gap = std::max(q->start, it->start) - std::min(q->end, it->end);
  if (gap > q->rules->collaboration_window) return;
  if (GEOSPreparedDistanceWithin_r(q->h, q->prepared, it->geometry, q->rules->distance_m) != 1)
    return;
  if (gap <= 0) {
    ++q->counts->clash;
  } else {
    ++q->counts->collaboration;
  }
}

}  // namespace

Result<BaselineResult> run_geos_baseline(const Workload& w, const geo::Rules& rules,
                                         geo::Geos& geos, Clock::time_point deadline,
                                         std::size_t first) {
  BaselineResult r;
  auto* h = geos.handle();
  malloc_trim(0);
  const std::int64_t rss0 = rss_bytes();
  auto t0 = Clock::now();
  std::vector<Item> items;
  items.reserve(w.works);
  Status built = w.for_each_work([&](geo::WorkEvent& e) -> Status {
    auto g = geos.to_geos(e.geometry);
    if (!g) return g.error();
    items.push_back(Item{g->release(), e.start, e.end});
    return {};
  });
  GEOSSTRtree* raw = GEOSSTRtree_create_r(h, 10);
  auto cleanup = [&] {
    if (raw) GEOSSTRtree_destroy_r(h, raw);
    for (auto& it : items) GEOSGeom_destroy_r(h, it.geometry);
  };
  if (!built.ok()) {
    cleanup();
    return built.error();
  }
  for (auto& it : items) GEOSSTRtree_insert_r(h, raw, it.geometry, &it);
  {
    // The tree is built on its first query.
    Counts none;
    Query q{h, nullptr, 0, 0, &rules, &none};
    GEOSGeometry* nowhere = GEOSGeom_createPointFromXY_r(h, -1e9, -1e9);
    GEOSSTRtree_query_r(
        h, raw, nowhere, [](void*, void*) {}, &q);
    GEOSGeom_destroy_r(h, nowhere);
  }
  r.build_seconds = seconds_since(t0);
  r.rss_delta = rss_bytes() - rss0;

  r.latencies.reserve(w.events.size());
  const double d = rules.distance_m;
  auto s0 = Clock::now();
  for (const auto& e : w.events) {
    if (r.latencies.size() == first) r.counts_first = r.counts;
    if (Clock::now() > deadline) {
      r.cut_short = true;
      break;
    }
    auto e0 = Clock::now();
    auto g = geos.to_geos(e.geometry);
    if (!g) {
      cleanup();
      return g.error();
    }
    auto prepared = geos.prepare(g->get());
    auto env = e.geometry.envelope().expanded(d);
    GEOSGeometry* box = GEOSGeom_createRectangle_r(h, env.minx, env.miny, env.maxx, env.maxy);
    Query q{h, prepared.get(), e.start, e.end, &rules, &r.counts};
    GEOSSTRtree_query_r(h, raw, box, visit, &q);
    GEOSGeom_destroy_r(h, box);
    prepared.reset();
    g->reset();
    r.latencies.add(Clock::now() - e0);
  }
  r.stream_seconds = seconds_since(s0);
  if (r.latencies.size() == first) r.counts_first = r.counts;
  cleanup();
  return r;
}

}  // namespace digonce::bench
