// The gateway's producer: an idempotent producer (acks=all) whose delivery reports are handed to
// a callback per record, so that an HTTP request is answered only once the broker has its record.
//
// Delivery reports are served by a thread of its own (rd_kafka_poll), never by the HTTP thread:
// the callback runs there and must hand its result over (the gateway posts it to its io_context).
//
// An idempotent producer can fail fatally (the broker lost records it had acknowledged, an
// unclean leader election): it then takes nothing more. healthy() notices and puts a new
// producer in its place (at most once every 5 s); the records the old one still held are
// reported as failed (their requests get 503 and are sent again by their clients) while the
// delivery thread drains it, and the gateway goes on without a restart.
#pragma once

#include <librdkafka/rdkafka.h>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "base/result.h"
#include "streams/kafka.h"

namespace digonce::services {

class WorkProducer {
 public:
  /// err is RD_KAFKA_RESP_ERR_NO_ERROR once the record is on every in-sync replica.
  using Delivered =
      std::function<void(rd_kafka_resp_err_t err, std::int32_t partition, std::int64_t offset)>;

  /// `timeout_ms`: how long a record may wait for the broker before it is reported as failed.
  static Result<std::unique_ptr<WorkProducer>> create(const std::string& brokers, int timeout_ms);
  ~WorkProducer();
  WorkProducer(const WorkProducer&) = delete;
  WorkProducer& operator=(const WorkProducer&) = delete;

  /// Queues one record (copied; an empty key is a null key). `delivered` runs exactly once, on
  /// the delivery thread, unless this returns an error (then it never runs). One thread only
  /// (the HTTP thread) calls send() and healthy().
  Status send(const std::string& topic, std::string_view key, std::string_view value,
              Delivered delivered);
  /// False while the producer is fatally failed and could not be replaced yet; replaces a
  /// fatally failed producer when the last try is 5 s old.
  bool healthy();
  /// Producers replaced after a fatal error so far.
  std::uint64_t replacements() const { return replacements_.load(); }
  /// Waits up to flush_ms for records in flight, fails the rest, and stops the delivery thread.
  void close(int flush_ms);
  /// For tests: the current producer fails fatally with `err` (rd_kafka_test_fatal_error).
  void inject_fatal_error(rd_kafka_resp_err_t err);

 private:
  WorkProducer() = default;
  static void on_delivery(rd_kafka_t* rk, const rd_kafka_message_t* m, void* opaque);
  static Result<std::shared_ptr<rd_kafka_t>> make_handle(const std::string& brokers,
                                                         int timeout_ms);
  std::shared_ptr<rd_kafka_t> current() const;
  void poll_loop();

  std::string brokers_;
  int timeout_ms_ = 0;
  mutable std::mutex mu_;                             // guards handle_ and retired_
  std::shared_ptr<rd_kafka_t> handle_;                // the producer records go to
  std::vector<std::shared_ptr<rd_kafka_t>> retired_;  // failed ones, polled until empty
  std::chrono::steady_clock::time_point last_try_{};  // of a replacement (HTTP thread)
  std::atomic<std::uint64_t> replacements_{0};
  std::atomic<bool> stop_{false};
  std::thread poller_;
};

}  // namespace digonce::services
