#include "services/ingest.h"

#include <prometheus/counter.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <cmath>
#include <optional>

#include "base/json_writer.h"
#include "geo/normalize.h"
#include "geo/parse.h"
#include "geo/tiles.h"
#include "geo/work_registry.h"
#include "services/detector_stage.h"
#include "services/tiled_record.h"
#include "streams/kafka.h"

namespace digonce::services {

struct IngestMetrics {
  explicit IngestMetrics(prometheus::Registry& r)
      : family(prometheus::BuildCounter()
                   .Name("digonce_works_total")
                   .Help("Work events seen by ingest, by outcome")
                   .Register(r)),
        accepted(family.Add({{"outcome", "accepted"}})),
        rejected(family.Add({{"outcome", "rejected"}})),
        stale(family.Add({{"outcome", "stale"}})),
        forwarded(family.Add({{"outcome", "forwarded"}})),
        repaired(family.Add({{"outcome", "geometry_repaired"}})) {}
  prometheus::Family<prometheus::Counter>& family;
  prometheus::Counter& accepted;
  prometheus::Counter& rejected;
  prometheus::Counter& stale;
  prometheus::Counter& forwarded;
  prometheus::Counter& repaired;
};

struct IngestFactory::Tools {
  std::unique_ptr<PlaceTools> place;  // PROJ, GEOS, the authority areas
  std::unique_ptr<geo::Normalizer> normalizer;
};

namespace {

std::string errors_json(const std::vector<Error>& errors) {
  std::string out = "[";
  for (std::size_t i = 0; i < errors.size(); ++i) {
    if (i) out += ',';
    JsonObject o(out);
    o.str("field", errors[i].field);
    o.str("message", errors[i].message);
  }
  out += ']';
  return out;
}

std::string reasons(const std::vector<Error>& errors) {
  std::string out;
  for (const auto& e : errors) {
    if (!out.empty()) out += "; ";
    out += e.what();
    if (out.size() > 2000) {
      out += "; ...";
      break;
    }
  }
  return out;
}

class IngestProcessor final : public streams::PartitionProcessor {
 public:
  IngestProcessor(std::int32_t partition, store::Store& store, const Settings& settings,
                  int submitted_partitions, int tiled_partitions, IngestMetrics& metrics,
                  geo::CrsContext& crs, geo::Normalizer& normalizer,
                  const geo::AuthorityMap* authorities)
      : partition_(partition),
        registry_(store, 0),
        settings_(settings),
        submitted_partitions_(submitted_partitions),
        tiled_partitions_(tiled_partitions),
        metrics_(metrics),
        crs_(crs),
        normalizer_(normalizer),
        authorities_(authorities),
        scheme_(settings.tile_size_m, settings.rules.distance_m),
        submitted_(settings.topic("works.submitted")),
        tiled_(settings.topic("works.tiled")),
        current_(settings.topic("works.current")),
        rejected_(settings.topic("works.rejected")) {
    limits_.max_vertices = settings.max_vertices;
  }

  Status process(const streams::InputRecord& in, streams::Output& out) override {
    if (!in.value) return reject(in, out, {error("empty message (no value)")});
    geo::Parsed parsed = geo::parse_submission(*in.value, limits_);
    if (!parsed.errors.empty()) DIGONCE_TRY(reject(in, out, parsed.errors));
    // A record of one work goes on as it came, so that what the owner rejects keeps its bytes.
    const bool whole = parsed.works.size() == 1 && parsed.errors.empty();
    for (auto& w : parsed.works) DIGONCE_TRY(route(in, out, w, whole));
    return {};
  }

 private:
  static constexpr const char* kForwardedFrom = "digonce.forwarded.from";

