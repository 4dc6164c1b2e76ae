// digonce_bench: the detection engine's speed, measured (docs/PERFORMANCE.md, tools/bench).
//
// For each workload (bench/workloads.h) and size N:
//   1. load      N works into a fresh engine (geo::Engine: registry, detector, alert ledger) on a
//                RocksDB store with its write-ahead log, through a BufferedStore committed every
//                50,000 writes (as `digonce detect` does); pairs among the N are detected too
//   2. check     query only: each event applied, its new alerts counted, then cancelled (untimed
//                check, so that no event sees another): the standard workload's published counts,
//                and for every workload the same counts as the GEOS baseline
//   3. stream    the events, each a new work: query + insert + alerts (Engine::apply), in three
//                durability modes, each from the same N live works (a phase's events are
//                cancelled, untimed, before the next):
//                  per event: the event's writes are one RocksDB WriteBatch (WAL on, no fsync)
//                             written before the next event starts
//                  batched:   one WriteBatch every --commit-every events, as the stream pipeline
//                             commits with each Kafka transaction
//                  group:     the same on a second thread, handed over as soon as the thread is
//                             free (--commit-when-free), in --commit-rounds rounds (5), whose
//                             median and range a table of their own gives
//   4. restart   close the store, reopen it and rebuild the index (Engine::open), timed
//   5. floor     diagnostic: the same load and stream on an engine over a store that keeps
//                nothing, i.e. the engine's computing alone (not durable, not a result)
//   6. baseline  a static GEOS STRtree + prepared distance-within on the same works and events
// and once per run, what RocksDB alone costs per key here with the same options.
//
// Progress goes to stderr; the tables (markdown) to stdout. Every phase is bounded by
// --phase-seconds and the whole run by --time-limit.
#include <malloc.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "base/huge_pages.h"
#include "bench/geos_baseline.h"
#include "bench/measure.h"
#include "bench/workloads.h"
#include "geo/authorities.h"
#include "geo/engine.h"
#include "geo/place_locator.h"
#include "store/buffered_store.h"
#include "store/rocks_store.h"

#ifndef DIGONCE_SHARED_DATA_DEFAULT
#define DIGONCE_SHARED_DATA_DEFAULT ""
#endif

namespace digonce::bench {
namespace {

namespace fs = std::filesystem;

struct Options {
  std::vector<std::size_t> sizes{10'000, 100'000, 1'000'000};
  bool five_million = false;
  std::size_t events = 100'000;
  std::size_t roads_works = 10'000;
  std::vector<std::string> workloads{"roads", "london", "standard"};
  std::string standard_dir;
  std::string data_dir;
  std::string shared_data;
  std::size_t commit_every = 1'000;
  std::size_t commit_when_free = 64;  // group commit: 0 = every commit_every events only
  bool sync = false;
  std::size_t block_cache_mb = 64;  // the RocksOptions defaults
  std::size_t write_buffer_mb = 64;
  bool no_insert_hints = false;
  bool skip_list_cells = false;
  double finest_cell_m = 128.0;  // DetectorOptions' default
  bool no_baseline = false;
  bool no_compute_floor = false;
  bool compute_floor_only = false;
  unsigned floor_rounds = 1;
  unsigned commit_rounds = 5;
  bool quick = false;
  bool keep = false;
  double phase_seconds = 300;
  double time_limit_s = 3'600;
  std::string perf_control;  // "CTL,ACK": perf record's --control FIFOs
};

/// Turns a `perf record --control=fifo:CTL,ACK -D -1` on for the timed part of each stream phase
/// and off again, so that a profile leaves out loading, settling and the untimed cancels.
class PerfControl {
 public:
  Status open(const std::string& spec) {
    const auto comma = spec.find(',');
    if (comma == std::string::npos) return error("--perf-control wants CTL,ACK");
    ctl_.open(spec.substr(0, comma));
    ack_.open(spec.substr(comma + 1));
    if (!ctl_ || !ack_) return error("--perf-control: cannot open " + spec);
    return {};
  }
  void set(bool on) {
    if (!ctl_.is_open()) return;
    ctl_ << (on ? "enable" : "disable") << std::endl;
    std::string reply;
    std::getline(ack_, reply);  // "ack": perf has done it
  }

 private:
  std::ofstream ctl_;
  std::ifstream ack_;
};
PerfControl perf_control;

using geo::IdentityLocator;

/// Counts what the engine asks of its store (reads, and the puts and deletes it writes).
class CountingStore final : public store::Store {
 public:
  explicit CountingStore(store::Store& base) : base_(base) {}
  Result<std::optional<std::string>> get(store::Family f, std::string_view key) const override {
    ++gets;
    return base_.get(f, key);
  }
  Status scan(store::Family f, std::string_view prefix,
              const store::Visitor& visit) const override {
    return base_.scan(f, prefix, visit);
  }
  Status write(const store::WriteBatch& batch) override {
    writes += batch.size();
    return base_.write(batch);
  }
  mutable std::uint64_t gets = 0;
  std::uint64_t writes = 0;

