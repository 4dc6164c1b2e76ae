// The process's heap on transparent huge pages.
//
// At a million live works the detector's index, its works and their shapes are half a gigabyte of
// small objects read in no order: nearly every look-up misses the TLB as well as the cache, and a
// page walk is one more wait per miss. With 2 MiB pages the TLB covers 512 times more memory.
// With the kernel's transparent huge pages in "madvise" mode (Debian's default), memory gets
// them only where the process asks, with madvise(MADV_HUGEPAGE); glibc's malloc asks for its
// whole heap when the process starts with the tunable glibc.malloc.hugetlb=1 (glibc 2.35 and
// later). Tunables are read once, before main(), so digonce starts itself again with it: the same
// program, arguments and pid (execve of the path it was started by, so the process keeps its name),
// before it has done anything, its environment given the tunable and DIGONCE_HUGE_PAGES_ASKED=1
// (so that it is done once). Measured
// at a million works: the engine's thread 6 % more events per CPU second on average (-3 % to
// +18 % in five alternated pairs; docs/PERFORMANCE.md, "The heap on huge pages").
//
// Not done when the environment already names the tunable (the operator's choice stands), when
// DIGONCE_HUGE_PAGES=0, when the kernel's mode is not "madvise" ("always" needs no asking,
// "never" gives nothing), or when the kernel's /proc/self/exe is not the file this code was
// loaded from (under valgrind it is the tool, started through ld.so it is the loader: running it
// again would run something else), nor when that file cannot be found again (deleted or replaced
// since it started, or run from a descriptor). If the exec fails, the process goes on as it was.
#pragma once

#include <sys/auxv.h>
#include <sys/stat.h>
#include <unistd.h>

#include <charconv>
#include <cstdint>
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

/// A path to the file this code was loaded from, if it is the file /proc/self/exe names too, or
/// "": the path the process was started by where it leads there, else the mapping's path in
/// /proc/self/maps. They differ under valgrind (the kernel's /proc/self/exe is
/// the tool; valgrind answers readlink of it with the program, but not stat) and when the program
/// was started through ld.so (the loader), and then running /proc/self/exe again would not run
/// this program. Compared by device and inode, both as stat sees them (so overlay file systems,
/// whose maps show the lower layer's device, compare alike).
inline std::string own_program_file() {
  struct stat exe {};
  if (stat("/proc/self/exe", &exe) != 0) return "";
  const auto here = reinterpret_cast<std::uintptr_t>(&own_program_file);
  std::ifstream maps("/proc/self/maps");
  std::string line;
  while (std::getline(maps, line)) {
    std::uintptr_t low = 0, high = 0;  // "low-high flags offset device inode path", in hex
    const char* const end = line.data() + line.size();
    const auto first = std::from_chars(line.data(), end, low, 16);
    if (first.ec != std::errc{} || first.ptr == end || *first.ptr != '-') continue;
    if (std::from_chars(first.ptr + 1, end, high, 16).ec != std::errc{}) continue;
    if (here < low || here >= high) continue;
    const auto slash = line.find('/');  // the path, after the address, flags, offset, device, inode
    if (slash == std::string::npos) return "";
    std::string path = line.substr(slash);
    struct stat mapped {};
    if (stat(path.c_str(), &mapped) != 0 || mapped.st_dev != exe.st_dev ||
        mapped.st_ino != exe.st_ino)
      return "";  // another program, or the file replaced since ("... (deleted)")
    // The kernel names a process after the last part of the path given to execve, links not
    // followed: the path it was started by (AT_EXECFN; a symlink's name, say) keeps that name,
    // where it still leads to this file. (Relative paths hold: nothing has changed directory.)
    // getauxval gives every entry as an integer; this one is a pointer to the path.
    const auto* started_by =
        reinterpret_cast<const char*>(getauxval(AT_EXECFN));  // NOLINT(performance-no-int-to-ptr)
    struct stat named {};
    if (started_by && stat(started_by, &named) == 0 && named.st_dev == exe.st_dev &&
        named.st_ino == exe.st_ino)
      return started_by;
    return path;
  }
  return "";
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
  const std::string program = own_program_file();
  if (program.empty()) return;
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
  // A path of the file, not /proc/self/exe: the kernel names the process after the path's last
  // part (/proc/PID/comm, what `pgrep -x` and `ps -C` match), and "exe" is no name.
  execve(program.c_str(), argv, env.data());
  // Still here: not allowed, or the file gone since. Go on as before.
}

}  // namespace digonce
