#include "store/presence_filter.h"

#include <algorithm>
#include <cstdint>
#include <functional>

namespace digonce::store {
namespace {

// A blocked Bloom filter: a key's probes all fall in one 64-byte block (one cache miss), which
// costs a little precision (~1.5 % false positives at 10 bits per key instead of ~1 %).
constexpr int kProbes = 6;
constexpr std::size_t kBitsPerKey = 10;
constexpr std::size_t kWordsPerBlock = 8;  // 512 bits

std::uint64_t hash_of(Family f, std::string_view key) {
  return std::hash<std::string_view>{}(key) ^ (std::uint64_t{f} * 0x9e3779b97f4a7c15ull);
}

// The block of hash h: its high half scaled to [0, blocks) by a multiply, not a division
// (Lemire, "A fast alternative to the modulo reduction", 2016).
std::size_t block_of(std::uint64_t h, std::size_t blocks) {
  return static_cast<std::size_t>(((h >> 32) * blocks) >> 32);
}

// Calls f(word, mask) for each probe of hash h in a layer of `blocks` blocks (word: the index
// from the layer's first block).
template <class F>
void for_each_probe(std::uint64_t h, std::size_t blocks, F&& f) {
  const std::size_t block = block_of(h, blocks);
  // The probes' bit positions: 9 bits each, from a remix of the hash.
  std::uint64_t bits = h * 0xff51afd7ed558ccdull;
  bits ^= bits >> 29;
  for (int i = 0; i < kProbes; ++i, bits >>= 9) {
    const unsigned b = static_cast<unsigned>(bits & 511);
    f(block * kWordsPerBlock + b / 64, std::uint64_t{1} << (b % 64));
  }
}

}  // namespace

bool PresenceFilteredStore::covered(Family f, std::string_view key) const {
  for (const auto& r : ranges_)
    if (r.family == f && key.substr(0, r.prefix.size()) == r.prefix) return true;
  return false;
}

void PresenceFilteredStore::add_layer(std::size_t capacity) {
  Layer l;
  l.capacity = std::max(capacity, min_layer_keys_);
  l.blocks = l.capacity * kBitsPerKey / (kWordsPerBlock * 64) + 1;
  // Blocks on cache-line boundaries: a few words more, and the first block where one starts.
  l.bits.assign(l.blocks * kWordsPerBlock + kWordsPerBlock - 1, 0);
  const auto at = reinterpret_cast<std::uintptr_t>(l.bits.data());
  l.first = (64 - at % 64) % 64 / sizeof(std::uint64_t);
  layers_.push_back(std::move(l));
}

void PresenceFilteredStore::add(std::uint64_t h) {
  if (layers_.empty() || layers_.back().count >= layers_.back().capacity)
    add_layer(layers_.empty() ? 0 : layers_.back().capacity * 2);
  Layer& l = layers_.back();
  std::uint64_t* words = l.bits.data() + l.first;
  for_each_probe(h, l.blocks, [&](std::size_t word, std::uint64_t mask) { words[word] |= mask; });
  ++l.count;
}

bool PresenceFilteredStore::may_contain(std::uint64_t h) const {
  for (const Layer& l : layers_) {
    const std::uint64_t* words = l.bits.data() + l.first;
    bool all = true;
    for_each_probe(h, l.blocks, [&](std::size_t word, std::uint64_t mask) {
      if (!(words[word] & mask)) all = false;
    });
    if (all) return true;
  }
  return false;
}

void PresenceFilteredStore::prefetch(Family f, std::string_view key) const {
  if (!loaded_ || !covered(f, key)) return;
  const std::uint64_t h = hash_of(f, key);
  for (const Layer& l : layers_)
    __builtin_prefetch(l.bits.data() + l.first + block_of(h, l.blocks) * kWordsPerBlock);
}

Status PresenceFilteredStore::load() {
  // The keys' hashes first, so that the first layer fits them all with room to grow (one layer
  // to probe until the keys have doubled).
  std::vector<std::uint64_t> hashes;
  for (const auto& r : ranges_) {
    DIGONCE_TRY(inner_.scan(r.family, r.prefix, [&](std::string_view k, std::string_view) {
      hashes.push_back(hash_of(r.family, k));
      return true;
    }));
  }
  layers_.clear();
  add_layer(2 * hashes.size());
  for (auto h : hashes) add(h);
  loaded_ = true;
  return {};
}

Result<std::optional<std::string>> PresenceFilteredStore::get(Family f,
                                                              std::string_view key) const {
  if (loaded_ && covered(f, key)) {
    if (!may_contain(hash_of(f, key))) {
      ++ruled_out_;
      return std::optional<std::string>();
    }
    ++passed_;
  }
  return inner_.get(f, key);
}

Status PresenceFilteredStore::write(const WriteBatch& batch) {
  DIGONCE_TRY(inner_.write(batch));
  // After the inner write, so that a failed write adds nothing (an added key would only cost a
  // read anyway).
  if (loaded_)
    for (const auto& op : batch.ops())
      if (op.kind == Op::Kind::Put && covered(op.family, op.key)) add(hash_of(op.family, op.key));
  return {};
}

std::size_t PresenceFilteredStore::memory_bytes() const {
  std::size_t total = 0;
  for (const Layer& l : layers_) total += l.bits.capacity() * sizeof(std::uint64_t);
  return total;
}

}  // namespace digonce::store
