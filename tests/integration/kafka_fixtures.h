// Fixtures for the integration tests that talk to a real Kafka broker through librdkafka's C API:
// owning handles, errors turned into doctest failures, scratch topics created and deleted by the
// test, and readers that read a partition to its end. The broker's address comes from
// DIGONCE_KAFKA_BOOTSTRAP (tools/kafka start prints it).
#pragma once

#include <doctest/doctest.h>
#include <librdkafka/rdkafka.h>

#include <unistd.h>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <random>
#include <string>
#include <thread>
#include <utility>
#include <vector>

namespace digonce::test {

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

inline constexpr int kTimeoutMs = 30'000;

// doctest 2.4 prints a bare const char* in a message as a pointer; messages go through this.
inline std::string str(const char* s) {
  return s != nullptr ? s : "";
}

inline std::string bootstrap() {
  const char* b = std::getenv("DIGONCE_KAFKA_BOOTSTRAP");
  return b != nullptr ? b : "";
}

// Topic names and transactional ids unique to this run, so reruns against a broker that kept its
// data (tools/kafka restart) start from nothing.
inline std::string unique_name(const std::string& what) {
  static const std::string run = [] {
    std::random_device rd;
    return std::to_string(::getpid()) + "-" + std::to_string(rd() % 1'000'000);
  }();
  static int counter = 0;
  return "digonce.test." + what + "." + run + "." + std::to_string(++counter);
}

// --- owning handles ------------------------------------------------------------------------------

struct ClientDeleter {
  void operator()(rd_kafka_t* rk) const { rd_kafka_destroy(rk); }
};
using Client = std::unique_ptr<rd_kafka_t, ClientDeleter>;

struct PartitionsDeleter {
  void operator()(rd_kafka_topic_partition_list_t* l) const {
    rd_kafka_topic_partition_list_destroy(l);
  }
};
using Partitions = std::unique_ptr<rd_kafka_topic_partition_list_t, PartitionsDeleter>;

struct QueueDeleter {
  void operator()(rd_kafka_queue_t* q) const { rd_kafka_queue_destroy(q); }
};
using Queue = std::unique_ptr<rd_kafka_queue_t, QueueDeleter>;

struct EventDeleter {
  void operator()(rd_kafka_event_t* e) const { rd_kafka_event_destroy(e); }
};
using Event = std::unique_ptr<rd_kafka_event_t, EventDeleter>;

struct MessageDeleter {
  void operator()(rd_kafka_message_t* m) const { rd_kafka_message_destroy(m); }
};
using Message = std::unique_ptr<rd_kafka_message_t, MessageDeleter>;

struct GroupMetadataDeleter {
  void operator()(rd_kafka_consumer_group_metadata_t* g) const {
    rd_kafka_consumer_group_metadata_destroy(g);
  }
};
using GroupMetadata = std::unique_ptr<rd_kafka_consumer_group_metadata_t, GroupMetadataDeleter>;

using Settings = std::vector<std::pair<std::string, std::string>>;

inline Client make_client(rd_kafka_type_t type, const Settings& settings,
                          void (*dr_msg_cb)(rd_kafka_t*, const rd_kafka_message_t*,
                                            void*) = nullptr,
                          void* opaque = nullptr) {
  char errstr[512];
  rd_kafka_conf_t* conf = rd_kafka_conf_new();
  Settings all = {{"bootstrap.servers", bootstrap()}};
  all.insert(all.end(), settings.begin(), settings.end());
  for (const auto& [key, value] : all) {
    if (rd_kafka_conf_set(conf, key.c_str(), value.c_str(), errstr, sizeof errstr) !=
        RD_KAFKA_CONF_OK) {
      rd_kafka_conf_destroy(conf);
      FAIL("config " << key << "=" << value << ": " << str(errstr));
    }
  }
  if (dr_msg_cb != nullptr) rd_kafka_conf_set_dr_msg_cb(conf, dr_msg_cb);
  if (opaque != nullptr) rd_kafka_conf_set_opaque(conf, opaque);
  rd_kafka_t* rk = rd_kafka_new(type, conf, errstr, sizeof errstr);  // takes conf on success
  if (rk == nullptr) {
    rd_kafka_conf_destroy(conf);
    FAIL("rd_kafka_new: " << str(errstr));
  }
  return Client(rk);
}

// Fails the test on a transactional API error, saying which of librdkafka's three classes it is
// in (fatal, abortable, retriable): that is what tells a broker problem from a client one.
inline void require_ok(rd_kafka_error_t* error, const char* what) {
  if (error == nullptr) return;
  std::string text = std::string(what) + ": " + rd_kafka_error_string(error) + " (" +
                     rd_kafka_error_name(error) +
                     (rd_kafka_error_is_fatal(error) ? ", fatal" : "") +
                     (rd_kafka_error_txn_requires_abort(error) ? ", abortable" : "") +
                     (rd_kafka_error_is_retriable(error) ? ", retriable" : "") + ")";
  rd_kafka_error_destroy(error);
  FAIL(text);
}

inline void require_ok(rd_kafka_resp_err_t err, const char* what) {
  if (err != RD_KAFKA_RESP_ERR_NO_ERROR) FAIL(str(what) << ": " << str(rd_kafka_err2str(err)));
}

// --- topics --------------------------------------------------------------------------------------

// Waits for one admin result event on `queue` and returns it.
inline Event await_admin_result(rd_kafka_queue_t* queue, rd_kafka_event_type_t type,
                                const char* what) {
  Event event(rd_kafka_queue_poll(queue, kTimeoutMs + 5'000));
  REQUIRE_MESSAGE(event != nullptr, str(what) << ": no result within the timeout");
  REQUIRE_MESSAGE(rd_kafka_event_type(event.get()) == type,
                  str(what) << ": unexpected event " << str(rd_kafka_event_name(event.get())));
  require_ok(rd_kafka_event_error(event.get()), what);
  return event;
}

inline void create_topics(const std::vector<std::string>& names) {
  Client admin = make_client(RD_KAFKA_PRODUCER, {});
  char errstr[512];
  std::vector<rd_kafka_NewTopic_t*> topics;
  for (const auto& name : names) {
    rd_kafka_NewTopic_t* t = rd_kafka_NewTopic_new(name.c_str(), 1, 1, errstr, sizeof errstr);
    REQUIRE_MESSAGE(t != nullptr, "NewTopic " << name << ": " << str(errstr));
    topics.push_back(t);
  }
  rd_kafka_AdminOptions_t* options =
      rd_kafka_AdminOptions_new(admin.get(), RD_KAFKA_ADMIN_OP_CREATETOPICS);
  rd_kafka_AdminOptions_set_operation_timeout(options, kTimeoutMs, errstr, sizeof errstr);
  Queue queue(rd_kafka_queue_new(admin.get()));
  rd_kafka_CreateTopics(admin.get(), topics.data(), topics.size(), options, queue.get());
  rd_kafka_AdminOptions_destroy(options);
  rd_kafka_NewTopic_destroy_array(topics.data(), topics.size());

  Event event = await_admin_result(queue.get(), RD_KAFKA_EVENT_CREATETOPICS_RESULT, "CreateTopics");
  size_t n = 0;
  const rd_kafka_topic_result_t** results =
      rd_kafka_CreateTopics_result_topics(rd_kafka_event_CreateTopics_result(event.get()), &n);
  REQUIRE(n == names.size());
  for (size_t i = 0; i < n; ++i) {
    REQUIRE_MESSAGE(rd_kafka_topic_result_error(results[i]) == RD_KAFKA_RESP_ERR_NO_ERROR,
                    "CreateTopics " << str(rd_kafka_topic_result_name(results[i])) << ": "
                                    << str(rd_kafka_topic_result_error_string(results[i])));
  }
}

// Best effort: a failure here is reported, never fails the test (it runs from a destructor).
inline void delete_topics(const std::vector<std::string>& names) noexcept {
  char errstr[512];
  rd_kafka_conf_t* conf = rd_kafka_conf_new();
  rd_kafka_conf_set(conf, "bootstrap.servers", bootstrap().c_str(), errstr, sizeof errstr);
  Client admin(rd_kafka_new(RD_KAFKA_PRODUCER, conf, errstr, sizeof errstr));
  if (!admin) {
    rd_kafka_conf_destroy(conf);
    std::fprintf(stderr, "delete_topics: %s\n", errstr);
    return;
  }
  std::vector<rd_kafka_DeleteTopic_t*> topics;
  for (const auto& name : names) topics.push_back(rd_kafka_DeleteTopic_new(name.c_str()));
  Queue queue(rd_kafka_queue_new(admin.get()));
  rd_kafka_DeleteTopics(admin.get(), topics.data(), topics.size(), nullptr, queue.get());
  rd_kafka_DeleteTopic_destroy_array(topics.data(), topics.size());
  Event event(rd_kafka_queue_poll(queue.get(), kTimeoutMs));
  if (!event || rd_kafka_event_error(event.get()) != RD_KAFKA_RESP_ERR_NO_ERROR) {
    std::fprintf(stderr, "delete_topics: %s\n",
                 event ? rd_kafka_event_error_string(event.get()) : "timed out");
  }
}

// The test's topics, deleted when the test case ends however it ends.
class ScratchTopics {
 public:
  explicit ScratchTopics(std::vector<std::string> names) : names_(std::move(names)) {
    create_topics(names_);
  }
  ~ScratchTopics() { delete_topics(names_); }
  ScratchTopics(const ScratchTopics&) = delete;
  ScratchTopics& operator=(const ScratchTopics&) = delete;
  const std::string& operator[](size_t i) const { return names_.at(i); }

 private:
  std::vector<std::string> names_;
};

// --- consuming -----------------------------------------------------------------------------------

inline std::string value_of(const rd_kafka_message_t* m) {
  return std::string(static_cast<const char*>(m->payload), m->len);
}

// Reads partition 0 of `topic` from the beginning until partition EOF (the high watermark, or the
// last stable offset for read_committed) and returns the values in order. The partition is
// assigned, not subscribed: the group id is only there because librdkafka 2.0 refuses assign()
// without one, and no offsets are committed to it.
inline std::vector<std::string> read_all(const std::string& topic, const std::string& isolation) {
  Client consumer = make_client(RD_KAFKA_CONSUMER, {{"group.id", unique_name("reader")},
                                                    {"isolation.level", isolation},
                                                    {"enable.partition.eof", "true"},
                                                    // At EOF the broker holds each fetch this long
                                                    // (default 500 ms), and closing waits for it.
                                                    {"fetch.wait.max.ms", "50"},
                                                    {"enable.auto.commit", "false"}});
  Partitions assignment(rd_kafka_topic_partition_list_new(1));
  rd_kafka_topic_partition_list_add(assignment.get(), topic.c_str(), 0)->offset =
      RD_KAFKA_OFFSET_BEGINNING;
  require_ok(rd_kafka_assign(consumer.get(), assignment.get()), "assign");

  std::vector<std::string> values;
  const auto deadline = Clock::now() + std::chrono::milliseconds(kTimeoutMs);
  while (true) {
    REQUIRE_MESSAGE(Clock::now() < deadline,
                    isolation << " read of " << topic << " saw no EOF; got " << values.size());
    Message m(rd_kafka_consumer_poll(consumer.get(), 200));
    if (!m) continue;
    if (m->err == RD_KAFKA_RESP_ERR__PARTITION_EOF) break;
    REQUIRE_MESSAGE(m->err == RD_KAFKA_RESP_ERR_NO_ERROR,
                    isolation << " consume: " << str(rd_kafka_message_errstr(m.get())));
    values.push_back(value_of(m.get()));
  }
  rd_kafka_consumer_close(consumer.get());
  return values;
}

// Waits until partition 0 of `topic` ends at `expected` (read_uncommitted high watermark).
// commit_transaction and abort_transaction return once the coordinator has decided; it writes the
// markers to the partitions afterwards. Until the last marker is there the last stable offset
// lags, and a read_committed reader would stop at it, so every read_committed check waits first.
inline void wait_for_end_offset(const std::string& topic, int64_t expected) {
  Client client = make_client(RD_KAFKA_CONSUMER, {{"group.id", unique_name("watermarks")},
                                                  {"isolation.level", "read_uncommitted"}});
  int64_t low = -1;
  int64_t high = -1;
  const auto deadline = Clock::now() + std::chrono::milliseconds(kTimeoutMs);
  while (true) {
    require_ok(
        rd_kafka_query_watermark_offsets(client.get(), topic.c_str(), 0, &low, &high, kTimeoutMs),
        "query_watermark_offsets");
    if (high >= expected) break;
    REQUIRE_MESSAGE(Clock::now() < deadline, topic << " ends at " << high << ", not " << expected);
    std::this_thread::sleep_for(50ms);
  }
  CHECK(low == 0);
  CHECK(high == expected);
}

inline int64_t committed_offset(rd_kafka_t* consumer, const std::string& topic) {
  Partitions query(rd_kafka_topic_partition_list_new(1));
  rd_kafka_topic_partition_list_add(query.get(), topic.c_str(), 0);
  require_ok(rd_kafka_committed(consumer, query.get(), kTimeoutMs), "committed");
  require_ok(query->elems[0].err, "committed offset");
  return query->elems[0].offset;
}

// --- producing and running -----------------------------------------------------------------------

// One value on partition 0 of `topic`.
inline void produce(rd_kafka_t* producer, const std::string& topic, const std::string& value) {
  require_ok(rd_kafka_producev(producer, RD_KAFKA_V_TOPIC(topic.c_str()), RD_KAFKA_V_PARTITION(0),
                               RD_KAFKA_V_VALUE(const_cast<char*>(value.data()), value.size()),
                               RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY), RD_KAFKA_V_END),
             "produce");
}

// `values` on partition 0 of `topic` in one transaction of a new transactional producer,
// committed or aborted; either way a marker follows them. They are written first: an abort drops
// what the producer has not sent yet.
inline void produce_in_transaction(const std::string& topic, const std::vector<std::string>& values,
                                   bool commit) {
  Client producer = make_client(RD_KAFKA_PRODUCER, {{"transactional.id", unique_name("src")}});
  require_ok(rd_kafka_init_transactions(producer.get(), kTimeoutMs), "init_transactions");
  require_ok(rd_kafka_begin_transaction(producer.get()), "begin_transaction");
  for (const auto& v : values) produce(producer.get(), topic, v);
  require_ok(rd_kafka_flush(producer.get(), kTimeoutMs), "flush");
  if (commit)
    require_ok(rd_kafka_commit_transaction(producer.get(), kTimeoutMs), "commit_transaction");
  else
    require_ok(rd_kafka_abort_transaction(producer.get(), kTimeoutMs), "abort_transaction");
}

// The main() of a test program of the "kafka" label: runs its doctest cases against the broker of
// DIGONCE_KAFKA_BOOTSTRAP, or says how to start one.
inline int run_kafka_tests(const char* program, int argc, char** argv) {
  if (bootstrap().empty()) {
    std::fprintf(stderr,
                 "%s: DIGONCE_KAFKA_BOOTSTRAP is not set.\n"
                 "Start a broker and pass its address, e.g.\n"
                 "  export DIGONCE_KAFKA_BOOTSTRAP=$(tools/kafka start)\n",
                 program);
    return 1;
  }
  std::fprintf(stderr, "%s: broker %s, librdkafka %s\n", program, bootstrap().c_str(),
               rd_kafka_version_str());
  doctest::Context context(argc, argv);
  return context.run();
}

}  // namespace digonce::test
