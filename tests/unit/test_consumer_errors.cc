// streams::ConsumerErrorLog: a reader's retried consumer errors, logged without a flood and kept
// for a health report until the reader moves again.

#include <doctest/doctest.h>
#include <spdlog/sinks/ostream_sink.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <chrono>
#include <memory>
#include <sstream>
#include <string>
#include <thread>

#include "streams/kafka.h"

using namespace digonce;

namespace {

// The default logger's lines, while it lives.
class CapturedLog {
 public:
  CapturedLog() : saved_(spdlog::default_logger()) {
    auto logger = std::make_shared<spdlog::logger>(
        "captured", std::make_shared<spdlog::sinks::ostream_sink_mt>(out_));
    logger->set_pattern("%l %v");
    spdlog::set_default_logger(logger);
  }
  ~CapturedLog() { spdlog::set_default_logger(saved_); }
  CapturedLog(const CapturedLog&) = delete;
  CapturedLog& operator=(const CapturedLog&) = delete;

  std::string text() const { return out_.str(); }
  int lines() const {
    auto s = out_.str();
    return static_cast<int>(std::count(s.begin(), s.end(), '\n'));
  }

 private:
  std::ostringstream out_;
  std::shared_ptr<spdlog::logger> saved_;
};

rd_kafka_message_t error_message(rd_kafka_resp_err_t err) {
  rd_kafka_message_t m{};
  m.err = err;
  return m;
}

}  // namespace

TEST_CASE("consumer errors: each new kind at once, the same at most once a period, then cleared") {
  CapturedLog log;
  streams::ConsumerErrorLog errors("live view of t", std::chrono::milliseconds(300));
  CHECK(errors.last().empty());

  // A refused fetch: logged at warn, with where the rights are listed, and kept.
  auto refused = error_message(RD_KAFKA_RESP_ERR_TOPIC_AUTHORIZATION_FAILED);
  auto text = errors.report(refused);
  CHECK(text.find("authorization") != std::string::npos);
  CHECK(text.find("OPERATIONS.md") != std::string::npos);
  CHECK(errors.last() == text);
  CHECK(log.lines() == 1);
  CHECK(log.text().rfind("warning live view of t: ", 0) == 0);

  // The same again within the period: kept, not logged.
  for (int i = 0; i < 5; ++i) errors.report(refused);
  CHECK(log.lines() == 1);

  // Another kind: logged at once.
  auto down = error_message(RD_KAFKA_RESP_ERR__TRANSPORT);
  errors.report(down);
  CHECK(log.lines() == 2);
  CHECK(errors.last().find(rd_kafka_err2str(RD_KAFKA_RESP_ERR__TRANSPORT)) != std::string::npos);

  // The same after the period: logged, with how many came between.
  for (int i = 0; i < 3; ++i) errors.report(down);
  std::this_thread::sleep_for(std::chrono::milliseconds(350));
  errors.report(down);
  CHECK(log.lines() == 3);
  CHECK(log.text().find("(3 more since the last line)") != std::string::npos);

  // A record came: nothing to report. An error that comes back between records within the
  // period is counted, not logged (each time it came would be a line); after it, logged.
  errors.clear();
  CHECK(errors.last().empty());
  for (int i = 0; i < 10; ++i) {
    errors.report(down);
    CHECK(!errors.last().empty());
    errors.clear();
  }
  CHECK(log.lines() == 3);
  std::this_thread::sleep_for(std::chrono::milliseconds(350));
  errors.report(down);
  CHECK(log.lines() == 4);
  CHECK(log.text().find("(10 more since the last line)") != std::string::npos);

  // The reader's own errors (its consumer not set up: brokers out of reach) are one kind.
  errors.report(error("t: cannot reach the Kafka brokers 10.0.0.5:9092"), "t: cannot read");
  errors.report(error("t: cannot reach the Kafka brokers 10.0.0.5:9092"), "t: cannot read");
  CHECK(log.lines() == 5);
  CHECK(errors.last() == "t: cannot reach the Kafka brokers 10.0.0.5:9092");
  CHECK(errors.last(false) == "t: cannot read");
}

TEST_CASE("consumer errors: the brief form names the error, not the cluster") {
  CapturedLog log;
  streams::ConsumerErrorLog errors("live view of t");
  auto refused = error_message(RD_KAFKA_RESP_ERR_TOPIC_AUTHORIZATION_FAILED);
  errors.report(refused);
  // The error's name and the ACL hint, as in full.
  CHECK(errors.last(false) ==
        std::string(rd_kafka_err2str(RD_KAFKA_RESP_ERR_TOPIC_AUTHORIZATION_FAILED)) +
            streams::kafka_error_hint(RD_KAFKA_RESP_ERR_TOPIC_AUTHORIZATION_FAILED));
  // An unreachable cluster's hint is the last refusal's text, which may name brokers: left out.
  auto down = error_message(RD_KAFKA_RESP_ERR__TRANSPORT);
  errors.report(down);
  CHECK(errors.last(false) == rd_kafka_err2str(RD_KAFKA_RESP_ERR__TRANSPORT));
  CHECK(errors.last().find(rd_kafka_err2str(RD_KAFKA_RESP_ERR__TRANSPORT)) != std::string::npos);
  errors.clear();
  CHECK(errors.last(false).empty());
}

TEST_CASE("consumer errors: what ends a reader, and what it reports and goes on from") {
  CapturedLog log;
  streams::ConsumerErrorLog errors("tail");
  char errstr[256];
  // A client with no brokers to reach: not fatal (it has not tried anything yet).
  std::unique_ptr<rd_kafka_t, decltype(&rd_kafka_destroy)> rk(
      rd_kafka_new(RD_KAFKA_PRODUCER, rd_kafka_conf_new(), errstr, sizeof errstr),
      rd_kafka_destroy);
  REQUIRE(rk);

  // A partition's end: nothing to say.
  auto eof = error_message(RD_KAFKA_RESP_ERR__PARTITION_EOF);
  CHECK_FALSE(errors.stop_or_report(rk.get(), eof, "digonce.alerts"));
  CHECK(errors.last().empty());
  CHECK(log.lines() == 0);

  // A broker away: librdkafka retries it; reported, and the reader goes on.
  auto down = error_message(RD_KAFKA_RESP_ERR__TRANSPORT);
  CHECK_FALSE(errors.stop_or_report(rk.get(), down, "digonce.alerts"));
  CHECK(errors.last().find(rd_kafka_err2str(RD_KAFKA_RESP_ERR__TRANSPORT)) != std::string::npos);
  CHECK(log.lines() == 1);

  // The topic refused by an ACL: nothing would ever come, so it ends the reader, with the topic.
  auto refused = error_message(RD_KAFKA_RESP_ERR_TOPIC_AUTHORIZATION_FAILED);
  auto ended = errors.stop_or_report(rk.get(), refused, "digonce.alerts");
  REQUIRE(ended);
  CHECK(ended->what().find("consume digonce.alerts") != std::string::npos);
  CHECK(ended->what().find("TOPIC_AUTHORIZATION_FAILED") != std::string::npos);
}
