// Prometheus metrics of one stream task (one consume-process-produce loop), labelled by task.
#pragma once

#include <prometheus/counter.h>
#include <prometheus/gauge.h>
#include <prometheus/histogram.h>
#include <prometheus/registry.h>

#include <map>
#include <string>

namespace digonce::streams {

class TaskMetrics {
 public:
  TaskMetrics(prometheus::Registry& registry, const std::string& task);

  prometheus::Counter& consumed;
  prometheus::Counter& produced;
  prometheus::Counter& committed;
  prometheus::Counter& aborted;
  prometheus::Counter& dead_lettered;
  prometheus::Counter& restarts;  // Kafka clients rebuilt after a fatal error (see StreamTask::run)
  prometheus::Histogram& latency;  // seconds from a record's timestamp to its transaction's commit
  prometheus::Gauge& assigned;
  prometheus::Histogram& commit_time;  // seconds spent committing a transaction (offsets + EndTxn)

  /// Per-partition gauges, created on assignment and removed on revocation.
  prometheus::Gauge& lag(int partition);
  prometheus::Gauge& store_bytes(int partition);
  prometheus::Gauge& restored(int partition);
  prometheus::Gauge& restoring(int partition);
  void forget(int partition);

 private:
  prometheus::Gauge& per_partition(prometheus::Family<prometheus::Gauge>& f,
                                   std::map<int, prometheus::Gauge*>& m, int partition);
  std::string task_;
  prometheus::Family<prometheus::Gauge>& lag_family_;
  prometheus::Family<prometheus::Gauge>& store_family_;
  prometheus::Family<prometheus::Gauge>& restored_family_;
  prometheus::Family<prometheus::Gauge>& restoring_family_;
  std::map<int, prometheus::Gauge*> lag_, store_, restored_, restoring_;
};

}  // namespace digonce::streams
