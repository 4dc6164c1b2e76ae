// For long commands over an input file (detect, import): the input, and a one-line progress
// report on stderr (count, rate, share of the input read, ETA), at most twice a second, only
// when enabled (stderr is a terminal).
#pragma once

#include <cerrno>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <string>
#include <system_error>

#include "base/result.h"

namespace digonce::services {

/// A file to read, or standard input for "-"; `size` is 0 when unknown (stdin).
struct Input {
  std::ifstream file;
  std::istream* stream = &std::cin;
  std::uintmax_t size = 0;

  /// Opened as `--input` (the flag of both commands that read one), or an error naming it and
  /// why: a folder opens as a file on Linux and fails only at the first read, after a command
  /// has emptied its output.
  Status open(const std::string& path) {
    if (path == "-") return {};
    std::error_code ec;
    if (std::filesystem::is_directory(path, ec))
      return error("--input " + path + ": is a folder, not a file");
    file.open(path, std::ios::binary);
    if (!file)
      return error("--input " + path +
                   ": cannot be read: " + std::generic_category().message(errno));
    size = std::filesystem::file_size(path, ec);
    stream = &file;
    return {};
  }
};

class Progress {
 public:
  /// `unit` names what is counted ("events", "records").
  Progress(bool enabled, std::uintmax_t total_bytes, const char* unit = "events")
      : enabled_(enabled),
        total_(total_bytes),
        unit_(unit),
        start_(std::chrono::steady_clock::now()) {}
  void update(std::uint64_t events, std::uintmax_t bytes) {
    if (!enabled_) return;
    auto now = std::chrono::steady_clock::now();
    if (now - last_ < std::chrono::milliseconds(500)) return;
    last_ = now;
    shown_ = true;
    double secs = std::chrono::duration<double>(now - start_).count();
    double rate = secs > 0 ? static_cast<double>(events) / secs : 0;
    std::string eta = "?";
    if (total_ > 0 && bytes > 0) {
      double left = secs * (static_cast<double>(total_) / static_cast<double>(bytes) - 1);
      char buf[32];
      std::snprintf(buf, sizeof buf, "%d:%02d", static_cast<int>(left) / 60,
                    static_cast<int>(left) % 60);
      eta = buf;
    }
    if (total_ == 0) {  // a pipe or stdin: its size is not known, so no share and no ETA
      std::fprintf(stderr, "\r  %llu %s  %.0f/s  %.1f MB read   ",
                   static_cast<unsigned long long>(events), unit_, rate,
                   static_cast<double>(bytes) / 1e6);
      return;
    }
    std::fprintf(stderr, "\r  %llu %s  %.0f/s  %.0f%%  ETA %s   ",
                 static_cast<unsigned long long>(events), unit_, rate,
                 100.0 * static_cast<double>(bytes) / static_cast<double>(total_), eta.c_str());
  }
  /// Before a message of its own on stderr: the progress line is taken away (it comes back at
  /// the next update), so that the message starts a line of its own.
  void clear() {
    if (!shown_) return;
    std::fprintf(stderr, "\r%80s\r", "");
    shown_ = false;
  }
  void done() { clear(); }

 private:
  bool enabled_;
  std::uintmax_t total_;
  const char* unit_;
  bool shown_ = false;  // a progress line is on the terminal
  std::chrono::steady_clock::time_point start_;
  std::chrono::steady_clock::time_point last_{};
};

}  // namespace digonce::services
