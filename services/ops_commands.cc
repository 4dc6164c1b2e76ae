#include "services/ops_commands.h"

#include <openssl/evp.h>
#include <simdjson.h>
#include <spdlog/spdlog.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <functional>
#include <iostream>
#include <mutex>
#include <sstream>
#include <thread>

#include "base/json_writer.h"
#include "geo/normalize.h"
#include "geo/parse.h"
#include "services/detector_stage.h"
#include "services/notifier.h"
#include "services/pipeline.h"
#include "services/progress.h"
#include "services/work_producer.h"
#include "streams/admin.h"
#include "streams/kafka.h"

namespace digonce::services {

namespace {

// One submission of the input and where it came from.
struct Item {
  std::string text;
  std::string where;     // "line 12" or "feature 3"
  bool wrapped = false;  // a feature alone in a collection: its errors' "features[0]." is ours
};

// An error of an item, named as the item was sent.
std::string item_error(const Item& item, const Error& e) {
  if (item.wrapped && e.field.starts_with("features[0]."))
    return Error{e.field.substr(12), e.message}.what();
  return e.what();
}

// Counts deliveries from the producer's thread.
struct Deliveries {
  std::atomic<std::uint64_t> ok{0};
  std::atomic<std::uint64_t> failed{0};
  std::mutex mutex;
  std::string first_error;
};

}  // namespace

Status run_import(const Settings& settings, const ImportOptions& options, ImportSummary& summary) {
  if (settings.brokers.empty()) return error("--brokers is required");
  Input input;
  DIGONCE_TRY(input.open(options.input));
  std::istream* in = input.stream;
  const std::uintmax_t total_bytes = input.size;
  const std::string topic = settings.topic("works.submitted");
  if (auto s = streams::ensure_topics(settings.brokers, topic_specs(settings)); !s.ok())
    return !s.error().message.starts_with("metadata")  // not the brokers' silence
               ? s.error()
               : error("cannot reach the Kafka brokers " + settings.brokers + ": " +
                       s.error().what() + streams::recent_connection_failure());
  // Before the producer: its destructor may still report deliveries.
  Deliveries deliveries;
  auto producer = WorkProducer::create(settings.brokers, 60000);
  if (!producer) return producer.error();

  geo::ParseLimits limits;
  limits.max_vertices = settings.max_vertices;
  std::unique_ptr<PlaceTools> tools;
  std::unique_ptr<geo::Normalizer> normalizer;
  if (options.check_crs) {
    auto t = make_place_tools(settings);
    if (!t) return t.error();
    tools = std::move(*t);
    normalizer = std::make_unique<geo::Normalizer>(*tools->crs, tools->geos);
  }

  std::uint64_t sent = 0;
  Progress progress(options.progress && isatty(STDERR_FILENO), total_bytes, "records");
  const auto started = std::chrono::steady_clock::now();
  std::uintmax_t bytes = 0;

  // Validates one item and sends it; false if the item was refused.
  auto take = [&](const Item& item) -> Status {
    geo::Parsed parsed = geo::parse_submission(item.text, limits);
    bool bad = false;
    for (const auto& e : parsed.errors) {
      progress.clear();
      std::fprintf(stderr, "%s: %s\n", item.where.c_str(), item_error(item, e).c_str());
      ++summary.rejected_items;
      bad = true;
    }
    if (normalizer) {
      for (auto w : parsed.works) {
        const auto repaired_before = normalizer->repaired();
        if (auto s = normalizer->normalize(w); !s.ok()) {
          progress.clear();
          std::fprintf(stderr, "%s: %s\n", item.where.c_str(), item_error(item, s.error()).c_str());
          ++summary.rejected_items;
          bad = true;
        } else if (normalizer->repaired() != repaired_before) {
          // Taken all the same, as the API and the stages take it (geo/normalize.h).
          progress.clear();
          std::fprintf(stderr, "%s\n", normalizer->repair_note(item.where, w.work_ref).c_str());
          ++summary.repaired;
        }
      }
    }
    if (bad) {
      ++summary.rejected_lines;
      return {};
    }
    // Bounded in flight: the local queue holds at most this many records.
    while (sent - deliveries.ok.load() - deliveries.failed.load() > 50000)
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
    std::string key = parsed.works.empty() ? std::string() : parsed.works.front().work_ref;
    DIGONCE_TRY((*producer)->send(
        topic, key, item.text, [&deliveries](rd_kafka_resp_err_t err, std::int32_t, std::int64_t) {
          if (!err) {
            ++deliveries.ok;
            return;
          }
          std::lock_guard lock(deliveries.mutex);
          if (deliveries.first_error.empty()) deliveries.first_error = rd_kafka_err2str(err);
          ++deliveries.failed;
        }));
    ++sent;
    return {};
  };

  // A FeatureCollection goes as a record per feature, so that a bad feature is named and skipped
  // and the others go on (keyed by their own work_ref), each feature's bytes as sent (with the
  // collection's legacy crs member, if any: geo::for_each_feature_document). False if `text`
  // is not a FeatureCollection.
  auto take_features = [&](std::string_view text, const std::string& where,
                           const std::function<void(std::size_t, std::size_t)>& each,
                           Status& status) -> bool {
    return geo::for_each_feature_document(text, [&](const geo::FeatureDocument& f) {
      if (!status.ok()) return;
      status = take({std::string(f.json),
                     where + (where.empty() ? "" : " ") + "feature " + std::to_string(f.index + 1),
                     f.wrapped});
      if (each) each(f.index + 1, f.count);
    });
  };
  // One NDJSON line: a FeatureCollection on it is split as above.
  simdjson::dom::parser line_parser;  // its buffers serve every line
  auto take_line = [&](const std::string& text, const std::string& where) -> Status {
    if (text.find("FeatureCollection") != std::string::npos) {
      // Split only a line that is one whole JSON document: what is not goes to take() as it
      // is, which says what is wrong with it.
      simdjson::dom::element root;
      Status status;
      if (!line_parser.parse(text).get(root) && take_features(text, where, nullptr, status))
        return status;
    }
    return take({text, where});
  };

  // NDJSON, unless the first line is not a JSON document of its own and the whole input is one
  // (a GeoJSON FeatureCollection written over several lines): then it is split into its features.
  // A FeatureCollection on one line of an NDJSON file is split the same way (take_line).
  std::string line;
  bool whole = false, collection = false;
  std::uint64_t first_line_no = 0;
  std::string first;
  while (std::getline(*in, line)) {
    ++summary.lines;
    bytes += line.size() + 1;
    // A byte order mark (a file saved as "UTF-8 with BOM"): RFC 8259 lets a parser ignore it.
    if (summary.lines == 1 && line.starts_with("\xEF\xBB\xBF")) line.erase(0, 3);
    if (line.find_first_not_of(" \t\r") == std::string::npos) continue;
    first_line_no = summary.lines;
    first = std::move(line);
    break;
  }
  std::string doc;  // the input after the first line, when it had to be read whole
  std::istringstream rest_lines;
  std::istream* lines_in = in;
  if (!first.empty()) {
    simdjson::dom::parser probe;
    simdjson::dom::element e;
    if (probe.parse(first).get(e)) {
      std::stringstream rest_stream;
      rest_stream << in->rdbuf();
      const std::string rest = rest_stream.str();
      doc = first + "\n" + rest;
      simdjson::dom::parser parser;
      simdjson::dom::element root;
      whole = !parser.parse(doc).get(root);
      if (whole) {
        bytes = doc.size();
        summary.lines += static_cast<std::uint64_t>(std::count(rest.begin(), rest.end(), '\n'));
        Status status;
        if (take_features(
                doc, "",
                [&](std::size_t n, std::size_t count) {
                  progress.update(sent, bytes * n / std::max<std::size_t>(1, count));
                },
                status)) {
          collection = true;
          DIGONCE_TRY(status);
        } else {
          DIGONCE_TRY(take({doc, "document"}));  // one document that is not a collection
        }
      } else {
        // Not one document either: NDJSON whose first line is bad.
        DIGONCE_TRY(take_line(first, "line " + std::to_string(first_line_no)));
        rest_lines.str(rest);
        lines_in = &rest_lines;
      }
    } else {
      DIGONCE_TRY(take_line(first, "line " + std::to_string(first_line_no)));
    }
  }
  if (!whole) {
    while (std::getline(*lines_in, line)) {
      ++summary.lines;
      bytes += line.size() + 1;
      if (line.find_first_not_of(" \t\r") == std::string::npos) continue;
      DIGONCE_TRY(take_line(line, "line " + std::to_string(summary.lines)));
      progress.update(sent, bytes);
    }
  }
  if (in->bad()) return error("reading " + options.input + " failed");
  // Every record acknowledged or failed: the producer's timeout bounds the wait.
  while (deliveries.ok.load() + deliveries.failed.load() < sent) {
    progress.update(sent, bytes);
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  (*producer)->close(5000);
  progress.done();
  summary.produced = deliveries.ok.load();
  double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  std::fprintf(
      stderr,
      "digonce import: %llu lines; %llu records produced to %s (%.0f/s); rejected: %llu "
      "item(s) on %llu line(s); geometries repaired: %s%s\n",
      static_cast<unsigned long long>(summary.lines),
      static_cast<unsigned long long>(summary.produced), topic.c_str(),
      secs > 0 ? static_cast<double>(summary.produced) / secs : 0.0,
      static_cast<unsigned long long>(summary.rejected_items),
      static_cast<unsigned long long>(summary.rejected_lines),
      normalizer ? std::to_string(summary.repaired).c_str() : "not checked (--no-crs-check)",
      collection ? " (one FeatureCollection, a record per feature)"
      : whole    ? " (one JSON document over several lines)"
                 : "");
  if (deliveries.failed.load() > 0)
    return error(std::to_string(deliveries.failed.load()) + " record(s) not taken by the broker (" +
                 deliveries.first_error + "); import them again: the stages ignore a version " +
                 "they have already seen");
  return {};
}

namespace {

// OpenSSL's encoder, as services/sns.cc decodes with OpenSSL's decoder.
std::string base64(std::string_view bytes) {
  std::string out((bytes.size() + 2) / 3 * 4 + 1, '\0');
  const int n = EVP_EncodeBlock(reinterpret_cast<unsigned char*>(out.data()),
                                reinterpret_cast<const unsigned char*>(bytes.data()),
                                static_cast<int>(bytes.size()));
  out.resize(static_cast<std::size_t>(n));
  return out;
}

// A member of tail's envelope: the bytes as a JSON string when they are UTF-8, else null and
// the bytes in base64 under NAME_base64 (a rejected record may hold anything), so that every line
// stays JSON.
void put_bytes(JsonObject& o, std::string_view name, std::string_view bytes) {
  if (simdjson::validate_utf8(bytes.data(), bytes.size())) return o.str(name, bytes);
  o.raw(name, "null");
  o.str(std::string(name) + "_base64", base64(bytes));
}

}  // namespace

Status run_tail(const Settings& settings, const TailOptions& options, std::atomic<bool>& stop) {
  if (settings.brokers.empty()) return error("--brokers is required");
  const std::string topic = settings.topic(options.topic);
  const bool alerts = options.topic == "alerts";
  if (!alerts && (!options.authority.empty() || !options.kind.empty() || !options.state.empty()))
    return error("--authority, --kind and --state filter the alerts topic only");
  auto partitions = streams::partition_count(settings.brokers, topic, 10000);
  if (!partitions) return partitions.error();
  // Required by librdkafka even for assign(); no member joins it and nothing is committed.
  // (Under the topic prefix, so that ACLs on it cover it.)
  auto config = streams::consumer_config(settings.brokers, "digonce-tail", settings.topic("tail"));
  config["fetch.wait.max.ms"] = "50";
  auto consumer = streams::make_client(RD_KAFKA_CONSUMER, config);
  if (!consumer) return consumer.error();
  rd_kafka_t* rk = consumer->get();
  rd_kafka_poll_set_consumer(rk);
  DIGONCE_TRY(streams::assign_all(
      rk, topic, *partitions,
      options.from_beginning ? RD_KAFKA_OFFSET_BEGINNING : RD_KAFKA_OFFSET_END));
  spdlog::info("tail: {} ({} partitions, {}, read_committed)", topic, *partitions,
               options.from_beginning ? "from the beginning" : "new records only");

  streams::ConsumerErrorLog errors("tail");
  std::uint64_t printed = 0;
  auto last = std::chrono::steady_clock::now();
  Status result;
  std::string out;
  while (!stop.load()) {
    if (options.max && printed >= options.max) break;
    if (options.idle_timeout_s > 0 &&
        std::chrono::duration<double>(std::chrono::steady_clock::now() - last).count() >
            options.idle_timeout_s)
      break;
    streams::Message m(rd_kafka_consumer_poll(rk, 100));
    if (!m) continue;
    if (m->err) {
      if (auto ended = errors.stop_or_report(rk, *m, topic)) {  // fatal, or refused by an ACL
        result = std::move(*ended);
        break;
      }
      continue;
    }
    last = std::chrono::steady_clock::now();
    std::string_view value(static_cast<const char*>(m->payload), m->payload ? m->len : 0);
    if (alerts && m->payload) {
      auto route = read_alert_route(value);
      if (route) {
        if (!options.kind.empty() && route->kind != options.kind) continue;
        if (!options.state.empty() && route->state != options.state) continue;
        if (!options.authority.empty() &&
            std::find(route->authorities.begin(), route->authorities.end(), options.authority) ==
                route->authorities.end())
          continue;
      }
    }
    out.clear();
    if (options.envelope) {
      JsonObject o(out);
      o.str("topic", rd_kafka_topic_name(m->rkt));
      o.integer("partition", m->partition);
      o.integer("offset", m->offset);
      {
        // The record's timestamp, ms since 1970 (Kafka's CreateTime, set by the producer, or
        // LogAppendTime when the topic says so); null when the record has none.
        rd_kafka_timestamp_type_t type = RD_KAFKA_TIMESTAMP_NOT_AVAILABLE;
        const std::int64_t ts = rd_kafka_message_timestamp(m.get(), &type);
        if (type == RD_KAFKA_TIMESTAMP_NOT_AVAILABLE || ts < 0)
          o.raw("timestamp", "null");
        else
          o.integer("timestamp", ts);
      }
      if (m->key)
        put_bytes(o, "key", std::string_view(static_cast<const char*>(m->key), m->key_len));
      else
        o.raw("key", "null");
      {
        JsonObject h(o.key("headers"));
        rd_kafka_headers_t* headers = nullptr;
        if (!rd_kafka_message_headers(m.get(), &headers)) {
          const char* name;
          const void* v;
          std::size_t size;
          for (std::size_t i = 0; !rd_kafka_header_get_all(headers, i, &name, &v, &size); ++i)
            put_bytes(h, name, std::string_view(static_cast<const char*>(v), v ? size : 0));
        }
      }
      if (m->payload)
        put_bytes(o, "value", value);
      else
        o.raw("value", "null");
    } else {
      if (!m->payload) continue;  // a tombstone has nothing to print
      out.assign(value);
    }
    out.push_back('\n');
    std::fwrite(out.data(), 1, out.size(), stdout);
    std::fflush(stdout);
    ++printed;
  }
  rd_kafka_consumer_close(rk);
  return result;
}

}  // namespace digonce::services
