#include "services/load_command.h"

#include <spdlog/spdlog.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cinttypes>
#include <cstdio>
#include <iostream>
#include <mutex>
#include <thread>
#include <vector>

#include "geo/work.h"
#include "streams/admin.h"
#include "streams/kafka.h"

namespace digonce::services {
namespace {

using Clock = std::chrono::steady_clock;

constexpr std::uint64_t kColumns = 500;  // 500 x 400 sites, 100 m apart: 50 x 40 km of London
constexpr std::uint64_t kSites = kColumns * 400;
constexpr double kSpacing = 100;
constexpr double kOriginX = 505000, kOriginY = 158000;

std::string date_of(std::int64_t days_from_2027) {
  // 2027-01-01 is day 20819 since 1970-01-01; civil-from-days (H. Hinnant).
  std::int64_t z = 20819 + days_from_2027 + 719468;
  std::int64_t era = (z >= 0 ? z : z - 146096) / 146097;
  auto doe = static_cast<unsigned>(z - era * 146097);
  unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
  std::int64_t y = static_cast<std::int64_t>(yoe) + era * 400;
  unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
  unsigned mp = (5 * doy + 2) / 153;
  unsigned d = doy - (153 * mp + 2) / 5 + 1;
  unsigned m = mp < 10 ? mp + 3 : mp - 9;
  char buf[48];
  std::snprintf(buf, sizeof buf, "%04" PRId64 "-%02u-%02u", y + (m <= 2), m, d);
  return buf;
}

// The two works of pair i: on site i mod kSites, in a 200-day slot of its own (i / kSites), so
// pairs never meet each other in space or within the collaboration window in time.
std::string work_json(const std::string& ref, std::uint64_t i, bool second) {
  std::uint64_t site = i % kSites;
  std::int64_t slot = static_cast<std::int64_t>(i / kSites);
  double x = kOriginX + static_cast<double>(site % kColumns) * kSpacing;
  const std::uint64_t row = site / kColumns;
  double y = kOriginY + static_cast<double>(row) * kSpacing;
  std::string start = date_of(slot * 200 + (second ? 5 : 0));
  std::string end = date_of(slot * 200 + (second ? 15 : 10));
  char geometry[160];
  if (second)
    std::snprintf(geometry, sizeof geometry, R"({"type":"Point","coordinates":[%.1f,%.1f]})",
                  x + 10, y + 5);
  else
    std::snprintf(geometry, sizeof geometry,
                  R"({"type":"LineString","coordinates":[[%.1f,%.1f],[%.1f,%.1f]]})", x, y, x + 20,
                  y);
  return R"({"work_ref":")" + ref + R"(","promoter":"LOAD","crs":"EPSG:27700","geometry":)" +
         geometry + R"(,"start":")" + start + R"(","end":")" + end + R"(","category":"minor"})";
}

double percentile(std::vector<double>& v, double p) {
  if (v.empty()) return 0;
  auto k = static_cast<std::size_t>(p * static_cast<double>(v.size() - 1));
  std::nth_element(v.begin(), v.begin() + static_cast<std::ptrdiff_t>(k), v.end());
  return v[k];
}

}  // namespace

Status run_load(const Settings& settings, const LoadOptions& options) {
  const std::uint64_t pairs = std::max<std::uint64_t>(1, options.events / 2);
  const std::string run =
      options.run_id.empty()
          // The second and the process: two loads started in the same second differ.
          ? std::to_string(std::chrono::duration_cast<std::chrono::seconds>(
                               std::chrono::system_clock::now().time_since_epoch())
                               .count()) +
                "." + std::to_string(::getpid())
          : options.run_id;
  const std::string prefix = "LOAD-" + run + "-";
  // Each work ref is the prefix, the pair's number and -A or -B: all must be valid refs, or
  // ingest would refuse every work and the run wait its whole timeout for nothing.
  if (!geo::valid_work_ref(prefix + std::to_string(pairs) + "-A"))
    return error("--run-id " + run + ": the work refs LOAD-" + run +
                 "-N-A must be 1 to 64 characters of A-Z a-z 0-9 _ . / -");
  std::uint64_t first_site = options.first_site;
  if (first_site == LoadOptions::kFromRunId) {
    std::uint64_t h = 1469598103934665603ULL;  // FNV-1a of the run id: slots 1-1000
    for (unsigned char c : run) h = (h ^ c) * 1099511628211ULL;
    first_site = (1 + h % 1000) * kSites;
  }
  const std::string alerts_topic = settings.topic("alerts");

  // The consumer starts at the end of every alerts partition before anything is produced.
  auto np = streams::partition_count(settings.brokers, alerts_topic);
  if (!np) return np.error();
  auto cconf =
      streams::consumer_config(settings.brokers, "digonce-load", settings.topic("load-" + run));
  cconf["fetch.wait.max.ms"] = "5";
  auto consumer = streams::make_client(RD_KAFKA_CONSUMER, cconf);
  if (!consumer) return consumer.error();
  {
    streams::PartitionList list(rd_kafka_topic_partition_list_new(*np));
    // Topics just created (`digonce topics` a moment before) show in metadata before every
    // partition's leader is known everywhere: a leader not known yet is waited for (30 s, and
    // the last query's own 10 s at most).
    const auto give_up = Clock::now() + std::chrono::seconds(30);
    for (int p = 0; p < *np; ++p) {
      std::int64_t lo = 0, hi = 0;
      for (;;) {
        auto err = rd_kafka_query_watermark_offsets(consumer->get(), alerts_topic.c_str(), p, &lo,
                                                    &hi, 10000);
        if (!err) break;
        const bool leader_unknown = err == RD_KAFKA_RESP_ERR_NOT_LEADER_FOR_PARTITION ||
                                    err == RD_KAFKA_RESP_ERR_LEADER_NOT_AVAILABLE ||
                                    err == RD_KAFKA_RESP_ERR_UNKNOWN_TOPIC_OR_PART;
        if (!leader_unknown || Clock::now() > give_up)
          return streams::kafka_error("watermarks of " + alerts_topic, err);
        std::this_thread::sleep_for(std::chrono::milliseconds(200));
      }
      rd_kafka_topic_partition_list_add(list.get(), alerts_topic.c_str(), p)->offset = hi;
    }
    if (auto err = rd_kafka_assign(consumer->get(), list.get()))
      return streams::kafka_error("assign", err);
  }

  std::vector<Clock::time_point> sent(pairs);
  std::vector<std::atomic<bool>> sent_ready(pairs);
  std::vector<double> latencies_ms;
  latencies_ms.reserve(pairs);
  std::atomic<std::uint64_t> received{0}, unexpected{0};
  std::atomic<bool> producing_done{false};
  Clock::time_point last_alert{};
  Clock::time_point deadline = Clock::time_point::max();
  std::mutex deadline_mu;

  std::thread reader([&] {
    std::vector<char> seen(pairs, 0);
    for (;;) {
      {
        std::lock_guard lock(deadline_mu);
        if (received.load() >= pairs || Clock::now() > deadline) break;
      }
      streams::Message m(rd_kafka_consumer_poll(consumer->get(), 100));
      if (!m || m->err) continue;
      auto now = Clock::now();
      std::string_view value(static_cast<const char*>(m->payload), m->len);
      auto at = value.find(prefix);
      if (at == std::string_view::npos ||
          value.find(R"("state":"open")") == std::string_view::npos) {
        ++unexpected;
        continue;
      }
      std::uint64_t i = std::strtoull(value.data() + at + prefix.size(), nullptr, 10);
      if (i >= pairs || seen[i] || !sent_ready[i].load(std::memory_order_acquire)) {
        ++unexpected;
        continue;
      }
      seen[i] = 1;
      latencies_ms.push_back(std::chrono::duration<double, std::milli>(now - sent[i]).count());
      last_alert = now;
      ++received;
    }
  });

  auto pconf = streams::producer_config(settings.brokers, "digonce-load", "");
  pconf["linger.ms"] = "2";
  auto producer = streams::make_client(RD_KAFKA_PRODUCER, pconf);
  if (!producer) return producer.error();
  const std::string topic = settings.topic("works.submitted");
  auto started = Clock::now();
  auto last_report = started;
  for (std::uint64_t i = 0; i < pairs; ++i) {
    if (options.rate > 0) {
      auto due =
          started + std::chrono::duration_cast<Clock::duration>(
                        std::chrono::duration<double>(static_cast<double>(2 * i) / options.rate));
      std::this_thread::sleep_until(due);
    }
    std::uint64_t n = first_site + i;
    std::string a = prefix + std::to_string(i) + "-A", b = prefix + std::to_string(i) + "-B";
    std::string va = work_json(a, n, false), vb = work_json(b, n, true);
    DIGONCE_TRY(streams::produce(producer->get(), topic, RD_KAFKA_PARTITION_UA, a, &va));
    sent[i] = Clock::now();
    sent_ready[i].store(true, std::memory_order_release);
    DIGONCE_TRY(streams::produce(producer->get(), topic, RD_KAFKA_PARTITION_UA, b, &vb));
    rd_kafka_poll(producer->get(), 0);
    auto now = Clock::now();
    if (now - last_report > std::chrono::seconds(2)) {
      last_report = now;
      std::fprintf(stderr, "digonce load: %" PRIu64 " events sent, %" PRIu64 " alerts back\n",
                   2 * (i + 1), received.load());
    }
  }
  auto sent_all = Clock::now();
  if (auto err = rd_kafka_flush(producer->get(), 60000)) return streams::kafka_error("flush", err);
  {
    std::lock_guard lock(deadline_mu);
    deadline = Clock::now() + std::chrono::duration_cast<Clock::duration>(
                                  std::chrono::duration<double>(options.timeout_s));
  }
  while (received.load() < pairs && Clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::seconds(2));
    std::fprintf(stderr, "digonce load: all %" PRIu64 " events sent, %" PRIu64 " alerts back\n",
                 2 * pairs, received.load());
  }
  reader.join();

  double send_s = std::chrono::duration<double>(sent_all - started).count();
  double total_s = std::chrono::duration<double>(last_alert - started).count();
  std::vector<double> l = latencies_ms;
  std::printf("events sent        %" PRIu64 " in %.2f s (%.0f/s%s)\n", 2 * pairs, send_s,
              static_cast<double>(2 * pairs) / send_s, options.rate > 0 ? ", paced" : ", unpaced");
  std::printf("clash alerts back  %" PRIu64 " of %" PRIu64 " (%" PRIu64 " other messages)\n",
              received.load(), pairs, unexpected.load());
  if (received.load() > 0) {
    std::printf("end to end         %.0f events/s (first send to last alert, %.2f s)\n",
                static_cast<double>(2 * received.load()) / total_s, total_s);
    std::printf("latency ms         p50 %.1f  p90 %.1f  p99 %.1f  max %.1f\n", percentile(l, 0.5),
                percentile(l, 0.9), percentile(l, 0.99), percentile(l, 1.0));
  }
  if (received.load() < pairs)
    return Error{"", std::to_string(pairs - received.load()) + " alerts did not arrive within " +
                         std::to_string(options.timeout_s) + " s"};
  return {};
}

}  // namespace digonce::services
