// base/string_id_map.h against std::unordered_map: random inserts, finds and erases (ids reused,
// as the detector reuses slots), and erasing every other key of a grown table.
#include <doctest/doctest.h>

#include <random>
#include <string>
#include <unordered_map>
#include <vector>

#include "base/string_id_map.h"

using namespace digonce;

TEST_CASE("StringIdMap agrees with std::unordered_map under random inserts and erases") {
  std::mt19937_64 rng(7);
  StringIdMap map;
  std::vector<std::string> table;  // id -> key, as the detector's slots hold them
  std::vector<std::uint32_t> free_ids;
  std::unordered_map<std::string, std::uint32_t> expected;
  auto key_of = [&](std::uint32_t id) -> std::string_view { return table[id]; };
  auto random_key = [&] { return "w" + std::to_string(rng() % 60'000); };

  for (int step = 0; step < 300'000; ++step) {
    const std::string key = random_key();
    auto it = expected.find(key);
    const std::uint32_t found = map.find(key, key_of);
    REQUIRE(found == (it == expected.end() ? StringIdMap::kNone : it->second));
    if (it == expected.end()) {
      std::uint32_t id;
      if (free_ids.empty()) {
        id = static_cast<std::uint32_t>(table.size());
        table.push_back(key);
      } else {
        id = free_ids.back();
        free_ids.pop_back();
        table[id] = key;
      }
      map.insert(key, id);
      expected.emplace(key, id);
    } else if (rng() % 3 != 0) {
      REQUIRE(map.erase(key, key_of));
      CHECK_FALSE(map.erase(key, key_of));
      free_ids.push_back(it->second);
      table[it->second].clear();
      expected.erase(it);
    }
    REQUIRE(map.size() == expected.size());
  }
  for (const auto& [key, id] : expected) CHECK(map.find(key, key_of) == id);
  CHECK(map.find("absent", key_of) == StringIdMap::kNone);
}

TEST_CASE("StringIdMap finds every key left after erasing every other one") {
  // Erasing from the middle of probe runs must leave the runs whole (the backward shift).
  StringIdMap map;
  std::vector<std::string> table;
  auto key_of = [&](std::uint32_t id) -> std::string_view { return table[id]; };
  for (std::uint32_t i = 0; i < 5'000; ++i) {
    table.push_back("ref-" + std::to_string(i));
    map.insert(table.back(), i);
  }
  for (std::uint32_t i = 0; i < 5'000; i += 2) REQUIRE(map.erase(table[i], key_of));
  for (std::uint32_t i = 0; i < 5'000; ++i)
    CHECK(map.find(table[i], key_of) == (i % 2 ? i : StringIdMap::kNone));
  CHECK(map.size() == 2'500);
}
