#include "child_process.h"

#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <map>
#include <stdexcept>
#include <vector>

extern char** environ;

namespace digonce::test {
namespace {

std::map<std::string, ChildRoutine>& routines() {
  static std::map<std::string, ChildRoutine> r;
  return r;
}

}  // namespace

bool register_child(const char* name, ChildRoutine routine) {
  routines()[name] = routine;
  return true;
}

int run_child_if_asked() {
  const char* spec = std::getenv("DIGONCE_UNIT_CHILD");
  if (!spec) return -1;
  std::string s(spec);
  auto colon = s.find(':');
  auto it = routines().find(s.substr(0, colon));
  if (it == routines().end()) return 127;
  return it->second(colon == std::string::npos ? std::string() : s.substr(colon + 1));
}

int spawn_child(const std::string& name, const std::string& arg) {
  std::vector<std::string> env_strings{"DIGONCE_UNIT_CHILD=" + name + ":" + arg};
  for (char** e = environ; *e; ++e)
    if (std::string_view(*e).rfind("DIGONCE_UNIT_CHILD=", 0) != 0) env_strings.emplace_back(*e);
  std::vector<char*> env;
  env.reserve(env_strings.size() + 1);
  for (auto& e : env_strings) env.push_back(e.data());
  env.push_back(nullptr);
  std::string exe = "/proc/self/exe";
  char* argv[] = {exe.data(), nullptr};
  pid_t pid = 0;
  if (posix_spawn(&pid, exe.c_str(), nullptr, nullptr, argv, env.data()) != 0)
    throw std::runtime_error("posix_spawn failed");
  int status = 0;
  while (waitpid(pid, &status, 0) < 0)
    if (errno != EINTR) throw std::runtime_error("waitpid failed");
  if (WIFEXITED(status)) return WEXITSTATUS(status);
  return 128 + WTERMSIG(status);
}

}  // namespace digonce::test
