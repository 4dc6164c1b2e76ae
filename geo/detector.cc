#include "geo/detector.h"

#include <algorithm>
#include <array>
#include <cmath>
#include <optional>
#include <utility>

#include "geo/nearest.h"
#include "store/keys.h"

namespace digonce::geo {
namespace {

constexpr std::uint32_t kNone = UINT32_MAX;
// relate(): polygons with at most this many vertex pairs against the other work are measured by
// brute force (GEOS nearest points, no prepared index); a figure decides unless it is within
// kDecideMargin metres of the rule's distance.
constexpr std::size_t kBruteForceVertexPairs = 1024;
constexpr double kDecideMargin = 1e-6;
constexpr std::uint32_t kFlagRestriction = 1;
constexpr std::uint32_t kFlagImmediate = 2;

std::uint32_t entry_flags(WorkKind kind, Category category) {
  return (kind == WorkKind::Restriction ? kFlagRestriction : 0) |
         (is_immediate(category) ? kFlagImmediate : 0);
}

RuleSide side_of_entry(const SpaceTimeIndex::Entry& e) {
  return RuleSide{(e.flags() & kFlagRestriction) ? WorkKind::Restriction : WorkKind::Work,
                  (e.flags() & kFlagImmediate) ? Category::ImmediateUrgent : Category::Standard,
                  e.start(), e.end()};
}

}  // namespace

static_assert(sizeof(PackedShape) == sizeof(void*));

struct alignas(64) Detector::Slot {
  // What the exact check of a candidate reads, together in the slot's first cache line (58
  // bytes: a slot is 64-aligned, and PackedShape is one pointer).
  Envelope env;
  PackedShape shape;
  Micros start = 0;
  Micros end = 0;
  Category category = Category::Standard;
  WorkKind kind = WorkKind::Work;
  std::string ref;
  std::uint64_t element = 0;
  std::uint64_t seq = 0;
  std::uint32_t promoter = 0;
  std::uint32_t street = 0;
  std::uint32_t authority = 0;
  std::vector<std::uint32_t> partners;  // pairs this detector reported as related
  std::int64_t version = 0;             // the work's version, when has_version
  bool has_version = false;
};

// The event's work as a GEOS geometry and its prepared form, made on first use: points and lines
// (nearly every pair) are measured by geo/nearest.h without them.
struct Detector::EventGeos {
  const Geos& geos;
  const WorkEvent& e;
  Geos::GeomPtr geom;
  Geos::PreparedPtr prepared;

