#include "store/buffered_store.h"

#include <algorithm>
#include <bit>
#include <functional>
#include <utility>

namespace digonce::store {

// --- Writes: the log and its hash table ---

std::uint64_t BufferedStore::Writes::hash(Family f, std::string_view key) {
  return std::hash<std::string_view>{}(key) ^ (std::uint64_t{f} * 0x9e3779b97f4a7c15ull);
}

std::size_t BufferedStore::Writes::slot(Family f, std::string_view key, std::uint64_t h) const {
  // An entry is the op's index + 1 in its low half and the key hash's high half in its high
  // half: a probe compares that first, and only reads the op and its key (two cache misses in a
  // large buffer) when the hashes agree.
  const std::uint64_t tag = h & 0xffffffff00000000ull;
  const std::size_t mask = table.size() - 1;
  for (std::size_t i = h & mask;; i = (i + 1) & mask) {
    const std::uint64_t entry = table[i];
    if (entry == 0) return i;
    if ((entry & 0xffffffff00000000ull) != tag) continue;
    const Ref& r = ops[static_cast<std::uint32_t>(entry) - 1];
    if (r.family == f && this->key(r) == key) return i;
  }
}

void BufferedStore::Writes::grow() {
  std::vector<std::uint64_t> old = std::move(table);
  table.assign(std::max<std::size_t>(1024, old.size() * 2), 0);
  for (std::uint64_t entry : old) {
    if (!entry) continue;
    const Ref& r = ops[static_cast<std::uint32_t>(entry) - 1];
    table[slot(r.family, key(r), hash(r.family, key(r)))] = entry;
  }
}

void BufferedStore::Writes::add(const Op& op) {
  if ((distinct + 1) * 2 > table.size()) grow();  // load factor at most 1/2
  Ref r{static_cast<std::uint32_t>(log.size()), static_cast<std::uint32_t>(op.key.size()),
        op.kind == Op::Kind::Put ? static_cast<std::uint32_t>(op.value.size()) : kDeleted,
        op.family};
  log.append(op.key);
  if (op.kind == Op::Kind::Put) log.append(op.value);
  ops.push_back(r);
  const std::uint64_t h = hash(op.family, op.key);
  std::uint64_t& entry = table[slot(op.family, op.key, h)];
  if (entry == 0) ++distinct;
  entry = (h & 0xffffffff00000000ull) | ops.size();
}

const BufferedStore::Ref* BufferedStore::Writes::find(Family f, std::string_view key) const {
  if (table.empty()) return nullptr;
  const std::uint64_t entry = table[slot(f, key, hash(f, key))];
  return entry ? &ops[static_cast<std::uint32_t>(entry) - 1] : nullptr;
}

std::vector<const BufferedStore::Ref*> BufferedStore::Writes::latest_sorted() const {
  // Sorted on a packed prefix (family, then the key's first seven bytes) and only on ties by the
  // whole key: most comparisons are then one integer compare, without touching the log.
  struct Item {
    std::uint64_t prefix;
    const Ref* ref;
  };
  std::vector<Item> items;
  items.reserve(distinct);
  for (std::uint64_t entry : table) {
    if (!entry) continue;
    const Ref& r = ops[static_cast<std::uint32_t>(entry) - 1];
    std::uint64_t prefix = std::uint64_t{r.family} << 56;
    const std::string_view k = key(r);
    for (std::size_t i = 0; i < 7 && i < k.size(); ++i)
      prefix |= std::uint64_t{static_cast<unsigned char>(k[i])} << (48 - 8 * i);
    items.push_back({prefix, &r});
  }
  std::sort(items.begin(), items.end(), [&](const Item& a, const Item& b) {
    if (a.prefix != b.prefix) return a.prefix < b.prefix;
    return key(*a.ref) < key(*b.ref);
  });
  std::vector<const Ref*> out;
  out.reserve(items.size());
  for (const Item& i : items) out.push_back(i.ref);
  return out;
}

WriteBatch BufferedStore::Writes::batch(const WriteBatch& extra) const {
  // The last write of each key, in key order by family: a key written several times is written
  // once, and RocksDB inserts sorted keys into its memtable skip lists far faster than random
  // ones (each insert starts from where the previous one ended: docs/PERFORMANCE.md).
  WriteBatch out;
  out.reserve(distinct + extra.size());
  for (const Ref* r : latest_sorted()) {
    if (r->value_size == kDeleted) {
      out.del(r->family, key(*r));
    } else {
      out.put(r->family, key(*r), value(*r));
    }
  }
  out.append(extra);
  return out;
}

void BufferedStore::Writes::clear() {
  log.clear();
  ops.clear();
  // The table shrinks when it was mostly empty: after a load of 50,000 writes per commit, a
  // commit per event would otherwise clear half a megabyte each time.
  const std::size_t fits = std::max<std::size_t>(1024, std::bit_ceil(distinct * 2 + 1));
  if (table.size() > 4 * fits) {
    table = std::vector<std::uint64_t>(fits, 0);
  } else {
    std::fill(table.begin(), table.end(), 0);
  }
  distinct = 0;
  written_out = 0;
}

// --- BufferedStore ---

BufferedStore::~BufferedStore() {
  (void)wait();
}

Result<std::optional<std::string>> BufferedStore::get(Family f, std::string_view key) const {
  if (f >= families_) return error("no column family " + std::to_string(f));
  const Ref* r = pending_.find(f, key);
  const Writes* in = &pending_;
  // Then the sealed sets, newest first.
  for (std::size_t back = 1; !r && back <= kDepth; ++back) {
    const std::size_t i = (next_ + kDepth - back) % kDepth;
    if (!live_[i]) continue;
    r = sealed_[i].find(f, key);
    in = &sealed_[i];
  }
  if (!r) return base_.get(f, key);
  if (r->value_size == kDeleted) return std::optional<std::string>();
  return std::optional<std::string>(std::string(in->value(*r)));
}

Status BufferedStore::scan(Family f, std::string_view prefix, const Visitor& visit) const {
  DIGONCE_TRY(wait());  // the sealed writes are then in the base
  if (f >= families_) return error("no column family " + std::to_string(f));
  // The pending keys of the family under the prefix, in key order, merged with the base's; a
  // pending key shadows the base's.
  std::vector<const Ref*> mine;
  for (const Ref* r : pending_.latest_sorted())
    if (r->family == f && pending_.key(*r).substr(0, prefix.size()) == prefix) mine.push_back(r);
  auto it = mine.begin();
  bool stopped = false;
  auto emit = [&](const Ref* r) {
    if (r->value_size != kDeleted && !visit(pending_.key(*r), pending_.value(*r))) stopped = true;
  };
  auto status = base_.scan(f, prefix, [&](std::string_view k, std::string_view v) {
    while (!stopped && it != mine.end() && pending_.key(**it) < k) emit(*it++);
    if (stopped) return false;
    if (it != mine.end() && pending_.key(**it) == k) {  // shadowed
      emit(*it++);
      return !stopped;
    }
    if (!visit(k, v)) stopped = true;
    return !stopped;
  });
  DIGONCE_TRY(status);
  while (!stopped && it != mine.end()) emit(*it++);
  return {};
}

Status BufferedStore::write(const WriteBatch& batch) {
  // Offsets into the log are 32-bit: a commit is due long before 4 GiB.
  if (pending_.log.size() + batch.bytes() > UINT32_MAX - 1)
    return error("more than 4 GiB of uncommitted writes: commit more often");
  for (const auto& op : batch.ops())  // all or nothing
    if (op.family >= families_) return error("no column family " + std::to_string(op.family));
  for (const auto& op : batch.ops()) pending_.add(op);
  return {};
}

void BufferedStore::for_each_pending(
    const std::function<void(Family, std::string_view, const std::optional<std::string>&)>& fn)
    const {
  std::optional<std::string> value;
  for (const Ref* r : pending_.latest_sorted()) {
    if (r->value_size == kDeleted) {
      value.reset();
    } else {
      value.emplace(pending_.value(*r));
    }
    fn(r->family, pending_.key(*r), value);
  }
}

bool BufferedStore::for_each_new_write(
    const std::function<bool(Family, std::string_view, const std::optional<std::string>&)>& fn) {
  std::optional<std::string> value;
  for (; pending_.written_out < pending_.ops.size(); ++pending_.written_out) {
    const Ref& r = pending_.ops[pending_.written_out];
    // A write that a later one of the same key replaces is left out: that one is passed.
    if (pending_.find(r.family, pending_.key(r)) != &r) continue;
    if (r.value_size == kDeleted) {
      value.reset();
    } else {
      value.emplace(pending_.value(r));
    }
    if (!fn(r.family, pending_.key(r), value)) return false;  // not passed: passed next time
  }
  return true;
}

Status BufferedStore::commit(const WriteBatch& extra) {
  DIGONCE_TRY(wait());
  DIGONCE_TRY(base_.write(pending_.batch(extra)));
  abort();
  for (auto& sealed : sealed_) sealed.clear();  // written already (wait() returned ok)
  return {};
}

Status BufferedStore::commit_async(const WriteBatch& extra) {
  // (After a failure the sealed sets stay live, for reads: a commit must wait() and see it.)
  if (in_flight_ == kDepth || live_[next_]) DIGONCE_TRY(wait_oldest());
  if (live_[next_]) return wait();  // its write failed
  // The pending writes become the sealed set next_; that set, written already, is cleared and
  // reused as the new pending set (its buffers keep their capacity: no allocation).
  Writes& sealed = sealed_[next_];
  std::swap(pending_, sealed);
  pending_.clear();
  live_[next_] = true;  // (should start() throw, reads still see it, and commits fail)
  writer_.start([this, &sealed, extra] { return base_.write(sealed.batch(extra)); });
  ++in_flight_;
  next_ = (next_ + 1) % kDepth;
  return {};
}

Status BufferedStore::wait_oldest() const {
  if (in_flight_ == 0) return {};
  const std::size_t oldest = (next_ + kDepth - in_flight_) % kDepth;
  Status s = writer_.wait_oldest();
  --in_flight_;
  // On failure the sealed writes are not in the base: reads keep seeing them, and the caller,
  // told of the failure, decides (the state is then ahead of the base, as after a failed commit).
  if (s.ok()) {
    live_[oldest] = false;
  } else if (!failure_) {
    failure_ = s.error();
  }
  return s;
}

Status BufferedStore::wait() const {
  Status first;
  while (in_flight_ > 0) {
    Status s = wait_oldest();
    if (first.ok() && !s.ok()) first = std::move(s);
  }
  if (!first.ok()) return first;
  for (std::size_t i = 0; i < kDepth; ++i)
    if (live_[i])
      return failure_ ? Status(*failure_)
                      : Status(error("an earlier write of this store was not made"));
  return {};
}

}  // namespace digonce::store

