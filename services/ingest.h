// The ingest stage: works.submitted -> parse, validate, reproject, order, route -> works.tiled,
// works.current; bad input -> works.rejected.
//
// Ownership: a work's events are ordered in the ingest partition that owns its work_ref (the
// partition murmur2(work_ref) picks among works.submitted's, as any keyed producer would). A
// record that arrives elsewhere (no key, another key, or a FeatureCollection of several works) is
// forwarded, as contract JSON keyed by its work_ref, to the owning partition of works.submitted,
// and handled there; so each work's version, sequence number and tiles live in exactly one store.
#pragma once

#include <memory>

#include "services/settings.h"
#include "streams/stream_task.h"

namespace digonce::services {

struct IngestMetrics;

class IngestFactory final : public streams::ProcessorFactory {
 public:
  IngestFactory(const Settings& settings, int submitted_partitions, int tiled_partitions,
                prometheus::Registry& registry);
  ~IngestFactory() override;

  std::vector<std::string> families() const override { return {"registry"}; }
  Result<std::unique_ptr<streams::PartitionProcessor>> create(std::int32_t partition,
                                                              store::Store* store) override;

 private:
  struct Tools;
  const Settings& settings_;
  int submitted_partitions_;
  int tiled_partitions_;
  std::unique_ptr<IngestMetrics> metrics_;
  std::unique_ptr<Tools> tools_;  // GEOS and PROJ contexts, made on the task's thread
};

}  // namespace digonce::services
