// The embedded Kafka-protocol broker of `digonce serve`: librdkafka's mock cluster.
//
// It speaks the Kafka protocol over TCP on 127.0.0.1, so kcat and any client can use it, but it
// does not implement transactions, keeps only ~5 MiB per partition, and forgets everything when
// the process exits. Stages on it run at-least-once; exactly-once needs a real broker.
#pragma once

#include <memory>
#include <string>

#include "base/result.h"

struct rd_kafka_mock_cluster_s;

namespace digonce::streams {

class EmbeddedBroker {
 public:
  static Result<std::unique_ptr<EmbeddedBroker>> start(int brokers = 1);
  ~EmbeddedBroker();
  EmbeddedBroker(const EmbeddedBroker&) = delete;
  EmbeddedBroker& operator=(const EmbeddedBroker&) = delete;

  /// host:port list for bootstrap.servers.
  const std::string& bootstraps() const { return bootstraps_; }
  /// Creates a topic (the mock cluster ignores topic configs such as compaction).
  Status create_topic(const std::string& name, int partitions);
  /// The mock cluster itself, for tests that inject errors (rdkafka_mock.h).
  rd_kafka_mock_cluster_s* mock() const;

 private:
  EmbeddedBroker() = default;
  struct Impl;
  std::unique_ptr<Impl> impl_;
  std::string bootstraps_;
};

}  // namespace digonce::streams
