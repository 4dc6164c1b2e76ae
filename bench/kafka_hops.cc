// digonce_kafka_hops: the latency floor of a chain of exactly-once stages on a broker, with no
// processing in them. Each hop is the runtime's own streams::StreamTask (the loop, the commit
// policy and the client settings digonce's stages use) copying its input to the next topic; a
// source produces timestamped records at a fixed rate into the first topic, and a read_committed
// consumer of the last one measures produce -> visible. digonce's pipeline has three such hops
// (ingest -> detector -> ledger), so a three-hop chain here is what the pipeline could at best do
// on the same broker and machine (docs/PERFORMANCE.md, "The floor of three transactional hops").
//
// Loopback benchmark, bounded: it sends --events records and stops when they have all arrived or
// after --timeout-s; its topics (unique names) are deleted at the end.
#include <librdkafka/rdkafka.h>
#include <prometheus/registry.h>
#include <spdlog/spdlog.h>
#include <CLI/CLI.hpp>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <memory>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "streams/admin.h"
#include "streams/kafka.h"
#include "streams/stream_task.h"

namespace streams = digonce::streams;
using Clock = std::chrono::steady_clock;

namespace {

std::int64_t now_us() {
  return std::chrono::duration_cast<std::chrono::microseconds>(Clock::now().time_since_epoch())
      .count();
}

// Observations and their total of a histogram, over all its labels.
std::pair<double, double> histogram_totals(prometheus::Registry& registry,
                                           const std::string& name) {
  double count = 0, sum = 0;
  for (const auto& family : registry.Collect())
    if (family.name == name)
      for (const auto& m : family.metric) {
        count += static_cast<double>(m.histogram.sample_count);
        sum += m.histogram.sample_sum;
      }
  return {count, sum};
}

}  // namespace

