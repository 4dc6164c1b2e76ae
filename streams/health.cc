#include "streams/health.h"

#include <algorithm>
#include <cstdio>

#include "base/json_writer.h"

namespace digonce::streams {

namespace {
thread_local Heartbeat* this_thread_heart = nullptr;
}  // namespace

void bind_heartbeat_to_this_thread(Heartbeat* heart) {
  this_thread_heart = heart;
}

void beat_this_thread() {
  if (this_thread_heart) this_thread_heart->beat();
}

LoopHealth snapshot(const std::string& name, const Heartbeat& heart, int assigned,
                    std::int64_t now_ms) {
  LoopHealth h;
  h.name = name;
  h.quiet_ms = std::max<std::int64_t>(0, now_ms - heart.at_ms());
  h.clients_up = heart.clients_up.load(std::memory_order_relaxed);
  h.joined = heart.joined.load(std::memory_order_relaxed);
  h.restoring = heart.restoring.load(std::memory_order_relaxed);
  h.assigned = assigned;
  if (const char* what = heart.waiting_on()) {
    h.waiting_on = what;
    h.waiting_ms = std::max<std::int64_t>(0, now_ms - heart.waiting_since_ms());
  }
  return h;
}

namespace {

std::string seconds(std::int64_t ms) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.1f", static_cast<double>(ms) / 1000.0);
  return buf;
}

// Why the loop is not alive ("" when it is).
std::string stalled(const LoopHealth& l, std::int64_t stall_ms) {
  if (l.quiet_ms <= stall_ms || !l.waiting_on.empty()) return {};
  return l.name + " has given no sign of life for " + seconds(l.quiet_ms) + " s (more than " +
         seconds(stall_ms) + " s): it is stuck";
}

// Why the loop is not ready ("" when it is).
std::string not_ready(const LoopHealth& l, std::int64_t stall_ms) {
  if (auto s = stalled(l, stall_ms); !s.empty()) return s;
  if (!l.waiting_on.empty() && l.waiting_ms > kReadyWaitMs)
    return l.name + " has been waiting " + seconds(l.waiting_ms) + " s to " + l.waiting_on;
  if (!l.clients_up) return l.name + " is starting its Kafka clients";
  if (!l.joined) return l.name + " is joining its consumer group";
  if (l.restoring > 0)
    return l.name + " is restoring " + std::to_string(l.restoring) + " partition" +
           (l.restoring == 1 ? "" : "s") + " from its changelog";
  return {};
}

ProbeAnswer answer(const std::vector<LoopHealth>& loops, std::int64_t stall_ms, bool ready_check,
                   const std::string& waiting) {
  ProbeAnswer a;
  std::string reasons;
  std::string list;
  for (const auto& l : loops) {
    std::string why = ready_check ? not_ready(l, stall_ms) : stalled(l, stall_ms);
    if (!why.empty()) {
      a.status = 503;
      if (!reasons.empty()) reasons += "; ";
      reasons += why;
    }
    if (!list.empty()) list += ',';
    list += "{\"name\":";
    append_json_string(list, l.name);
    list += ",\"quiet_s\":" + seconds(l.quiet_ms);
    list += std::string(",\"clients_up\":") + (l.clients_up ? "true" : "false");
    list += std::string(",\"joined\":") + (l.joined ? "true" : "false");
    list += ",\"restoring\":" + std::to_string(l.restoring);
    if (l.assigned >= 0) list += ",\"assigned\":" + std::to_string(l.assigned);
    if (!l.waiting_on.empty()) {
      list += ",\"waiting_on\":";
      append_json_string(list, l.waiting_on);
      list += ",\"waiting_s\":" + seconds(l.waiting_ms);
    }
    list += '}';
  }
  if (ready_check && !waiting.empty()) {
    a.status = 503;
    reasons = reasons.empty() ? waiting : waiting + "; " + reasons;
  }
  if (ready_check && loops.empty() && a.status == 200) {
    a.status = 503;
    reasons = "no loop has started yet";
  }
  a.body = a.status == 200 ? "{\"status\":\"ok\"" : "{\"status\":\"unavailable\",\"reason\":";
  if (a.status != 200) append_json_string(a.body, reasons);
  a.body += ",\"stall_s\":" + seconds(stall_ms) + ",\"loops\":[" + list + "]}\n";
  return a;
}

}  // namespace

ProbeAnswer liveness(const std::vector<LoopHealth>& loops, std::int64_t stall_ms) {
  return answer(loops, stall_ms, false, {});
}

ProbeAnswer readiness(const std::vector<LoopHealth>& loops, std::int64_t stall_ms,
                      const std::string& waiting) {
  return answer(loops, stall_ms, true, waiting);
}

}  // namespace digonce::streams
