#include "services/detector_stage.h"

#include <prometheus/counter.h>
#include <prometheus/gauge.h>
#include <spdlog/spdlog.h>

#include <algorithm>

#include "geo/alert_ledger.h"
#include "geo/engine.h"
#include "geo/place_locator.h"
#include "geo/tiles.h"
#include "services/tiled_record.h"

namespace digonce::services {

Result<std::unique_ptr<PlaceTools>> make_place_tools(const Settings& settings) {
  auto tools = std::make_unique<PlaceTools>();
  geo::CrsOptions options;
  options.metric_crs = settings.metric_crs;
  options.search_paths = settings.proj_search_paths;
  auto crs = geo::CrsContext::create(options);
  if (!crs) return crs.error();
  tools->crs = std::move(*crs);
  if (!settings.boundaries.empty()) {
    auto opts = geo::load_authority_options(settings.boundaries, settings.shared_data);
    if (!opts) {
      spdlog::warn("highway authority boundaries not loaded: {}", opts.error().what());
    } else {
      auto map = geo::AuthorityMap::load(*opts, *tools->crs, tools->geos);
      if (!map) {
        spdlog::warn("highway authority boundaries not loaded: {}", map.error().what());
      } else {
        tools->authorities.emplace(std::move(*map));
      }
    }
  }
  tools->locator = std::make_unique<geo::PlaceLocator>(
      *tools->crs, tools->authorities ? &*tools->authorities : nullptr);
  return tools;
}

namespace {

geo::DetectorOptions detector_options(const Settings& settings, const PlaceTools& tools) {
  geo::DetectorOptions o{settings.rules, settings.finest_cell_m};
  o.metric_crs = tools.crs->metric_crs();
  return o;
}

}  // namespace

struct DetectorMetrics {
  explicit DetectorMetrics(prometheus::Registry& r)
      : other_crs(prometheus::BuildCounter()
                      .Name("digonce_records_other_crs_total")
                      .Help("Tiled records of works an ingest measured in another metric CRS "
                            "than the detector's, set aside on the dead-letter topic")
                      .Register(r)
                      .Add({})) {}
  prometheus::Counter& other_crs;
};

namespace {

class DetectorProcessor final : public streams::PartitionProcessor {
 public:
  DetectorProcessor(std::int32_t partition, int tiled_partitions, int pairs_partitions,
                    store::Store& store, const Settings& settings, PlaceTools& tools,
                    DetectorMetrics& metrics)
      : partition_(partition),
        tiled_partitions_(tiled_partitions),
        pairs_partitions_(pairs_partitions),
        scheme_(settings.tile_size_m, settings.rules.distance_m),
        ownership_(scheme_, partition, tiled_partitions),
        detector_(store, {0, 1, 2}, detector_options(settings, tools), tools.geos, *tools.locator,
                  &ownership_),
        pairs_(settings.topic("pairs")),
        metric_crs_(tools.crs->metric_crs()),
        dead_letter_(settings.topic("dead-letter")),
        metrics_(metrics) {}

  Status open() { return detector_.open(); }
  std::size_t live() const { return detector_.live_works(); }
  bool crs_was_unrecorded() const { return detector_.crs_was_unrecorded(); }

  Status process(const streams::InputRecord& in, streams::Output& out) override {
    TiledRecord r;
    if (!in.value || !decode_tiled(*in.value, r))
      return error("malformed record on the tiled topic at offset " + std::to_string(in.offset));
    // Ingest sends this partition one copy, keyed by the lowest of its tiles the work is in or
    // left; it sent one per tile until 2026-12-05: of those, the copy of the lowest tile is
    // applied, the others ignored.
    std::uint64_t lowest = UINT64_MAX;
    bool present = false;
    for (auto t : r.tiles)
      if (geo::TileScheme::partition(t, tiled_partitions_) == partition_) {
        lowest = std::min(lowest, t);
        present = true;
      }
    for (auto t : r.old)
      if (geo::TileScheme::partition(t, tiled_partitions_) == partition_)
        lowest = std::min(lowest, t);
    if (in.key != geo::TileScheme::key(lowest)) return {};
    // A work ingest measured in another CRS (its settings differ from this detector's) would be
    // compared with these as if alike: it is set aside at once, naming both. A cancel or
    // completion has no geometry, and applies in any CRS.
    if (r.work.active() && r.work.crs != metric_crs_) return set_aside(in, r.work.crs, out);
    facts_.clear();
    DIGONCE_TRY(detector_.apply(r.work, r.seq, present, facts_));
    std::string value;
    for (const auto& f : facts_) {
      value.clear();
      geo::encode_fact(f, value);
      auto key = geo::pair_key(f.a.ref, f.b.ref);
      auto p = (geo::kafka_murmur2(key) & 0x7fffffff) % pairs_partitions_;
      DIGONCE_TRY(out.send(pairs_, p, key, &value));
    }
    return {};
  }

