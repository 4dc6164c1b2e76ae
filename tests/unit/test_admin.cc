// streams/admin.h on the embedded broker (librdkafka's mock cluster).

#include <doctest/doctest.h>

#include <chrono>

#include "streams/admin.h"
#include "streams/embedded_broker.h"

using namespace digonce;

TEST_CASE("topic settings on the embedded broker: nothing to compare, answered at once") {
  auto broker = streams::EmbeddedBroker::start();
  REQUIRE(broker.ok());
  const std::string& brokers = (*broker)->bootstraps();
  REQUIRE((*broker)->create_topic("admin.test", 1).ok());
  const streams::TopicSpec spec{"admin.test", 1, 1, {{"cleanup.policy", "compact"}}};

  // The mock cluster never answers DescribeConfigs: asking would wait out the timeout, and every
  // `digonce import` against `digonce serve` with it (it did, 30 s each, before the guard).
  const auto start = std::chrono::steady_clock::now();
  auto gaps = streams::weaker_topic_configs(brokers, {spec}, 20000);
  const auto took = std::chrono::steady_clock::now() - start;
  REQUIRE(gaps.ok());
  CHECK(gaps->empty());
  CHECK(took < std::chrono::seconds(5));

  // ensure_topics on existing topics asks the same, and is as quick.
  const auto again = std::chrono::steady_clock::now();
  CHECK(streams::ensure_topics(brokers, {spec}, 20000).ok());
  CHECK(std::chrono::steady_clock::now() - again < std::chrono::seconds(5));
}
