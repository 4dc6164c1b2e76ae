// `digonce detect` with a kept --data-dir (services/detect_command.h): a folder holds works
// measured in one metric CRS, and a run in another is refused.
#include <doctest/doctest.h>

#include <filesystem>
#include <fstream>
#include <string>
#include <utility>

#include "geo/engine.h"
#include "services/detect_command.h"
#include "store/rocks_store.h"

using namespace digonce;
using namespace digonce::services;

namespace {

// A folder as the digonce of early December 2026 kept it: its CRS in meta's detect.layout.
void make_layout_folder(const std::filesystem::path& dir, const std::string& layout) {
  std::filesystem::remove_all(dir);
  auto rocks = store::RocksStore::open(dir.string(), geo::kEngineFamilies);
  REQUIRE(rocks.ok());
  store::WriteBatch b;
  b.put(geo::kMetaFamily, "detect.layout", layout);
  REQUIRE((*rocks)->write(b).ok());
}

}  // namespace

TEST_CASE("detect: a folder that recorded its CRS in detect.layout is held to it") {
  const auto base = std::filesystem::temp_directory_path() / "digonce-test-detect-layout";
  std::filesystem::remove_all(base);
  std::filesystem::create_directories(base);
  const auto input = base / "works.ndjson";
  std::ofstream(input) << "\n";
  DetectOptions options;
  options.input = input.string();
  options.output = (base / "alerts.ndjson").string();
  options.progress = false;
  const Settings settings;  // measures in EPSG:27700
  REQUIRE(settings.metric_crs == "EPSG:27700");

  SUBCASE("another CRS is refused, naming both") {
    options.data_dir = (base / "utm").string();
    make_layout_folder(options.data_dir, "metric_crs=EPSG:32630 finest_cell_m=8");
    auto run = run_detect(settings, options);
    REQUIRE_FALSE(run.ok());
    const std::string what = run.error().what();
    CHECK(what.find("EPSG:32630") != std::string::npos);
    CHECK(what.find("EPSG:27700") != std::string::npos);
    CHECK_FALSE(std::filesystem::exists(options.output));  // refused before the output opened
  }
  SUBCASE("the same CRS goes on, and the engine's own record is written") {
    options.data_dir = (base / "bng").string();
    make_layout_folder(options.data_dir, "metric_crs=EPSG:27700 finest_cell_m=8");
    REQUIRE(run_detect(settings, options).ok());
    auto rocks = store::RocksStore::open(options.data_dir, geo::kEngineFamilies);
    REQUIRE(rocks.ok());
    auto held = (*rocks)->get(geo::kCellsFamily,
                              "\xff"
                              "crs");
    REQUIRE(held.ok());
    REQUIRE(held->has_value());
    CHECK(**held == "EPSG:27700");
  }
  SUBCASE("a store of a newer digonce, or with a layout no digonce writes, is refused") {
    const std::pair<std::string, std::string> cases[] = {
        {"4",
         "the store was written by a newer digonce (store layout 4; this one reads layouts 1 to "
         "3): run that digonce on it, or use another --data-dir"},
        {"x",
         "the store's layout record holds \"x\", which no digonce writes: the folder is "
         "damaged, or not a digonce store: use another --data-dir"},
    };
    for (const auto& c : cases) {
      const std::string& held = c.first;
      const std::string& said = c.second;
      CAPTURE(held);
      options.data_dir = (base / ("layout-" + held)).string();
      std::filesystem::remove_all(options.data_dir);
      {
        auto rocks = store::RocksStore::open(options.data_dir, geo::kEngineFamilies);
        REQUIRE(rocks.ok());
        store::WriteBatch b;
        b.put(geo::kCellsFamily, geo::Engine::kLayoutKey, held);
        REQUIRE((*rocks)->write(b).ok());
      }
      auto run = run_detect(settings, options);
      REQUIRE_FALSE(run.ok());
      CHECK(run.error().what() == "--data-dir " + options.data_dir + ": " + said);
      CHECK_FALSE(std::filesystem::exists(options.output));
    }
  }
  std::filesystem::remove_all(base);
}

TEST_CASE("detect: an output that cannot be written leaves the kept store without those events") {
  // Alerts that never reached the output must come again from the next run on the folder: the
  // output is flushed, and checked, before the events behind it are committed.
  const auto base = std::filesystem::temp_directory_path() / "digonce-test-detect-full";
  std::filesystem::remove_all(base);
  std::filesystem::create_directories(base);
  const auto input = base / "works.ndjson";
  std::ofstream(input)
      << R"({"work_ref":"A","promoter":"P","geometry":{"type":"LineString","coordinates":)"
         R"([[530000,180000],[530010,180000]]},"crs":"EPSG:27700","start":"2027-03-05",)"
         R"("end":"2027-03-20"})"
      << "\n"
      << R"({"work_ref":"B","promoter":"P","geometry":{"type":"Point","coordinates":)"
         R"([530010,180000]},"crs":"EPSG:27700","start":"2027-03-05","end":"2027-03-20"})"
      << "\n";
  DetectOptions options;
  options.input = input.string();
  options.data_dir = (base / "kept").string();
  options.progress = false;
  const Settings settings;

  options.output = "/dev/full";  // every write fails: no space left on the device
  auto failed = run_detect(settings, options);
  REQUIRE_FALSE(failed.ok());
  CHECK(failed.error().what() == "writing /dev/full failed");

  options.output = (base / "again.ndjson").string();
  REQUIRE(run_detect(settings, options).ok());
  std::ifstream again(options.output);
  std::string line, all;
  int lines = 0;
  while (std::getline(again, line)) {
    all += line;
    ++lines;
  }
  CHECK(lines == 1);
  CHECK(all.find(R"("kind":"clash")") != std::string::npos);
  CHECK(all.find(R"("work_ref":"A")") != std::string::npos);
  CHECK(all.find(R"("work_ref":"B")") != std::string::npos);
  std::filesystem::remove_all(base);
}

TEST_CASE("detect: an input that is a folder or missing is refused before the output is touched") {
  const auto base = std::filesystem::temp_directory_path() / "digonce-test-detect-input";
  std::filesystem::remove_all(base);
  std::filesystem::create_directories(base / "folder");
  DetectOptions options;
  options.output = (base / "alerts.ndjson").string();
  options.progress = false;
  const Settings settings;
  for (const auto& [input, says] :
       {std::pair{base / "folder", std::string(": is a folder, not a file")},
        std::pair{base / "missing.ndjson", std::string(": cannot be read: No such file")}}) {
    const auto path = input;  // CAPTURE keeps a reference: not to a structured binding
    CAPTURE(path);
    std::ofstream(options.output) << "kept\n";  // a folder opened as a file emptied it
    options.input = input.string();
    auto run = run_detect(settings, options);
    REQUIRE_FALSE(run.ok());
    CHECK(run.error().what().find("--input " + input.string() + says) == 0);
    std::ifstream kept(options.output);
    std::string line;
    CHECK((std::getline(kept, line) && line == "kept"));
  }
  std::filesystem::remove_all(base);
}
