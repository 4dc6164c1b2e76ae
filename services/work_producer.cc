#include "services/work_producer.h"

namespace digonce::services {

Result<std::unique_ptr<WorkProducer>> WorkProducer::create(const std::string& brokers,
                                                           int timeout_ms) {
  auto config = streams::producer_config(brokers, "digonce-gateway", "");
  config["message.timeout.ms"] = std::to_string(timeout_ms);
  config["linger.ms"] = "1";  // a person waits for the answer
  auto handle = streams::make_client(RD_KAFKA_PRODUCER, config, [](rd_kafka_conf_t* c, void*) {
    rd_kafka_conf_set_dr_msg_cb(c, &WorkProducer::on_delivery);
  });
  if (!handle) return handle.error();
  std::unique_ptr<WorkProducer> p(new WorkProducer);
  p->handle_ = std::move(*handle);
  p->poller_ = std::thread([raw = p.get()] {
    while (!raw->stop_.load()) rd_kafka_poll(raw->handle_.get(), 50);
  });
  return p;
}

WorkProducer::~WorkProducer() {
  close(0);
}

void WorkProducer::on_delivery(rd_kafka_t*, const rd_kafka_message_t* m, void*) {
  std::unique_ptr<Delivered> delivered(static_cast<Delivered*>(m->_private));
  if (delivered && *delivered) (*delivered)(m->err, m->partition, m->offset);
}

Status WorkProducer::send(const std::string& topic, std::string_view key, std::string_view value,
                          Delivered delivered) {
  auto* opaque = new Delivered(std::move(delivered));
  auto err = rd_kafka_producev(
      handle_.get(), RD_KAFKA_V_TOPIC(topic.c_str()),
      RD_KAFKA_V_KEY(key.empty() ? nullptr : const_cast<char*>(key.data()), key.size()),
      RD_KAFKA_V_VALUE(const_cast<char*>(value.data()), value.size()),
      RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY), RD_KAFKA_V_OPAQUE(opaque), RD_KAFKA_V_END);
  if (err) {
    delete opaque;
    return streams::kafka_error("produce to " + topic, err);
  }
  return {};
}

bool WorkProducer::failed() const {
  return rd_kafka_fatal_error(handle_.get(), nullptr, 0) != RD_KAFKA_RESP_ERR_NO_ERROR;
}

void WorkProducer::close(int flush_ms) {
  if (!poller_.joinable()) return;
  stop_ = true;
  poller_.join();
  rd_kafka_flush(handle_.get(), flush_ms);
  // What the broker has not taken by now is reported as failed (the callbacks free their state).
  rd_kafka_purge(handle_.get(), RD_KAFKA_PURGE_F_QUEUE | RD_KAFKA_PURGE_F_INFLIGHT);
  rd_kafka_poll(handle_.get(), 0);
}

}  // namespace digonce::services
