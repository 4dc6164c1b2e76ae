// An open-addressing hash map from 64-bit keys to small values: linear probing, power-of-two
// capacity, backward-shift deletion (no tombstones). About 3x faster than std::unordered_map for
// the index's cell lookups, and a slot is the key (8 bytes) and the value instead of a ~50-byte
// node.
#pragma once

#include <cstdint>
#include <vector>

namespace digonce {

template <class V>
class FlatMap64 {
 public:
  static constexpr std::uint64_t kEmpty = ~std::uint64_t{0};  // the one key that cannot be stored

  FlatMap64() { rehash(16); }

  std::size_t size() const { return size_; }
  std::size_t capacity() const { return slots_.size(); }

  V* find(std::uint64_t key) {
    for (std::size_t i = home(key);; i = (i + 1) & mask_) {
      if (slots_[i].key == key) return &slots_[i].value;
      if (slots_[i].key == kEmpty) return nullptr;
    }
  }
  const V* find(std::uint64_t key) const { return const_cast<FlatMap64*>(this)->find(key); }
  /// Asks the processor to fetch key's home slot: find(key) soon after does not wait for memory.
  /// Both ends of it, for a slot that is not a power of two in size can straddle two lines.
  void prefetch(std::uint64_t key) const {
    const char* slot = reinterpret_cast<const char*>(&slots_[home(key)]);
    __builtin_prefetch(slot);
    __builtin_prefetch(slot + sizeof(Slot) - 1);
  }

  /// The value at key, default-constructed and inserted if absent; `inserted` says which.
  V& get_or_insert(std::uint64_t key, bool& inserted) {
    if ((size_ + 1) * 4 > slots_.size() * 3) rehash(slots_.size() * 2);
    for (std::size_t i = home(key);; i = (i + 1) & mask_) {
      if (slots_[i].key == key) {
        inserted = false;
        return slots_[i].value;
      }
      if (slots_[i].key == kEmpty) {
        slots_[i].key = key;
        slots_[i].value = V{};
        ++size_;
        inserted = true;
        return slots_[i].value;
      }
    }
  }

  bool erase(std::uint64_t key) {
    std::size_t i = home(key);
    for (;; i = (i + 1) & mask_) {
      if (slots_[i].key == kEmpty) return false;
      if (slots_[i].key == key) break;
    }
    // Backward-shift: move later entries of the probe run into the hole when that brings them
    // no further from home than they were.
    std::size_t hole = i;
    for (std::size_t j = (i + 1) & mask_; slots_[j].key != kEmpty; j = (j + 1) & mask_) {
      std::size_t h = home(slots_[j].key);
      bool movable = hole <= j ? (h <= hole || h > j) : (h <= hole && h > j);
      if (movable) {
        slots_[hole] = slots_[j];
        hole = j;
      }
    }
    slots_[hole].key = kEmpty;
    --size_;
    return true;
  }

  template <class F>
  void for_each(F&& f) const {
    for (const auto& s : slots_)
      if (s.key != kEmpty) f(s.key, s.value);
  }

  std::size_t memory_bytes() const { return slots_.capacity() * sizeof(Slot); }

 private:
  struct Slot {
    std::uint64_t key = kEmpty;
    V value{};
  };

  std::size_t home(std::uint64_t key) const {
    // splitmix64 finaliser: cell keys are highly structured, so mix before masking.
    key ^= key >> 30;
    key *= 0xbf58476d1ce4e5b9ULL;
    key ^= key >> 27;
    key *= 0x94d049bb133111ebULL;
    key ^= key >> 31;
    return static_cast<std::size_t>(key) & mask_;
  }

  void rehash(std::size_t n) {
    std::vector<Slot> old;
    old.swap(slots_);
    slots_.assign(n, Slot{});
    mask_ = n - 1;
    size_ = 0;
    for (const auto& s : old) {
      if (s.key == kEmpty) continue;
      bool inserted = false;
      get_or_insert(s.key, inserted) = s.value;
    }
  }

  std::vector<Slot> slots_;
  std::size_t mask_ = 0;
  std::size_t size_ = 0;
};

}  // namespace digonce