  Result<const GEOSGeometry*> geometry() {
    if (!geom) {
      auto g = geos.to_geos(e.geometry);
      if (!g) return g.error().within("geometry");
      geom = std::move(*g);
    }
    return geom.get();
  }
  Result<const GEOSPreparedGeometry*> prepared_geometry() {
    if (!prepared) {
      auto g = geometry();
      if (!g) return g.error();
      prepared = geos.prepare(*g);
      if (!prepared) return error("GEOS prepare failed: " + geos.last_error());
    }
    return prepared.get();
  }
};

struct Detector::Relation {
  AlertKind kind;
  double distance;
  Micros gap;
  double x, y;  // midpoint of the nearest points, metric CRS
};

Detector::Detector(store::Store& store, DetectorFamilies families, DetectorOptions options,
                   Geos& geos, Locator& locator, const PairOwnership* ownership)
    : store_(store),
      families_(families),
      options_(std::move(options)),
      geos_(geos),
      locator_(locator),
      ownership_(ownership),
      index_(XzGrid::for_metric_crs(options.finest_cell_m)) {
  // Three cache lines a work (the version fits in the third's padding).
  static_assert(sizeof(Slot) == 192);
}

Detector::~Detector() = default;

std::uint32_t Detector::find(std::string_view ref) const {
  return refs_.find(ref, [this](std::uint32_t id) -> std::string_view { return slots_[id].ref; });
}

std::optional<Detector::Held> Detector::held(std::string_view ref) const {
  const std::uint32_t id = find(ref);
  if (id == kNone) return std::nullopt;
  const Slot& s = slots_[id];
  return Held{s.seq, s.has_version ? std::optional<std::int64_t>(s.version) : std::nullopt};
}

WorkSummary Detector::summary(const Slot& s) const {
  return WorkSummary{s.ref,
                     strings_.get(s.promoter),
                     s.category,
                     s.kind,
                     s.start,
                     s.end,
                     strings_.get(s.street),
                     strings_.get(s.authority)};
}

WorkSummary Detector::summary_of(const WorkEvent& e) const {
  return WorkSummary{e.work_ref, e.promoter, e.category,    e.kind,
                     e.start,    e.end,      e.street_name, e.highway_authority};
}

RuleSide Detector::side(const Slot& s) const {
  return RuleSide{s.kind, s.category, s.start, s.end};
}

std::string Detector::marker_key(std::string_view a, std::string_view b) const {
  if (b < a) std::swap(a, b);
  std::string k;
  k.reserve(a.size() + b.size() + 2);
  k.push_back('m');
  k.append(a).push_back('\0');
  k.append(b);
  return k;
}

void Detector::cell_key(std::uint64_t element, Micros start, std::string_view ref,
                        std::string& k) const {
  k.clear();
  store::put_u64_be(k, element);
  // The week of the start, so that a cell's works are in time order on disk.
  std::int64_t week = start / (7 * kMicrosPerDay);
  store::put_u32_be(k, static_cast<std::uint32_t>(std::clamp<std::int64_t>(week, 0, UINT32_MAX)));
  k.append(ref);
}

void Detector::add_slot(const WorkEvent& e, std::uint64_t seq, std::uint32_t id) {
  Slot& s = slots_[id];
  s.ref = e.work_ref;
  s.shape = PackedShape(e.geometry);
  s.env = e.geometry.envelope();
  s.start = e.start;
  s.end = e.end;
  s.seq = seq;
  s.has_version = e.version.has_value();
  s.version = e.version.value_or(0);
  s.promoter = strings_.intern(e.promoter);
  s.street = strings_.intern(e.street_name);
  s.authority = strings_.intern(e.highway_authority);
  s.category = e.category;
  s.kind = e.kind;
  s.element = index_.insert(s.env, id, entry_flags(e.kind, e.category), e.start, e.end);
}

void Detector::remove_marker(std::uint32_t a, std::uint32_t b, store::WriteBatch& batch) {
  auto drop = [](std::vector<std::uint32_t>& v, std::uint32_t x) {
    auto it = std::find(v.begin(), v.end(), x);
    if (it != v.end()) {
      *it = v.back();
      v.pop_back();
    }
  };
  drop(slots_[a].partners, b);
  drop(slots_[b].partners, a);
  if (options_.markers) batch.del(families_.alerts, marker_key(slots_[a].ref, slots_[b].ref));
}

Result<std::optional<Detector::Relation>> Detector::relate(const WorkEvent& e, const RuleSide& es,
                                                           EventGeos& event, const Slot& x) {
  ++stats_.exact_checks;
  const double d = options_.rules.distance_m;
  const RuleSide xs = side(x);
  const ShapeView xv = x.shape.view();
  // Measured with the smaller work_ref's geometry first, whichever of the two the event is:
  // where several places are equally near (parallel edges), which one a search finds depends
  // on the order, and an event that changes nothing must not move its alerts' location (a
  // resent event was announced as an update before).
  const bool event_first = e.work_ref < x.ref;
  std::array<double, 4> p{};
  double dist = 0;
  // The event's and the candidate's GEOS geometries, made when a GEOS call needs them.
  using GeosPair = std::pair<const GEOSGeometry*, const GEOSGeometry*>;
  Geos::GeomPtr xg_built;
  auto geoms = [&]() -> Result<GeosPair> {
    auto eg = event.geometry();
    if (!eg) return eg.error();
    if (!xg_built) {
      auto g = geos_.to_geos(xv);
      if (!g) return g.error();
      xg_built = std::move(*g);
    }
    return event_first ? GeosPair{*eg, xg_built.get()} : GeosPair{xg_built.get(), *eg};
  };
  // Parts farther apart than the rule's distance are not measured: a pair beyond it gets a
  // figure above it (and is dropped below), a pair within it exactly the figure and points.
  if (auto near = event_first ? nearest_points(e.geometry.view(), xv, d + kDecideMargin)
                              : nearest_points(xv, e.geometry.view(), d + kDecideMargin)) {
    // Points and lines (nearly every work): geo/nearest.h measures them as GEOS does, without
    // building GEOS geometries. Its figure is GEOSDistance's (the unit test finds them equal).
    // (The location is the middle of the two points: their order does not matter.)
    dist = near->distance;
    p = {near->ax, near->ay, near->bx, near->by};
  } else if (certainly_beyond(e.geometry.view(), xv, d)) {
    // A polygon pair whose rings and lines are apart by more than d, neither inside the other:
    // no GEOS geometry is built (GEOS would find it beyond d too).
    return std::optional<Relation>();
  } else if (e.geometry.vertex_count() * (xv.xy.size() / 2) <= kBruteForceVertexPairs) {
    // Small polygons: one GEOS nearest-points computation gives the location and the distance
    // (the same minimum GEOSDistance computes, differing only by rounding: well under 1e-9 m at
    // national-grid scale).
    auto g = geoms();
    if (!g) return g.error();
    auto np = geos_.nearest_points(g->first, g->second);
    if (!np) return np.error();
    p = *np;
    dist = std::hypot(p[0] - p[2], p[1] - p[3]);
  } else {
    // Large geometries: the prepared test (an index of the event's facets) is the fast filter;
    // a hair of slack so that it never disagrees with the canonical GEOSDistance <= d below,
    // which decides (the contract's d is the minimum distance).
    auto prepared = event.prepared_geometry();
    if (!prepared) return prepared.error();
    auto g = geoms();
    if (!g) return g.error();
    char within = GEOSPreparedDistanceWithin_r(geos_.handle(), *prepared, xg_built.get(),
                                               d * (1 + 1e-12) + 1e-9);
    if (within == 2)
      return error("GEOS distance-within failed on " + e.work_ref + ": " + geos_.last_error());
    if (within == 0) return std::optional<Relation>();
    auto exact = geos_.distance(g->first, g->second);
    if (!exact) return exact.error();
    dist = *exact;
    if (!classify(options_.rules, es, xs, dist)) return std::optional<Relation>();
    auto np = geos_.nearest_points(g->first, g->second);
    if (!np) return np.error();
    p = *np;
  }
  // A figure from nearest points decides unless it is within a micrometre of d: there
  // GEOSDistance, the contract's decider, does, so that rounding can never flip a verdict.
  if (dist > d + kDecideMargin) return std::optional<Relation>();
  if (dist >= d - kDecideMargin) {
    auto g = geoms();
    if (!g) return g.error();
    auto exact = geos_.distance(g->first, g->second);
    if (!exact) return exact.error();
    dist = *exact;
  }
  auto kind = classify(options_.rules, es, xs, dist);
  if (!kind) return std::optional<Relation>();
  return std::optional<Relation>(
      Relation{*kind, dist, time_gap(es, xs), (p[0] + p[2]) / 2, (p[1] + p[3]) / 2});
}

PairFact Detector::related_fact(const WorkSummary& e, std::uint64_t seq, const Slot& x,
                                const Relation& r) {
  PairFact f;
  const bool e_first = e.ref < x.ref;
  (e_first ? f.a : f.b) = e;
  (e_first ? f.b : f.a) = summary(x);
  f.seq_a = e_first ? seq : x.seq;
  f.seq_b = e_first ? x.seq : seq;
  f.related = true;
  f.kind = r.kind;
  f.distance_m = r.distance;
  f.gap = r.gap;
  // The contract's highway_authorities: those whose area holds the location, and only those
  // (the authority a work names is in its summary: routing adds it, the field does not).
  locator_.locate(r.x, r.y, f.lon, f.lat, f.authorities);
  std::sort(f.authorities.begin(), f.authorities.end());
  f.authorities.erase(std::unique(f.authorities.begin(), f.authorities.end()), f.authorities.end());
  return f;
}

Status Detector::apply(const WorkEvent& e, std::uint64_t seq, bool present,
                       std::vector<PairFact>& facts) {
  ++stats_.events;
  store::WriteBatch& batch = batch_;
  batch.clear();
  std::uint32_t id = find(e.work_ref);
  const bool upsert = e.event == EventType::Upsert;
  const bool active = keeps(e);
  const bool keep = present && active;
  const WorkSummary es = upsert || id == kNone ? summary_of(e) : summary(slots_[id]);

  // Which works the event's work now relates to: owned here, or owned by another partition.
  std::vector<std::pair<std::uint32_t, Relation>> owned;
  std::vector<std::uint32_t> elsewhere;
  if (active) {
    EventGeos event{geos_, e, nullptr, nullptr};
    const RuleSide rs{e.kind, e.category, e.start, e.end};
    const Envelope env = e.geometry.envelope();
    const double d = options_.rules.distance_m;
    Status failed;
    auto evaluate = [&](std::uint32_t x) {
      if (!failed.ok()) return;
      const Slot& xs = slots_[x];
      if (env.distance(xs.env) > d) return;
      auto rel = relate(e, rs, event, xs);
      if (!rel) {
        failed = rel.error();
        return;
      }
      if (!*rel) return;
      if (ownership_ && !ownership_->owns(env, xs.env)) {
        elsewhere.push_back(x);
      } else {
        owned.emplace_back(x, **rel);
        // The pair's fact reads the rest of the slot (its ref and names, its partners), after
        // the other candidates and the work's own insert: fetch it now.
        __builtin_prefetch(&xs.ref);
        __builtin_prefetch(&xs.partners);
      }
    };
    if (keep) {
      // The candidates first, then their slots and shapes fetched together (each is a cache
      // miss at a million works, and the processor overlaps misses it is told of at once), then
      // the exact checks, in the index's order.
      candidates_.clear();
      index_.query(
          env, d,
          [&](const SpaceTimeIndex::Entry& entry) {
            ++stats_.entries_visited;
            return entry.id() != id && time_may_qualify(options_.rules, rs, side_of_entry(entry));
          },
          [&](const SpaceTimeIndex::Entry& entry) { candidates_.push_back(entry.id()); });
      for (auto x : candidates_) {
        __builtin_prefetch(&slots_[x]);
        __builtin_prefetch(&slots_[x].ref);  // its second line: relate() orders by the refs
      }
      for (auto x : candidates_) slots_[x].shape.prefetch();
      for (auto x : candidates_) evaluate(x);
    } else if (id != kNone) {
      // The work leaves this partition: only its reported pairs need a verdict.
      for (auto x : slots_[id].partners) evaluate(x);
    }
    DIGONCE_TRY(failed);
  }
  auto is_owned = [&](std::uint32_t x) {
    return std::any_of(owned.begin(), owned.end(), [&](const auto& o) { return o.first == x; });
  };

  // Pairs this detector reported that no longer qualify here: close them, or hand them over.
  if (id != kNone) {
    auto partners = slots_[id].partners;
    for (auto x : partners) {
      if (is_owned(x)) continue;
      remove_marker(id, x, batch);
      if (std::find(elsewhere.begin(), elsewhere.end(), x) != elsewhere.end()) continue;
      const Slot& xs = slots_[x];
      WorkSummary other = summary(xs);
      PairFact f;
      bool e_first = es.ref < other.ref;
      f.a = e_first ? es : other;
      f.b = e_first ? other : es;
      f.seq_a = e_first ? seq : xs.seq;
      f.seq_b = e_first ? xs.seq : seq;
      f.related = false;
      f.cause = !upsert || e.status == WorkStatus::Cancelled ? CloseCause::Cancelled
                : e.status == WorkStatus::Completed          ? CloseCause::Completed
                                                             : CloseCause::Apart;
      f.cause_ref = e.work_ref;
      facts.push_back(std::move(f));
      ++stats_.facts;
    }
  }

  // The work itself: out of its old cell, into its new one (or gone).
  if (id != kNone) {
    Slot& s = slots_[id];
    index_.remove(s.element, id);
    cell_key(s.element, s.start, s.ref, key_);
    batch.del(families_.cells, key_);
  }
  if (keep) {
    if (id == kNone) {
      if (free_slots_.empty()) {
        id = static_cast<std::uint32_t>(slots_.size());
        slots_.emplace_back();
      } else {
        id = free_slots_.back();
        free_slots_.pop_back();
      }
      refs_.insert(e.work_ref, id);
    }
    add_slot(e, seq, id);
    value_.clear();
    store::put_u64_be(value_, seq);
    encode_work(e, value_);
    // After the old key's delete above: when the key has not changed, the put is what stays.
    cell_key(slots_[id].element, e.start, e.work_ref, key_);
    batch.put(families_.cells, key_, value_);
  } else if (id != kNone) {
    refs_.erase(e.work_ref, [this](std::uint32_t x) -> std::string_view { return slots_[x].ref; });
    slots_[id] = Slot{};
    free_slots_.push_back(id);
    id = kNone;
  }

  for (const auto& [x, rel] : owned) {
    auto& partners = slots_[id].partners;
    if (std::find(partners.begin(), partners.end(), x) == partners.end()) {
      partners.push_back(x);
      slots_[x].partners.push_back(id);
    }
    if (options_.markers)
      batch.put(families_.alerts, marker_key(e.work_ref, slots_[x].ref),
                std::string(1, static_cast<char>(rel.kind)));
    facts.push_back(related_fact(es, seq, slots_[x], rel));
    ++stats_.facts;
  }
  return store_.write(batch);
}

std::string Detector::grid_description() const {
  const XzGrid& g = index_.grid();
  return "xz finest " + std::to_string(g.cell_size(g.max_level())) + " m, " +
         std::to_string(g.max_level()) + " levels";
}

Status Detector::load_work(std::string_view value, store::Family family, std::string_view key,
                           store::WriteBatch& dels, store::WriteBatch& puts) {
  WorkEvent e;
  if (value.size() < 8 || !decode_work(value.substr(8), e)) {
    // The ref ends the key: after the cell in the cells family, after "w" in works.
    const std::size_t at = family == families_.cells ? kCellKeyPrefix : 1;
    return error("corrupt work record of " +
                 std::string(key.size() > at ? key.substr(at) : std::string_view("?")) +
                 (family == families_.cells ? " in the cells family" : " in the works family"));
  }
  if (find(e.work_ref) != kNone)
    return error("work " + e.work_ref + " is recorded twice in the detector's store");
  auto id = static_cast<std::uint32_t>(slots_.size());
  slots_.emplace_back();
  refs_.insert(e.work_ref, id);
  add_slot(e, store::get_u64_be(value), id);
  cell_key(slots_[id].element, e.start, e.work_ref, key_);
  if (family != families_.cells || key != key_) {
    dels.del(family, key);
    puts.put(families_.cells, key_, value);
  }
  return {};
}

Status Detector::open() {
  // A key no cell key can be: a cell key's first byte is its element's level times four.
  static const std::string kGridKey = "\xffgrid";
  static const std::string kCrsKey =
      "\xff"
      "crs";
  std::optional<std::string> held_crs;
  if (!options_.metric_crs.empty()) {
    auto held = store_.get(families_.cells, kCrsKey);
    if (!held) return held.error();
    held_crs = std::move(*held);
  }
  const std::string grid = grid_description();
  store::WriteBatch dels, puts;
  Status failed;
  std::optional<std::string> held_grid;
  auto status = store_.scan(families_.cells, "", [&](std::string_view k, std::string_view v) {
    if (!k.empty() && k.front() == '\xff') {
      // The store's own records: the grid, the CRS, and others' (geo/engine.h's layout).
      if (k == kGridKey) held_grid.emplace(v);
    } else if (v.empty()) {
      dels.del(families_.cells, k);  // an index key of the older layout: its work follows
    } else {
      failed = load_work(v, families_.cells, k, dels, puts);
    }
    return failed.ok();
  });
  DIGONCE_TRY(status);
  DIGONCE_TRY(failed);
  // The older layout's work records (see the top of detector.h).
  status = store_.scan(families_.works, "w", [&](std::string_view k, std::string_view v) {
    failed = load_work(v, families_.works, k, dels, puts);
    return failed.ok();
  });
  DIGONCE_TRY(status);
  DIGONCE_TRY(failed);
  // Works measured in another CRS cannot be compared with new ones; a store that holds none
  // (all cancelled, or a detector started once with the wrong setting) takes the new CRS.
  if (held_crs && *held_crs != options_.metric_crs && refs_.size() > 0) {
    Error e = error("the store holds works measured in " + *held_crs +
                    ", and this detector measures in " + options_.metric_crs +
                    ": works in two CRSs cannot be compared");
    e.permanent = true;  // no retry mends a setting
    return e;
  }
  if (!held_grid || *held_grid != grid) puts.put(families_.cells, kGridKey, grid);
  if (!options_.metric_crs.empty() && held_crs != options_.metric_crs) {
    crs_was_unrecorded_ = !held_crs && refs_.size() > 0;
    puts.put(families_.cells, kCrsKey, options_.metric_crs);
  }
  if (!dels.empty() || !puts.empty()) {
    // The deletes first: a key of the older layout that the new one keeps is put again.
    dels.append(puts);
    DIGONCE_TRY(store_.write(dels));
  }
  if (!options_.markers) return {};
  status = store_.scan(families_.alerts, "m", [&](std::string_view k, std::string_view) {
    auto zero = k.find('\0');
    if (zero == std::string_view::npos) return true;
    failed = restore_partner(k.substr(1, zero - 1), k.substr(zero + 1));
    return failed.ok();
  });
  DIGONCE_TRY(status);
  return failed;
}

Status Detector::restore_partner(std::string_view a, std::string_view b) {
  const std::uint32_t x = find(a), y = find(b);
  if (x == kNone || y == kNone)
    return error("a reported pair with a work that is not held: " + std::string(a) + " / " +
                 std::string(b));
  slots_[x].partners.push_back(y);
  slots_[y].partners.push_back(x);
  return {};
}

std::size_t Detector::memory_bytes() const {
  std::size_t total = index_.memory_bytes() + slots_.capacity() * sizeof(Slot) +
                      free_slots_.capacity() * sizeof(std::uint32_t);
  for (const auto& s : slots_) {
    total += s.shape.bytes() + s.partners.capacity() * sizeof(std::uint32_t);
    if (s.ref.capacity() > 15) total += s.ref.capacity() + 1;
  }
  return total + refs_.memory_bytes();
}

}  // namespace digonce::geo
