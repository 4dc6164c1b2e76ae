// The configuration of every subcommand: config/digonce.yaml, then command-line overrides.
#pragma once

#include <map>
#include <string>
#include <vector>

#include "base/result.h"
#include "geo/rules.h"

namespace digonce::services {

/// One webhook of the notifier: alerts that match are POSTed to `url`, signed with `secret`.
struct WebhookSettings {
  std::string name;        // unique; names the consumer group and the metrics
  std::string url;         // http:// or https://
  std::string secret;      // HMAC-SHA256 key (from `secret`, or `secret_env` by resolve_webhooks)
  std::string secret_env;  // the environment variable that holds the secret
  std::string ca_file;     // PEM CA certificates trusted for this https url, beside the system's
  std::vector<std::string> authorities;  // highway authority codes; "*" = every alert
  std::vector<std::string> kinds;        // clash, collaboration, restriction; empty = all
  std::vector<std::string> states;       // open, updated, closed; empty = all
};

struct NotifierSettings {
  std::vector<WebhookSettings> webhooks;
  int timeout_ms = 5000;                // one delivery attempt
  int max_attempts = 8;                 // then the alert goes to <prefix>notifications.dead
  int backoff_initial_ms = 500;         // doubled after each failed attempt ...
  int backoff_max_ms = 60000;           // ... up to this
  std::string start_from = "earliest";  // a new webhook's first read: earliest or latest
};

/// POST /v1/feeds/streetmanager: an Amazon SNS HTTP(S) subscription to Street Manager's open
/// data topic (docs/API.md, "The Street Manager feed").
struct StreetManagerFeedSettings {
  bool verify_signatures = true;  // refuse a message whose SNS signature does not verify
  // Hosts the signing certificate (SigningCertURL) and SubscribeURL may be on; "*" matches one
  // DNS label of 3+ letters, digits or hyphens. https only, unless allow_http (loopback tests).
  std::vector<std::string> cert_hosts = {"sns.*.amazonaws.com", "sns.*.amazonaws.com.cn"};
  std::vector<std::string> subscribe_hosts = {"sns.*.amazonaws.com", "sns.*.amazonaws.com.cn"};
  // Accepted TopicArn values. With verify_signatures on, none is accepted until this is set.
  std::vector<std::string> topic_arns;
  bool allow_http = false;
  int timeout_ms = 5000;  // fetching a certificate, confirming a subscription
  // Messages waiting for the feed's thread (certificate fetches, confirmations), at most; more
  // are answered 503, which SNS sends again later.
  int max_waiting = 1000;
};

struct Settings {
  // topics
  std::string topic_prefix = "digonce.";
  int partitions = 6;
  int alerts_partitions = 6;
  int replication = 1;
  // detection
  geo::Rules rules;
  std::string metric_crs = "EPSG:27700";
  std::size_t max_vertices = 100000;
  double finest_cell_m = 128;
  double tile_size_m = 4000;
  // places
  std::string boundaries;  // path of the authorities YAML ("" = none)
  std::vector<std::string> proj_search_paths;
  std::string shared_data;  // the shared reference data folder, if found
  // streams
  int commit_interval_ms = 50;
  int max_commit_interval_ms = 0;  // while a stage is behind (TaskOptions); 0: 4 x the interval
  int max_batch = 10000;
  // Batching by default (docs/PERFORMANCE.md, "Batching by default"): a stage's records are
  // unseen until its transaction commits, so lingering costs little; 2 and 1 are latency-first.
  int linger_ms = 50;           // stage producers' librdkafka linger.ms
  int fetch_min_bytes = 65536;  // stage consumers' librdkafka fetch.min.bytes
  /// Stage consumers join their groups as static members (group.instance.id = their
  /// transactional id) on a real broker: docs/OPERATIONS.md, "Processes".
  bool static_membership = true;
  /// A stage's loop quiet this long is stuck: its /healthz says 503 (streams/health.h).
  int stall_s = 180;
  // http
  std::string http_listen = "127.0.0.1:8080";
  /// How long a request's body may take to arrive after its headers; then 408 and the connection
  /// closes (a client that stalled, or sent a Content-Length larger than its body).
  int http_body_timeout_s = 60;
  // notifier
  NotifierSettings notifier;
  // feeds
  StreetManagerFeedSettings streetmanager_feed;
  // deployment
  std::string brokers;  // "" = the embedded broker (serve only)
  // kafka.client: librdkafka properties for every client (TLS, SASL, ...), by librdkafka's
  // name for each (aliases resolved); those given as `<name>_env` by the environment variable
  // that holds the value, read only when a command talks to a cluster (kafka_client_properties).
  std::map<std::string, std::string> kafka_client;
  std::map<std::string, std::string> kafka_client_env;
  std::string data_dir = "digonce-data";
  std::string api_keys;     // API keys YAML
  std::string instance_id;  // names this instance's transactional ids
  std::string config_path;  // the file these settings were read from ("" = none: the defaults)

  std::string topic(const std::string& name) const { return topic_prefix + name; }
};

/// Reads a settings file (missing keys keep their defaults). An empty path reads the default
/// config/digonce.yaml if it can be found next to the binary's source tree, else only defaults.
Result<Settings> load_settings(const std::string& path);

/// The webhooks' secrets from their `secret_env` variables, and their `ca_file`s checked: for
/// the commands that deliver (notifier, serve), so that the other stages' pods need neither.
/// An unset variable or an unreadable file is an error naming the webhook ("config PATH: ...").
Status resolve_webhooks(NotifierSettings& notifier, const std::string& path);

/// Whether PROJ makes a metric CRS of settings.metric_crs (a projected CRS in metres), with the
/// configured search path: checked at start by the commands that measure, so that a wrong one
/// stops them at once, not when a stage first gets its partitions.
/// `option`, when given, is what set the CRS (a command-line option), for the error to name.
Status check_metric_crs(const Settings& settings, std::string_view option = {});

/// kafka.client's properties with the `_env` ones read from the environment, checked together
/// with digonce's own client settings (streams::client_properties_conflict): for a command about
/// to talk to a cluster. An unset variable or a conflict is an error naming the key.
Result<std::map<std::string, std::string>> kafka_client_properties(const Settings& settings);

/// The shared reference data folder: $DIGONCE_SHARED_DATA, else the one found at build time.
std::string find_shared_data();

}  // namespace digonce::services
