// The gateway's producer: an idempotent producer (acks=all) whose delivery reports are handed to
// a callback per record, so that an HTTP request is answered only once the broker has its record.
//
// Delivery reports are served by a thread of its own (rd_kafka_poll), never by the HTTP thread:
// the callback runs there and must hand its result over (the gateway posts it to its io_context).
#pragma once

#include <librdkafka/rdkafka.h>

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <thread>

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
  /// the delivery thread, unless this returns an error (then it never runs).
  Status send(const std::string& topic, std::string_view key, std::string_view value,
              Delivered delivered);
  /// The producer hit a fatal error (it can produce no more; the process should be restarted).
  bool failed() const;
  /// Waits up to flush_ms for records in flight, fails the rest, and stops the delivery thread.
  void close(int flush_ms);

 private:
  WorkProducer() = default;
  static void on_delivery(rd_kafka_t* rk, const rd_kafka_message_t* m, void* opaque);

  streams::Handle handle_;
  std::atomic<bool> stop_{false};
  std::thread poller_;
};

}  // namespace digonce::services
