// The process's heap on transparent huge pages.
//
// At a million live works the detector's index, its works and their shapes are half a gigabyte of
// small objects read in no order: nearly every look-up misses the TLB as well as the cache, and a
// page walk is one more wait per miss. With 2 MiB pages the TLB covers 512 times more memory.
// With the kernel's transparent huge pages in "madvise" mode (Debian's default), memory gets
// them only where the process asks, with madvise(MADV_HUGEPAGE); glibc's malloc asks for its
// whole heap when the process starts with the tunable glibc.malloc.hugetlb=1 (glibc 2.35 and
// later). Tunables are read once, before main(), so digonce starts itself again with it: the same
// program, arguments and pid (execve of /proc/self/exe), before it has done anything, its
// environment given the tunable and DIGONCE_HUGE_PAGES_ASKED=1 (so that it is done once). Measured
// at a million works: the engine's thread 6 % more events per CPU second on average (-3 % to
// +18 % in five alternated pairs; docs/PERFORMANCE.md, "The heap on huge pages").
//
// Not done when the environment already names the tunable (the operator's choice stands), when
// DIGONCE_HUGE_PAGES=0, or when the kernel's mode is not "madvise" ("always" needs no asking,
// "never" gives nothing). If the exec fails, the process goes on as it was.
#pragma once

#include <unistd.h>

#include <cstdlib>
#include <cstring>
#include <fstream>
#include <string>
#include <vector>

namespace digonce {

/// The kernel's transparent huge page mode: "always", "madvise", "never", or "" if unknown.
inline std::string transparent_huge_page_mode() {
  std::ifstream in("/sys/kernel/mm/transparent_hugepage/enabled");
  std::string line;
  if (!std::getline(in, line)) return "";
  const auto open = line.find('['), close = line.find(']');
  if (open == std::string::npos || close == std::string::npos || close < open) return "";
  return line.substr(open + 1, close - open - 1);
}

/// Whether this process's malloc was started with glibc.malloc.hugetlb set.
inline bool malloc_asks_for_huge_pages() {
  const char* tunables = std::getenv("GLIBC_TUNABLES");
  return tunables && std::strstr(tunables, "glibc.malloc.hugetlb=") != nullptr;
}

/// Call first thing in main(): returns only when the process runs as it should already, or when
/// it could not be started again (then it runs as before; its own environment is never changed).
inline void restart_with_huge_pages(char** argv) {
  const char* choice = std::getenv("DIGONCE_HUGE_PAGES");
  if (choice && std::strcmp(choice, "0") == 0) return;
  // Started again already (a glibc that rewrote or dropped the tunable must not make a loop).
  if (std::getenv("DIGONCE_HUGE_PAGES_ASKED")) return;
  const char* tunables = std::getenv("GLIBC_TUNABLES");
  if (tunables && std::strstr(tunables, "glibc.malloc.hugetlb") != nullptr) return;
  if (transparent_huge_page_mode() != "madvise") return;
  // The environment as it is, with the tunable added to GLIBC_TUNABLES (or that variable added).
  const std::string added =
      tunables ? "GLIBC_TUNABLES=" + std::string(tunables) + ":glibc.malloc.hugetlb=1"
               : "GLIBC_TUNABLES=glibc.malloc.hugetlb=1";
  std::vector<char*> env;
  for (char** v = environ; *v; ++v)
    if (std::strncmp(*v, "GLIBC_TUNABLES=", 15) != 0) env.push_back(*v);
  env.push_back(const_cast<char*>(added.c_str()));
  std::string asked = "DIGONCE_HUGE_PAGES_ASKED=1";
  env.push_back(asked.data());
  env.push_back(nullptr);
  execve("/proc/self/exe", argv, env.data());
  // Still here: no /proc, or not allowed. Go on as before.
}

}  // namespace digonce