  Status route(const streams::InputRecord& in, streams::Output& out, geo::WorkEvent& w,
               bool whole_record) {
    auto owner = (geo::kafka_murmur2(w.work_ref) & 0x7fffffff) % submitted_partitions_;
    if (owner != partition_) {
      // Forwarded once already: the instance that forwarded it counts works.submitted's
      // partitions otherwise than this one (a partition count raised while they ran). Passing it
      // on again could go round for ever.
      if (in.message && streams::header(in.message, kForwardedFrom))
        return reject(
            in, out,
            {error("work " + w.work_ref + " was forwarded here, but this instance counts " +
                   std::to_string(submitted_partitions_) +
                   " partitions of works.submitted and routes it to partition " +
                   std::to_string(owner) + ": the ingest instances disagree; restart them")});
      // To the partition that owns the work: the record's own bytes when it holds this work
      // only, else the work as contract JSON (one of a FeatureCollection's).
      std::string value = whole_record ? std::string(*in.value) : geo::work_to_json(w);
      metrics_.forwarded.Increment();
      return out.send(submitted_, owner, w.work_ref, &value,
                      streams::copied_headers(in.message, {{kForwardedFrom, origin(in)}}));
    }
    // The view of live works is in EPSG:4326: a geometry sent in it is shown as sent, not as
    // the round trip through the metric CRS leaves it (-0.1273 would come back
    // -0.12730000000000166).
    std::optional<geo::Shape> as_sent;
    if (w.active() && w.crs == "EPSG:4326") as_sent = w.geometry;
    auto repaired_before = normalizer_.repaired();
    if (auto s = normalizer_.normalize(w); !s.ok()) return reject(in, out, {s.error()});
    if (normalizer_.repaired() != repaired_before) {
      metrics_.repaired.Increment();
      as_sent.reset();  // the view shows the repaired geometry
    }

    std::vector<std::uint64_t> tiles;
    if (w.active()) tiles = scheme_.tiles_for(w.geometry.envelope());
    auto admission = registry_.admit(w, tiles);
    if (!admission) return admission.error();
    if (admission->stale) {
      metrics_.stale.Increment();
      return {};
    }
    metrics_.accepted.Increment();

    TiledRecord r{admission->seq, tiles, admission->old_tiles, w};
    std::string value;
    encode_tiled(r, value);
    // The work reaches every tile it is in or leaves, each through the detector of the
    // partition that owns the tile, which holds one copy of the work for all its tiles: so one
    // copy per partition, keyed by the partition's lowest such tile (the copy that detector
    // applies; it ignores any other). A copy per tile would cost the square of the tile count
    // (each copy names them all): 15,000 copies of 75 KB for a work whose envelope spans
    // Britain, more than the embedded broker keeps.
    all_tiles_ = tiles;
    all_tiles_.insert(all_tiles_.end(), r.old.begin(), r.old.end());
    std::sort(all_tiles_.begin(), all_tiles_.end());
    sent_to_.assign(static_cast<std::size_t>(tiled_partitions_), false);
    for (auto t : all_tiles_) {
      const auto p = geo::TileScheme::partition(t, tiled_partitions_);
      if (sent_to_[static_cast<std::size_t>(p)]) continue;
      sent_to_[static_cast<std::size_t>(p)] = true;
      DIGONCE_TRY(out.send(tiled_, p, geo::TileScheme::key(t), &value));
    }

    // The compacted view of live works, in EPSG:4326 for the API and dashboards.
    if (!w.active()) return out.send(current_, RD_KAFKA_PARTITION_UA, w.work_ref, nullptr);
    geo::WorkEvent view = w;
    // An update without a version keeps the one held: the view shows it, so that a client
    // reading the work sends the next one (not one the registry will take as stale).
    if (!view.version) view.version = admission->version;
    // Contract section 1: a highway_authority not given is derived from the location. Marked
    // as derived, so that readers can tell it from one the promoter gave.
    bool derived = false;
    if (view.highway_authority.empty() && authorities_) {
      if (const auto* a = authorities_->of_shape(w.geometry)) {
        view.highway_authority = a->code;
        derived = true;
      }
    }
    // Whose area the work meets: those authorities read it (the contract's "works in its
    // area"), whatever authority its promoter names.
    std::string areas;
    if (authorities_) {
      areas = ",\"highway_authority_areas\":[";
      bool first = true;
      for (const auto* a : authorities_->meeting(w.geometry)) {
        if (!first) areas += ',';
        first = false;
        append_json_string(areas, a->code);
      }
      areas += ']';
    }
    if (as_sent) {
      view.geometry = std::move(*as_sent);
    } else {
      DIGONCE_TRY(crs_.metric_to_wgs84().apply(view.geometry));
      // To 1e-9 degrees (0.1 mm): what the round trip adds beyond that is noise
      // (-0.0999999999999992 for a -0.1 sent and repaired), which a reader would show as is.
      for (double& v : view.geometry.xy) v = std::round(v * 1e9) / 1e9;
    }
    view.crs = "EPSG:4326";
    std::string json = geo::work_to_json(view);
    json.insert(json.size() - 1, ",\"seq\":" + std::to_string(admission->seq));
    if (derived) json.insert(json.size() - 1, ",\"highway_authority_derived\":true");
    json.insert(json.size() - 1, areas);
    return out.send(current_, RD_KAFKA_PARTITION_UA, w.work_ref, &json);
  }

  std::string source(const streams::InputRecord& in) const {
    return std::string(in.topic) + "/" + std::to_string(in.partition) + "/" +
           std::to_string(in.offset);
  }

