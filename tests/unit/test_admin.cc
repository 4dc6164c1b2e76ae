// streams/admin.h on the embedded broker (librdkafka's mock cluster).

#include <doctest/doctest.h>

#include <chrono>

#include "streams/admin.h"
#include "streams/embedded_broker.h"
#include "streams/partition_state.h"

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

TEST_CASE("how old a local store may be, from how long its changelog keeps deletes") {
  constexpr std::int64_t h = 3'600'000, day = 24 * h;
  using streams::checkpoint_trusted_ms;
  CHECK(checkpoint_trusted_ms(std::nullopt) == 6 * day);  // unknown: digonce's own 7 days
  CHECK(checkpoint_trusted_ms(7 * day) == 6 * day);
  CHECK(checkpoint_trusted_ms(30 * day) == 6 * day);  // never more than digonce's own
  CHECK(checkpoint_trusted_ms(day) == 18 * h);        // Kafka's default: less a quarter
  CHECK(checkpoint_trusted_ms(2 * day) == 36 * h);
  CHECK(checkpoint_trusted_ms(5 * day) == 4 * day);  // less a day from 4 days up
  CHECK(checkpoint_trusted_ms(4 * h) == 3 * h);      // never less than an hour's margin:
  CHECK(checkpoint_trusted_ms(2 * h) == 1 * h);      // the clocks of this machine and the
  CHECK(checkpoint_trusted_ms(h) == 0);              // broker's may differ that much
  CHECK(checkpoint_trusted_ms(0) == 0);
  CHECK(checkpoint_trusted_ms(-1) == 0);
}