 private:
  Status set_aside(const streams::InputRecord& in, const std::string& crs, streams::Output& out) {
    const std::string why = "ingest measured this work in " + crs +
                            ", and this detector measures in " + metric_crs_ +
                            ": give every stage the same detection.metric_crs";
    // The first of a run and then every tenfold: a whole ingest set otherwise would flood the log.
    if (++other_crs_ == next_log_) {
      next_log_ *= 10;
      spdlog::error("detector: {}[{}]@{} set aside on {} ({} so far in this partition): {}",
                    in.topic, in.partition, in.offset, dead_letter_, other_crs_, why);
    }
    metrics_.other_crs.Increment();
    const std::string value(*in.value);
    return out.send(dead_letter_, RD_KAFKA_PARTITION_UA, in.key, &value,
                    streams::copied_headers(
                        in.message, {{"digonce.reason", why},
                                     {"digonce.source.topic", std::string(in.topic)},
                                     {"digonce.source.partition", std::to_string(in.partition)},
                                     {"digonce.source.offset", std::to_string(in.offset)}}));
  }

  std::int32_t partition_;
  int tiled_partitions_;
  int pairs_partitions_;
  geo::TileScheme scheme_;
  geo::TileOwnership ownership_;
  geo::Detector detector_;
  std::string pairs_;
  std::string metric_crs_;  // what the tiled records' works must be measured in
  std::string dead_letter_;
  DetectorMetrics& metrics_;
  std::uint64_t other_crs_ = 0, next_log_ = 1;
  std::vector<geo::PairFact> facts_;
};

}  // namespace

DetectorFactory::DetectorFactory(const Settings& settings, int tiled_partitions,
                                 int pairs_partitions, prometheus::Registry& registry)
    : settings_(settings),
      tiled_partitions_(tiled_partitions),
      pairs_partitions_(pairs_partitions),
      registry_(registry),
      metrics_(std::make_unique<DetectorMetrics>(registry)) {}

DetectorFactory::~DetectorFactory() = default;

std::vector<std::string> DetectorFactory::families() const {
  return {geo::kEngineFamilies[0], geo::kEngineFamilies[1], geo::kEngineFamilies[2]};
}

std::vector<store::Family> DetectorFactory::vector_memtable_families() const {
  return geo::kEngineLogFamilies;  // the families above are the engine's first three, in order
}

Result<std::unique_ptr<streams::PartitionProcessor>> DetectorFactory::create(std::int32_t partition,
                                                                             store::Store* store) {
  if (!tools_) {
    auto tools = make_place_tools(settings_);
    if (!tools) return tools.error();
    tools_ = std::move(*tools);
  }
  auto p = std::make_unique<DetectorProcessor>(partition, tiled_partitions_, pairs_partitions_,
                                               *store, settings_, *tools_, *metrics_);
  if (auto opened = p->open(); !opened.ok()) {
    Error e = opened.error();
    e.message = "partition " + std::to_string(partition) + " of " + settings_.topic("works.tiled") +
                ": " + e.what();
    e.field.clear();
    // Another metric CRS than the partition's works (OPERATIONS.md).
    if (e.permanent)
      e.message +=
          ": set detection.metric_crs back, or change it as a new deployment (a new "
          "--topic-prefix: docs/OPERATIONS.md)";
    return e;
  }
  if (p->crs_was_unrecorded())
    spdlog::info(
        "detector: partition {}'s works, from before their metric CRS was recorded, are "
        "taken as measured in {}",
        partition, tools_->crs->metric_crs());
  spdlog::info("detector: partition {} holds {} works", partition, p->live());
  return std::unique_ptr<streams::PartitionProcessor>(std::move(p));
}

struct LedgerFactory::Metrics {
  explicit Metrics(prometheus::Registry& r)
      : family(prometheus::BuildCounter()
                   .Name("digonce_alerts_total")
                   .Help("Alert events emitted, by kind and state")
                   .Register(r)) {}
  prometheus::Counter& of(const geo::Alert& a) {
    return family.Add(
        {{"kind", geo::alert_kind_name(a.kind)}, {"state", geo::alert_state_name(a.state)}});
  }
  prometheus::Family<prometheus::Counter>& family;
};

namespace {

class LedgerProcessor final : public streams::PartitionProcessor {
 public:
  LedgerProcessor(store::Store& store, const Settings& settings,
                  std::function<void(const geo::Alert&)> count)
      : ledger_(store, 0), alerts_(settings.topic("alerts")), count_(std::move(count)) {}

  Status process(const streams::InputRecord& in, streams::Output& out) override {
    geo::PairFact fact;
    if (!in.value || !geo::decode_fact(*in.value, fact))
      return error("malformed pair fact at offset " + std::to_string(in.offset));
    alerts_out_.clear();
    DIGONCE_TRY(ledger_.apply(std::move(fact), alerts_out_));
    for (const auto& a : alerts_out_) {
      std::string json = geo::alert_to_json(a);
      DIGONCE_TRY(out.send(alerts_, RD_KAFKA_PARTITION_UA, a.alert_id, &json));
      count_(a);
    }
    return {};
  }

 private:
  geo::AlertLedger ledger_;
  std::string alerts_;
  std::function<void(const geo::Alert&)> count_;
  std::vector<geo::Alert> alerts_out_;
};

}  // namespace

LedgerFactory::LedgerFactory(const Settings& settings, prometheus::Registry& registry)
    : settings_(settings), metrics_(std::make_unique<Metrics>(registry)) {}

LedgerFactory::~LedgerFactory() = default;

Result<std::unique_ptr<streams::PartitionProcessor>> LedgerFactory::create(std::int32_t,
                                                                           store::Store* store) {
  return std::unique_ptr<streams::PartitionProcessor>(std::make_unique<LedgerProcessor>(
      *store, settings_, [m = metrics_.get()](const geo::Alert& a) { m->of(a).Increment(); }));
}

}  // namespace digonce::services
