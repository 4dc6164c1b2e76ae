// What digonce_bench measures with: a steady clock, latency percentiles, the process's resident
// memory and CPU time, and folder sizes.
#pragma once

#include <sys/resource.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <string>
#include <vector>

namespace digonce::bench {

using Clock = std::chrono::steady_clock;

inline double seconds_since(Clock::time_point t0) {
  return std::chrono::duration<double>(Clock::now() - t0).count();
}

/// A "Name:   N kB" field of a /proc file of this process, in bytes (0 if not there).
inline std::int64_t proc_kb_field(const char* path, const char* field) {
  std::FILE* f = std::fopen(path, "r");
  if (!f) return 0;
  char line[256];
  const std::size_t n = std::strlen(field);
  std::int64_t kb = 0;
  while (std::fgets(line, sizeof line, f))
    if (std::strncmp(line, field, n) == 0) {
      kb = std::strtoll(line + n, nullptr, 10);
      break;
    }
  std::fclose(f);
  return kb * 1024;
}

/// Resident set size of this process, bytes (VmRSS of /proc/self/status).
inline std::int64_t rss_bytes() {
  return proc_kb_field("/proc/self/status", "VmRSS:");
}

/// Anonymous memory of this process on transparent huge pages, bytes (AnonHugePages of
/// /proc/self/smaps_rollup).
inline std::int64_t anon_huge_page_bytes() {
  return proc_kb_field("/proc/self/smaps_rollup", "AnonHugePages:");
}

/// CPU time (user + system) of the whole process, every thread, seconds.
inline double process_cpu_seconds() {
  rusage u{};
  getrusage(RUSAGE_SELF, &u);
  auto s = [](const timeval& t) { return static_cast<double>(t.tv_sec) + t.tv_usec / 1e6; };
  return s(u.ru_utime) + s(u.ru_stime);
}

/// CPU time of the calling thread only, seconds.
inline double thread_cpu_seconds() {
  rusage u{};
  getrusage(RUSAGE_THREAD, &u);
  auto s = [](const timeval& t) { return static_cast<double>(t.tv_sec) + t.tv_usec / 1e6; };
  return s(u.ru_utime) + s(u.ru_stime);
}

/// Latencies in nanoseconds; percentiles by nearest rank.
class Latencies {
 public:
  void reserve(std::size_t n) { ns_.reserve(n); }
  void add(Clock::duration d) {
    ns_.push_back(static_cast<std::uint64_t>(
        std::chrono::duration_cast<std::chrono::nanoseconds>(d).count()));
  }
  std::size_t size() const { return ns_.size(); }
  /// The p-th percentile (0 < p <= 100) in microseconds; 0 when empty.
  double percentile_us(double p) {
    if (ns_.empty()) return 0;
    auto rank = static_cast<std::size_t>(std::ceil(p / 100.0 * static_cast<double>(ns_.size())));
    rank = std::clamp<std::size_t>(rank, 1, ns_.size()) - 1;
    std::nth_element(ns_.begin(), ns_.begin() + static_cast<std::ptrdiff_t>(rank), ns_.end());
    return static_cast<double>(ns_[rank]) / 1000.0;
  }

 private:
  std::vector<std::uint64_t> ns_;
};

/// Bytes of the regular files under a folder.
inline std::uint64_t folder_bytes(const std::filesystem::path& dir) {
  std::uint64_t total = 0;
  std::error_code ec;
  for (auto it = std::filesystem::recursive_directory_iterator(dir, ec);
       !ec && it != std::filesystem::recursive_directory_iterator(); it.increment(ec)) {
    std::error_code size_ec;
    if (it->is_regular_file(size_ec)) total += it->file_size(size_ec);
  }
  return total;
}

}  // namespace digonce::bench
