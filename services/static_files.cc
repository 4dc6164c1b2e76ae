#include "services/static_files.h"

#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>

#include "base/json_writer.h"

namespace digonce::services {
namespace {

namespace fs = std::filesystem;

std::string content_type(const fs::path& p) {
  static const std::map<std::string, std::string> kTypes = {
      {".html", "text/html; charset=utf-8"},
      {".js", "text/javascript; charset=utf-8"},
      {".css", "text/css; charset=utf-8"},
      {".json", "application/json"},
      {".svg", "image/svg+xml"},
      {".png", "image/png"},
      {".ico", "image/x-icon"},
      {".txt", "text/plain; charset=utf-8"},
      {".map", "application/json"},
      {".webmanifest", "application/manifest+json"},
  };
  auto it = kTypes.find(p.extension().string());
  return it == kTypes.end() ? "application/octet-stream" : it->second;
}

StaticFile not_found(const std::string& message) {
  StaticFile f;
  f.status = 404;
  f.content_type = "application/json";
  JsonObject o(f.content);
  o.str("error", message);
  return f;
}

}  // namespace

StaticFile read_static_file(const std::string& root_dir, const std::string& path) {
  std::error_code ec;
  fs::path root = fs::weakly_canonical(root_dir, ec);
  if (ec || !fs::is_directory(root, ec))
    return not_found("the dashboard is not installed (" + root_dir + ")");
  if (path.empty() || path.front() != '/') return not_found("no such file: " + path);
  std::string rel = path == "/" ? "index.html" : path.substr(1);
  if (rel.find('\\') != std::string::npos || rel.find('\0') != std::string::npos)
    return not_found("no such file: " + path);
  fs::path file = fs::weakly_canonical(root / rel, ec);
  // "..", absolute paths and symbolic links that lead outside all end outside `root` once made
  // canonical.
  if (ec || file.string().rfind(root.string() + "/", 0) != 0 || !fs::is_regular_file(file, ec))
    return not_found("no such file: " + path);
  std::ifstream in(file, std::ios::binary);
  std::ostringstream content;
  content << in.rdbuf();
  if (!in) return not_found("no such file: " + path);
  return StaticFile{200, std::move(content).str(), content_type(file)};
}

}  // namespace digonce::services
