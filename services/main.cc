// digonce: one binary, one subcommand per program (docs/ARCHITECTURE.md).
#include <prometheus/exposer.h>
#include <prometheus/gauge.h>
#include <prometheus/registry.h>
#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>
#include <CLI/CLI.hpp>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cmath>
#include <csignal>
#include <cstdlib>
#include <filesystem>
#include <iostream>
#include <thread>

#include <unistd.h>

#include "base/huge_pages.h"
#include "services/detect_command.h"
#include "services/gateway.h"
#include "services/load_command.h"
#include "services/notifier.h"
#include "services/ops_commands.h"
#include "services/pipeline.h"
#include "services/probes.h"
#include "services/resources.h"
#include "services/settings.h"
#include "streams/admin.h"
#include "streams/embedded_broker.h"
#include "streams/kafka.h"

namespace ds = digonce::services;
using digonce::Status;

namespace {

// SIGINT and SIGTERM are blocked in every thread and taken by one waiting thread, which sets
// the stop flag: a clean stop (commit, leave the group) without an async-signal handler. A clean
// stop that has not ended after kStopGrace (a Kafka client that will not close: librdkafka 2.0
// can wait for ever for a broker thread, as after its cluster was replaced under the same
// address), or a second signal, ends the process at once: as safe as kill -9, which the stages
// are built for (the next start restores from the changelog), and better than a process that
// never ends. Commands that do not stop cleanly (detect, import, load, topics) release the
// signals instead: their default action ends them at once, as before any of this.
class SignalWatch {
 public:
  static constexpr int kStopGrace = 30;  // seconds

  SignalWatch() {
    sigemptyset(&set_);
    sigaddset(&set_, SIGINT);
    sigaddset(&set_, SIGTERM);
    pthread_sigmask(SIG_BLOCK, &set_, nullptr);
  }
  /// The signals to their default action again (threads started since keep them blocked).
  void release() { pthread_sigmask(SIG_UNBLOCK, &set_, nullptr); }
  /// The process is ending by itself: the watch does nothing more.
  void finished() { finished_ = true; }
  void start(std::atomic<bool>& stop) {
    std::thread([this, &stop] {
      int sig = 0;
      sigwait(&set_, &sig);
      stop = true;
      spdlog::info("{} received: stopping", name(sig));
      const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(kStopGrace);
      // A repeat within a second is the same request, not a second one: GNU timeout (and other
      // supervisors) send the signal to the process and then to its whole group.
      const auto repeat_until = std::chrono::steady_clock::now() + std::chrono::seconds(1);
      int again = -1;
      for (;;) {  // interrupted (SIGCONT after a stop, a handled signal): wait what is left
        const auto left = deadline - std::chrono::steady_clock::now();
        if (left <= std::chrono::nanoseconds(0)) break;
        const auto ns = std::chrono::duration_cast<std::chrono::nanoseconds>(left).count();
        timespec wait{static_cast<time_t>(ns / 1000000000), static_cast<long>(ns % 1000000000)};
        again = sigtimedwait(&set_, nullptr, &wait);
        if (again > 0 && std::chrono::steady_clock::now() < repeat_until) continue;
        if (again > 0 || errno != EINTR) break;
      }
      if (finished_) return;
      // A plain write: the logger's lock or a full stderr pipe must not hold the exit back.
      const std::string line =
          again > 0
              ? std::string("a second ") + name(again) + ": exiting at once, without a clean stop\n"
              : "the stop has not ended after " + std::to_string(kStopGrace) +
                    " s (a Kafka client that does not close?): exiting without a clean "
                    "stop; the next start restores the state from Kafka\n";
      [[maybe_unused]] auto n = ::write(2, line.data(), line.size());
      std::_Exit(128 + (again > 0 ? again : sig));
    }).detach();
  }

