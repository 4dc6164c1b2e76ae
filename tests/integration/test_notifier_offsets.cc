// The notifier's consumer group on a real broker: its input, the alerts topic, is transactional,
// so the topic's partitions end with commit markers (and aborted records, when a stage died
// mid-transaction) that no consumer is given. An idle notifier must still commit to the end, or
// Kafka's lag tools show its group behind for ever.
//
// Needs DIGONCE_KAFKA_BOOTSTRAP, e.g.
//   DIGONCE_KAFKA_BOOTSTRAP=$(tools/kafka start) ctest --test-dir build -L kafka
#define DOCTEST_CONFIG_IMPLEMENT
#include <doctest/doctest.h>
#include <librdkafka/rdkafka.h>
#include <prometheus/registry.h>

#include <cstdio>
#include <string>
#include <thread>
#include <vector>

#include "kafka_fixtures.h"
#include "services/notifier.h"
#include "services/settings.h"

using namespace digonce::test;

namespace {

// `n` alert events, numbered from `from`.
std::vector<std::string> alert_events(int from, int n) {
  std::vector<std::string> values;
  for (int i = from; i < from + n; ++i)
    values.push_back(R"({"alert_id":"clash-)" + std::to_string(i) +
                     R"(","kind":"clash","state":"open","revision":1,"works":[],)"
                     R"("highway_authorities":["5990"],"reason":"test"})");
  return values;
}

}  // namespace

TEST_CASE("an idle notifier commits past the alerts topic's markers and aborted records") {
  digonce::services::Settings settings;
  settings.topic_prefix = unique_name("notifier") + ".";
  settings.brokers = bootstrap();
  const std::string alerts = settings.topic("alerts");
  ScratchTopics topics({alerts});
  // A webhook for an authority no alert names: every alert is read and passed over, and no
  // HTTP request is made.
  digonce::services::WebhookSettings hook;
  hook.name = "nobody";
  hook.url = "http://127.0.0.1:9/hooks";
  hook.secret = "s";
  hook.authorities = {"NOBODY"};
  settings.notifier.webhooks = {hook};

  // Alerts at 0-4 and their commit marker at 5; an aborted transaction's 3 alerts at 6-8 and its
  // marker at 9: the topic ends at 10.
  produce_in_transaction(alerts, alert_events(0, 5), true);
  produce_in_transaction(alerts, alert_events(100, 3), false);
  wait_for_end_offset(alerts, 10);

  prometheus::Registry registry;
  digonce::services::Notifier notifier(settings, registry);
  REQUIRE(notifier.start().ok());
  Client reader = make_client(RD_KAFKA_CONSUMER, {{"group.id", settings.topic("notifier.nobody")}});
  std::int64_t committed = -1;
  for (auto deadline = Clock::now() + 30s; Clock::now() < deadline && committed != 10;) {
    std::this_thread::sleep_for(250ms);
    committed = committed_offset(reader.get(), alerts);
  }
  notifier.stop();
  CHECK(notifier.status().ok());
  CHECK(committed == 10);
}

int main(int argc, char** argv) {
  return run_kafka_tests("test_notifier_offsets", argc, argv);
}
