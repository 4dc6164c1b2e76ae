// The probes of a stage process (streams/health.h, services/probes.h): /healthz fails only for
// a loop stuck past the stall limit; /readyz also for one not yet in its group, starting its
// clients or restoring, and while the process waits for its brokers.
#include <doctest/doctest.h>

#include <nlohmann/json.hpp>

#include "services/probes.h"
#include "streams/health.h"

namespace ds = digonce::services;
using digonce::streams::Heartbeat;
using digonce::streams::liveness;
using digonce::streams::LoopHealth;
using digonce::streams::readiness;
using digonce::streams::snapshot;

namespace {

LoopHealth working(const std::string& name) {
  LoopHealth l;
  l.name = name;
  l.quiet_ms = 20;
  l.clients_up = true;
  l.joined = true;
  l.assigned = 3;
  return l;
}

TEST_CASE("health: a heartbeat's snapshot") {
  Heartbeat h;
  const std::int64_t beat = h.at_ms();
  auto s = snapshot("detector", h, 2, beat + 1500);
  CHECK(s.name == "detector");
  CHECK(s.quiet_ms == 1500);
  CHECK_FALSE(s.clients_up);
  CHECK_FALSE(s.joined);
  CHECK(s.assigned == 2);
  h.clients_up = true;
  h.joined = true;
  ++h.restoring;
  s = snapshot("detector", h, 2, beat - 5);  // (a clock read before the beat: not negative)
  CHECK(s.quiet_ms == 0);
  CHECK(s.clients_up);
  CHECK(s.joined);
  CHECK(s.restoring == 1);
}

TEST_CASE("health: a wait for the brokers, named by its outermost scope") {
  Heartbeat h;
  CHECK(h.waiting_on() == nullptr);
  {
    Heartbeat::Waiting outer(h, "commit a transaction");
    {
      Heartbeat::Waiting inner(h, "leave its group");
      CHECK(std::string(h.waiting_on()) == "commit a transaction");
    }
    CHECK(std::string(h.waiting_on()) == "commit a transaction");
    auto s = snapshot("ledger", h, 1, h.waiting_since_ms() + 12'000);
    CHECK(s.waiting_on == "commit a transaction");
    CHECK(s.waiting_ms == 12'000);
  }
  CHECK(h.waiting_on() == nullptr);
  CHECK(snapshot("ledger", h, 1).waiting_on.empty());
  // A thread's bound heartbeat is the one shared code beats (a produce waiting for room).
  const std::int64_t before = h.at_ms();
  digonce::streams::beat_this_thread();  // none bound: nothing happens
  digonce::streams::bind_heartbeat_to_this_thread(&h);
  while (digonce::streams::steady_ms() == before) {
  }
  digonce::streams::beat_this_thread();
  CHECK(h.at_ms() > before);
  digonce::streams::bind_heartbeat_to_this_thread(nullptr);
}

TEST_CASE("health: liveness fails for a stuck loop only") {
  const std::int64_t stall = 180'000;
  struct Case {
    const char* what;
    std::vector<LoopHealth> loops;
    int status;
    const char* reason_has;
  };
  auto quiet = [](LoopHealth l, std::int64_t ms) {
    l.quiet_ms = ms;
    return l;
  };
  auto down = [](LoopHealth l) {
    l.clients_up = false;
    l.joined = false;
    return l;
  };
  auto restoring = [](LoopHealth l) {
    l.restoring = 2;
    return l;
  };
  const std::vector<Case> cases = {
      {"no loops yet (waiting for the brokers)", {}, 200, nullptr},
      {"two working loops", {working("ingest"), working("detector")}, 200, nullptr},
      {"quiet exactly the limit", {quiet(working("detector"), stall)}, 200, nullptr},
      {"quiet past the limit",
       {working("ingest"), quiet(working("detector"), stall + 1)},
       503,
       "detector has given no sign of life for 180.0 s (more than 180.0 s): it is stuck"},
      {"clients down (between restarts) is alive", {down(working("ledger"))}, 200, nullptr},
      {"restoring is alive", {restoring(working("detector"))}, 200, nullptr},
      {"quiet past the limit, waiting for the brokers, is alive",
       {[&] {
         auto l = quiet(working("detector"), 10 * stall);
         l.waiting_on = "commit a transaction";
         l.waiting_ms = 10 * stall;
         return l;
       }()},
       200,
       nullptr},
  };
  for (const auto& c : cases) {
    CAPTURE(c.what);
    auto a = liveness(c.loops, stall);
    CHECK(a.status == c.status);
    auto body = nlohmann::json::parse(a.body);
    CHECK(body["status"] == (c.status == 200 ? "ok" : "unavailable"));
    CHECK(body["loops"].size() == c.loops.size());
    if (c.reason_has)
      CHECK(body["reason"].get<std::string>().find(c.reason_has) != std::string::npos);
  }
}

TEST_CASE("health: readiness names what a loop is doing") {
  const std::int64_t stall = 180'000;
  auto with = [](LoopHealth l, auto&& change) {
    change(l);
    return l;
  };
  struct Case {
    const char* what;
    std::vector<LoopHealth> loops;
    std::string waiting;
    int status;
    const char* reason;
  };
  const std::vector<Case> cases = {
      {"working", {working("ingest"), working("detector"), working("ledger")}, "", 200, nullptr},
      {"in its group with nothing assigned",
       {with(working("detector"), [](LoopHealth& l) { l.assigned = 0; })},
       "",
       200,
       nullptr},
      {"waiting for the brokers",
       {},
       "waiting for the Kafka brokers and topics",
       503,
       "waiting for the Kafka brokers and topics"},
      {"no loops and nothing awaited", {}, "", 503, "no loop has started yet"},
      {"clients starting",
       {with(working("ingest"), [](LoopHealth& l) { l.clients_up = false; })},
       "",
       503,
       "ingest is starting its Kafka clients"},
      {"joining",
       {working("ingest"), with(working("detector"), [](LoopHealth& l) { l.joined = false; })},
       "",
       503,
       "detector is joining its consumer group"},
      {"restoring one",
       {with(working("detector"), [](LoopHealth& l) { l.restoring = 1; })},
       "",
       503,
       "detector is restoring 1 partition from its changelog"},
      {"restoring three",
       {with(working("ledger"), [](LoopHealth& l) { l.restoring = 3; })},
       "",
       503,
       "ledger is restoring 3 partitions from its changelog"},
      {"waiting briefly for the brokers",
       {with(working("ledger"),
             [](LoopHealth& l) {
               l.waiting_on = "commit a transaction";
               l.waiting_ms = 10'000;
             })},
       "",
       200,
       nullptr},
      {"waiting long for the brokers",
       {with(working("ledger"),
             [](LoopHealth& l) {
               l.waiting_on = "commit a transaction";
               l.waiting_ms = 12'000;
               l.quiet_ms = 12'000;
             })},
       "",
       503,
       "ledger has been waiting 12.0 s to commit a transaction"},
      {"stuck",
       {with(working("ledger"), [](LoopHealth& l) { l.quiet_ms = 200'000; })},
       "",
       503,
       "ledger has given no sign of life for 200.0 s (more than 180.0 s): it is stuck"},
      {"two reasons",
       {with(working("ingest"), [](LoopHealth& l) { l.joined = false; }),
        with(working("detector"), [](LoopHealth& l) { l.restoring = 2; })},
       "",
       503,
       "ingest is joining its consumer group; detector is restoring 2 partitions from its "
       "changelog"},
  };
  for (const auto& c : cases) {
    CAPTURE(c.what);
    auto a = readiness(c.loops, stall, c.waiting);
    CHECK(a.status == c.status);
    auto body = nlohmann::json::parse(a.body);
    CHECK(body["stall_s"] == 180.0);
    if (c.reason) {
      CHECK(body["status"] == "unavailable");
      CHECK(body["reason"] == c.reason);
    } else {
      CHECK(body["status"] == "ok");
      CHECK_FALSE(body.contains("reason"));
    }
  }
}

TEST_CASE("health: a loop's fields in the body; a notifier's partitions are not counted") {
  auto l = working("detector \"1\"");
  l.quiet_ms = 1234;
  auto n = working("notifier camden");
  n.assigned = -1;
  auto body = nlohmann::json::parse(liveness({l, n}, 90'000).body);
  REQUIRE(body["loops"].size() == 2);
  const auto& d = body["loops"][0];
  CHECK(d["name"] == "detector \"1\"");
  CHECK(d["quiet_s"] == doctest::Approx(1.2));
  CHECK(d["clients_up"] == true);
  CHECK(d["joined"] == true);
  CHECK(d["restoring"] == 0);
  CHECK(d["assigned"] == 3);
  CHECK_FALSE(body["loops"][1].contains("assigned"));
  CHECK_FALSE(d.contains("waiting_on"));
  l.waiting_on = "leave its group";
  l.waiting_ms = 2500;
  auto waiting = nlohmann::json::parse(liveness({l}, 90'000).body);
  CHECK(waiting["loops"][0]["waiting_on"] == "leave its group");
  CHECK(waiting["loops"][0]["waiting_s"] == doctest::Approx(2.5));
}

TEST_CASE("probes: the process's source, the stall limit, what it waits for") {
  ds::set_probe_stall_ms(90'000);
  ds::set_probe_waiting("waiting for the Kafka brokers and topics");
  ds::clear_probe_source();
  CHECK(ds::answer_probe("/healthz").status == 200);
  CHECK(ds::answer_probe("/readyz").status == 503);
  CHECK(ds::answer_probe("/metrics").status == 0);  // not a probe: prometheus-cpp answers it

  std::vector<LoopHealth> loops = {working("ingest")};
  ds::set_probe_waiting("");
  ds::set_probe_source([&] { return loops; });
  CHECK(ds::answer_probe("/healthz").status == 200);
  CHECK(ds::answer_probe("/readyz").status == 200);
  loops[0].quiet_ms = 90'001;
  CHECK(ds::answer_probe("/healthz").status == 503);
  CHECK(nlohmann::json::parse(ds::answer_probe("/healthz").body)["reason"] ==
        "ingest has given no sign of life for 90.0 s (more than 90.0 s): it is stuck");
  ds::set_probe_stall_ms(180'000);
  CHECK(ds::answer_probe("/healthz").status == 200);
  ds::clear_probe_source();
  ds::set_probe_waiting("waiting for the Kafka brokers and topics");
}

}  // namespace
