// When a stream stage commits its transaction (streams::commit_due): on time when caught up,
// later (up to max_commit_interval_ms) while fetched records pile up, at max_batch always.
#include <doctest/doctest.h>

#include "streams/stream_task.h"

using digonce::streams::commit_due;
using digonce::streams::kBacklogRecords;
using digonce::streams::TaskOptions;

namespace {

TEST_CASE("commit_due: the interval, the backlog stretch, max_batch") {
  TaskOptions o;
  o.commit_interval_ms = 50;
  o.max_commit_interval_ms = 200;
  o.max_batch = 10000;
  int asked = 0;
  auto queued = [&](std::size_t n) {
    return [&asked, n] {
      ++asked;
      return n;
    };
  };

  // Nothing taken: nothing to commit, however long.
  CHECK_FALSE(commit_due(o, 0, 1000, queued(0)));
  // Before the interval: never, and the queue is not asked.
  CHECK_FALSE(commit_due(o, 10, 49, queued(1'000'000)));
  CHECK(asked == 0);
  // Caught up (few records waiting): on time.
  CHECK(commit_due(o, 10, 50, queued(0)));
  CHECK(commit_due(o, 10, 50, queued(kBacklogRecords - 1)));
  CHECK(commit_due(o, 5000, 60, queued(4999)));  // fewer waiting than taken
  CHECK(asked == 3);
  // Behind: goes on taking records...
  CHECK_FALSE(commit_due(o, 10, 50, queued(kBacklogRecords)));
  CHECK_FALSE(commit_due(o, 5000, 199, queued(5000)));
  // ... until max_commit_interval_ms, or max_batch records.
  CHECK(commit_due(o, 10, 200, queued(1'000'000)));
  CHECK(commit_due(o, 10000, 1, queued(1'000'000)));
  CHECK(asked == 5);

  // max_commit_interval_ms equal to the interval: never stretched.
  o.max_commit_interval_ms = 50;
  CHECK(commit_due(o, 10, 50, queued(1'000'000)));
  CHECK(asked == 5);
}

}  // namespace

// A stateless task's processors (streams::StatelessFactory) hand every record to the function,
// whatever the partition, and ask for no store.
TEST_CASE("StatelessFactory: every partition's records go to the function") {
  using namespace digonce;
  struct Sent final : streams::Output {
    std::vector<std::string> values;
    Status send(const std::string& topic, std::int32_t partition, std::string_view key,
                const std::string* value, const std::vector<streams::Header>&) override {
      values.push_back(topic + "/" + std::to_string(partition) + "/" + std::string(key) + "=" +
                       (value ? *value : "-"));
      return {};
    }
  } out;
  streams::StatelessFactory factory([](const streams::InputRecord& in, streams::Output& o) {
    if (in.value == std::optional<std::string_view>("bad")) return Status(error("bad record"));
    std::string upper(in.value.value_or(""));
    for (auto& c : upper) c = static_cast<char>(c - 'a' + 'A');
    return o.send("next", in.partition, in.key, &upper);
  });
  CHECK(factory.families().empty());
  auto p0 = factory.create(0, nullptr);
  auto p3 = factory.create(3, nullptr);
  REQUIRE(p0.ok());
  REQUIRE(p3.ok());
  auto record = [](std::int32_t partition, std::string_view key, std::string_view value) {
    return streams::InputRecord{"in", partition, 7, 0, key, value, nullptr};
  };
  CHECK((*p0)->process(record(0, "k1", "abc"), out).ok());
  CHECK((*p3)->process(record(3, "k2", "xy"), out).ok());
  auto failed = (*p3)->process(record(3, "k3", "bad"), out);
  REQUIRE_FALSE(failed.ok());
  CHECK(failed.error().what() == "bad record");
  CHECK(out.values == std::vector<std::string>{"next/0/k1=ABC", "next/3/k2=XY"});
}
