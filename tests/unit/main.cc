#define DOCTEST_CONFIG_IMPLEMENT
#include <doctest/doctest.h>

#include "child_process.h"

int main(int argc, char** argv) {
  // A test's child process (child_process.h): its routine, not the tests.
  if (int status = digonce::test::run_child_if_asked(); status >= 0) return status;
  doctest::Context context(argc, argv);
  return context.run();
}