int run(int argc, char** argv) {
  CLI::App app{"The latency floor of a chain of exactly-once StreamTasks that only copy."};
  std::string brokers;
  int hops = 3, partitions = 2, rate = 10000, events = 100000, warmup_s = 6, timeout_s = 120;
  streams::TaskOptions defaults;
  int commit_interval_ms = defaults.commit_interval_ms;
  int max_commit_interval_ms = defaults.max_commit_interval_ms;
  int linger_ms = defaults.linger_ms, fetch_min_bytes = defaults.fetch_min_bytes;
  app.add_option("--brokers", brokers, "bootstrap servers of a broker with transactions")
      ->required();
  app.add_option("--hops", hops, "stages in the chain")
      ->capture_default_str()
      ->check(CLI::Range(1, 8));
  app.add_option("--partitions", partitions, "partitions of every topic")->capture_default_str();
  app.add_option("--rate", rate, "records per second sent")
      ->capture_default_str()
      ->check(CLI::Range(1, 1000000));
  app.add_option("--events", events, "records measured (sent after the warm-up)")
      ->capture_default_str()
      ->check(CLI::Range(1, 100000000));
  // At least a second: the sink starts at the end of the last topic, which it looks up as the
  // records begin to flow.
  app.add_option("--warmup-s", warmup_s, "seconds sent at the rate first, not measured")
      ->capture_default_str()
      ->check(CLI::Range(1, 600));
  app.add_option("--timeout-s", timeout_s, "stop after this long whatever arrived")
      ->capture_default_str();
  app.add_option("--commit-interval-ms", commit_interval_ms)->capture_default_str();
  app.add_option("--max-commit-interval-ms", max_commit_interval_ms)->capture_default_str();
  app.add_option("--linger-ms", linger_ms)->capture_default_str();
  app.add_option("--fetch-min-bytes", fetch_min_bytes)->capture_default_str();
  CLI11_PARSE(app, argc, argv);
  spdlog::set_level(spdlog::level::warn);

  const std::string run = std::to_string(std::chrono::system_clock::now().time_since_epoch() /
                                         std::chrono::milliseconds(1));
  std::vector<std::string> topics;
  std::vector<streams::TopicSpec> specs;
  for (int i = 0; i <= hops; ++i) {
    topics.push_back("hops-" + run + "-" + std::to_string(i));
    specs.push_back({topics.back(), partitions, 1, {}});
  }
  specs.push_back({"hops-" + run + "-dead", 1, 1, {}});
  if (auto s = streams::ensure_topics(brokers, specs); !s.ok()) {
    std::fprintf(stderr, "digonce_kafka_hops: %s\n", s.error().what().c_str());
    return 1;
  }
  const auto data = std::filesystem::temp_directory_path() / ("digonce-hops-" + run);

  prometheus::Registry registry;
  std::vector<std::unique_ptr<streams::StatelessFactory>> factories;
  std::vector<std::unique_ptr<streams::StreamTask>> tasks;
  std::vector<std::thread> threads;
  std::atomic<bool> stop{false};
  for (int i = 0; i < hops; ++i) {
    streams::TaskOptions o;
    o.name = "hop" + std::to_string(i);
    o.brokers = brokers;
    o.input_topic = topics[i];
    o.group_id = "hops-" + run + "-" + o.name;
    o.transactional_id = o.group_id;
    o.dead_letter_topic = specs.back().name;
    o.output_topics = {topics[i + 1]};
    o.data_dir = data.string();
    o.commit_interval_ms = commit_interval_ms;
    o.max_commit_interval_ms = std::max(max_commit_interval_ms, commit_interval_ms);
    o.linger_ms = linger_ms;
    o.fetch_min_bytes = fetch_min_bytes;
    // Each record to the same partition of the next topic.
    factories.push_back(std::make_unique<streams::StatelessFactory>(
        [next = topics[i + 1]](const streams::InputRecord& in, streams::Output& out) {
          std::string value(in.value.value_or(""));
          return out.send(next, in.partition, in.key, &value);
        }));
    tasks.push_back(std::make_unique<streams::StreamTask>(o, *factories.back(), registry));
  }
  threads.reserve(tasks.size());
  for (auto& t : tasks)
    threads.emplace_back([&stop, task = t.get()] {
      if (auto s = task->run(stop); !s.ok())
        std::fprintf(stderr, "digonce_kafka_hops: %s\n", s.error().what().c_str());
    });

  // The sink: every partition of the last topic, from its end, committed data only.
  auto sink = streams::make_client(
      RD_KAFKA_CONSUMER, streams::consumer_config(brokers, "hops-sink", "hops-" + run + "-sink"));
  auto source_conf = streams::producer_config(brokers, "hops-source", "");
  source_conf["linger.ms"] = "2";  // as `digonce load` sends
  auto source = streams::make_client(RD_KAFKA_PRODUCER, source_conf);
  if (!sink.ok() || !source.ok()) {
    std::fprintf(stderr, "digonce_kafka_hops: cannot make the clients\n");
    return 1;
  }
  rd_kafka_poll_set_consumer(sink->get());
  if (auto s = streams::assign_all(sink->get(), topics.back(), partitions, RD_KAFKA_OFFSET_END);
      !s.ok()) {
    std::fprintf(stderr, "digonce_kafka_hops: %s\n", s.error().what().c_str());
    return 1;
  }
  for (auto deadline = Clock::now() + std::chrono::seconds(60);
       Clock::now() < deadline && std::any_of(tasks.begin(), tasks.end(), [&](auto& t) {
         return t->assigned_partitions() < partitions;
       });)
    std::this_thread::sleep_for(std::chrono::milliseconds(50));

  // Record value: 8 bytes of send time (this process's clock), 8 of sequence number, 1 byte:
  // measured or not. Every record must arrive exactly once.
  const std::int64_t warmup = static_cast<std::int64_t>(warmup_s) * rate;
  const std::int64_t total = warmup + events;
  std::vector<std::int64_t> latencies;
  latencies.reserve(static_cast<std::size_t>(events));
  std::vector<bool> seen(static_cast<std::size_t>(total));
  std::int64_t sent = 0, received = 0, duplicates = 0;
  const std::int64_t t0 = now_us();
  std::int64_t next_report = t0 + 5000000;
  while (static_cast<std::int64_t>(latencies.size()) < events) {
    const std::int64_t now = now_us();
    if (now - t0 > static_cast<std::int64_t>(timeout_s) * 1000000) break;
    while (sent < total && (now - t0) * rate / 1000000 >= sent) {
      char value[17];
      const std::int64_t at = now_us();
      std::memcpy(value, &at, 8);
      std::memcpy(value + 8, &sent, 8);
      value[16] = sent >= warmup ? 1 : 0;
      rd_kafka_resp_err_t err;
      while ((err = rd_kafka_producev(
                  source->get(), RD_KAFKA_V_TOPIC(topics.front().c_str()),
                  RD_KAFKA_V_PARTITION(static_cast<std::int32_t>(sent % partitions)),
                  RD_KAFKA_V_VALUE(value, sizeof value), RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
                  RD_KAFKA_V_END)) == RD_KAFKA_RESP_ERR__QUEUE_FULL)
        rd_kafka_poll(source->get(), 10);  // the rate is more than the broker takes: wait
      if (err) {
        std::fprintf(stderr, "digonce_kafka_hops: produce: %s\n", rd_kafka_err2str(err));
        break;
      }
      ++sent;
    }
    rd_kafka_poll(source->get(), 0);
    streams::Message m(rd_kafka_consumer_poll(sink->get(), 1));
    if (m && !m->err && m->len == 17) {
      ++received;
      std::int64_t at, seq;
      std::memcpy(&at, m->payload, 8);
      std::memcpy(&seq, static_cast<const char*>(m->payload) + 8, 8);
      if (seq < 0 || seq >= total || seen[static_cast<std::size_t>(seq)]) {
        ++duplicates;
      } else {
        seen[static_cast<std::size_t>(seq)] = true;
        if (static_cast<const char*>(m->payload)[16]) latencies.push_back(now_us() - at);
      }
    }
    if (now >= next_report) {
      std::fprintf(stderr, "  %lld sent, %lld arrived\n", static_cast<long long>(sent),
                   static_cast<long long>(received));
      next_report += 5000000;
    }
  }
  const double wall_s = static_cast<double>(now_us() - t0) / 1e6;
  stop = true;
  for (auto& t : threads) t.join();

  std::sort(latencies.begin(), latencies.end());
  auto pct = [&](double p) {
    if (latencies.empty()) return 0.0;
    auto i = std::min(latencies.size() - 1, static_cast<std::size_t>(p * latencies.size()));
    return static_cast<double>(latencies[i]) / 1000.0;
  };
  const auto [commits, commit_s] = histogram_totals(registry, "digonce_transaction_commit_seconds");
  std::printf(
      "hops %d, partitions %d, %d records/s, commit interval %d ms (stretched to %d), linger %d "
      "ms, fetch.min.bytes %d\n",
      hops, partitions, rate, commit_interval_ms,
      std::max(max_commit_interval_ms, commit_interval_ms), linger_ms, fetch_min_bytes);
  std::printf(
      "  %zu of %d measured records arrived (%.1f s in all); produce -> visible after the last "
      "hop, ms: p50 %.1f  p90 %.1f  p99 %.1f  max %.1f\n",
      latencies.size(), events, wall_s, pct(0.5), pct(0.9), pct(0.99), pct(1.0));
  std::printf("  transactions: %.0f committed, %.1f ms each on average (offsets + commit)\n",
              commits, commits > 0 ? commit_s * 1000.0 / commits : 0.0);
  if (duplicates > 0)
    std::printf("  ERROR: %lld records arrived more than once (or unknown)\n",
                static_cast<long long>(duplicates));

  topics.push_back(specs.back().name);
  if (auto s = streams::delete_topics(brokers, topics); !s.ok())
    std::fprintf(stderr, "digonce_kafka_hops: %s\n", s.error().what().c_str());
  std::filesystem::remove_all(data);
  // For the smoke test (tests/integration): every measured record arrived, none twice.
  return static_cast<std::int64_t>(latencies.size()) == events && duplicates == 0 ? 0 : 2;
}

int main(int argc, char** argv) {
  try {
    return run(argc, argv);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "digonce_kafka_hops: %s\n", e.what());
    return 1;
  }
}
