// The dashboard's static files: a file under a root folder by URL path, never one outside it.
#pragma once

#include <string>

namespace digonce::services {

struct StaticFile {
  int status = 200;  // 200, or 404 with `content` a JSON error
  std::string content;
  std::string content_type;  // from the extension
};

/// The file at URL path `path` (already percent-decoded; "/" is index.html) under `root`.
/// "..", backslashes, absolute paths and symbolic links that lead outside `root` are all 404.
StaticFile read_static_file(const std::string& root, const std::string& path);

}  // namespace digonce::services
