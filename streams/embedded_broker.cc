#include "streams/embedded_broker.h"

// clang-format off
#include "streams/kafka.h"  // rdkafka.h must come before rdkafka_mock.h
#include <librdkafka/rdkafka_mock.h>
// clang-format on

namespace digonce::streams {

struct EmbeddedBroker::Impl {
  Handle owner;  // the mock cluster lives in this client's background threads
  rd_kafka_mock_cluster_t* cluster = nullptr;
  ~Impl() {
    if (cluster) rd_kafka_mock_cluster_destroy(cluster);
  }
};

Result<std::unique_ptr<EmbeddedBroker>> EmbeddedBroker::start(int brokers) {
  // The owner only hosts the mock cluster and never connects: its warning that it has no
  // bootstrap.servers (CONFWARN, level 4) would be noise at every start; errors still show.
  auto owner = make_client(RD_KAFKA_PRODUCER,
                           {{"client.id", "digonce-embedded-broker"}, {"log_level", "3"}});
  if (!owner) return owner.error();
  std::unique_ptr<EmbeddedBroker> b(new EmbeddedBroker());
  b->impl_ = std::make_unique<Impl>();
  b->impl_->owner = std::move(*owner);
  b->impl_->cluster = rd_kafka_mock_cluster_new(b->impl_->owner.get(), brokers);
  if (!b->impl_->cluster) return error("could not start the embedded broker");
  b->bootstraps_ = rd_kafka_mock_cluster_bootstraps(b->impl_->cluster);
  return b;
}

EmbeddedBroker::~EmbeddedBroker() = default;

Status EmbeddedBroker::create_topic(const std::string& name, int partitions) {
  auto err = rd_kafka_mock_topic_create(impl_->cluster, name.c_str(), partitions, 1);
  if (err) return kafka_error("embedded broker: create topic " + name, err);
  return {};
}

rd_kafka_mock_cluster_s* EmbeddedBroker::mock() const {
  return impl_->cluster;
}

}  // namespace digonce::streams