  // "topic/partition/offset" split, or nullopt when the text is not one.
  struct Place {
    std::string topic, partition, offset;
    std::string text() const { return topic + "/" + partition + "/" + offset; }
  };

  // Where a record another partition forwarded first came in (its forwarded-from header, when
  // that reads as a place), or nullopt.
  static std::optional<Place> forwarded_from(const streams::InputRecord& in) {
    if (!in.message) return std::nullopt;
    auto from = streams::header(in.message, kForwardedFrom);
    return from ? place(*from) : std::nullopt;
  }

  // Where the record first came in, "topic/partition/offset": for a forwarded record, where it
  // was forwarded from; else the record's own place.
  std::string origin(const streams::InputRecord& in) const {
    auto from = forwarded_from(in);
    return from ? from->text() : source(in);
  }
  static std::optional<Place> place(std::string_view text) {
    const auto last = text.rfind('/');
    if (last == std::string_view::npos || last == 0) return std::nullopt;
    const auto middle = text.rfind('/', last - 1);
    if (middle == std::string_view::npos || middle == 0) return std::nullopt;
    auto digits = [](std::string_view d) {
      return !d.empty() && d.size() < 20 &&
             std::all_of(d.begin(), d.end(), [](char c) { return c >= '0' && c <= '9'; });
    };
    Place p{std::string(text.substr(0, middle)),
            std::string(text.substr(middle + 1, last - middle - 1)),
            std::string(text.substr(last + 1))};
    if (!digits(p.partition) || !digits(p.offset)) return std::nullopt;
    return p;
  }

  Status reject(const streams::InputRecord& in, streams::Output& out,
                const std::vector<Error>& errors) {
    metrics_.rejected.Increment(static_cast<double>(std::max<std::size_t>(1, errors.size())));
    std::string value = in.value ? std::string(*in.value) : std::string();
    spdlog::debug("rejected {}: {}", source(in), reasons(errors));
    // The source headers name where the record first came in (for a forwarded one, the
    // original's place; digonce.forwarded.via names the copy).
    Place at{std::string(in.topic), std::to_string(in.partition), std::to_string(in.offset)};
    std::vector<streams::Header> headers = {{"digonce.reason", reasons(errors)},
                                            {"digonce.errors", errors_json(errors)}};
    if (auto from = forwarded_from(in)) {
      at = std::move(*from);
      headers.push_back({"digonce.forwarded.via", source(in)});
    }
    headers.push_back({"digonce.source.topic", at.topic});
    headers.push_back({"digonce.source.partition", at.partition});
    headers.push_back({"digonce.source.offset", at.offset});
    return out.send(rejected_, RD_KAFKA_PARTITION_UA, in.key, in.value ? &value : nullptr,
                    streams::copied_headers(in.message, std::move(headers)));
  }

  std::int32_t partition_;
  geo::WorkRegistry registry_;
  const Settings& settings_;
  int submitted_partitions_;
  int tiled_partitions_;
  IngestMetrics& metrics_;
  geo::CrsContext& crs_;
  geo::Normalizer& normalizer_;
  const geo::AuthorityMap* authorities_;  // null when no boundaries are loaded
  geo::TileScheme scheme_;
  geo::ParseLimits limits_;
  std::string submitted_, tiled_, current_, rejected_;
  std::vector<std::uint64_t> all_tiles_;  // reused: the tiles of one event, old and new
  std::vector<bool> sent_to_;             // reused: the partitions of works.tiled sent to
};

}  // namespace

IngestFactory::IngestFactory(const Settings& settings, int submitted_partitions,
                             int tiled_partitions, prometheus::Registry& registry)
    : settings_(settings),
      submitted_partitions_(submitted_partitions),
      tiled_partitions_(tiled_partitions),
      metrics_(std::make_unique<IngestMetrics>(registry)) {}

IngestFactory::~IngestFactory() = default;

Result<std::unique_ptr<streams::PartitionProcessor>> IngestFactory::create(std::int32_t partition,
                                                                           store::Store* store) {
  if (!tools_) {
    auto tools = std::make_unique<Tools>();
    auto place = make_place_tools(settings_);
    if (!place) return place.error();
    tools->place = std::move(*place);
    tools->normalizer = std::make_unique<geo::Normalizer>(*tools->place->crs, tools->place->geos);
    tools_ = std::move(tools);
  }
  const auto& place = *tools_->place;
  return std::unique_ptr<streams::PartitionProcessor>(std::make_unique<IngestProcessor>(
      partition, *store, settings_, submitted_partitions_, tiled_partitions_, *metrics_, *place.crs,
      *tools_->normalizer, place.authorities ? &*place.authorities : nullptr));
}

}  // namespace digonce::services
