// The dashboard's static files (services/static_files.h): the files of one folder, nothing else.
#include <doctest/doctest.h>

#include <filesystem>
#include <fstream>

#include "services/static_files.h"

using namespace digonce::services;
namespace fs = std::filesystem;

TEST_CASE("static files: served from the root with their content type, never from outside it") {
  auto base = fs::temp_directory_path() / "digonce-test-static";
  fs::remove_all(base);
  fs::create_directories(base / "root" / "sub");
  std::ofstream(base / "root" / "index.html") << "<h1>hi</h1>";
  std::ofstream(base / "root" / "app.js") << "let a = 1;";
  std::ofstream(base / "root" / "sub" / "style.css") << "p {}";
  std::ofstream(base / "secret.txt") << "TOP-SECRET-CONTENT";
  fs::create_symlink(base / "secret.txt", base / "root" / "link.txt");
  std::string root = (base / "root").string();

  auto index = read_static_file(root, "/");
  CHECK(index.status == 200);
  CHECK(index.content == "<h1>hi</h1>");
  CHECK(index.content_type == "text/html; charset=utf-8");
  CHECK(read_static_file(root, "/app.js").content_type == "text/javascript; charset=utf-8");
  CHECK(read_static_file(root, "/sub/style.css").content == "p {}");

  for (const char* bad : {"/../secret.txt", "/sub/../../secret.txt", "/link.txt", "/sub",
                          "/missing.js", "/..\\secret.txt", "//etc/passwd", ""}) {
    std::string path = bad;
    CAPTURE(path);
    auto f = read_static_file(root, bad);
    CHECK(f.status == 404);
    CHECK(f.content.find("TOP-SECRET") == std::string::npos);
    CHECK(f.content_type == "application/json");
  }
  CHECK(read_static_file((base / "nowhere").string(), "/").status == 404);
  fs::remove_all(base);
}