namespace digonce::store {

BufferedStore::Writer::~Writer() {
  {
    std::lock_guard lock(mutex_);
    stop_ = true;
  }
  wake_.notify_all();
  if (thread_.joinable()) thread_.join();
}

void BufferedStore::Writer::start(std::function<Status()> job) {
  {
    std::lock_guard lock(mutex_);
    queue_.push_back(std::move(job));
    ++started_;
    if (!thread_.joinable()) thread_ = std::thread([this] { run(); });
  }
  wake_.notify_all();
}

Status BufferedStore::Writer::wait_oldest() {
  std::unique_lock lock(mutex_);
  done_.wait(lock, [this] { return !results_.empty(); });
  Status s = std::move(results_.front());
  results_.erase(results_.begin());
  return s;
}

void BufferedStore::Writer::run() {
  std::unique_lock lock(mutex_);
  for (;;) {
    wake_.wait(lock, [this] { return stop_ || !queue_.empty(); });
    if (!queue_.empty()) {  // jobs given before the stop still run: their caller waits for them
      auto job = std::move(queue_.front());
      queue_.erase(queue_.begin());
      const bool skip = failed_.has_value();
      lock.unlock();
      Status s = skip ? Status(*failed_) : job();
      lock.lock();
      if (!s.ok() && !failed_) failed_ = s.error();
      results_.push_back(std::move(s));
      finished_.fetch_add(1, std::memory_order_release);
      done_.notify_all();
      continue;
    }
    return;
  }
}

}  // namespace digonce::store
