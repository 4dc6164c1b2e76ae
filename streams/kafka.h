// librdkafka (C API) in small RAII types, with errors as values.
#pragma once

#include <librdkafka/rdkafka.h>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "base/result.h"

namespace digonce::streams {

struct HandleDeleter {
  void operator()(rd_kafka_t* rk) const { rd_kafka_destroy(rk); }
};
using Handle = std::unique_ptr<rd_kafka_t, HandleDeleter>;

struct PartitionListDeleter {
  void operator()(rd_kafka_topic_partition_list_t* l) const {
    rd_kafka_topic_partition_list_destroy(l);
  }
};
using PartitionList = std::unique_ptr<rd_kafka_topic_partition_list_t, PartitionListDeleter>;

struct MessageDeleter {
  void operator()(rd_kafka_message_t* m) const { rd_kafka_message_destroy(m); }
};
using Message = std::unique_ptr<rd_kafka_message_t, MessageDeleter>;

using Config = std::map<std::string, std::string>;

/// Whether librdkafka's property `name` is for clients of `type` (a consumer's property is not a
/// producer's, and the other way round; a name librdkafka does not list is taken as for both).
/// make_client leaves out those that are not, which the client would ignore with a warning.
bool property_applies(std::string_view name, rd_kafka_type_t type);

/// Builds a client: rd_kafka_conf_set for every entry that applies to `type`
/// (property_applies); `setup` may add callbacks and an opaque
/// before the handle is created.
Result<Handle> make_client(rd_kafka_type_t type, const Config& config,
                           void (*setup)(rd_kafka_conf_t*, void*) = nullptr,
                           void* setup_arg = nullptr);

/// The name librdkafka's property goes by when `name` is one of its aliases (compression.codec
/// -> compression.type, delivery.timeout.ms -> message.timeout.ms, ...), else `name`.
std::string canonical_property(const std::string& name);

/// What is wrong with a librdkafka property given for every client (config `kafka.client`), or
/// "": one librdkafka does not know or whose value it refuses (the name alone without a value),
/// or one digonce sets itself (the brokers, client and group ids, the exactly-once settings,
/// linger.ms and fetch.min.bytes, which have their own keys).
std::string client_property_problem(const std::string& name, const std::string* value);

/// What librdkafka refuses in these properties together with digonce's own settings, when it
/// makes a stage's transactional producer and consumer (socket.timeout.ms above the
/// transaction's timeout, an ssl.* file it cannot read, ...), or "". Call it at start, before
/// any client is made.
std::string client_properties_conflict(const Config& properties, int linger_ms);

/// librdkafka properties every client of this process gets after digonce's own (config
/// `kafka.client`: TLS, SASL, timeouts of a real cluster); each passed client_property_problem.
/// Set once at start, before any client is made.
void set_client_properties(Config properties);

/// Settings every digonce client shares: the brokers, a client id, and the Java default
/// partitioner (murmur2), so that a key lands where any other Kafka client would put it.
Config base_config(const std::string& brokers, const std::string& client_id);
/// A transactional producer's transaction.timeout.ms: a transaction open longer than this is
/// aborted by the broker, which fences the producer's epoch.
inline constexpr int kTransactionTimeoutMs = 15000;
/// An idempotent producer (acks=all), transactional when transactional_id is not empty.
Config producer_config(const std::string& brokers, const std::string& client_id,
                       const std::string& transactional_id);
/// A consumer of committed data only (read_committed), offsets committed by the application.
Config consumer_config(const std::string& brokers, const std::string& client_id,
                       const std::string& group_id);

/// " (a broker refused this client: why)" if a broker refused the credentials or TLS handshake
/// of a client of this process in the last minute (librdkafka only logs it), " (this client
/// refused a broker's certificate: why)" if the client could not verify a broker's, else "".
/// kafka_error adds it to the errors of a client that cannot reach its brokers.
std::string recent_refusal();
/// " (last connection failure: why)" if a client of this process failed to connect in the last
/// minute (refused, a name not resolved, a port that does not speak Kafka), else "": what
/// "cannot reach the Kafka brokers" errors add, librdkafka saying it only in log lines.
std::string recent_connection_failure();

/// Whether the consumer's group session timed out (librdkafka logged SESSTMOUT: no answer from
/// the group coordinator within session.timeout.ms) less than `d` ago.
bool session_timed_out_within(const rd_kafka_t* consumer, std::chrono::steady_clock::duration d);
/// Forgets the consumer's session timeouts (before it is destroyed: its name is never reused).
void forget_session_timeouts(const rd_kafka_t* consumer);
/// The same as recent_refusal for one client, if refused at or after `since`.
std::string refusal_since(const rd_kafka_t* rk, std::chrono::steady_clock::time_point since);

/// A stage's restore consumer: reads changelog partitions by assign(), in large fetches. It
/// commits nothing, but librdkafka wants a group id (`group_id`, else `client_id`), and looks up
/// its coordinator: on a cluster with ACLs the principal needs Describe on that group.
Config restore_consumer_config(const std::string& brokers, const std::string& client_id,
                               const std::string& group_id = "");

/// Whether `e` is a broker's refusal by its authorizer (an ACL: topic, group, transactional id,
/// cluster).
bool authorization_error(rd_kafka_resp_err_t e);
/// What kafka_error adds to an error of code `e`, for messages built otherwise: the broker's
/// refusal of the credentials (recent_refusal), or, for an authorization error, where the
/// rights digonce needs are listed; else "".
std::string kafka_error_hint(rd_kafka_resp_err_t e);

/// Turns an rd_kafka_error_t (which it destroys) into an Error.
Error kafka_error(const std::string& what, rd_kafka_error_t* e);
Error kafka_error(const std::string& what, rd_kafka_resp_err_t e);

/// A reader's consumer errors that librdkafka retries by itself (a broker away, a leader
/// moving, a fetch an ACL refuses), logged at warn as they come: each new kind at once, the
/// same kind again at most once every `every` (with how many came between), so that a reader
/// that never catches up says why without a line a fetch. The last one is kept, for a health
/// report, until the reader gets a record or reaches a partition's end again. Thread-safe.
class ConsumerErrorLog {
 public:
  explicit ConsumerErrorLog(std::string who,
                            std::chrono::steady_clock::duration every = std::chrono::seconds(30));
  /// `m` holds an error (m.err != 0). Returns its text: librdkafka's, and kafka_error_hint.
  std::string report(const rd_kafka_message_t& m);
  /// A reader's polled record `m` that holds an error (m.err != 0), from consumer `rk` of
  /// `topic`: the error that ends the reader when nothing would ever come (a fatal error of the
  /// client, or the topic or group refused by an ACL); else nothing, and the reader goes on (a
  /// partition's end; an error librdkafka retries, reported as report() does).
  std::optional<Error> stop_or_report(rd_kafka_t* rk, const rd_kafka_message_t& m,
                                      const std::string& topic);
  /// An error of the reader's own (no record: it could not set its consumer up, say), logged
  /// and kept the same way, all of one kind. `brief` is what last(false) gives for it.
  std::string report(const Error& e, std::string brief);
  /// A record or a partition's end came: the error is over (last() is ""). The same kind
  /// again within the period is counted, not logged: one that comes and goes does not flood.
  void clear();
  /// The error not yet cleared, else "". Not `detailed`: without what may name the cluster
  /// (broker addresses, librdkafka's own words), for who may not see it: the topic, the
  /// error's name, and the ACL hint.
  std::string last(bool detailed = true) const;

