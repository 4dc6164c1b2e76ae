#pragma once
// Routines a test runs in a process of its own: the unit test binary started again with
// DIGONCE_UNIT_CHILD=name:arg, for what must end without the process's destructors (a crash, a
// kill -9). Forking instead would leave RocksDB's background threads behind in the child.
#include <string>

namespace digonce::test {

using ChildRoutine = int (*)(const std::string& arg);

/// Names a routine (at static initialisation: DIGONCE_CHILD_ROUTINE).
bool register_child(const char* name, ChildRoutine routine);
/// In main: runs the routine DIGONCE_UNIT_CHILD names, returning its exit status, or -1 when the
/// variable is not set.
int run_child_if_asked();
/// Runs the named routine in a new process and waits for it: its exit status, or 128 + the
/// signal that ended it.
int spawn_child(const std::string& name, const std::string& arg);

}  // namespace digonce::test

#define DIGONCE_CHILD_ROUTINE(name, fn) \
  static const bool digonce_child_##fn = ::digonce::test::register_child(name, fn)
