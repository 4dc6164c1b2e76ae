// services::FolderLock: one instance of a stage per data folder.
#include <doctest/doctest.h>
#include <unistd.h>

#include <filesystem>
#include <optional>

#include "services/pipeline.h"

using digonce::services::FolderLock;

TEST_CASE("FolderLock: a second holder is refused, naming the first one's pid, until it lets go") {
  auto dir = std::filesystem::temp_directory_path() / "digonce-test-folder-lock";
  std::filesystem::remove_all(dir);
  const auto path = (dir / "detector.lock").string();  // the folder is made on the way
  std::optional<FolderLock> first;
  {
    auto lock = FolderLock::acquire(path);
    REQUIRE(lock.ok());
    first.emplace(std::move(*lock));
  }
  auto second = FolderLock::acquire(path);  // another open file: refused, as another process is
  REQUIRE_FALSE(second.ok());
  const std::string why = second.error().what();
  CHECK(why.find("pid " + std::to_string(::getpid())) != std::string::npos);
  CHECK(why.find("--data-dir") != std::string::npos);
  first.reset();
  CHECK(FolderLock::acquire(path).ok());
  std::filesystem::remove_all(dir);
}
