#include "services/resources.h"

#include <cstdlib>
#include <filesystem>

namespace digonce::services {
namespace fs = std::filesystem;

std::string resource_path(const std::string& relative) {
  if (const char* home = std::getenv("DIGONCE_HOME"); home && *home)
    return (fs::path(home) / relative).string();
  std::error_code ec;
  auto exe = fs::read_symlink("/proc/self/exe", ec);
  if (!ec) {
    auto installed = exe.parent_path().parent_path() / "share" / "digonce" / relative;
    if (fs::exists(installed, ec)) return installed.string();
  }
#ifdef DIGONCE_SOURCE_DIR_DEFAULT
  return (fs::path(DIGONCE_SOURCE_DIR_DEFAULT) / relative).string();
#else
  return relative;
#endif
}

}  // namespace digonce::services