 private:
  std::string log(rd_kafka_resp_err_t code, std::string text, std::string brief);

  std::string who_;
  std::chrono::steady_clock::duration every_;
  mutable std::mutex mutex_;
  rd_kafka_resp_err_t logged_code_ = RD_KAFKA_RESP_ERR_NO_ERROR;
  std::chrono::steady_clock::time_point logged_at_{};
  std::uint64_t unlogged_ = 0;  // of logged_code_, since logged_at_
  std::string last_;
  std::string last_brief_;
  std::atomic<bool> active_{false};  // last_ is not empty: clear() has work to do
};

/// The consumer's assigned partitions, each with its position: the offset after the last
/// record polled (and after any transaction marker polled past), RD_KAFKA_OFFSET_INVALID where
/// nothing has been polled since the partition was assigned or sought.
Result<PartitionList> assigned_positions(rd_kafka_t* consumer);

/// Assigns every partition 0..partitions-1 of `topic` to the consumer, starting at `offset`
/// (RD_KAFKA_OFFSET_BEGINNING, RD_KAFKA_OFFSET_END, ...): a reader of a whole topic that joins no
/// group and commits nothing.
Status assign_all(rd_kafka_t* consumer, const std::string& topic, int partitions,
                  std::int64_t offset);

/// One header of a produced record.
struct Header {
  std::string name;
  std::string value;
};

/// Produces one record (copied); waits for queue space when the local queue is full. On failure,
/// *refused (if given) is librdkafka's error code.
Status produce(rd_kafka_t* producer, const std::string& topic, std::int32_t partition,
               std::string_view key, const std::string* value,
               const std::vector<Header>& headers = {}, void* opaque = nullptr,
               rd_kafka_resp_err_t* refused = nullptr);

/// The value of a header of a consumed message, if present.
std::optional<std::string_view> header(const rd_kafka_message_t* m, const char* name);

/// For a copy of a consumed message sent on (forwarded, rejected, dead-lettered): the message's
/// own headers, in order (a null value as an empty one), then `provenance`, what digonce says of
/// the copy. The message's headers named "digonce." are left out: they are digonce's provenance
/// of an earlier hop (digonce.forwarded.from), which `provenance` restates.
std::vector<Header> copied_headers(const rd_kafka_message_t* m, std::vector<Header> provenance);

}  // namespace digonce::streams
