// geo::WorkRegistry: stale events, sequence numbers, and the version an event leaves held.

#include <doctest/doctest.h>

#include <cstdint>
#include <optional>
#include <vector>

#include "geo/work_registry.h"
#include "store/memory_store.h"

using namespace digonce;

TEST_CASE("work registry: an event without a version keeps the one held, and says which") {
  store::MemoryStore store(1);
  geo::WorkRegistry registry(store, 0);
  const std::vector<std::uint64_t> tiles{7};
  geo::WorkEvent e;
  e.work_ref = "W1";
  e.promoter = "P";

  auto first = registry.admit(e, tiles);  // no version yet
  REQUIRE(first.ok());
  CHECK_FALSE(first->stale);
  CHECK(first->seq == 1);
  CHECK_FALSE(first->version.has_value());

  e.version = 5;
  auto versioned = registry.admit(e, tiles);
  REQUIRE(versioned.ok());
  CHECK(versioned->version == std::optional<std::int64_t>(5));
  CHECK(versioned->old_tiles == tiles);

  e.version.reset();  // an update without a version: taken, version 5 still held
  auto unversioned = registry.admit(e, tiles);
  REQUIRE(unversioned.ok());
  CHECK_FALSE(unversioned->stale);
  CHECK(unversioned->seq == 3);
  CHECK(unversioned->version == std::optional<std::int64_t>(5));

  e.version = 4;  // older than the one held
  auto old = registry.admit(e, tiles);
  REQUIRE(old.ok());
  CHECK(old->stale);
  CHECK(registry.stale_count() == 1);

  e.version = 5;  // the same version again is not stale
  auto same = registry.admit(e, tiles);
  REQUIRE(same.ok());
  CHECK_FALSE(same->stale);
  CHECK(same->seq == 4);
}
