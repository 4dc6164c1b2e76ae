#include "streams/task_metrics.h"

namespace digonce::streams {
namespace {

using prometheus::BuildCounter;
using prometheus::BuildGauge;
using prometheus::BuildHistogram;

prometheus::Histogram::BucketBoundaries latency_buckets() {
  return {0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 1, 2.5, 5, 10};
}

}  // namespace

TaskMetrics::TaskMetrics(prometheus::Registry& r, const std::string& task)
    : consumed(BuildCounter()
                   .Name("digonce_records_consumed_total")
                   .Help("Input records processed")
                   .Register(r)
                   .Add({{"task", task}})),
      produced(BuildCounter()
                   .Name("digonce_records_produced_total")
                   .Help("Output records produced (changelog records not included)")
                   .Register(r)
                   .Add({{"task", task}})),
      committed(BuildCounter()
                    .Name("digonce_transactions_total")
                    .Help("Transactions (or, on the embedded broker, offset commits) by outcome")
                    .Register(r)
                    .Add({{"task", task}, {"outcome", "committed"}})),
      aborted(BuildCounter()
                  .Name("digonce_transactions_total")
                  .Help("Transactions (or, on the embedded broker, offset commits) by outcome")
                  .Register(r)
                  .Add({{"task", task}, {"outcome", "aborted"}})),
      dead_lettered(BuildCounter()
                        .Name("digonce_records_dead_lettered_total")
                        .Help("Input records that failed processing repeatedly and were set aside")
                        .Register(r)
                        .Add({{"task", task}})),
      restarts(BuildCounter()
                   .Name("digonce_task_restarts_total")
                   .Help("Times the task rebuilt its Kafka clients after a fatal error (e.g. its "
                         "transaction was lost while the broker restarted)")
                   .Register(r)
                   .Add({{"task", task}})),
      latency(BuildHistogram()
                  .Name("digonce_processing_latency_seconds")
                  .Help("From an input record's timestamp to the commit of its outputs")
                  .Register(r)
                  .Add({{"task", task}}, latency_buckets())),
      assigned(BuildGauge()
                   .Name("digonce_assigned_partitions")
                   .Help("Input partitions this task owns")
                   .Register(r)
                   .Add({{"task", task}})),
      commit_time(BuildHistogram()
                      .Name("digonce_transaction_commit_seconds")
                      .Help("Time to commit one transaction: input offsets, then EndTxn")
                      .Register(r)
                      .Add({{"task", task}}, latency_buckets())),
      task_(task),
      lag_family_(BuildGauge()
                      .Name("digonce_consumer_lag")
                      .Help("Records behind the end of the input partition")
                      .Register(r)),
      store_family_(BuildGauge()
                        .Name("digonce_state_store_bytes")
                        .Help("Approximate size of the partition's state store")
                        .Register(r)),
      restored_family_(BuildGauge()
                           .Name("digonce_restore_records")
                           .Help("Changelog records applied by the current or last restore")
                           .Register(r)),
      restoring_family_(BuildGauge()
                            .Name("digonce_restoring")
                            .Help("1 while the partition's state is being restored")
                            .Register(r)) {}

prometheus::Gauge& TaskMetrics::per_partition(prometheus::Family<prometheus::Gauge>& f,
                                              std::map<int, prometheus::Gauge*>& m, int partition) {
  auto it = m.find(partition);
  if (it != m.end()) return *it->second;
  auto& g = f.Add({{"task", task_}, {"partition", std::to_string(partition)}});
  m[partition] = &g;
  return g;
}

prometheus::Gauge& TaskMetrics::lag(int p) {
  return per_partition(lag_family_, lag_, p);
}
prometheus::Gauge& TaskMetrics::store_bytes(int p) {
  return per_partition(store_family_, store_, p);
}
prometheus::Gauge& TaskMetrics::restored(int p) {
  return per_partition(restored_family_, restored_, p);
}
prometheus::Gauge& TaskMetrics::restoring(int p) {
  return per_partition(restoring_family_, restoring_, p);
}

void TaskMetrics::forget(int p) {
  auto drop = [&](prometheus::Family<prometheus::Gauge>& f, std::map<int, prometheus::Gauge*>& m) {
    auto it = m.find(p);
    if (it == m.end()) return;
    f.Remove(it->second);
    m.erase(it);
  };
  drop(lag_family_, lag_);
  drop(store_family_, store_);
  drop(restored_family_, restored_);
  drop(restoring_family_, restoring_);
}

}  // namespace digonce::streams
