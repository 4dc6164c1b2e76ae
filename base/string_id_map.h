// A hash index from strings to the uint32 ids of a table that already holds the strings (the
// detector's work refs -> slots): open addressing with linear probing, 8 bytes a slot (32 bits
// of the key's hash and the id), backward-shift deletion.
//
// The strings are not copied: find() and erase() are given `key_of(id)`, and compare a string
// only when the 32 hash bits match. A key that is absent (every new work) costs one probe run in
// the table and no string at all; std::unordered_map<std::string, ...> cost a bucket read, a node
// read and often the string's own heap block, each a cache miss at a million keys, and ~50 bytes
// a key.
#pragma once

#include <cstdint>
#include <functional>
#include <string_view>
#include <vector>

namespace digonce {

class StringIdMap {
 public:
  static constexpr std::uint32_t kNone = UINT32_MAX;  // the one id that cannot be stored

  StringIdMap() { rehash(16); }

  std::size_t size() const { return size_; }
  std::size_t memory_bytes() const { return slots_.capacity() * sizeof(Slot); }

  /// The id of `key`, or kNone; key_of(id) gives the string held for an id.
  template <class KeyOf>
  std::uint32_t find(std::string_view key, KeyOf&& key_of) const {
    const std::uint32_t tag = tag_of(key);
    for (std::size_t i = home(tag);; i = (i + 1) & mask_) {
      const Slot& s = slots_[i];
      if (s.id == kNone) return kNone;
      if (s.tag == tag && key_of(s.id) == key) return s.id;
    }
  }

  /// Starts the memory read of `key`'s home slot (a cache miss at a million keys), for a find()
  /// soon after.
  void prefetch(std::string_view key) const { __builtin_prefetch(&slots_[home(tag_of(key))]); }

  /// Adds `key` -> id; the key must not be present.
  void insert(std::string_view key, std::uint32_t id) {
    if ((size_ + 1) * 4 > slots_.size() * 3) rehash(slots_.size() * 2);
    place(Slot{tag_of(key), id});
    ++size_;
  }

  /// Removes `key`; false when it is not present.
  template <class KeyOf>
  bool erase(std::string_view key, KeyOf&& key_of) {
    const std::uint32_t tag = tag_of(key);
    std::size_t i = home(tag);
    for (;; i = (i + 1) & mask_) {
      if (slots_[i].id == kNone) return false;
      if (slots_[i].tag == tag && key_of(slots_[i].id) == key) break;
    }
    // Backward shift: later entries of the probe run move into the hole when that brings them
    // no further from home than they were.
    std::size_t hole = i;
    for (std::size_t j = (i + 1) & mask_; slots_[j].id != kNone; j = (j + 1) & mask_) {
      const std::size_t h = home(slots_[j].tag);
      const bool movable = hole <= j ? (h <= hole || h > j) : (h <= hole && h > j);
      if (movable) {
        slots_[hole] = slots_[j];
        hole = j;
      }
    }
    slots_[hole] = Slot{};
    --size_;
    return true;
  }

 private:
  struct Slot {
    std::uint32_t tag = 0;
    std::uint32_t id = kNone;
  };

  static std::uint32_t tag_of(std::string_view key) {
    return static_cast<std::uint32_t>(std::hash<std::string_view>{}(key) >> 32);
  }
  std::size_t home(std::uint32_t tag) const {
    // The tag's bits, mixed (a multiplicative hash), so that the home slot does not repeat the
    // bits the tag compares.
    return static_cast<std::size_t>((std::uint64_t{tag} * 0x9E3779B97F4A7C15ULL) >> 20) & mask_;
  }
  void place(Slot s) {
    std::size_t i = home(s.tag);
    while (slots_[i].id != kNone) i = (i + 1) & mask_;
    slots_[i] = s;
  }
  void rehash(std::size_t n) {
    std::vector<Slot> old;
    old.swap(slots_);
    slots_.assign(n, Slot{});
    mask_ = n - 1;
    for (const Slot& s : old)
      if (s.id != kNone) place(s);
  }

  std::vector<Slot> slots_;
  std::size_t mask_ = 0;
  std::size_t size_ = 0;
};

}  // namespace digonce