 private:
  static const char* name(int sig) { return sig == SIGINT ? "SIGINT" : "SIGTERM"; }
  sigset_t set_;
  std::atomic<bool> finished_{false};
};

// Made first thing in run(), before any thread, and never destroyed: its thread may wake while
// the process ends.
SignalWatch& signal_watch() {
  static auto* watch = new SignalWatch();
  return *watch;
}

int fail(const std::string& what) {
  spdlog::error("{}", what);
  return 1;
}

std::string dashboard_dir() {
  return ds::resource_path("dashboard");
}

// What a long-running process (serve, a stage, the gateway) says first: its version, in the log
// and as digonce_build_info{version="..."} 1 (the Prometheus convention), for dashboards and for
// a rollout half done.
void add_build_info(prometheus::Registry& registry, const ds::Settings& settings) {
  spdlog::info("digonce {}", DIGONCE_VERSION);
  spdlog::info("config: {}", settings.config_path.empty()
                                 ? std::string("none found (built-in defaults)")
                                 : settings.config_path);
  prometheus::BuildGauge()
      .Name("digonce_build_info")
      .Help("The digonce version this process runs (always 1)")
      .Register(registry)
      .Add({{"version", DIGONCE_VERSION}})
      .Set(1);
}

// Waits until stop is set or the pipeline fails.
void wait(std::atomic<bool>& stop, const ds::Pipeline* pipeline) {
  while (!stop.load() && !(pipeline && pipeline->failed()))
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
}

int run_serve(ds::Settings settings, std::atomic<bool>& stop) {
  std::unique_ptr<digonce::streams::EmbeddedBroker> broker;
  bool embedded = settings.brokers.empty();
  prometheus::Registry registry;
  add_build_info(registry, settings);
  ds::Pipeline pipeline(settings, registry, !embedded);  // reads settings.brokers at start()
  const std::vector<ds::Stage> stages = {ds::Stage::Ingest, ds::Stage::Detector, ds::Stage::Ledger};
  // Before anything in the data folder is touched: another serve may be using it.
  if (auto s = pipeline.lock(stages); !s.ok()) return fail(s.error().what());
  if (embedded) {
    auto b = digonce::streams::EmbeddedBroker::start();
    if (!b) return fail(b.error().what());
    broker = std::move(*b);
    settings.brokers = broker->bootstraps();
    for (const auto& t : ds::topic_specs(settings))
      if (auto s = broker->create_topic(t.name, t.partitions); !s.ok())
        return fail(s.error().what());
    // The embedded broker starts empty: state from an earlier run would not match it.
    std::error_code ec;
    for (const char* stage : {"ingest", "detector", "ledger"})
      std::filesystem::remove_all(std::filesystem::path(settings.data_dir) / stage, ec);
    spdlog::warn(
        "embedded Kafka-protocol broker at {}: no transactions (stages run at-least-once), "
        "everything is forgotten on exit; use --brokers for a real cluster",
        settings.brokers);
  } else if (auto s = digonce::streams::ensure_topics(settings.brokers, ds::topic_specs(settings));
             !s.ok()) {
    return fail(s.error().what());
  }

  if (auto s = pipeline.start(stages); !s.ok()) return fail(s.error().what());

  // The notifier runs when webhooks are configured.
  std::unique_ptr<ds::Notifier> notifier;
  if (!settings.notifier.webhooks.empty()) {
    notifier = std::make_unique<ds::Notifier>(settings, registry);
    if (auto s = notifier->start(); !s.ok()) return fail(s.error().what());
  }

  ds::GatewayOptions gw{settings.http_listen, settings.brokers, settings.api_keys, dashboard_dir()};
  gw.ready = [&pipeline] { return pipeline.ready(); };  // /healthz is 503 until then
  Status gateway_status;
  std::atomic<bool> gateway_done{false};
  std::thread gateway([&] {
    gateway_status = ds::run_gateway(settings, gw, registry, stop, [&](const std::string& url) {
      std::cout << "digonce serve: HTTP API at " << url << "  (Kafka bootstrap " << settings.brokers
                << (embedded ? ", embedded broker" : "") << ")" << std::endl;
    });
    gateway_done = true;
  });
  while (!stop.load() && !pipeline.failed() && !gateway_done.load() &&
         !(notifier && notifier->failed()))
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  stop = true;
  gateway.join();
  if (notifier) notifier->stop();
  pipeline.stop();
  if (!gateway_status.ok()) return fail("gateway: " + gateway_status.error().what());
  if (auto s = pipeline.status(); !s.ok()) return fail(s.error().what());
  if (notifier)
    if (auto s = notifier->status(); !s.ok()) return fail("notifier: " + s.error().what());
  spdlog::info("stopped cleanly");
  return 0;
}

// Where a stage process serves its Prometheus metrics: `listen` ("" = nowhere); `is_default` when
// the user did not choose it.
struct MetricsEndpoint {
  std::string listen;
  bool is_default = false;
};

// A metrics endpoint's server, with the probes (services/probes.h): four threads, and a request
// that has not arrived in 10 s dropped, so that slow or idle clients (civetweb's default waits
// 30 s for each) do not keep a probe waiting past its timeout.
std::unique_ptr<prometheus::Exposer> make_exposer(const std::string& listen) {
  return std::make_unique<prometheus::Exposer>(
      std::vector<std::string>{"listening_ports", listen, "num_threads", "4", "request_timeout_ms",
                               "10000"},
      ds::probe_callbacks());
}

// The Prometheus endpoint of a stage process. A default port that is taken (another stage of the
// same kind on this machine, say) gives way to one the system picks, with a warning naming it; a
// port the user chose must be free.
digonce::Result<std::unique_ptr<prometheus::Exposer>> expose_metrics(
    const MetricsEndpoint& where, const std::shared_ptr<prometheus::Registry>& registry) {
  std::unique_ptr<prometheus::Exposer> exposer;
  if (where.listen.empty()) return exposer;
  try {
    exposer = make_exposer(where.listen);
    spdlog::info("metrics at http://{}/metrics (probes: /healthz, /readyz)", where.listen);
  } catch (const std::exception& e) {
    const auto colon = where.listen.rfind(':');
    if (!where.is_default || colon == std::string::npos)
      return digonce::error("metrics endpoint " + where.listen + ": " + e.what() +
                            " (is the port in use? choose another with --metrics HOST:PORT)");
    const std::string host = where.listen.substr(0, colon);
    try {
      exposer = make_exposer(host + ":0");
    } catch (const std::exception& e2) {
      return digonce::error("metrics endpoint " + host + ":0: " + e2.what());
    }
    const auto ports = exposer->GetListeningPorts();
    spdlog::warn(
        "metrics: the default port of {} is taken (another digonce stage on this machine?); "
        "metrics at http://{}:{}/metrics instead (choose one with --metrics HOST:PORT)",
        where.listen, host, ports.empty() ? 0 : ports.front());
  }
  exposer->RegisterCollectable(registry);
  return exposer;
}

// What every stage process sets up first: the brokers and topics, and its metrics endpoint.
struct StageProcess {
  std::shared_ptr<prometheus::Registry> registry = std::make_shared<prometheus::Registry>();
  std::unique_ptr<prometheus::Exposer> exposer;

