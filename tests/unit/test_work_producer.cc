// The gateway's producer on the embedded (mock) broker: a producer that fails fatally is replaced
// by a new one that takes the next records, at most once every 5 s.
#include <doctest/doctest.h>

#include <atomic>
#include <chrono>
#include <thread>

#include "services/work_producer.h"
#include "streams/embedded_broker.h"

using namespace digonce;
using namespace std::chrono_literals;

namespace {

// Sends one record and waits (10 s at most) for its delivery report; returns its error, or
// _TIMED_OUT_QUEUE when none came.
rd_kafka_resp_err_t send_one(services::WorkProducer& p, const std::string& topic) {
  auto done = std::make_shared<std::atomic<int>>(-1);
  auto s = p.send(topic, "key", "{}", [done](rd_kafka_resp_err_t err, std::int32_t, std::int64_t) {
    *done = static_cast<int>(err);
  });
  REQUIRE_MESSAGE(s.ok(), (s.ok() ? "" : s.error().what()));
  for (auto until = std::chrono::steady_clock::now() + 10s;
       *done == -1 && std::chrono::steady_clock::now() < until;)
    std::this_thread::sleep_for(10ms);
  return *done == -1 ? RD_KAFKA_RESP_ERR__TIMED_OUT_QUEUE
                     : static_cast<rd_kafka_resp_err_t>(done->load());
}

}  // namespace

TEST_CASE("work producer: a fatally failed producer is replaced and the next records go through") {
  auto broker = streams::EmbeddedBroker::start();
  REQUIRE(broker.ok());
  REQUIRE((*broker)->create_topic("wp.test", 1).ok());
  auto producer = services::WorkProducer::create((*broker)->bootstraps(), 5000);
  REQUIRE(producer.ok());
  auto& p = **producer;

  CHECK(send_one(p, "wp.test") == RD_KAFKA_RESP_ERR_NO_ERROR);
  CHECK(p.replacements() == 0);

  // A record the failing producer still holds is answered all the same (delivered, or failed
  // when purged): its HTTP request never hangs.
  auto answered = std::make_shared<std::atomic<bool>>(false);
  REQUIRE(p.send("wp.test", "k", "{}", [answered](rd_kafka_resp_err_t, std::int32_t, std::int64_t) {
             *answered = true;
           }).ok());
  p.inject_fatal_error(RD_KAFKA_RESP_ERR_OUT_OF_ORDER_SEQUENCE_NUMBER);
  CHECK(p.healthy());  // replaced at once: the first try
  CHECK(p.replacements() == 1);
  CHECK(send_one(p, "wp.test") == RD_KAFKA_RESP_ERR_NO_ERROR);
  for (int i = 0; i < 1000 && !*answered; ++i) std::this_thread::sleep_for(10ms);
  CHECK(*answered);

  // Failing again within 5 s: no new producer yet; sends are refused with a reason.
  p.inject_fatal_error(RD_KAFKA_RESP_ERR_OUT_OF_ORDER_SEQUENCE_NUMBER);
  CHECK_FALSE(p.healthy());
  auto refused =
      p.send("wp.test", "k", "{}", [](rd_kafka_resp_err_t, std::int32_t, std::int64_t) {});
  REQUIRE_FALSE(refused.ok());
  CHECK(refused.error().what().find("the producer failed") != std::string::npos);
  CHECK(p.replacements() == 1);
  p.close(1000);
}