 private:
  store::Store& base_;
};

/// Keeps nothing: every read finds nothing and every write is dropped. The engine over it does
/// all its computing (detection, GEOS, locating, alert building) and no storing: the compute
/// floor of an event, not a durable engine.
class NullStore final : public store::Store {
 public:
  Result<std::optional<std::string>> get(store::Family, std::string_view) const override {
    return std::optional<std::string>();
  }
  Status scan(store::Family, std::string_view, const store::Visitor&) const override { return {}; }
  Status write(const store::WriteBatch&) override { return {}; }
};

struct StreamRow {
  std::string workload;
  std::size_t n = 0;
  std::string system;
  std::size_t events = 0;
  bool timed = true;
  double seconds = 0;
  double thread_cpu = 0;  // the engine thread's CPU seconds
  double cpu = 0;         // the process's CPU seconds (RocksDB's background threads too)
  double commit_seconds = 0;
  std::size_t commits = 0;  // commits in the phase, the last included when it had writes
  double last_commit = 0;   // seconds: the wait for the last, after the last event
  double p50 = 0, p99 = 0, p999 = 0;
  double visited = 0, checks = 0;  // index entries and GEOS distance checks per event
  double gets = 0, writes = 0;     // store reads and written keys per event
  Counts counts;
  std::string check;
  // One of several rounds of a phase (--floor-rounds, --commit-rounds): the phase's text, without
  // ", round N", under which print_rounds() sums the rounds up.
  std::string series;
};

struct StateRow {
  std::string workload;
  std::size_t n = 0;
  double load_seconds = 0;
  std::int64_t rss_load = 0;    // RSS after loading minus RSS before opening the store
  std::size_t heap = 0;         // index and record filter heap bytes, after loading
  std::int64_t rss_reopen = 0;  // RSS after the reopen minus RSS with everything closed
  std::uint64_t disk = 0;       // the RocksDB folder at the end
  double close = 0, rocks_open = 0, index_open = 0;  // seconds
  std::size_t reopened = 0;                          // live works after the reopen (must be n)
  std::optional<double> geos_build;
  std::int64_t geos_rss = 0;
};

struct Tables {
  std::vector<StreamRow> stream;
  std::vector<StateRow> state;
};

std::string thousands(double v) {
  auto n = static_cast<long long>(std::llround(v));
  std::string s = std::to_string(n < 0 ? -n : n);
  for (int i = static_cast<int>(s.size()) - 3; i > 0; i -= 3)
    s.insert(static_cast<std::size_t>(i), ",");
  return n < 0 ? "-" + s : s;
}

std::string thousands(std::uint64_t v) {
  return thousands(static_cast<double>(v));
}

std::string fixed(double v, int digits) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.*f", digits, v);
  return buf;
}

std::string size_name(std::size_t n) {
  if (n >= 1'000'000 && n % 1'000'000 == 0) return std::to_string(n / 1'000'000) + "M";
  if (n >= 1'000 && n % 1'000 == 0) return std::to_string(n / 1'000) + "k";
  return std::to_string(n);
}

std::string counts_text(const Counts& c) {
  return thousands(c.total()) + " (" + thousands(c.clash) + " / " + thousands(c.collaboration) +
         ")";
}

template <class... Args>
void say(const char* fmt, Args... args) {
  std::fprintf(stderr, fmt, args...);
  std::fflush(stderr);
}

// One engine over one RocksDB folder.
// One engine over one RocksDB folder (or over a NullStore).
struct Instance {
  std::unique_ptr<store::RocksStore> rocks;
  std::unique_ptr<store::BufferedStore> buffered;
  std::unique_ptr<NullStore> null;
  std::unique_ptr<CountingStore> counting;
  std::unique_ptr<geo::Engine> engine;

  Status commit() { return buffered ? buffered->commit() : Status{}; }
  /// Group commit: the writes go to RocksDB on a second thread (BufferedStore::commit_async).
  Status commit_async() { return buffered ? buffered->commit_async() : Status{}; }
  /// A write handed to the second thread is still being made.
  bool writing() const { return buffered && buffered->writing(); }
  std::size_t pending() const { return buffered ? buffered->pending_count() : 0; }
  void close() {
    engine.reset();
    counting.reset();
    buffered.reset();
    null.reset();
    rocks.reset();
  }
};

// The group-commit policy, in the words of the tables and the progress lines.
std::string group_commit_text(const Options& o) {
  if (!o.commit_when_free)
    return "WriteBatch per " + thousands(static_cast<double>(o.commit_every)) +
           " events written on a second thread";
  return "WriteBatch per " + thousands(static_cast<double>(o.commit_when_free)) + " to " +
         thousands(static_cast<double>(o.commit_every)) +
         " events, written on a second thread as soon as it is free";
}

geo::DetectorOptions detector_options(const Options& o) {
  geo::DetectorOptions d;
  d.finest_cell_m = o.finest_cell_m;
  return d;
}

Result<Instance> open_null_instance(const Options& o, geo::Geos& geos, geo::Locator& locator) {
  Instance x;
  x.null = std::make_unique<NullStore>();
  x.counting = std::make_unique<CountingStore>(*x.null);
  x.engine = std::make_unique<geo::Engine>(*x.counting, detector_options(o), geos, locator);
  DIGONCE_TRY(x.engine->open());
  return x;
}

// The store's options from the command line (WAL on, as everywhere in this benchmark).
store::RocksOptions rocks_options(const Options& o) {
  store::RocksOptions ro;
  ro.wal = true;
  ro.sync = o.sync;
  ro.block_cache_bytes = o.block_cache_mb << 20;
  ro.write_buffer_bytes = o.write_buffer_mb << 20;
  ro.insert_hints = !o.no_insert_hints;
  if (!o.skip_list_cells) ro.vector_memtable_families = geo::kEngineLogFamilies;
  return ro;
}

Result<Instance> open_instance(const fs::path& dir, const Options& o, geo::Geos& geos,
                               geo::Locator& locator, double* rocks_s = nullptr,
                               double* index_s = nullptr) {
  const store::RocksOptions ro = rocks_options(o);
  Instance x;
  auto t0 = Clock::now();
  auto rocks = store::RocksStore::open(dir.string(), geo::kEngineFamilies, ro);
  if (!rocks) return rocks.error();
  x.rocks = std::move(*rocks);
  if (rocks_s) *rocks_s = seconds_since(t0);
  x.buffered = std::make_unique<store::BufferedStore>(*x.rocks, geo::kEngineFamilies.size());
  x.counting = std::make_unique<CountingStore>(*x.buffered);
  x.engine = std::make_unique<geo::Engine>(*x.counting, detector_options(o), geos, locator);
  auto t1 = Clock::now();
  DIGONCE_TRY(x.engine->open());
  if (index_s) *index_s = seconds_since(t1);
  return x;
}

void count_opened(const std::vector<geo::Alert>& alerts, Counts& c) {
  for (const auto& a : alerts) {
    if (a.state != geo::AlertState::Open) continue;
    if (a.kind == geo::AlertKind::Clash) ++c.clash;
    if (a.kind == geo::AlertKind::Collaboration) ++c.collaboration;
  }
}

// Cancels the first `count` events of a phase (untimed), so that the next phase starts from the
// same live works.
Status cancel_all(Instance& x, const std::vector<geo::WorkEvent>& events, std::size_t count,
                  const std::string& prefix) {
  std::vector<geo::Alert> alerts;
  geo::WorkEvent c;
  c.event = geo::EventType::Cancel;
  for (std::size_t i = 0; i < count; ++i) {
    c.work_ref = prefix + events[i].work_ref;
    alerts.clear();
    DIGONCE_TRY(x.engine->apply(c, alerts));
    if (x.pending() > 50'000) DIGONCE_TRY(x.commit_async());
  }
  return x.commit();
}

// The stream: each event applied (query + insert + alerts), a commit every `commit_every`; with
// `async`, each commit is written by a second thread while the next events are applied (the
// event's latency then includes waiting for the previous commit, when it is not done), and with
// `commit_when_free` as well, a commit as soon as the writer is free and that many events are
// pending (group commit at the writer's pace: the sets stay small where the writer keeps up, and
// so does the last, which the phase waits for). The phase ends when its last write is made.
Result<StreamRow> stream(Instance& x, const Workload& w, const std::string& prefix,
                         std::size_t commit_every, bool async, Clock::time_point deadline,
                         std::size_t commit_when_free = 0) {
  StreamRow row;
  Latencies lat;
  lat.reserve(w.events.size());
  std::vector<geo::Alert> alerts;
  // The phase's events, renamed for it, before the clock starts: copying an event is the
  // harness's work, not the engine's (a caller hands the engine an event it already holds).
  std::vector<geo::WorkEvent> events = w.events;
  for (auto& e : events) e.work_ref.insert(0, prefix);
  const auto before = x.engine->detector().stats();
  const auto gets0 = x.counting->gets, writes0 = x.counting->writes;
  perf_control.set(true);
  const double cpu0 = process_cpu_seconds(), thread0 = thread_cpu_seconds();
  Clock::duration committing{};
  const auto s0 = Clock::now();
  std::size_t i = 0, since = 0;
  for (; i < events.size(); ++i) {
    if ((i & 255) == 0 && Clock::now() > deadline) break;
    alerts.clear();
    const auto t0 = Clock::now();
    DIGONCE_TRY(x.engine->apply(events[i], alerts));
    ++since;
    if (since == commit_every ||
        (async && commit_when_free && since >= commit_when_free && !x.writing())) {
      const auto c0 = Clock::now();
      DIGONCE_TRY(async ? x.commit_async() : x.commit());
      committing += Clock::now() - c0;
      ++row.commits;
      since = 0;
    }
    lat.add(Clock::now() - t0);
    count_opened(alerts, row.counts);
  }
  const auto c0 = Clock::now();
  DIGONCE_TRY(x.commit());
  const auto last = Clock::now() - c0;
  committing += last;
  if (since > 0) ++row.commits;  // (otherwise only a wait for the writes in flight)
  row.last_commit = std::chrono::duration<double>(last).count();
  row.seconds = seconds_since(s0);
  row.commit_seconds = std::chrono::duration<double>(committing).count();
  row.thread_cpu = thread_cpu_seconds() - thread0;
  row.cpu = process_cpu_seconds() - cpu0;
  perf_control.set(false);
  row.events = i;
  row.p50 = lat.percentile_us(50);
  row.p99 = lat.percentile_us(99);
  row.p999 = lat.percentile_us(99.9);
  const auto& after = x.engine->detector().stats();
  if (i) {
    const auto n = static_cast<double>(i);
    row.visited = static_cast<double>(after.entries_visited - before.entries_visited) / n;
    row.checks = static_cast<double>(after.exact_checks - before.exact_checks) / n;
    row.gets = static_cast<double>(x.counting->gets - gets0) / n;
    row.writes = static_cast<double>(x.counting->writes - writes0) / n;
  }
  if (i < w.events.size()) row.check = "cut short at " + thousands(static_cast<double>(i));
  DIGONCE_TRY(cancel_all(x, w.events, i, prefix));
  return row;
}

// The query-only check: each event applied, its alerts counted, then cancelled.
Result<StreamRow> query_only(Instance& x, const Workload& w, const std::string& prefix,
                             Clock::time_point deadline) {
  StreamRow row;
  row.timed = false;
  std::vector<geo::Alert> alerts;
  geo::WorkEvent cancel;
  cancel.event = geo::EventType::Cancel;
  std::size_t i = 0;
  for (; i < w.events.size(); ++i) {
    if ((i & 255) == 0 && Clock::now() > deadline) break;
    geo::WorkEvent e = w.events[i];
    e.work_ref.insert(0, prefix);
    alerts.clear();
    DIGONCE_TRY(x.engine->apply(e, alerts));
    count_opened(alerts, row.counts);
    cancel.work_ref = e.work_ref;
    alerts.clear();
    DIGONCE_TRY(x.engine->apply(cancel, alerts));
    if (x.pending() > 50'000) DIGONCE_TRY(x.commit_async());
  }
  DIGONCE_TRY(x.commit());
  row.events = i;
  return row;
}

std::string check_against(const std::optional<Counts>& expected, const Counts& c,
                          const char* whose) {
  if (!expected) return "";
  if (c == *expected) return std::string("PASS (= ") + whose + ")";
  return std::string("FAIL (") + whose + ": " + counts_text(*expected) + ")";
}

Status run_workload(const Workload& w, const Options& o, geo::Geos& geos, geo::Locator& locator,
                    Clock::time_point deadline, Tables& tables) {
  const std::string label = w.name + " " + size_name(w.works);
  auto phase_deadline = [&] {
    return std::min(deadline, Clock::now() + std::chrono::milliseconds(
                                                 static_cast<long long>(o.phase_seconds * 1000)));
  };
  auto add_row = [&](StreamRow r, const std::string& system) {
    r.workload = w.name;
    r.n = w.works;
    r.system = system;
    if (r.timed) {
      say("[%s] %s: %zu events, %.0f events/s (%.0f per engine-thread CPU second, %.0f%% of the "
          "time in %zu commits, %.1f ms in the last, process CPU %.0f%% of wall), p50 %.1f us, "
          "p99 %.1f us, matches %s %s\n",
          label.c_str(), system.c_str(), r.events,
          r.seconds > 0 ? static_cast<double>(r.events) / r.seconds : 0.0,
          r.thread_cpu > 0 ? static_cast<double>(r.events) / r.thread_cpu : 0.0,
          r.seconds > 0 ? 100 * r.commit_seconds / r.seconds : 0.0, r.commits, 1e3 * r.last_commit,
          r.seconds > 0 ? 100 * r.cpu / r.seconds : 0.0, r.p50, r.p99,
          counts_text(r.counts).c_str(), r.check.c_str());
    } else {
      say("[%s] %s: %zu events, matches %s %s\n", label.c_str(), system.c_str(), r.events,
          counts_text(r.counts).c_str(), r.check.c_str());
    }
    tables.stream.push_back(std::move(r));
  };

  // How much of the process is on huge pages while an engine is live: the line at the end of the
  // run is read after the engines are gone.
  auto say_huge_pages = [&](const char* when) {
    say("[%s] %s: %.0f of %.0f MiB resident on huge pages\n", label.c_str(), when,
        static_cast<double>(anon_huge_page_bytes()) / (1024.0 * 1024.0),
        static_cast<double>(rss_bytes()) / (1024.0 * 1024.0));
  };
  auto stream_check = [&](StreamRow& r) {
    if (r.events != w.events.size() || !w.expected_stream_total) return;
    r.check = r.counts.total() == *w.expected_stream_total
                  ? "PASS (= README + 119)"
                  : "FAIL (README: " + thousands(*w.expected_stream_total) + ")";
  };
  // The compute floor: the same load and stream on an engine that stores nothing.
  auto compute_floor = [&]() -> Status {
    say("[%s] compute floor: loading %zu works into an engine without a store...\n", label.c_str(),
        w.works);
    auto null = open_null_instance(o, geos, locator);
    if (!null) return null.error();
    std::vector<geo::Alert> out;
    // The load is a million events too: Engine::apply's own time over it (parsing left out) is a
    // steadier figure than the 10,000-event stream when other machines share the caches.
    Clock::duration in_apply{};
    Status loaded_null = w.for_each_work([&](geo::WorkEvent& e) -> Status {
      out.clear();
      auto t = Clock::now();
      Status s = null->engine->apply(e, out);
      in_apply += Clock::now() - t;
      return s;
    });
    DIGONCE_TRY(loaded_null);
    const double apply_s = std::chrono::duration<double>(in_apply).count();
    say("[%s] compute floor: load of %zu works: %.2f s in Engine::apply, %.0f works/s\n",
        label.c_str(), w.works, apply_s, static_cast<double>(w.works) / apply_s);
    say_huge_pages("compute floor, after its load");
    // Each round streams the same events (under a prefix of its own) from the same live works:
    // more rounds give a profiler enough samples, and show the spread within one process.
    for (unsigned round = 0; round < o.floor_rounds; ++round) {
      auto r = stream(*null, w, "s" + std::to_string(round) + ":", 1, false, phase_deadline());
      if (!r) return r.error();
      r->gets = r->writes = 0;  // asked of a store that keeps nothing
      stream_check(*r);
      const std::string system =
          "digonce engine, store discarded: compute floor, not durable (diagnostic)";
      if (o.floor_rounds > 1) r->series = system;
      add_row(std::move(*r), system + (o.floor_rounds > 1 ? ", round " + std::to_string(round + 1)
                                                          : std::string()));
    }
    null->close();
    return {};
  };
  if (o.compute_floor_only) return compute_floor();

  fs::path dir = fs::path(o.data_dir) / ("bench-" + w.name + "-" + std::to_string(w.works) + "-" +
                                         std::to_string(::getpid()));
  std::error_code ec;
  fs::remove_all(dir, ec);
  fs::create_directories(dir);
  // Removes the folder however the workload ends (unless --keep).
  struct Cleanup {
    const fs::path& dir;
    bool keep;
    ~Cleanup() {
      std::error_code ignored;
      if (!keep) fs::remove_all(dir, ignored);
    }
  } cleanup{dir, o.keep};

  StateRow st;
  st.workload = w.name;
  st.n = w.works;

  // 1. load
  malloc_trim(0);
  const std::int64_t rss0 = rss_bytes();
  auto opened = open_instance(dir, o, geos, locator);
  if (!opened) return opened.error();
  Instance x = std::move(*opened);
  say("[%s] loading %zu works...\n", label.c_str(), w.works);
  std::vector<geo::Alert> alerts;
  std::size_t loaded = 0;
  auto l0 = Clock::now(), last = l0;
  Status load = w.for_each_work([&](geo::WorkEvent& e) -> Status {
    alerts.clear();
    DIGONCE_TRY(x.engine->apply(e, alerts));
    if (x.pending() > 50'000) DIGONCE_TRY(x.commit_async());
    if ((++loaded & 4095) == 0) {
      auto now = Clock::now();
      if (now > deadline) return error("--time-limit reached while loading " + label);
      if (now - last > std::chrono::seconds(10)) {
        last = now;
        say("[%s]   %zu works, %.0f works/s\n", label.c_str(), loaded,
            static_cast<double>(loaded) / seconds_since(l0));
      }
    }
    return {};
  });
  DIGONCE_TRY(load);
  DIGONCE_TRY(x.commit());
  st.load_seconds = seconds_since(l0);
  malloc_trim(0);
  st.rss_load = rss_bytes() - rss0;
  st.heap = x.engine->detector().memory_bytes() + x.engine->record_filter().memory_bytes();
  say("[%s] loaded in %.1f s (%.0f works/s); %zu live works, index heap %.0f B/work, RSS +%.0f "
      "B/work\n",
      label.c_str(), st.load_seconds, static_cast<double>(w.works) / st.load_seconds,
      x.engine->detector().live_works(), static_cast<double>(st.heap) / w.works,
      static_cast<double>(st.rss_load) / w.works);

  // 2. the query-only check
  say("[%s] query-only check...\n", label.c_str());
  auto q = query_only(x, w, "q", phase_deadline());
  if (!q) return q.error();
  const Counts engine_query = q->counts;
  const std::size_t checked = q->events;
  if (checked == w.events.size()) {
    q->check = check_against(w.expected_query, q->counts, "README");
  } else {
    q->check = "cut short at " + thousands(static_cast<double>(checked));
  }
  add_row(std::move(*q), "digonce engine: query only (check; each event cancelled after)");

  // 3. the stream. Each phase starts with RocksDB idle: the flushes and compactions the load and
  // the phase before left due would otherwise run on the second core during the phase, charged
  // to its 10,000 events.
  auto settle = [&] {
    const double waited = x.rocks->wait_for_background(120);
    say("[%s] RocksDB idle after %.1f s\n", label.c_str(), waited);
  };
  {
    settle();
    say("[%s] stream, commit per event...\n", label.c_str());
    auto r = stream(x, w, "s", 1, false, phase_deadline());
    if (!r) return r.error();
    stream_check(*r);
    add_row(std::move(*r), "digonce engine: stream, query + insert, WriteBatch per event");
  }
  {
    settle();
    say("[%s] stream, commit per %zu events...\n", label.c_str(), o.commit_every);
    auto r = stream(x, w, "b", o.commit_every, false, phase_deadline());
    if (!r) return r.error();
    stream_check(*r);
    add_row(std::move(*r), "digonce engine: stream, query + insert, WriteBatch per " +
                               thousands(static_cast<double>(o.commit_every)) + " events");
  }
  // The group-commit phase (the mode of the target) as many times as asked, each round from the
  // same live works: a 10,000-event phase lasts a tenth of a second, so one round is at the
  // mercy of whatever else the machine does in it.
  for (unsigned round = 0; round < o.commit_rounds; ++round) {
    settle();
    say("[%s] stream, group commit on a second thread%s...\n", label.c_str(),
        o.commit_rounds > 1 ? (", round " + std::to_string(round + 1)).c_str() : "");
    auto r = stream(x, w, "g" + (round ? std::to_string(round) + ":" : std::string()),
                    o.commit_every, true, phase_deadline(), o.commit_when_free);
    if (!r) return r.error();
    stream_check(*r);
    const std::string system = "digonce engine: stream, query + insert, " + group_commit_text(o);
    if (o.commit_rounds > 1) r->series = system;
    add_row(std::move(*r), system + (o.commit_rounds > 1 ? ", round " + std::to_string(round + 1)
                                                         : std::string()));
  }

  say_huge_pages("after the stream phases");

  // 4. restart
  {
    const auto t0 = Clock::now();
    x.close();  // RocksStore flushes its memtables on close
    st.close = std::chrono::duration<double>(Clock::now() - t0).count();
  }
  malloc_trim(0);
  const std::int64_t rss_closed = rss_bytes();
  auto reopened = open_instance(dir, o, geos, locator, &st.rocks_open, &st.index_open);
  if (!reopened) return reopened.error();
  st.reopened = reopened->engine->detector().live_works();
  st.rss_reopen = rss_bytes() - rss_closed;
  reopened->close();
  st.disk = folder_bytes(dir);
  say("[%s] close %.2f s (memtables flushed); reopen: RocksDB %.2f s + index %.2f s, %zu live "
      "works; RSS +%.0f B/work; disk %.0f B/work\n",
      label.c_str(), st.close, st.rocks_open, st.index_open, st.reopened,
      static_cast<double>(st.rss_reopen) / w.works, static_cast<double>(st.disk) / w.works);

  if (!o.no_compute_floor && Clock::now() < deadline) DIGONCE_TRY(compute_floor());

  // 5. baseline
  if (!o.no_baseline && Clock::now() < deadline) {
    say("[%s] GEOS STRtree baseline...\n", label.c_str());
    auto b = run_geos_baseline(w, geo::Rules{}, geos, phase_deadline(), checked);
    if (!b) return b.error();
    st.geos_build = b->build_seconds;
    st.geos_rss = b->rss_delta;
    StreamRow r;
    r.events = b->latencies.size();
    r.seconds = b->stream_seconds;
    r.thread_cpu = r.cpu = b->stream_seconds;  // one thread, the one measured
    r.p50 = b->latencies.percentile_us(50);
    r.p99 = b->latencies.percentile_us(99);
    r.p999 = b->latencies.percentile_us(99.9);
    r.counts = b->counts;
    if (b->cut_short) {
      r.check = "cut short at " + thousands(static_cast<double>(r.events));
    } else if (w.expected_query) {
      r.check = check_against(w.expected_query, b->counts, "README");
    }
    // And the engine's query-only counts over the same events.
    if (b->latencies.size() >= checked) {
      std::string same = b->counts_first == engine_query ? "= engine" : "≠ engine";
      r.check += (r.check.empty() ? "" : "; ") + same +
                 (checked == w.events.size()
                      ? ""
                      : " over the first " + thousands(static_cast<double>(checked)));
    }
    add_row(std::move(r), "GEOS STRtree + prepared distance-within: static, query only");
  }
  tables.state.push_back(st);
  return {};
}

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  const std::size_t m = v.size() / 2;
  return v.size() % 2 ? v[m] : (v[m - 1] + v[m]) / 2;
}

// A phase run in several rounds, summed up: a 10,000-event round lasts about a tenth of a second,
// so one round alone says as much about the machine's other tenants as about the engine.
void print_rounds(const Tables& t) {
  bool header = false;
  for (std::size_t i = 0; i < t.stream.size();) {
    const StreamRow& first = t.stream[i];
    std::size_t end = i + 1;
    while (end < t.stream.size() && !first.series.empty() && t.stream[end].series == first.series &&
           t.stream[end].workload == first.workload && t.stream[end].n == first.n)
      ++end;
    std::vector<double> wall, cpu;
    for (std::size_t k = i; k < end; ++k) {
      const StreamRow& r = t.stream[k];
      if (!r.timed || r.seconds <= 0 || r.thread_cpu <= 0) continue;
      wall.push_back(static_cast<double>(r.events) / r.seconds);
      cpu.push_back(static_cast<double>(r.events) / r.thread_cpu);
    }
    const std::size_t rounds = end - i;
    i = end;
    if (first.series.empty() || wall.empty()) continue;
    if (!header) {
      std::printf(
          "\n### Rounds\n\nThe phases above that ran in several rounds, each round from the same "
          "live works: the median round and the range.\n\n"
          "| workload | live works | system | rounds | events/s (wall): median | min – max | "
          "events per engine-thread CPU s: median | min – max |\n"
          "|---|---:|---|---:|---:|---:|---:|---:|\n");
      header = true;
    }
    const auto [wmin, wmax] = std::minmax_element(wall.begin(), wall.end());
    const auto [cmin, cmax] = std::minmax_element(cpu.begin(), cpu.end());
    std::printf("| %s | %s | %s | %zu | %s | %s – %s | %s | %s – %s |\n", first.workload.c_str(),
                thousands(static_cast<double>(first.n)).c_str(), first.series.c_str(), rounds,
                thousands(median(wall)).c_str(), thousands(*wmin).c_str(), thousands(*wmax).c_str(),
                thousands(median(cpu)).c_str(), thousands(*cmin).c_str(), thousands(*cmax).c_str());
  }
}

void print_tables(const Tables& t, const Options& o) {
  std::printf("\n### Event stream\n\n");
  std::printf(
      "| workload | live works | system | events | events/s (wall) | events per engine-thread "
      "CPU s | p50 µs | p99 µs | p99.9 µs | store reads / writes per event | index entries / "
      "GEOS checks per event | new alerts (clash / collab.) | check |\n");
  std::printf("|---|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|\n");
  for (const auto& r : t.stream) {
    std::string rate = "—", cpu_rate = "—", p50 = "—", p99 = "—", p999 = "—", store = "—",
                index = "—";
    if (r.timed && r.seconds > 0) {
      rate = thousands(static_cast<double>(r.events) / r.seconds);
      cpu_rate = r.thread_cpu > 0 ? thousands(static_cast<double>(r.events) / r.thread_cpu) : "—";
      p50 = fixed(r.p50, 1);
      p99 = fixed(r.p99, 1);
      p999 = fixed(r.p999, 0);
      if (r.gets > 0 || r.writes > 0) store = fixed(r.gets, 1) + " / " + fixed(r.writes, 1);
      if (r.visited > 0) index = fixed(r.visited, 0) + " / " + fixed(r.checks, 1);
    }
    std::printf("| %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s |\n",
                r.workload.c_str(), thousands(static_cast<double>(r.n)).c_str(), r.system.c_str(),
                thousands(static_cast<double>(r.events)).c_str(), rate.c_str(), cpu_rate.c_str(),
                p50.c_str(), p99.c_str(), p999.c_str(), store.c_str(), index.c_str(),
                counts_text(r.counts).c_str(), r.check.c_str());
  }
  print_rounds(t);
  std::printf("\n### Load, memory, restart\n\n");
  std::printf(
      "| workload | live works | load works/s | index heap B/work | RSS Δ after load B/work | "
      "RSS Δ after reopen B/work | RocksDB on disk B/work | close s | reopen: RocksDB s | reopen: "
      "index s | works after reopen | GEOS tree build s | GEOS tree RSS Δ B/work |\n");
  std::printf("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n");
  for (const auto& s : t.state) {
    const auto n = static_cast<double>(s.n);
    std::string reopened = thousands(static_cast<double>(s.reopened)) +
                           (s.reopened == s.n ? "" : " (FAIL: expected " + thousands(n) + ")");
    std::printf("| %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s |\n",
                s.workload.c_str(), thousands(n).c_str(), thousands(n / s.load_seconds).c_str(),
                thousands(static_cast<double>(s.heap) / n).c_str(),
                thousands(static_cast<double>(s.rss_load) / n).c_str(),
                thousands(static_cast<double>(s.rss_reopen) / n).c_str(),
                thousands(static_cast<double>(s.disk) / n).c_str(), fixed(s.close, 2).c_str(),
                fixed(s.rocks_open, 2).c_str(), fixed(s.index_open, 2).c_str(), reopened.c_str(),
                s.geos_build ? fixed(*s.geos_build, 2).c_str() : "—",
                s.geos_build ? thousands(static_cast<double>(s.geos_rss) / n).c_str() : "—");
  }
  std::printf(
      "\nEvents are new works already in EPSG:27700: parsing and reprojection are not timed. One "
      "event = Engine::apply (registry, detector, alert ledger) plus the RocksDB commit when one "
      "is due. RocksDB: WAL on, fsync %s. The engine-thread CPU rate leaves out RocksDB's "
      "background flushes and compactions (other threads) and time lost to other processes.\n",
      o.sync ? "on every commit" : "off");
  std::printf(
      "\nOn huge pages at the end, after the engines were closed: %.0f MiB of the process's "
      "anonymous memory (while each was live: the progress lines on stderr).\n",
      static_cast<double>(anon_huge_page_bytes()) / (1024.0 * 1024.0));
  double load[3] = {0, 0, 0};
  if (getloadavg(load, 3) > 0)
    std::printf("\nLoad average at the end: %.2f (1 min), %.2f (5 min), %.2f (15 min).\n", load[0],
                load[1], load[2]);
}

struct RocksFloor {
  double put_us = 0, get_us = 0;
  // The cells family alone (its memtables as the engine's store has them): CPU a key of the
  // writing thread, and of the whole process once the flushes and compactions are done too.
  double cells_thread_us = 0, cells_process_us = 0;
};

// Random 12-byte keys for the RocksDB probe: a letter, then 11 digits from xorshift64.
struct RandomKeys {
  std::uint64_t x;
  char key[16];
  const char* next(char letter) {
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    std::snprintf(key, sizeof key, "%c%011llu", letter,
                  static_cast<unsigned long long>(x % 100'000'000'000ULL));
    return key;
  }
};

// What one RocksDB key costs here, with the options the engine's store gets: random 12-byte keys
// with 120-byte values written in WriteBatches of 1,000, then reads of absent keys. The floor
// under an engine that writes several keys per event. Then the cells family alone, as the
// engine writes it: batches sorted by key (BufferedStore hands RocksDB each family's keys in
// order), 200-byte values, 400,000 keys (about 90 MiB: with the default 64 MiB write buffers,
// one flush falls among the writes), and the process's CPU counted until the store has been
// idle and is closed (its last memtable flushed).
Result<RocksFloor> rocksdb_floor(const Options& o) {
  fs::path dir = fs::path(o.data_dir) / ("bench-rocksdb-floor-" + std::to_string(::getpid()));
  std::error_code ec;
  fs::remove_all(dir, ec);
  const store::RocksOptions ro = rocks_options(o);
  RocksFloor r;
  {
    auto db = store::RocksStore::open(dir.string(), geo::kEngineFamilies, ro);
    if (!db) return db.error();
    RandomKeys keys{88172645463325252ULL, {}};
    const std::string value(120, 'v');
    constexpr int kBatches = 300, kPerBatch = 1'000, kGets = 100'000;
    const double t0 = thread_cpu_seconds();
    for (int b = 0; b < kBatches; ++b) {
      store::WriteBatch batch;
      for (int i = 0; i < kPerBatch; ++i) {
        batch.put(static_cast<store::Family>(i % 3), keys.next('w'), value);
      }
      DIGONCE_TRY((*db)->write(batch));
    }
    r.put_us = (thread_cpu_seconds() - t0) * 1e6 / (kBatches * kPerBatch);
    const double t1 = thread_cpu_seconds();
    for (int i = 0; i < kGets; ++i) {
      auto v = (*db)->get(static_cast<store::Family>(i % 3), keys.next('r'));
      if (!v) return v.error();
    }
    r.get_us = (thread_cpu_seconds() - t1) * 1e6 / kGets;
  }
  fs::remove_all(dir, ec);
  {
    RandomKeys keys{2463534242ULL, {}};
    std::string value(200, 'c');
    constexpr int kBatches = 400, kPerBatch = 1'000;
    const double p0 = process_cpu_seconds(), t0 = thread_cpu_seconds();
    {
      auto db = store::RocksStore::open(dir.string(), geo::kEngineFamilies, ro);
      if (!db) return db.error();
      for (int b = 0; b < kBatches; ++b) {
        store::WriteBatch batch;
        for (int i = 0; i < kPerBatch; ++i) {
          value[0] = static_cast<char>('a' + i % 26);
          batch.put(geo::kCellsFamily, keys.next('c'), value);
        }
        batch.sort_by_key();
        DIGONCE_TRY((*db)->write(batch));
      }
      r.cells_thread_us = (thread_cpu_seconds() - t0) * 1e6 / (kBatches * kPerBatch);
      (*db)->wait_for_background(60);
    }  // closing flushes the last memtable
    r.cells_process_us = (process_cpu_seconds() - p0) * 1e6 / (kBatches * kPerBatch);
  }
  fs::remove_all(dir, ec);
  return r;
}

std::string machine_line() {
  std::string model = "?";
  std::ifstream cpu("/proc/cpuinfo");
  for (std::string line; std::getline(cpu, line);)
    if (line.rfind("model name", 0) == 0) {
      model = line.substr(line.find(':') + 2);
      break;
    }
  double load[3] = {0, 0, 0};
  if (getloadavg(load, 3) < 0) load[0] = -1;
  long pages = sysconf(_SC_PHYS_PAGES), page = sysconf(_SC_PAGE_SIZE);
  char buf[512];
  std::snprintf(buf, sizeof buf,
                "%s, %u hardware threads, %.1f GiB RAM, load average %.2f at start", model.c_str(),
                std::thread::hardware_concurrency(),
                static_cast<double>(pages) * static_cast<double>(page) / (1 << 30), load[0]);
  return buf;
}

int run(int argc, char** argv) {
  Options o;
  CLI::App app{"digonce_bench: detection engine throughput, latency, memory and restart"};
  std::string sizes_text = "10000,100000,1000000";
  std::string workloads_text = "roads,london,standard";
  app.add_option("--sizes", sizes_text,
                 "Live works, comma-separated (default 10000,100000,1000000)");
  app.add_flag("--5m", o.five_million, "Also 5,000,000 live works (london workload; slow)");
  app.add_option("--events", o.events,
                 "Events per phase, london, at most the live works (default 100000)");
  app.add_option("--roads-works", o.roads_works,
                 "Live works along the real Clerkenwell links (default 10000)");
  app.add_option("--workloads", workloads_text, "roads,london,standard (default all)");
  app.add_option("--standard-workload", o.standard_dir,
                 "The folder gen.py wrote (works_N.tsv, events.tsv); standard runs only with it");
  app.add_option("--data-dir", o.data_dir, "Where the RocksDB folders go (default: temp dir)");
  app.add_option("--shared-data", o.shared_data, "The shared data folder (london/, proj/)");
  app.add_option("--commit-every", o.commit_every, "Events per commit, batched mode (1000)");
  app.add_flag("--sync", o.sync, "fsync the WAL on every commit");
  app.add_option("--block-cache-mb", o.block_cache_mb, "RocksDB block cache (default 64)");
  app.add_option("--write-buffer-mb", o.write_buffer_mb, "RocksDB write buffer (default 64)");
  app.add_flag("--no-insert-hints", o.no_insert_hints,
               "Memtable inserts without RocksDB's insert hints (each from the top)");
  app.add_flag("--skip-list-cells", o.skip_list_cells,
               "The cells family's memtables as skip lists, like the others (default: vectors, "
               "as digonce detect has them)");
  app.add_option("--finest-cell-m", o.finest_cell_m, "The index's finest XZ cell (default 128)");
  app.add_flag("--no-baseline", o.no_baseline, "Skip the GEOS STRtree baseline");
  app.add_flag("--no-compute-floor", o.no_compute_floor,
               "Skip the engine-without-a-store diagnostic");
  app.add_flag("--compute-floor-only", o.compute_floor_only,
               "Only the engine-without-a-store diagnostic (for profiling)");
  app.add_option("--floor-rounds", o.floor_rounds,
                 "Stream the events this many times in the compute floor, each round from the "
                 "same live works (default 1; more for profiling)")
      ->check(CLI::Range(1u, 1000000u));
  app.add_option("--commit-rounds", o.commit_rounds,
                 "Run the group-commit phase (a WriteBatch handed to a second thread as soon as "
                 "it is free, or per --commit-every events) this many times, each round from the "
                 "same live works; a table gives their median and range (default 5)")
      ->check(CLI::Range(1u, 1000u));
  app.add_option("--commit-when-free", o.commit_when_free,
                 "Group commit: hand the writer thread the pending events as soon as it is free "
                 "and at least this many are pending (default 64; 0: only every --commit-every "
                 "events, as before 2026-12-06)");
  app.add_flag("--quick", o.quick, "10k live works only, 10,000 events per phase");
  app.add_flag("--keep", o.keep, "Keep the RocksDB folders");
  app.add_option("--phase-seconds", o.phase_seconds,
                 "Cut a check, stream or baseline phase after this long (default 300)");
  app.add_option("--time-limit", o.time_limit_s, "Stop after this many seconds (default 3600)");
  app.add_option("--perf-control", o.perf_control,
                 "CTL,ACK: the FIFOs of `perf record --control=fifo:CTL,ACK -D -1`, turned on "
                 "only for the timed part of each stream phase (profiling)");
  CLI11_PARSE(app, argc, argv);
  if (!o.perf_control.empty()) {
    if (auto s = perf_control.open(o.perf_control); !s) {
      std::fprintf(stderr, "digonce_bench: %s\n", s.error().what().c_str());
      return 2;
    }
  }

  o.sizes.clear();
  for (auto& s : CLI::detail::split(sizes_text, ',')) o.sizes.push_back(std::stoull(s));
  o.workloads = CLI::detail::split(workloads_text, ',');
  if (o.quick) {
    o.sizes = {10'000};
    o.events = std::min<std::size_t>(o.events, 10'000);
    o.roads_works = std::min<std::size_t>(o.roads_works, 10'000);
  }
  if (o.five_million) o.sizes.push_back(5'000'000);
  if (o.commit_every == 0) o.commit_every = 1;
  if (o.data_dir.empty()) o.data_dir = fs::temp_directory_path().string();
  fs::create_directories(o.data_dir);
  if (o.shared_data.empty()) {
    const char* env = std::getenv("DIGONCE_SHARED_DATA");
    o.shared_data = env && *env ? env : DIGONCE_SHARED_DATA_DEFAULT;
  }
  auto wants = [&](const char* w) {
    return std::find(o.workloads.begin(), o.workloads.end(), w) != o.workloads.end();
  };
  const auto deadline =
      Clock::now() + std::chrono::milliseconds(static_cast<long long>(o.time_limit_s * 1000));

  geo::Geos geos;
  geo::CrsOptions crs_options;
  if (!o.shared_data.empty()) crs_options.search_paths.push_back(o.shared_data + "/proj");
  auto crs = geo::CrsContext::create(crs_options);
  if (!crs) {
    say("digonce_bench: %s\n", crs.error().what().c_str());
    return 1;
  }
  // The production locator (PROJ to EPSG:4326, and the borough holding the point) when the
  // shared data has the boroughs.
  std::optional<geo::AuthorityMap> boroughs;
  std::unique_ptr<geo::Locator> locator;
  std::string locator_name = "identity (no shared data)";
  if (fs::exists(o.shared_data + "/london/boroughs.geojson")) {
    geo::AuthorityOptions ao;
    ao.path = o.shared_data + "/london/boroughs.geojson";
    auto map = geo::AuthorityMap::load(ao, **crs, geos);
    if (!map) {
      say("digonce_bench: %s\n", map.error().what().c_str());
      return 1;
    }
    boroughs.emplace(std::move(*map));
    locator = std::make_unique<geo::PlaceLocator>(**crs, &*boroughs);
    locator_name = (*crs)->metric_to_wgs84().fast_path()
                       ? "PlaceLocator (EPSG:4326 through the copy of PROJ's OSTN15 pipeline, "
                         "London boroughs)"
                       : "PlaceLocator (PROJ to EPSG:4326, London boroughs)";
  } else {
    locator = std::make_unique<IdentityLocator>();
  }

  std::optional<RoadNetwork> roads;
  if (wants("roads") || wants("london")) {
    std::string path = o.shared_data + "/london/os-highways-roadlinks-clerkenwell.json";
    auto net = RoadNetwork::load(path, **crs);
    if (!net) {
      say("digonce_bench: %s (roads and london need it; --workloads standard runs without)\n",
          net.error().what().c_str());
      return 1;
    }
    roads.emplace(std::move(*net));
  }

  std::printf("## digonce_bench\n\n");
  std::printf("- machine: %s\n", machine_line().c_str());
  std::printf(
      "- engine: geo::Engine, rules 25 m / 90 days, finest cell %g m; locator: %s; RocksDB WAL "
      "on, fsync %s, block cache %zu MiB, write buffers %zu MiB, memtable insert hints %s, cells' "
      "memtables %s\n",
      o.finest_cell_m, locator_name.c_str(), o.sync ? "per commit" : "off", o.block_cache_mb,
      o.write_buffer_mb, o.no_insert_hints ? "off" : "on",
      o.skip_list_cells ? "skip lists" : "vectors");
  std::printf(
      "- events per phase: %s, at most the live works (london), 10,000 (roads, standard); batched "
      "mode: %s events per WriteBatch; group commit: %s; phases cut after %.0f s\n",
      thousands(static_cast<double>(o.events)).c_str(),
      thousands(static_cast<double>(o.commit_every)).c_str(), group_commit_text(o).c_str(),
      o.phase_seconds);
  if (roads) {
    auto layout = greater_london_layout(*roads);
    std::printf(
        "- roads: %s live works along the %zu real links (%.1f km) of Clerkenwell; london: those "
        "links laid %d x %d times (mirrored at random) over Greater London, %s km of street\n",
        thousands(static_cast<double>(o.roads_works)).c_str(), roads->links().size(),
        roads->total_length() / 1000, layout.tiles_x, layout.tiles_y,
        thousands(roads->total_length() * layout.tiles_x * layout.tiles_y / 1000).c_str());
  }
  {
    const std::string mode = transparent_huge_page_mode();
    std::printf("- heap: %s (the kernel's transparent huge pages: %s; base/huge_pages.h)\n",
                malloc_asks_for_huge_pages() ? "malloc asks for huge pages (glibc.malloc.hugetlb)"
                                             : "malloc does not ask for huge pages",
                mode.empty() ? "unknown" : mode.c_str());
  }
  if (auto floor = rocksdb_floor(o)) {
    std::printf(
        "- RocksDB alone here, same options: %.2f µs of CPU per key written (random keys, 120-byte "
        "values, WriteBatches of 1,000), %.2f µs per read of an absent key; the cells family "
        "alone (%s, sorted batches, 200-byte values): %.2f µs of the writing thread a key, %.2f "
        "µs of process CPU a key with its flushes and compactions\n",
        floor->put_us, floor->get_us, o.skip_list_cells ? "skip lists" : "vector memtables",
        floor->cells_thread_us, floor->cells_process_us);
  } else {
    say("digonce_bench: RocksDB floor: %s\n", floor.error().what().c_str());
  }
  std::fflush(stdout);

  Tables tables;
  int failures = 0;
  auto run_one = [&](const Workload& w) {
    if (Clock::now() > deadline) {
      say("[%s %s] skipped: --time-limit reached\n", w.name.c_str(), size_name(w.works).c_str());
      return;
    }
    if (auto s = run_workload(w, o, geos, *locator, deadline, tables); !s.ok()) {
      say("[%s %s] failed: %s\n", w.name.c_str(), size_name(w.works).c_str(),
          s.error().what().c_str());
      ++failures;
    }
  };

  // roads: as many events as the standard workload (10,000); with works this dense (about a dozen
  // new alerts per event) more would measure the alert volume of an ever denser area.
  if (wants("roads") && roads)
    run_one(make_street_workload(*roads, StreetLayout{}, "roads", o.roads_works,
                                 std::min<std::size_t>(o.events, 10'000), 11));
  // london: --events events, but no more than the live works, so that a stream phase (which
  // inserts every event) at most doubles the live set.
  if (wants("london") && roads)
    for (auto n : o.sizes)
      run_one(make_street_workload(*roads, greater_london_layout(*roads), "london", n,
                                   std::min(o.events, n), 22));
  if (wants("standard") && !o.standard_dir.empty()) {
    for (auto n : o.sizes) {
      if (n != 10'000 && n != 100'000 && n != 1'000'000) continue;
      auto w = load_standard_workload(o.standard_dir, n);
      if (!w) {
        say("[standard %s] %s\n", size_name(n).c_str(), w.error().what().c_str());
        ++failures;
        continue;
      }
      run_one(*w);
    }
  }

  print_tables(tables, o);
  for (const auto& r : tables.stream)
    if (r.check.find("FAIL") != std::string::npos || r.check.find("≠") != std::string::npos)
      ++failures;
  for (const auto& s : tables.state)
    if (s.reopened != s.n) ++failures;
  if (failures) say("digonce_bench: %d failure(s)\n", failures);
  return failures ? 1 : 0;
}

}  // namespace
}  // namespace digonce::bench

int main(int argc, char** argv) {
  digonce::restart_with_huge_pages(argv);  // as digonce does (base/huge_pages.h)
  try {
    return digonce::bench::run(argc, argv);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "digonce_bench: %s\n", e.what());
    return 1;
  }
}