  // The probes' view of the process's loops (services/probes.h), from `source` until the
  // object goes (declare it after the loops' owner, so that it goes first).
  struct Probed {
    explicit Probed(std::function<std::vector<digonce::streams::LoopHealth>()> source) {
      ds::set_probe_waiting("");
      ds::set_probe_source(std::move(source));
    }
    ~Probed() {
      ds::clear_probe_source();
      ds::set_probe_waiting("stopping");
    }
    Probed(const Probed&) = delete;
    Probed& operator=(const Probed&) = delete;
  };

  bool stopped = false;  // SIGTERM or SIGINT came while the brokers were awaited

  // Waits for the brokers and topics as long as it takes (a stage may start before its cluster),
  // saying so every few seconds; a signal ends the wait (`stopped`). Errors that waiting cannot
  // mend (a topic with too few partitions, a refused configuration) end it.
  Status open(const ds::Settings& settings, const MetricsEndpoint& metrics,
              const std::atomic<bool>& stop) {
    if (settings.brokers.empty()) return digonce::error("--brokers is required");
    // The metrics endpoint first: it answers while the brokers are awaited, so that a liveness
    // probe on it (the Helm chart's) sees a live process, not one to restart.
    add_build_info(*registry, settings);
    ds::set_probe_stall_ms(std::int64_t{settings.stall_s} * 1000);
    auto e = expose_metrics(metrics, registry);
    if (!e) return e.error();
    exposer = std::move(*e);
    const auto started = std::chrono::steady_clock::now();
    while (!stop.load()) {
      auto s = digonce::streams::ensure_topics(settings.brokers, ds::topic_specs(settings), 5000);
      if (s.ok()) return {};
      if (s.error().field == "topics")  // waiting would not mend it (streams/admin.h)
        return digonce::error("topics on " + settings.brokers + ": " + s.error().message);
      if (stop.load()) break;
      const auto waited = std::chrono::duration_cast<std::chrono::seconds>(
                              std::chrono::steady_clock::now() - started)
                              .count();
      spdlog::warn("waiting for the Kafka brokers {} ({} s so far): {}{}", settings.brokers, waited,
                   s.error().what(), digonce::streams::recent_connection_failure());
      for (int i = 0; i < 20 && !stop.load(); ++i)
        std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
    stopped = true;
    return {};
  }
};

int run_stages(const ds::Settings& settings, const std::vector<ds::Stage>& stages,
               const MetricsEndpoint& metrics, std::atomic<bool>& stop) {
  StageProcess process;
  ds::Pipeline pipeline(settings, *process.registry, true);
  // The data folder first: a second instance on it stops at once, not once its brokers answer.
  if (auto s = pipeline.lock(stages); !s.ok()) return fail(s.error().what());
  if (auto s = process.open(settings, metrics, stop); !s.ok()) return fail(s.error().what());
  if (process.stopped) return 0;
  if (auto s = pipeline.start(stages); !s.ok()) return fail(s.error().what());
  StageProcess::Probed probed([&pipeline] { return pipeline.health(); });
  wait(stop, &pipeline);
  pipeline.stop();
  if (auto s = pipeline.status(); !s.ok()) return fail(s.error().what());
  return 0;
}

// The notifier stage alone: webhooks from the alerts topic.
int run_notifier(const ds::Settings& settings, const MetricsEndpoint& metrics,
                 std::atomic<bool>& stop) {
  StageProcess process;
  if (auto s = process.open(settings, metrics, stop); !s.ok()) return fail(s.error().what());
  if (process.stopped) return 0;
  auto& registry = process.registry;
  ds::Notifier notifier(settings, *registry);
  if (auto s = notifier.start(); !s.ok()) return fail(s.error().what());
  StageProcess::Probed probed([&notifier] { return notifier.health(); });
  while (!stop.load() && !notifier.failed())
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  notifier.stop();
  if (auto s = notifier.status(); !s.ok()) return fail(s.error().what());
  return 0;
}

// A --brokers list: at least one HOST:PORT (an empty one would wait its whole timeout).
CLI::Validator broker_list() {
  return CLI::Validator(
      [](std::string& text) -> std::string {
        if (text.find_first_not_of(" ,") == std::string::npos)
          return "must name at least one broker, HOST:PORT[,HOST:PORT...]";
        return {};
      },
      "HOST:PORT,...");
}

// A number option's check: finite, in [low, high] (CLI11's Range lets NaN through).
CLI::Validator finite_between(double low, double high, const std::string& unit) {
  return CLI::Validator(
      [=](std::string& text) -> std::string {
        double v = 0;
        try {
          std::size_t used = 0;
          v = std::stod(text, &used);
          if (used != text.size()) v = std::nan("");
        } catch (const std::exception&) {
          v = std::nan("");
        }
        if (!(v >= low && v <= high))  // false for NaN
          return "must be a number of " + unit + " from " + CLI::detail::to_string(low) + " to " +
                 CLI::detail::to_string(high) + ", not " + text;
        return {};
      },
      unit);
}

// An option whose value may not be empty: `--crs ""` fell back to the default without a word.
CLI::Validator nonempty() {
  return CLI::Validator(
      [](std::string& text) -> std::string {
        return text.empty() ? "must not be empty (leave the option out for its default)" : "";
      },
      "");
}

// --metrics: HOST:PORT with a port from 0 to 65535, or '' (none). CivetServer said only "null
// context ... (is the port in use?)" of "bogus" or "127.0.0.1:99999".
CLI::Validator metrics_address() {
  return CLI::Validator(
      [](std::string& text) -> std::string {
        if (text.empty()) return {};
        const auto colon = text.rfind(':');
        const std::string port = colon == std::string::npos ? "" : text.substr(colon + 1);
        const bool digits =
            !port.empty() && port.size() <= 5 &&
            std::all_of(port.begin(), port.end(), [](char c) { return c >= '0' && c <= '9'; });
        // An IPv6 host goes in brackets: "::1" would read as host ":", port 1.
        const std::string host = colon == std::string::npos ? "" : text.substr(0, colon);
        const bool bare_ipv6 =
            host.find(':') != std::string::npos && !(host.front() == '[' && host.back() == ']');
        if (colon == 0 || colon == std::string::npos || !digits || bare_ipv6 ||
            std::stoi(port) > 65535)
          return "must be HOST:PORT (a port from 0 to 65535), or '' for none, not '" + text + "'";
        return {};
      },
      "");
}

int run(int argc, char** argv) {
  SignalWatch& signals = signal_watch();
  CLI::App app{"digonce: streaming coordination of street works (clash and collaboration alerts)"};
  app.require_subcommand(1);
  // The options of digonce itself (--config, --log-level, --topic-prefix) may come before or
  // after the command's name: subcommands pass what they do not know up to it.
  app.fallthrough();
  std::string config, brokers, data_dir, http, api_keys, instance, metrics, log_level = "info";
  app.add_option("--config", config,
                 "Configuration file (default: config/digonce.yaml under $DIGONCE_HOME when it is "
                 "set, else the installed share/digonce, else the source tree; the services' "
                 "log says which)")
      ->check(nonempty());
  app.add_option("--log-level", log_level, "trace, debug, info, warn, error, critical, off")
      ->check(CLI::IsMember({"trace", "debug", "info", "warn", "error", "critical", "off"}));
  std::string topic_prefix;
  app.add_option(
         "--topic-prefix", topic_prefix,
         "Prefix of every topic name (default: the config's topics.prefix, shipped digonce.)")
      ->check(nonempty());

  auto* serve =
      app.add_subcommand("serve", "Everything in one process (embedded broker unless --brokers)");
  serve
      ->add_option(
          "--http", http,
          "HTTP API address, HOST:PORT (default: the config's http.listen, shipped 127.0.0.1:8080)")
      ->check(nonempty());
  serve
      ->add_option("--data-dir", data_dir,
                   "State folder (default ./digonce-data; on the embedded broker, which forgets "
                   "everything on exit, the works and alerts do not outlive the run)")
      ->check(nonempty());
  serve->add_option("--api-keys", api_keys, "API key file (YAML)")->check(nonempty());
  serve->add_option("--brokers", brokers, "Kafka bootstrap servers of a real cluster")
      ->check(broker_list());
  serve->add_option("--instance-id", instance, "Stable id of this instance (transactional ids)")
      ->check(nonempty());

  std::map<std::string, std::pair<std::vector<ds::Stage>, std::string>> stage_commands = {
      {"ingest", {{ds::Stage::Ingest}, "127.0.0.1:9301"}},
      {"detector", {{ds::Stage::Detector, ds::Stage::Ledger}, "127.0.0.1:9302"}},
      {"ledger", {{ds::Stage::Ledger}, "127.0.0.1:9303"}},
  };
  std::map<std::string, CLI::App*> stage_apps;
  for (auto& [name, spec] : stage_commands) {
    const char* about = name == "ingest"     ? "The ingest stage: parse, validate, route"
                        : name == "detector" ? "The detector and ledger stages: detect, alert"
                                             : "The ledger stage alone";
    auto* sub = app.add_subcommand(name, about);
    sub->add_option("--brokers", brokers, "Kafka bootstrap servers")
        ->required()
        ->check(broker_list());
    sub->add_option("--data-dir", data_dir, "State folder")->check(nonempty());
    sub->add_option("--instance-id", instance, "Stable id of this instance (transactional ids)")
        ->check(nonempty());
    sub->add_option("--metrics", metrics,
                    "Prometheus endpoint HOST:PORT ('' to disable; default " + spec.second + ")")
        ->check(metrics_address());
    stage_apps[name] = sub;
  }
  auto* notifier = app.add_subcommand(
      "notifier", "The notifier stage: alerts to the authorities' webhooks, signed and retried");
  notifier->add_option("--brokers", brokers, "Kafka bootstrap servers")
      ->required()
      ->check(broker_list());
  notifier->add_option("--data-dir", data_dir, "State folder (unused: offsets live in Kafka)");
  notifier
      ->add_option("--metrics", metrics,
                   "Prometheus endpoint HOST:PORT ('' to disable; default 127.0.0.1:9304)")
      ->check(metrics_address());
  auto* gateway = app.add_subcommand("gateway", "The HTTP API, live stream and dashboard");
  gateway->add_option("--brokers", brokers, "Kafka bootstrap servers")
      ->required()
      ->check(broker_list());
  gateway->add_option("--http", http, "HTTP API address, HOST:PORT")->check(nonempty());
  gateway->add_option("--api-keys", api_keys, "API key file (YAML)")->check(nonempty());
  gateway->add_option("--data-dir", data_dir, "State folder (unused)");

  auto* topics = app.add_subcommand("topics", "Create the topics on a cluster");
  topics->add_option("--brokers", brokers, "Kafka bootstrap servers")
      ->required()
      ->check(broker_list());

  ds::DetectOptions detect_options;
  double distance = -1, days = -1;
  std::string crs;
  auto* detect = app.add_subcommand("detect", "Offline detection over an NDJSON file of works");
  detect->add_option("--input", detect_options.input, "NDJSON of work events ('-': stdin)")
      ->required()
      ->check(nonempty());
  detect->add_option("--output", detect_options.output, "NDJSON of alert events ('-': stdout)")
      ->required()
      ->check(nonempty());
  detect
      ->add_option(
          "--distance-m", distance,
          "Distance threshold in metres (default: the config's detection.distance_m, shipped 25)")
      ->check(finite_between(0, 1e6, "metres"));
  detect
      ->add_option("--collaboration-days", days,
                   "Collaboration window in days (default: the config's "
                   "detection.collaboration_window_days, shipped 90)")
      ->check(finite_between(0, 36500, "days"));
  detect
      ->add_option("--crs", crs,
                   "Metric CRS for distances (default: the config's detection.metric_crs, shipped "
                   "EPSG:27700)")
      ->check(nonempty());
  detect->add_option("--data-dir", detect_options.data_dir, "Keep the engine's store here")
      ->check(nonempty());
  // (A flag's function gets the count of its uses, false ones, `--no-progress=false`, negative.)
  detect->add_flag(
      "--no-progress", [&](std::int64_t n) { detect_options.progress = n <= 0; },
      "No progress line");

  ds::LoadOptions load_options;
  auto* load = app.add_subcommand(
      "load", "Bounded load generator and end-to-end latency probe (pairs of clashing works)");
  load->add_option("--brokers", brokers, "Kafka bootstrap servers")
      ->required()
      ->check(broker_list());
  load->add_option("--events", load_options.events,
                   "Work events to produce, two per pair (default 100000; an odd count is rounded "
                   "down)")
      ->check(CLI::Range(std::uint64_t{2}, std::uint64_t{1'000'000'000}));
  load->add_option("--rate", load_options.rate, "Events per second (default: as fast as possible)")
      ->check(finite_between(0, 10'000'000, "events per second"));
  load->add_option("--timeout", load_options.timeout_s, "Seconds to wait for the alerts (300)")
      ->check(finite_between(1, 86'400, "seconds"));
  load->add_option("--run-id", load_options.run_id, "Tag of this run's work refs");
  load->add_option(
      "--first-site", load_options.first_site,
      "First grid site of this run (default: a time slot of its own, from the run id)");

  ds::ImportOptions import_options;
  auto* import = app.add_subcommand(
      "import",
      "Validate a file of works and produce it to works.submitted (exit 2: some refused)");
  import->add_option("--brokers", brokers, "Kafka bootstrap servers")
      ->required()
      ->check(broker_list());
  import
      ->add_option("--input", import_options.input,
                   "NDJSON of submissions, or one GeoJSON FeatureCollection ('-': stdin)")
      ->required()
      ->check(nonempty());
  const auto no_progress = [&](std::int64_t n) { import_options.progress = n <= 0; };
  import->add_flag_function("--no-progress", no_progress, "No progress line");
  const auto no_crs_check = [&](std::int64_t n) { import_options.check_crs = n <= 0; };
  import->add_flag_function("--no-crs-check", no_crs_check,
                            "Parse only; leave CRS areas and geometry validity to ingest");

  ds::TailOptions tail_options;
  auto* tail = app.add_subcommand("tail", "Print a topic's committed records as NDJSON (alerts)");
  tail->add_option("--brokers", brokers, "Kafka bootstrap servers")
      ->required()
      ->check(broker_list());
  tail->add_option("--topic", tail_options.topic,
                   "Topic without the prefix: alerts (default), works.rejected, "
                   "notifications.dead, works.current, ...");
  tail->add_flag("--from-beginning", tail_options.from_beginning,
                 "Start at the oldest record (default: only new ones)");
  tail->add_option("--authority", tail_options.authority, "Alerts for this authority code only");
  tail->add_option("--kind", tail_options.kind, "Alerts of this kind only")
      ->check(CLI::IsMember({"clash", "collaboration", "restriction"}));
  tail->add_option("--state", tail_options.state,
                   "Alert revisions in this state only: open (a new alert), updated or closed "
                   "(unlike the API's ?state=open, open leaves out updated revisions)")
      ->check(CLI::IsMember({"open", "updated", "closed"}));
  tail->add_flag("--envelope", tail_options.envelope,
                 "Print {topic, partition, offset, timestamp, key, headers, value} per record");
  // (CLI11 reads a UINT with strtoull, which takes "-1" as 2^64 - 1: the range refuses it.)
  tail->add_option("--max", tail_options.max, "Stop after this many records (0: no limit)")
      ->check(CLI::Range(std::uint64_t{0}, std::uint64_t{1'000'000'000'000'000}));
  tail->add_option("--idle-timeout", tail_options.idle_timeout_s,
                   "Stop after this many seconds without a record (0: no limit)")
      ->check(finite_between(0, 1e9, "seconds"));

  app.set_version_flag("--version", std::string("digonce ") + DIGONCE_VERSION);
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    // "A subcommand is required" for a mistyped one: name it, and the commands there are.
    if (dynamic_cast<const CLI::RequiredError*>(&e) && app.get_subcommands().empty() &&
        !app.remaining().empty()) {
      std::string names;
      for (const auto* sub : app.get_subcommands({}))
        names += (names.empty() ? "" : ", ") + sub->get_name();
      const std::string word = app.remaining().front();
      // "digonce --bogus": an option before any command is not a command.
      std::cerr << "digonce: unknown " << (word.starts_with('-') ? "option" : "command") << " \""
                << word << "\"; the commands are " << names << " (digonce --help)\n";
      return static_cast<int>(CLI::ExitCodes::RequiredError);
    }
    return app.exit(e);
  }
  // Logs go to stderr: stdout carries data (`detect --output -`, `tail`) and the URL lines.
  spdlog::set_default_logger(spdlog::stderr_color_mt("digonce"));
  spdlog::set_level(spdlog::level::from_str(log_level));
  spdlog::set_pattern("%Y-%m-%dT%H:%M:%S.%e %^%l%$ %v");

  auto loaded = ds::load_settings(config);
  if (!loaded) return fail(loaded.error().what());
  ds::Settings settings = *loaded;
  if (!brokers.empty()) settings.brokers = brokers;
  const std::string config_name =
      settings.config_path.empty() ? "(no config file)" : settings.config_path;
  if (!settings.kafka_client.empty() || !settings.kafka_client_env.empty()) {
    if (!settings.brokers.empty()) {
      auto properties = ds::kafka_client_properties(settings);
      if (!properties) return fail("config " + config_name + ": " + properties.error().what());
      digonce::streams::set_client_properties(*properties);
    } else if (serve->parsed()) {  // the embedded broker speaks plain Kafka on loopback
      spdlog::warn(
          "kafka.client is for a real cluster (--brokers): the embedded broker takes "
          "none of its properties");
    }
  }
  if (!topic_prefix.empty()) settings.topic_prefix = topic_prefix;
  // Kafka takes topic names of letters, digits, '.', '_' and '-' only: a prefix with anything
  // else failed later, at the first topic, or with a broker's less plain words.
  if (auto bad = std::find_if(settings.topic_prefix.begin(), settings.topic_prefix.end(),
                              [](char c) {
                                return !std::isalnum(static_cast<unsigned char>(c)) && c != '.' &&
                                       c != '_' && c != '-';
                              });
      bad != settings.topic_prefix.end() || settings.topic_prefix.size() > 200)
    return fail((topic_prefix.empty() ? "config " + config_name + ": topics.prefix"
                                      : std::string("--topic-prefix")) +
                " '" + settings.topic_prefix +
                "': a topic name takes only letters, digits, '.', '_' and '-' (200 at most here)");
  if (!data_dir.empty()) settings.data_dir = data_dir;
  if (!http.empty()) settings.http_listen = http;
  if (!instance.empty()) settings.instance_id = instance;
  // None given: the gateway falls back to the development keys, saying so (load_keys).
  if (!api_keys.empty()) settings.api_keys = api_keys;
  if (distance >= 0) settings.rules.distance_m = distance;  // 0: only works that touch
  if (days >= 0) settings.rules.collaboration_window = digonce::geo::window_of_days(days);
  if (!crs.empty()) settings.metric_crs = crs;
  const bool a_stage =
      std::any_of(stage_apps.begin(), stage_apps.end(), [](auto& e) { return e.second->parsed(); });
  // The commands that measure (or check submissions) need their metric CRS: a wrong one (or
  // detect's --crs: detect makes its tools at once) stops them now.
  if (serve->parsed() || gateway->parsed() || a_stage || (detect->parsed() && crs.empty()))
    if (auto s = ds::check_metric_crs(settings); !s.ok()) return fail(s.error().what());
  // detect's --crs is checked here too, so that its error names the option, not the config key.
  if (!crs.empty())
    if (auto s = ds::check_metric_crs(settings, "--crs"); !s.ok()) return fail(s.error().what());
  // Only the commands that deliver webhooks need their secrets and CA files.
  if (serve->parsed() || notifier->parsed())
    if (auto s = ds::resolve_webhooks(settings.notifier, config_name); !s.ok())
      return fail(s.error().what());

  static std::atomic<bool> stop{false};
  if (detect->parsed() || load->parsed() || import->parsed() || topics->parsed()) {
    signals.release();  // nothing in them stops cleanly: a signal ends them at once
    // ... except as PID 1 (a container without an init), which the kernel spares every signal
    // left at its default action: there a handler ends the process the same way.
    if (::getpid() == 1)
      for (int sig : {SIGINT, SIGTERM}) std::signal(sig, [](int s) { std::_Exit(128 + s); });
  } else
    signals.start(stop);
  // SIGHUP reloads the gateway's API keys (serve's too); the stages have nothing to reload, and
  // its default action (ending the process with no clean stop) must not take them down when a
  // runbook sends it to every digonce, or their terminal closes.
  if (notifier->parsed() || a_stage) std::signal(SIGHUP, SIG_IGN);

  if (detect->parsed()) {
    auto s = ds::run_detect(settings, detect_options);
    return s.ok() ? 0 : fail(s.error().what());
  }
  if (load->parsed()) {
    auto s = ds::run_load(settings, load_options);
    return s.ok() ? 0 : fail(s.error().what());
  }
  if (import->parsed()) {
    ds::ImportSummary summary;
    auto s = ds::run_import(settings, import_options, summary);
    if (!s.ok()) return fail(s.error().what());
    return summary.rejected_items > 0 ? 2 : 0;
  }
  if (tail->parsed()) {
    auto s = ds::run_tail(settings, tail_options, stop);
    return s.ok() ? 0 : fail(s.error().what());
  }
  if (topics->parsed()) {
    auto s = digonce::streams::ensure_topics(settings.brokers, ds::topic_specs(settings));
    if (!s.ok())
      return fail(!s.error().message.starts_with("metadata")  // not the brokers' silence
                      ? s.error().what()
                      : "cannot reach the Kafka brokers " + settings.brokers + ": " +
                            s.error().what() + digonce::streams::recent_connection_failure());
    for (const auto& t : ds::topic_specs(settings))
      std::cout << t.name << " " << t.partitions << "\n";
    return 0;
  }
  if (serve->parsed()) return run_serve(settings, stop);
  if (notifier->parsed() && settings.notifier.webhooks.empty())  // before waiting for brokers
    return fail(
        "no webhooks configured (notifier.webhooks in the config file " +
        (settings.config_path.empty() ? std::string("(none found)") : settings.config_path) + ")");
  if (notifier->parsed())
    return run_notifier(settings,
                        notifier->count("--metrics") ? MetricsEndpoint{metrics, false}
                                                     : MetricsEndpoint{"127.0.0.1:9304", true},
                        stop);
  if (gateway->parsed()) {
    prometheus::Registry registry;
    add_build_info(registry, settings);
    ds::GatewayOptions gw{settings.http_listen, settings.brokers, settings.api_keys,
                          dashboard_dir()};
    auto s = ds::run_gateway(settings, gw, registry, stop, [](const std::string& url) {
      std::cout << "digonce gateway: HTTP API at " << url << std::endl;
    });
    return s.ok() ? 0 : fail(s.error().what());
  }
  for (auto& [name, sub] : stage_apps) {
    if (!sub->parsed()) continue;
    const MetricsEndpoint where = sub->count("--metrics")
                                      ? MetricsEndpoint{metrics, false}
                                      : MetricsEndpoint{stage_commands[name].second, true};
    return run_stages(settings, stage_commands[name].first, where, stop);
  }
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  digonce::restart_with_huge_pages(argv);  // base/huge_pages.h: before anything is allocated
  try {
    const int rc = run(argc, argv);
    signal_watch().finished();
    return rc;
  } catch (const std::exception& e) {  // a bug: errors are values everywhere else
    return fail(std::string("unexpected exception: ") + e.what());
  }
}
