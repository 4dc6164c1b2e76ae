#include "services/work_producer.h"

#include <spdlog/spdlog.h>

#include <algorithm>

namespace digonce::services {

Result<std::shared_ptr<rd_kafka_t>> WorkProducer::make_handle(const std::string& brokers,
                                                              int timeout_ms) {
  auto config = streams::producer_config(brokers, "digonce-gateway", "");
  config["message.timeout.ms"] = std::to_string(timeout_ms);
  config["linger.ms"] = "1";  // a person waits for the answer
  auto handle = streams::make_client(RD_KAFKA_PRODUCER, config, [](rd_kafka_conf_t* c, void*) {
    rd_kafka_conf_set_dr_msg_cb(c, &WorkProducer::on_delivery);
  });
  if (!handle) return handle.error();
  return std::shared_ptr<rd_kafka_t>(handle->release(), streams::HandleDeleter());
}

Result<std::unique_ptr<WorkProducer>> WorkProducer::create(const std::string& brokers,
                                                           int timeout_ms) {
  auto handle = make_handle(brokers, timeout_ms);
  if (!handle) return handle.error();
  std::unique_ptr<WorkProducer> p(new WorkProducer);
  p->brokers_ = brokers;
  p->timeout_ms_ = timeout_ms;
  p->handle_ = std::move(*handle);
  p->poller_ = std::thread([raw = p.get()] { raw->poll_loop(); });
  return p;
}

WorkProducer::~WorkProducer() {
  close(0);
}

std::shared_ptr<rd_kafka_t> WorkProducer::current() const {
  std::lock_guard lock(mu_);
  return handle_;
}

void WorkProducer::poll_loop() {
  while (!stop_.load()) {
    std::vector<std::shared_ptr<rd_kafka_t>> retired;
    {
      std::lock_guard lock(mu_);
      retired = retired_;
    }
    // A retired producer is polled until it holds nothing: every record it had is answered.
    for (const auto& r : retired) {
      rd_kafka_poll(r.get(), 0);
      if (rd_kafka_outq_len(r.get()) == 0) {
        std::lock_guard lock(mu_);
        std::erase(retired_, r);
      }
    }
    rd_kafka_poll(current().get(), 50);
  }
}

void WorkProducer::on_delivery(rd_kafka_t*, const rd_kafka_message_t* m, void*) {
  std::unique_ptr<Delivered> delivered(static_cast<Delivered*>(m->_private));
  if (delivered && *delivered) (*delivered)(m->err, m->partition, m->offset);
}

bool WorkProducer::healthy() {
  auto handle = current();
  char reason[512] = "";
  auto err = rd_kafka_fatal_error(handle.get(), reason, sizeof reason);
  if (err == RD_KAFKA_RESP_ERR_NO_ERROR) return true;
  auto now = std::chrono::steady_clock::now();
  if (now - last_try_ < std::chrono::seconds(5)) return false;
  last_try_ = now;
  auto fresh = make_handle(brokers_, timeout_ms_);
  if (!fresh) {
    spdlog::error("gateway: the producer failed fatally ({}) and a new one could not be made: {}",
                  reason, fresh.error().what());
    return false;
  }
  {
    std::lock_guard lock(mu_);
    handle_ = std::move(*fresh);
    retired_.push_back(handle);
  }
  // What the failed producer still holds is answered as failed (503) by the delivery thread.
  rd_kafka_purge(handle.get(), RD_KAFKA_PURGE_F_QUEUE | RD_KAFKA_PURGE_F_INFLIGHT);
  replacements_.fetch_add(1);
  spdlog::warn("gateway: the producer failed fatally ({}); a new one takes the submissions",
               reason);
  return true;
}

Status WorkProducer::send(const std::string& topic, std::string_view key, std::string_view value,
                          Delivered delivered) {
  if (!healthy()) return error("the producer failed; a new one is being made");
  auto opaque = std::make_unique<Delivered>(std::move(delivered));
  auto err = rd_kafka_producev(
      current().get(), RD_KAFKA_V_TOPIC(topic.c_str()),
      RD_KAFKA_V_KEY(key.empty() ? nullptr : const_cast<char*>(key.data()), key.size()),
      RD_KAFKA_V_VALUE(const_cast<char*>(value.data()), value.size()),
      RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY), RD_KAFKA_V_OPAQUE(opaque.get()), RD_KAFKA_V_END);
  if (err) return streams::kafka_error("produce to " + topic, err);
  opaque.release();  // NOLINT(bugprone-unused-return-value): the delivery report frees it
  // The analyzer does not see librdkafka take the pointer (a variadic argument).
  return {};  // NOLINT(clang-analyzer-cplusplus.NewDeleteLeaks)
}

void WorkProducer::inject_fatal_error(rd_kafka_resp_err_t err) {
  rd_kafka_test_fatal_error(current().get(), err, "injected by a test");
}

void WorkProducer::close(int flush_ms) {
  if (!poller_.joinable()) return;
  stop_ = true;
  poller_.join();
  std::vector<std::shared_ptr<rd_kafka_t>> all;
  {
    std::lock_guard lock(mu_);
    all = retired_;
    all.push_back(handle_);
  }
  for (const auto& h : all) {
    rd_kafka_flush(h.get(), flush_ms);
    // What the broker has not taken by now is reported as failed (the callbacks free their state).
    rd_kafka_purge(h.get(), RD_KAFKA_PURGE_F_QUEUE | RD_KAFKA_PURGE_F_INFLIGHT);
    rd_kafka_poll(h.get(), 0);
  }
}

}  // namespace digonce::services
