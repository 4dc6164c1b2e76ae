// Store in memory (tests, and `digonce detect --data-dir` left out).
#pragma once

#include <map>
#include <vector>

#include "store/store.h"

namespace digonce::store {

class MemoryStore final : public Store {
 public:
  explicit MemoryStore(std::size_t families) : data_(families) {}

  Result<std::optional<std::string>> get(Family f, std::string_view key) const override {
    const auto& m = data_.at(f);
    auto it = m.find(key);
    if (it == m.end()) return std::optional<std::string>();
    return std::optional<std::string>(it->second);
  }
  Status scan(Family f, std::string_view prefix, const Visitor& visit) const override {
    const auto& m = data_.at(f);
    for (auto it = m.lower_bound(prefix); it != m.end(); ++it) {
      if (std::string_view(it->first).substr(0, prefix.size()) != prefix) break;
      if (!visit(it->first, it->second)) break;
    }
    return {};
  }
  Status write(const WriteBatch& batch) override {
    for (const auto& op : batch.ops()) {
      auto& m = data_.at(op.family);
      if (op.kind == Op::Kind::Put) {
        m.insert_or_assign(std::string(op.key), std::string(op.value));
      } else {
        auto it = m.find(op.key);
        if (it != m.end()) m.erase(it);
      }
    }
    return {};
  }
  std::size_t size(Family f) const { return data_.at(f).size(); }

 private:
  std::vector<std::map<std::string, std::string, std::less<>>> data_;
};

}  // namespace digonce::store
