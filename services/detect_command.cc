#include "services/detect_command.h"

#include <spdlog/spdlog.h>
#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <optional>

#include "geo/engine.h"
#include "geo/normalize.h"
#include "geo/parse.h"
#include "services/detector_stage.h"
#include "services/pipeline.h"
#include "services/progress.h"
#include "store/buffered_store.h"
#include "store/rocks_store.h"

namespace digonce::services {
namespace fs = std::filesystem;

Status run_detect(const Settings& settings, const DetectOptions& options) {
  Input input;
  DIGONCE_TRY(input.open(options.input));
  std::istream* in = input.stream;
  const std::uintmax_t total_bytes = input.size;
  // The output is opened (and an existing file emptied) only once everything else is ready, so
  // that a run refused for any other reason leaves it as it was; never onto the input itself.
  if (options.output != "-") {
    // The same file by path, or standard input redirected from it (`--input - < f`).
    std::error_code same_ec;
    struct stat in_st {
    }, out_st{};
    const bool same = options.input == "-"
                          ? ::fstat(STDIN_FILENO, &in_st) == 0 &&
                                ::stat(options.output.c_str(), &out_st) == 0 &&
                                S_ISREG(in_st.st_mode) && in_st.st_dev == out_st.st_dev &&
                                in_st.st_ino == out_st.st_ino
                          : fs::equivalent(options.input, options.output, same_ec);
    if (same)
      return error("--output " + options.output + " is the input file: writing it would empty " +
                   "it before it is read; give another --output");
  }

  // The engine's store: RocksDB, in the given folder (kept) or a temporary one (removed).
  bool temporary = options.data_dir.empty();
  fs::path dir = temporary
                     ? fs::temp_directory_path() / ("digonce-detect-" + std::to_string(::getpid()))
                     : fs::path(options.data_dir);
  std::error_code ec;
  if (temporary) {
    // Folders of earlier runs that ended without removing theirs (a signal, a crash): each run
    // holds detect.lock in its folder, so a folder whose lock can be taken is nobody's (a /tmp
    // shared between PID namespaces makes pids no proof). One without a lock file (an older
    // digonce's) goes only when no process of its pid runs here.
    for (const auto& entry : fs::directory_iterator(fs::temp_directory_path(), ec)) {
      const std::string name = entry.path().filename().string();
      if (!name.starts_with("digonce-detect-") || entry.path() == dir) continue;
      const std::string pid = name.substr(15);
      if (pid.empty() || pid.find_first_not_of("0123456789") != std::string::npos) continue;
      std::error_code gone;
      const auto lock_file = entry.path() / "detect.lock";
      if (fs::exists(lock_file, gone)) {
        if (auto held = FolderLock::acquire(lock_file.string()); held)
          fs::remove_all(entry.path(), gone);  // the lock goes with its file
      } else if (!fs::exists("/proc/" + pid, gone)) {
        fs::remove_all(entry.path(), gone);
      }
    }
    fs::remove_all(dir, ec);
  }
  fs::create_directories(dir, ec);
  if (!temporary) {
    // A stage's data folder (serve's, a detector's) is not detect's to write in.
    for (Stage stage : {Stage::Ingest, Stage::Detector, Stage::Ledger})
      if (fs::exists(stage_lock_path(dir.string(), stage), ec))
        return error("--data-dir " + dir.string() + " is the data folder of a digonce " +
                     stage_name(stage) + " stage (it holds " + stage_name(stage) +
                     ".lock): give detect a folder of its own");
  }
  // Held for the run: two detects on one folder would share a store.
  auto lock = FolderLock::acquire((dir / "detect.lock").string(),
                                  "two runs of detect must not share a --data-dir (they would "
                                  "share a store); wait for the other, or give this one its own");
  if (!lock) return lock.error();
  // The temporary folder goes on every way out (an error too), after the store is closed
  // (declared before it: destroyed after).
  struct RemoveAtEnd {
    fs::path dir;
    ~RemoveAtEnd() {
      std::error_code ignored;
      if (!dir.empty()) fs::remove_all(dir, ignored);
    }
  } remove_at_end{temporary ? dir : fs::path()};
  store::RocksOptions rocks_options;
  rocks_options.wal = !temporary;
  rocks_options.vector_memtable_families = geo::kEngineLogFamilies;
  auto rocks = store::RocksStore::open(dir.string(), geo::kEngineFamilies, rocks_options);
  if (!rocks) return rocks.error();
  store::BufferedStore buffered(**rocks, geo::kEngineFamilies.size());

  auto tools = make_place_tools(settings);
  if (!tools) return tools.error();
  geo::Normalizer normalizer(*(*tools)->crs, (*tools)->geos);
  geo::DetectorOptions detector_options{settings.rules, settings.finest_cell_m};
  // A kept store's works were measured in one metric CRS: the engine refuses another.
  detector_options.metric_crs = (*tools)->crs->metric_crs();
  // A folder kept by the digonce of early December 2026 recorded its CRS here instead (the
  // engine's own record came after): it is held to it the same way.
  bool layout_recorded = false;
  if (!temporary) {
    auto held = (*rocks)->get(geo::kMetaFamily, "detect.layout");
    if (!held) return held.error();
    if (held->has_value()) {
      layout_recorded = true;
      const std::string& layout = **held;
      auto at = layout.find("metric_crs=");
      std::string held_crs;
      if (at != std::string::npos) {
        at += std::string_view("metric_crs=").size();
        held_crs = layout.substr(at, layout.find(' ', at) - at);
      }
      if (!held_crs.empty() && held_crs != detector_options.metric_crs)
        return error("--data-dir " + dir.string() + ": the store holds works measured in " +
                     held_crs + ", and this run measures in " + detector_options.metric_crs +
                     ": use another --data-dir, or the --crs it was made with");
    }
  }
  geo::Engine engine(buffered, detector_options, (*tools)->geos, *(*tools)->locator);
  auto layout = engine.read_layout();
  if (!layout) return layout.error();
  if (layout->kind != geo::Engine::LayoutRecord::Readable)
    return error("--data-dir " + dir.string() + ": " + geo::Engine::layout_error(*layout).what() +
                 (layout->kind == geo::Engine::LayoutRecord::Newer
                      ? ": run that digonce on it, or use another --data-dir"
                      : ": use another --data-dir"));
  if (auto opened = engine.open(); !opened.ok()) {
    if (!opened.error().permanent) return opened.error();
    return error("--data-dir " + dir.string() + ": " + opened.error().what() +
                 ": use another --data-dir, or the --crs it was made with");
  }
  if (engine.detector().crs_was_unrecorded() && !layout_recorded)
    spdlog::warn(
        "--data-dir {} was written by a digonce that did not record its metric CRS: its {} live "
        "works are taken as measured in {}",
        dir.string(), engine.detector().live_works(), detector_options.metric_crs);

  std::ofstream out_file;
  std::ostream* out = &std::cout;
  if (options.output != "-") {
    out_file.open(options.output, std::ios::binary | std::ios::trunc);
    if (!out_file) return error("cannot write " + options.output);
    out = &out_file;
  }
  // The output as far as written, handed to the OS (or the failure to), before the events whose
  // alerts it holds are committed to a kept store.
  auto flush_output = [&]() -> Status {
    out->flush();
    if (!*out) return error("writing " + options.output + " failed");
    return {};
  };

  geo::ParseLimits limits;
  limits.max_vertices = settings.max_vertices;
  Progress progress(options.progress && isatty(STDERR_FILENO), total_bytes);
  auto started = std::chrono::steady_clock::now();
  std::string line, json;
  std::vector<geo::Alert> alerts;
  std::uint64_t line_no = 0, blank_lines = 0, bad_lines = 0, rejected_items = 0, events = 0;
  std::uintmax_t bytes = 0;
  while (std::getline(*in, line)) {
    ++line_no;
    bytes += line.size() + 1;
    if (line.find_first_not_of(" \t\r") == std::string::npos) {
      ++blank_lines;
      continue;
    }
    geo::Parsed parsed = geo::parse_submission(line, limits);
    bool bad = !parsed.errors.empty();
    for (const auto& e : parsed.errors) {
      progress.clear();
      std::fprintf(stderr, "line %llu: %s\n", static_cast<unsigned long long>(line_no),
                   e.what().c_str());
      ++rejected_items;
    }
    for (auto& w : parsed.works) {
      const auto repaired_before = normalizer.repaired();
      if (auto s = normalizer.normalize(w); !s.ok()) {
        progress.clear();
        std::fprintf(stderr, "line %llu: %s\n", static_cast<unsigned long long>(line_no),
                     s.error().what().c_str());
        ++rejected_items;
        bad = true;
        continue;
      }
      if (normalizer.repaired() != repaired_before) {
        // Taken all the same, as the API, import and the stages take it (geo/normalize.h).
        // Named by its work, not its line: every "line N:" detect prints is a line it skipped
        // (contract section 4), and scripts read them so.
        progress.clear();
        std::fprintf(stderr, "%s\n", normalizer.repair_note("", w.work_ref).c_str());
      }
      alerts.clear();
      DIGONCE_TRY(engine.apply(w, alerts));
      ++events;
      for (const auto& a : alerts) {
        json = geo::alert_to_json(a);
        json.push_back('\n');
        out->write(json.data(), static_cast<std::streamsize>(json.size()));
      }
    }
    if (bad) ++bad_lines;
    // Group commit: RocksDB takes the batch on a second thread while the next lines are read.
    // Every 200,000 keys, or 1 GiB of writes (a work's revisions rewrite one key: the store
    // takes at most 4 GiB uncommitted). The alerts of the events sealed go out first: a kept
    // store whose events are committed opens nothing for them again, so their alerts must be
    // in the output before (a crash after this flush repeats alerts on the next run; none is
    // lost).
    if (buffered.pending_count() > 200000 || buffered.pending_bytes() > (std::size_t{1} << 30)) {
      DIGONCE_TRY(flush_output());
      DIGONCE_TRY(buffered.commit_async());
    }
    progress.update(events, bytes);
  }
  if (in->bad()) return error("reading " + options.input + " failed");
  DIGONCE_TRY(flush_output());
  DIGONCE_TRY(buffered.commit());
  progress.done();

  double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  const auto& st = engine.stats();
  auto by_kind = [&](const std::array<std::uint64_t, 3>& a) {
    return "clash " + std::to_string(a[0]) + ", collaboration " + std::to_string(a[1]) +
           ", restriction " + std::to_string(a[2]);
  };
  std::uint64_t open_now = 0;
  DIGONCE_TRY(engine.ledger().for_each_open([&](const geo::Alert&) { ++open_now; }));
  std::fprintf(stderr,
               "digonce detect: %llu lines, %llu events (%.0f/s), %llu stale; %zu live works\n"
               "  alerts opened:  %s\n  alerts updated: %s\n  alerts closed:  %s\n"
               "  open at the end: %llu\n  rejected: %llu item(s) on %llu line(s); geometries "
               "repaired: %llu\n",
               static_cast<unsigned long long>(line_no), static_cast<unsigned long long>(events),
               secs > 0 ? static_cast<double>(events) / secs : 0.0,
               static_cast<unsigned long long>(st.stale), engine.detector().live_works(),
               by_kind(st.opened).c_str(), by_kind(st.updated).c_str(), by_kind(st.closed).c_str(),
               static_cast<unsigned long long>(open_now),
               static_cast<unsigned long long>(rejected_items),
               static_cast<unsigned long long>(bad_lines),
               static_cast<unsigned long long>(normalizer.repaired()));
  // Every line refused, and more than one: most often one JSON document written over several
  // lines, which NDJSON is not. Still a run that went through (contract section 4: bad lines
  // are skipped), but one a person should not take for an input without works.
  if (events == 0 && bad_lines > 1 && bad_lines == line_no - blank_lines)
    std::fprintf(stderr,
                 "digonce detect: note: no line held a work; the input must be NDJSON, one JSON "
                 "document per line (a document over several lines: `jq -c '.features[]' FILE` "
                 "makes one line per feature, or `digonce import` takes it whole)\n");
  return {};
}

}  // namespace digonce::services
