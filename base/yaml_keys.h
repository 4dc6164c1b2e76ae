// The check every YAML file digonce reads makes of a mapping's keys: YAML keeps the first of two
// equal keys and drops the second without a word, and a misspelt key would be ignored without a
// word too (`code:` for `codes:` in an authorities file, a misspelt `notifier:` in a config).
#pragma once

#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace digonce {

/// The first thing wrong with a mapping's keys: its key ("" when it is not a plain word) and
/// what is wrong, ready to follow "<path>.<key>: ".
struct YamlKeyProblem {
  std::string key;
  std::string what;

  /// "where.key: what" (where is the mapping's own dotted path, "" at the top of a file).
  std::string message(std::string_view where) const {
    std::string at(where);
    if (!key.empty()) at += (at.empty() ? "" : ".") + key;
    return at.empty() ? what : at + ": " + what;
  }
};

/// Checks map's keys against known, in the file's order: a key that is a list or a map (a typo;
/// converting it would throw), a key given twice (with both lines), or a key not in known
/// (listing what `owner`, e.g. "the file" or "topics", takes). nullopt when all are good; a map
/// that is not a mapping has no keys to check.
inline std::optional<YamlKeyProblem> yaml_key_problem(const YAML::Node& map,
                                                      const std::vector<std::string_view>& known,
                                                      std::string_view owner) {
  if (!map.IsMap()) return std::nullopt;
  std::map<std::string, int, std::less<>> seen;  // key -> its line
  for (const auto& kv : map) {
    const int line = kv.first.Mark().line + 1;
    if (!kv.first.IsScalar())
      return YamlKeyProblem{"", "a key must be a plain word (line " + std::to_string(line) + ")"};
    auto key = kv.first.as<std::string>();
    if (auto [at, fresh] = seen.emplace(key, line); !fresh)
      return YamlKeyProblem{key, "given twice (lines " + std::to_string(at->second) + " and " +
                                     std::to_string(line) + "); write it once"};
    if (std::find(known.begin(), known.end(), key) == known.end()) {
      std::string takes;
      for (auto k : known) takes += (takes.empty() ? "" : ", ") + std::string(k);
      return YamlKeyProblem{key, "unknown key (" + std::string(owner) + " takes: " + takes + ")"};
    }
  }
  return std::nullopt;
}

}  // namespace digonce
