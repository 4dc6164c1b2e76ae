// The notifier: alerts → highway authorities' webhooks, signed and retried.
//
// Each configured webhook is read by its own consumer group (<prefix>notifier.<name>) from the
// alerts topic, with read_committed, so that one slow or dead endpoint delays only its own
// deliveries. An alert that matches the webhook (its highway authorities, kinds, states) is
// POSTed as the alert event's JSON, signed with HMAC-SHA256, and retried with exponential
// backoff; after `max_attempts` (or at once on a 4xx other than 408 and 429) it is written to
// <prefix>notifications.dead with the reason. A record's offset is committed only after its
// delivery or its dead letter, so delivery is at least once: receivers deduplicate on the
// X-Digonce-Delivery header (alert_id:revision). docs/API.md, "Webhooks", has the wire format.
#pragma once

#include <prometheus/registry.h>

#include <atomic>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "base/result.h"
#include "services/settings.h"
#include "streams/health.h"

namespace digonce::services {

/// What the notifier needs of an alert event to route it.
struct AlertRoute {
  std::string alert_id;
  std::int64_t revision = 0;
  std::string kind;
  std::string state;
  std::vector<std::string> authorities;  // highway_authorities, then those the works name
};

/// Reads the routing fields of an alert event's JSON; an error names the field.
Result<AlertRoute> read_alert_route(std::string_view json);

/// True if `webhook` wants this alert.
bool webhook_wants(const WebhookSettings& webhook, const AlertRoute& alert);

/// The signature header's value: "t=<unix seconds>,v1=<hex HMAC-SHA256(secret, "<t>.<body>")>".
std::string webhook_signature(std::string_view secret, std::int64_t unix_seconds,
                              std::string_view body);

/// What a webhook's answer said, for a log line and the dead letter's reason: the body's first
/// `max` characters on one line (runs of white space, line breaks and control characters made
/// one space), "..." when cut.
std::string response_excerpt(std::string_view body, std::size_t max = 200);

class Notifier {
 public:
  Notifier(const Settings& settings, prometheus::Registry& registry);
  ~Notifier();
  Notifier(const Notifier&) = delete;
  Notifier& operator=(const Notifier&) = delete;

  /// Starts one worker per webhook (there must be at least one).
  Status start();
  /// Stops the workers: each commits what it delivered and leaves its group. A delivery cut
  /// short is not committed and is made again on the next start.
  void stop();
  /// True once a worker ended on its own (a fatal Kafka error, or a dead letter not written).
  bool failed() const { return failed_.load(); }
  /// The first worker error, if any; call after stop().
  Status status() const;
  /// Each webhook's worker loop, for the probes (streams/health.h); any thread may ask once
  /// start() has returned.
  std::vector<streams::LoopHealth> health() const;

 private:
  struct Metrics;
  struct Worker;
  const Settings& settings_;
  std::unique_ptr<Metrics> metrics_;
  std::vector<std::unique_ptr<Worker>> workers_;
  std::atomic<bool> stop_{false};
  std::atomic<bool> failed_{false};
};

}  // namespace digonce::services
