// The detector and ledger stages.
//
//  detector: works.tiled -> one geo::Detector per partition (the works of the partition's tiles)
//            -> pair facts on `pairs`, keyed by the pair. Of the copies of one event that reach a
//            partition (one per tile of the partition the work is in or left), only the copy of
//            the lowest such tile is applied; the others are the same event.
//  ledger:   pairs -> one geo::AlertLedger per partition -> alerts, keyed by alert_id.
// Both keep their state in changelogged stores (streams/partition_state.h).
#pragma once

#include <memory>
#include <optional>

#include "geo/authorities.h"
#include "geo/crs.h"
#include "geo/geos.h"
#include "geo/place_locator.h"

#include "services/settings.h"
#include "streams/stream_task.h"

namespace digonce::services {

/// Per-thread PROJ, GEOS and authority index for the stages that locate alerts. PROJ and GEOS
/// contexts are not thread-safe: one PlaceTools per thread.
struct PlaceTools {
  geo::Geos geos;
  std::unique_ptr<geo::CrsContext> crs;
  std::optional<geo::AuthorityMap> authorities;  // none if the boundaries could not be loaded
  std::unique_ptr<geo::PlaceLocator> locator;
};
Result<std::unique_ptr<PlaceTools>> make_place_tools(const Settings& settings);

struct DetectorMetrics;

class DetectorFactory final : public streams::ProcessorFactory {
 public:
  DetectorFactory(const Settings& settings, int tiled_partitions, int pairs_partitions,
                  prometheus::Registry& registry);
  ~DetectorFactory() override;
  std::vector<std::string> families() const override;
  std::vector<store::Family> vector_memtable_families() const override;
  Result<std::unique_ptr<streams::PartitionProcessor>> create(std::int32_t partition,
                                                              store::Store* store) override;

 private:
  const Settings& settings_;
  int tiled_partitions_;
  int pairs_partitions_;
  prometheus::Registry& registry_;
  std::unique_ptr<DetectorMetrics> metrics_;
  std::unique_ptr<PlaceTools> tools_;
};

class LedgerFactory final : public streams::ProcessorFactory {
 public:
  LedgerFactory(const Settings& settings, prometheus::Registry& registry);
  ~LedgerFactory() override;
  std::vector<std::string> families() const override { return {"alerts"}; }
  Result<std::unique_ptr<streams::PartitionProcessor>> create(std::int32_t partition,
                                                              store::Store* store) override;

 private:
  struct Metrics;
  const Settings& settings_;
  std::unique_ptr<Metrics> metrics_;
};

}  // namespace digonce::services
