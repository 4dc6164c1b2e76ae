// The notifier's pieces that need no broker (URLs, signatures, routing) and settings: the
// notifier's and the stages' (services/http_client.h, services/notifier.h, services/settings.h);
// and, on the embedded broker, a worker whose assignment is lost.
#include <doctest/doctest.h>

#include <librdkafka/rdkafka.h>  // before rdkafka_mock.h
#include <librdkafka/rdkafka_mock.h>
#include <prometheus/registry.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>
#include <thread>

#include "services/http_client.h"
#include "services/notifier.h"
#include "services/settings.h"
#include "streams/embedded_broker.h"
#include "streams/health.h"
#include "streams/kafka.h"

using namespace digonce;
using namespace digonce::services;

namespace {

bool contains(const std::string& s, const std::string& part) {
  return s.find(part) != std::string::npos;
}

// Writes a config file with the given text and loads it.
Result<Settings> load_yaml(const std::string& yaml) {
  auto path = std::filesystem::temp_directory_path() / "digonce-test-settings.yaml";
  std::ofstream(path) << yaml;
  auto s = load_settings(path.string());
  std::filesystem::remove(path);
  return s;
}

// The same with the given notifier section.
// The notifier's settings as the notifier command has them: read, then its webhooks' secrets and
// CA files resolved (which the other commands leave alone).
Result<Settings> load_notifier(const std::string& notifier_yaml) {
  auto s = load_yaml("notifier:\n" + notifier_yaml);
  if (!s) return s;
  DIGONCE_TRY(resolve_webhooks(s->notifier, "test.yaml"));
  return s;
}

const char* kAlert = R"({"alert_id":"clash-0123","kind":"clash","state":"open","revision":2,)"
                     R"("works":[],"highway_authorities":["5990","5210"],"reason":"r"})";

}  // namespace

TEST_CASE("parse_url: http and https, ports, paths, and what is refused") {
  auto u = parse_url("http://127.0.0.1:8080/hooks/alerts?x=1");
  REQUIRE(u.ok());
  CHECK(u->scheme == "http");
  CHECK(u->host == "127.0.0.1");
  CHECK(u->port == "8080");
  CHECK(u->target == "/hooks/alerts?x=1");
  u = parse_url("https://hooks.example.gov.uk");
  REQUIRE(u.ok());
  CHECK(u->port == "443");
  CHECK(u->target == "/");
  u = parse_url("http://[::1]:9000/a");
  REQUIRE(u.ok());
  CHECK(u->host == "::1");
  CHECK(u->port == "9000");
  u = parse_url("http://example.org?q");
  REQUIRE(u.ok());
  CHECK(u->target == "/?q");

  CHECK(contains(parse_url("ftp://x/").error().what(), "scheme must be http or https"));
  CHECK(contains(parse_url("example.org/hook").error().what(), "no scheme"));
  CHECK(contains(parse_url("http://:80/").error().what(), "no host"));
  CHECK(contains(parse_url("http://h:0/").error().what(), "port must be 1-65535"));
  CHECK(contains(parse_url("http://h:99999/").error().what(), "port must be 1-65535"));
  CHECK(contains(parse_url("http://h:8x/").error().what(), "port must be 1-65535"));
  CHECK(contains(parse_url("http://u:p@h/").error().what(), "user info"));
  CHECK(contains(parse_url("http://h/a b").error().what(), "space or a control character"));
  CHECK(contains(parse_url("http://h/a\r\nX-Evil: 1").error().what(), "control character"));
  CHECK(contains(parse_url(std::string("http://h\0st/", 12)).error().what(), "control"));
}

TEST_CASE("hmac_sha256_hex: RFC 4231 test case 2, and the webhook signature") {
  CHECK(hmac_sha256_hex("Jefe", "what do ya want for nothing?") ==
        "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843");
  CHECK(webhook_signature("Jefe", 1700000000, "{}") ==
        "t=1700000000,v1=" + hmac_sha256_hex("Jefe", "1700000000.{}"));
}

TEST_CASE("response_excerpt: a webhook's answer on one line, cut") {
  CHECK(response_excerpt("") == "");
  CHECK(response_excerpt("busy") == "busy");
  CHECK(response_excerpt("<html>\n  <h1>Error\r\n response</h1>\n</html>\n") ==
        "<html> <h1>Error response</h1> </html>");
  CHECK(response_excerpt("  \t\n") == "");
  CHECK(response_excerpt("abcdef", 4) == "abcd...");
  CHECK(response_excerpt("ab  cd", 5) == "ab cd");
}

TEST_CASE("read_alert_route reads an alert event and names a missing field") {
  auto r = read_alert_route(kAlert);
  REQUIRE(r.ok());
  CHECK(r->alert_id == "clash-0123");
  CHECK(r->revision == 2);
  CHECK(r->kind == "clash");
  CHECK(r->state == "open");
  CHECK(r->authorities == std::vector<std::string>{"5990", "5210"});
  // The authority a work names hears of the alert too (once), after highway_authorities.
  auto named = read_alert_route(
      R"({"alert_id":"c","kind":"clash","state":"open","revision":1,"works":[)"
      R"({"work_ref":"A","highway_authority":"TFL"},{"work_ref":"B","highway_authority":"5990"},)"
      R"({"work_ref":"C"}],"highway_authorities":["5990"],"reason":"r"})");
  REQUIRE(named.ok());
  CHECK(named->authorities == std::vector<std::string>{"5990", "TFL"});

  CHECK(contains(read_alert_route("{").error().what(), "invalid JSON"));
  CHECK(contains(read_alert_route("[]").error().what(), "JSON object"));
  CHECK(read_alert_route(R"({"kind":"clash"})").error().field == "alert_id");
  CHECK(read_alert_route(R"({"alert_id":"a","kind":"clash","state":"open"})").error().field ==
        "revision");
  CHECK(
      read_alert_route(
          R"({"alert_id":"a","kind":"clash","state":"open","revision":1,"highway_authorities":[1]})")
          .error()
          .field == "highway_authorities");
}

TEST_CASE("webhook_wants: authorities, '*', kinds and states") {
  auto a = read_alert_route(kAlert);
  REQUIRE(a.ok());
  WebhookSettings w;
  w.authorities = {"5990"};
  CHECK(webhook_wants(w, *a));
  w.authorities = {"5570"};
  CHECK_FALSE(webhook_wants(w, *a));
  w.authorities = {"*"};
  CHECK(webhook_wants(w, *a));
  w.kinds = {"collaboration"};
  CHECK_FALSE(webhook_wants(w, *a));
  w.kinds = {"collaboration", "clash"};
  CHECK(webhook_wants(w, *a));
  w.states = {"closed"};
  CHECK_FALSE(webhook_wants(w, *a));
}

TEST_CASE("notifier settings: webhooks read, secrets from the environment, errors named") {
  setenv("DIGONCE_TEST_HOOK_SECRET", "s3cret", 1);  // NOLINT(concurrency-mt-unsafe): one thread
  auto s = load_notifier(
      "  max_attempts: 3\n"
      "  webhooks:\n"
      "    - {name: wm, url: 'https://h.example/x', secret_env: DIGONCE_TEST_HOOK_SECRET,\n"
      "       authorities: ['5990'], kinds: [clash], states: [open, updated]}\n");
  REQUIRE_MESSAGE(s.ok(), (s.ok() ? "" : s.error().what()));
  REQUIRE(s->notifier.webhooks.size() == 1);
  CHECK(s->notifier.max_attempts == 3);
  CHECK(s->notifier.webhooks[0].secret == "s3cret");
  CHECK(s->notifier.webhooks[0].kinds == std::vector<std::string>{"clash"});

  auto bad = [](const std::string& hook) {
    auto r = load_notifier("  webhooks:\n    - " + hook + "\n");
    REQUIRE_FALSE(r.ok());
    return r.error().what();
  };
  CHECK(contains(bad("{url: 'http://h/', secret: s, authorities: ['*']}"), "name is required"));
  CHECK(contains(bad("{name: 'a b', url: 'http://h/', secret: s, authorities: ['*']}"),
                 "name may hold only"));
  CHECK(contains(bad("{name: a, url: 'h/', secret: s, authorities: ['*']}"), "[a]: url:"));
  CHECK(contains(bad("{name: a, url: 'http://h/', authorities: ['*']}"), "secret or secret_env"));
  CHECK(contains(bad("{name: a, url: 'http://h/', secret: s, secret_env: V, authorities: ['*']}"),
                 "secret and secret_env are both given"));
  CHECK(contains(bad("{name: a, url: 'http://h/', secret: s}"), "authorities is required"));
  CHECK(contains(bad("{name: a, url: 'http://h/', secret: s, authorities: ['*'], kinds: [x]}"),
                 "'x' is not clash"));
  CHECK(contains(bad("{name: a, url: 'http://h/', secret: s, authorities: ['*'], states: [y]}"),
                 "'y' is not open"));
  CHECK(contains(bad("{name: a, url: 'http://h/', secret_env: DIGONCE_TEST_UNSET_VAR_1, "
                     "authorities: ['*']}"),
                 "DIGONCE_TEST_UNSET_VAR_1 is not set"));
  // The commands that deliver nothing (the other stages, the gateway, topics, detect) read the
  // same file without the variable or the CA file: a Helm chart gives them to the notifier only.
  auto elsewhere = load_yaml(
      "notifier:\n  webhooks:\n    - {name: a, url: 'https://h/', secret_env: "
      "DIGONCE_TEST_UNSET_VAR_1, authorities: ['*'], ca_file: /nonexistent/ca.pem}\n");
  REQUIRE_MESSAGE(elsewhere.ok(), (elsewhere.ok() ? "" : elsewhere.error().what()));
  CHECK(elsewhere->notifier.webhooks[0].secret.empty());
  CHECK(elsewhere->notifier.webhooks[0].secret_env == "DIGONCE_TEST_UNSET_VAR_1");
  // ca_file: only for https, and it must hold PEM certificates.
  auto not_pem = std::filesystem::temp_directory_path() / "digonce-test-not-a-ca.pem";
  std::ofstream(not_pem) << "not a certificate\n";
  CHECK(contains(bad("{name: a, url: 'http://h/', secret: s, authorities: ['*'], ca_file: '" +
                     not_pem.string() + "'}"),
                 "[a]: ca_file is for an https url"));
  CHECK(contains(bad("{name: a, url: 'https://h/', secret: s, authorities: ['*'], ca_file: '" +
                     not_pem.string() + "'}"),
                 "it holds no PEM certificate"));
  CHECK(contains(bad("{name: a, url: 'https://h/', secret: s, authorities: ['*'], "
                     "ca_file: /nonexistent/ca.pem}"),
                 "ca_file: cannot load /nonexistent/ca.pem: no such file"));
  std::filesystem::remove(not_pem);
  auto twice = load_notifier(
      "  webhooks:\n"
      "    - {name: a, url: 'http://h/', secret: s, authorities: ['*']}\n"
      "    - {name: a, url: 'http://h/', secret: s, authorities: ['*']}\n");
  REQUIRE_FALSE(twice.ok());
  CHECK(contains(twice.error().what(), "name is used twice"));
  auto too_long = load_notifier("  max_attempts: 100\n  backoff_max_ms: 60000\n");
  REQUIRE_FALSE(too_long.ok());
  CHECK(contains(too_long.error().what(), "under 50 minutes"));
  auto retries = load_notifier("  max_attempts: 0\n");
  REQUIRE_FALSE(retries.ok());
  CHECK(contains(retries.error().what(), "notifier.max_attempts must be at least 1"));
}

TEST_CASE("http_post: a refused connection is an error that names the address") {
  // Port 1 on loopback: nothing listens there on a test machine.
  auto u = parse_url("http://127.0.0.1:1/");
  REQUIRE(u.ok());
  auto r = http_post(*u, {}, "{}", std::chrono::milliseconds(2000));
  REQUIRE_FALSE(r.ok());
  CHECK(contains(r.error().what(), "127.0.0.1:1"));
}

TEST_CASE("settings: the stages' batching knobs are read and checked") {
  auto load = [](const std::string& streams_yaml) {
    return load_yaml("streams:\n" + streams_yaml);
  };
  auto defaults = load("  commit_interval_ms: 50\n");
  REQUIRE(defaults.ok());
  CHECK(defaults->linger_ms == 50);  // batching by default
  CHECK(defaults->fetch_min_bytes == 65536);
  CHECK(defaults->max_commit_interval_ms == 200);  // 4 x the interval unless set
  auto slow = load("  commit_interval_ms: 500\n");
  REQUIRE(slow.ok());
  CHECK(slow->max_commit_interval_ms == 2000);
  auto written_zero = load("  commit_interval_ms: 10\n  max_commit_interval_ms: 0\n");
  REQUIRE(written_zero.ok());  // config/digonce.yaml writes 0: the same as leaving it out
  CHECK(written_zero->max_commit_interval_ms == 40);
  auto never = load("  commit_interval_ms: 80\n  max_commit_interval_ms: 80\n");
  REQUIRE(never.ok());
  CHECK(never->max_commit_interval_ms == 80);
  auto latency_first = load("  linger_ms: 2\n  fetch_min_bytes: 1\n");
  REQUIRE(latency_first.ok());
  CHECK(latency_first->linger_ms == 2);
  CHECK(latency_first->fetch_min_bytes == 1);
  CHECK(defaults->stall_s == 180);
  auto patient = load("  stall_s: 600\n");
  REQUIRE(patient.ok());
  CHECK(patient->stall_s == 600);
  for (const char* bad :
       {"  linger_ms: -1\n", "  fetch_min_bytes: 0\n", "  commit_interval_ms: 0\n",
        "  commit_interval_ms: 100\n  max_commit_interval_ms: 50\n",
        "  max_commit_interval_ms: 20000\n"}) {
    auto s = load(bad);
    REQUIRE_FALSE(s.ok());
    CHECK(contains(s.error().what(), "streams: "));
  }
}

TEST_CASE("settings: the Street Manager feed's waiting messages, and the shipped config file") {
  auto defaults = load_yaml("feeds:\n  streetmanager:\n    timeout_ms: 100\n");
  REQUIRE(defaults.ok());
  CHECK(defaults->streetmanager_feed.max_waiting == 1000);
  auto two = load_yaml("feeds:\n  streetmanager:\n    max_waiting: 2\n");
  REQUIRE(two.ok());
  CHECK(two->streetmanager_feed.max_waiting == 2);
  for (const char* bad : {"0", "-1", "1000001"}) {
    auto s = load_yaml(std::string("feeds:\n  streetmanager:\n    max_waiting: ") + bad + "\n");
    REQUIRE_FALSE(s.ok());
    CHECK(contains(s.error().what(), "max_waiting"));
  }
  // config/digonce.yaml says that what it writes is the default: loading it gives the
  // defaults (the streams and feed settings that have been written there wrongly before).
  auto shipped = load_settings(DIGONCE_SOURCE_DIR "/config/digonce.yaml");
  REQUIRE(shipped.ok());
  const Settings built_in;
  CHECK(shipped->commit_interval_ms == built_in.commit_interval_ms);
  CHECK(shipped->max_commit_interval_ms == 4 * built_in.commit_interval_ms);
  CHECK(shipped->linger_ms == built_in.linger_ms);
  CHECK(shipped->fetch_min_bytes == built_in.fetch_min_bytes);
  CHECK(shipped->stall_s == built_in.stall_s);
  CHECK(shipped->max_batch == built_in.max_batch);
  CHECK(shipped->partitions == built_in.partitions);
  CHECK(shipped->alerts_partitions == built_in.alerts_partitions);
  CHECK(shipped->streetmanager_feed.max_waiting == built_in.streetmanager_feed.max_waiting);
  CHECK(shipped->streetmanager_feed.timeout_ms == built_in.streetmanager_feed.timeout_ms);
  CHECK(shipped->rules.distance_m == built_in.rules.distance_m);
}

TEST_CASE("settings: unknown keys, wrong types and bad values are refused, naming the key") {
  struct Case {
    const char* yaml;
    const char* says;
  };
  for (const Case& c : std::initializer_list<Case>{
           // a misspelt section would have turned every webhook off without a word
           {"notifer:\n  webhooks: []\n", "notifer: unknown key (the file takes: topics"},
           {"topics:\n  partitons: 2\n", "topics.partitons: unknown key (topics takes: prefix"},
           {"notifier:\n  max_atempts: 4\n", "notifier.max_atempts: unknown key"},
           {"feeds:\n  streetmanager:\n    max_wait: 3\n",
            "feeds.streetmanager.max_wait: unknown key"},
           {"notifier:\n  webhooks:\n    - {name: a, url: 'http://127.0.0.1:1/', secret: s, "
            "authorites: ['*']}\n",
            "notifier.webhooks[].authorites: unknown key"},
           {"notifier:\n  webhooks: {name: a}\n", "notifier.webhooks must be a list"},
           {"- topics\n", "the file must be a mapping"},
           {"topics: 6\n", "topics must be a mapping"},
           {"notifier:\n  max_attempts: lots\n", "notifier.max_attempts: must be a whole number"},
           {"detection:\n  distance_m: [1]\n", "detection.distance_m: must be a number"},
           {"feeds:\n  streetmanager:\n    allow_http: maybe\n",
            "feeds.streetmanager.allow_http: must be true or false"},
           {"notifier:\n  timeout_ms: 0\n", "notifier.timeout_ms must be at least 1"},
           {"notifier:\n  max_attempts: 0\n", "notifier.max_attempts must be at least 1"},
           {"notifier:\n  start_from: begining\n",
            "notifier.start_from must be earliest or latest"},
           {"notifier:\n  backoff_initial_ms: 500\n  backoff_max_ms: 100\n",
            "notifier.backoff_max_ms must be at least backoff_initial_ms"},
           {"boundaries: nothere.yaml\n", "boundaries:"},
           {"detection:\n  collaboration_window_days: -5\n", "collaboration_window_days from 0"},
           {"topics:\n  alerts_partitions: 0\n", "topics.alerts_partitions"},
           {"topics:\n  replication: 0\n", "topics.replication must be at least 1"},
           {"detection:\n  finest_cell_m: 0\n", "detection.finest_cell_m from 0.125 to 67108864"},
           {"detection:\n  finest_cell_m: 0.001\n", "detection.finest_cell_m from 0.125"},
           {"detection:\n  finest_cell_m: 1e9\n", "detection.finest_cell_m from 0.125"},
           {"topics:\n  partitions: 0\n", "topics.partitions must be at least 1"},
           {"detection:\n  distance_m: -1\n", "detection.distance_m from 0 to 1000000"},
           // A distance far beyond a street's made detect spin in the index (1e6 is --distance-m's
           // bound too).
           {"detection:\n  distance_m: 5e6\ntiles:\n  size_m: 2e7\n",
            "detection.distance_m from 0 to 1000000"},
           {"detection:\n  distance_m: .inf\ntiles:\n  size_m: .inf\n",
            "detection.distance_m from 0 to 1000000"},
           {"tiles:\n  size_m: 50\n", "tiles.size_m from 4 x detection.distance_m"},
           {"tiles:\n  size_m: .inf\n", "tiles.size_m from 4 x detection.distance_m to 67108864"},
           // A key with no value is not the string "null" (a webhook signed with the key "null").
           {"topics:\n  prefix:\n", "topics.prefix: has no value"},
           {"detection:\n  metric_crs:\n", "detection.metric_crs: has no value"},
           {"http:\n  listen: ~\n", "http.listen: has no value"},
           {"boundaries:\n", "boundaries: has no value"},
           {"notifier:\n  webhooks:\n    - {name: a, url: \"http://127.0.0.1:30201/h\", secret: , "
            "authorities: [\"*\"]}\n",
            "notifier.webhooks[0].secret: has no value"},
           {"notifier:\n  webhooks:\n    - {name: a, url: \"http://127.0.0.1:30201/h\", secret: s, "
            "authorities: [5990, ~]}\n",
            "notifier.webhooks[0].authorities: an item has no value"},
           {"streams:\n  linger_ms: -1\n", "streams: linger_ms from 0 to 14999"},
           {"http:\n  body_timeout_s: 0\n", "http.body_timeout_s from 1 to 3600"},
           // librdkafka refuses a linger.ms at or above message.timeout.ms, which a stage's
           // transactional producer holds to its transaction timeout.
           {"streams:\n  linger_ms: 20000\n", "streams: linger_ms from 0 to 14999"},
           {"streams:\n  commit_interval_ms: 100\n  max_commit_interval_ms: 50\n",
            "streams: max_commit_interval_ms from commit_interval_ms"},
           {"proj:\n  search_paths: [1, [2]]\n", "proj.search_paths: must be a list of strings"},
           // YAML keeps the first of two equal keys and drops the second without a word
           {"topics:\n  partitions: 6\ntopics:\n  partitions: 0\n",
            "topics: given twice (lines 1 and 3)"},
           {"notifier:\n  timeout_ms: 5\n  timeout_ms: 6\n",
            "notifier.timeout_ms: given twice (lines 2 and 3)"},
           {"detection:\n  max_vertices: 0\n", "detection.max_vertices must be at least 1"},
           {"streams:\n  stall_s: 89\n", "streams: stall_s from 90 to 86400"},
           {"streams:\n  stall_s: 86401\n", "streams: stall_s from 90 to 86400"},
       }) {
    CAPTURE(c.yaml);
    auto s = load_yaml(c.yaml);
    REQUIRE_FALSE(s.ok());
    CAPTURE(s.error().what());
    CHECK(contains(s.error().what(), c.says));
  }
  // A missing boundaries file names the way to run without one.
  auto missing = load_yaml("boundaries: nothere.yaml\n");
  REQUIRE_FALSE(missing.ok());
  CHECK(contains(missing.error().what(), "boundaries: \"\""));
  auto none = load_yaml("boundaries: \"\"\n");
  REQUIRE(none.ok());
  CHECK(none->boundaries.empty());
  // A file that leaves the key out gets config/digonce.yaml's London areas (the shared data is
  // found here, as the other tests need it).
  auto left_out = load_yaml("topics:\n  partitions: 3\n");
  REQUIRE(left_out.ok());
  if (!left_out->shared_data.empty())
    CHECK(std::filesystem::path(left_out->boundaries).filename() == "london-authorities.yaml");
  else
    CHECK(left_out->boundaries.empty());  // London's areas are not there to be had
  // The metric CRS, checked at start by the commands that measure (not when a stage first gets
  // its partitions).
  for (const auto& [crs, says] : std::vector<std::pair<std::string, std::string>>{
           {"EPSG:99999", "detection.metric_crs EPSG:99999: unknown CRS"},
           {"EPSG:4326", "is not a projected CRS"}}) {
    auto loaded = load_yaml("detection:\n  metric_crs: " + crs + "\n");
    REQUIRE(loaded.ok());  // read as written; the check is separate
    auto checked = check_metric_crs(*loaded);
    REQUIRE_FALSE(checked.ok());
    CHECK(contains(checked.error().what(), says));
  }
  auto default_crs = load_yaml("topics:\n  partitions: 3\n");
  REQUIRE(default_crs.ok());
  CHECK(check_metric_crs(*default_crs).ok());
  // A missing file, or a folder, is said to be one.
  auto gone = load_settings("/nonexistent/digonce.yaml");
  REQUIRE_FALSE(gone.ok());
  CHECK(contains(gone.error().what(), "/nonexistent/digonce.yaml: no such file"));
  auto folder = load_settings(std::filesystem::temp_directory_path().string());
  REQUIRE_FALSE(folder.ok());
  CHECK(contains(folder.error().what(), "is a folder, not a file"));
  auto empty = load_yaml("topics:\nnotifier:\n");  // empty sections: the defaults
  REQUIRE(empty.ok());
  CHECK(empty->partitions == 6);
}

TEST_CASE("settings: kafka.client gives every client librdkafka properties, secrets from the env") {
  ::setenv("DIGONCE_TEST_KAFKA_PASSWORD", "s3cret", 1);  // NOLINT(concurrency-mt-unsafe)
  auto s = load_yaml(
      "kafka:\n  client:\n    security.protocol: SASL_SSL\n    sasl.mechanisms: SCRAM-SHA-512\n"
      "    sasl.username: digonce\n    sasl.password_env: DIGONCE_TEST_KAFKA_PASSWORD\n"
      "    socket.timeout.ms: 10000\n    ssl.endpoint.identification.algorithm: none\n"
      "    compression.codec: zstd\n");
  REQUIRE_MESSAGE(s.ok(), s.error().what());
  CHECK(s->kafka_client.size() == 6);
  CHECK(s->kafka_client.at("socket.timeout.ms") == "10000");  // a number, as librdkafka takes it
  CHECK(s->kafka_client.at("compression.type") == "zstd");    // an alias, by librdkafka's name
  // The secret is read from the environment only for a command that talks to a cluster.
  CHECK(s->kafka_client_env.at("sasl.password") == "DIGONCE_TEST_KAFKA_PASSWORD");
  auto properties = kafka_client_properties(*s);
  REQUIRE_MESSAGE(properties.ok(), properties.error().what());
  CHECK(properties->at("sasl.password") == "s3cret");
  CHECK_FALSE(properties->contains("sasl.password_env"));

  // Every client the process makes gets them, after digonce's own; digonce's exactly-once
  // settings stay (a property that would change them is refused at load: below).
  streams::set_client_properties(*properties);
  auto producer = streams::producer_config("127.0.0.1:9092", "p", "txn-1");
  auto consumer = streams::consumer_config("127.0.0.1:9092", "c", "g");
  auto admin = streams::base_config("127.0.0.1:9092", "a");
  streams::set_client_properties({});
  for (const auto* c : {&producer, &consumer, &admin}) {
    CHECK(c->at("security.protocol") == "SASL_SSL");
    CHECK(c->at("sasl.password") == "s3cret");
    CHECK(c->at("bootstrap.servers") == "127.0.0.1:9092");
  }
  CHECK(producer.at("compression.type") == "zstd");  // over digonce's lz4
  CHECK(producer.at("transactional.id") == "txn-1");
  CHECK(producer.at("enable.idempotence") == "true");
  CHECK(consumer.at("isolation.level") == "read_committed");
  CHECK_FALSE(streams::base_config("b:1", "a").contains("security.protocol"));  // cleared again

  // What librdkafka refuses only with digonce's own settings, when it makes a stage's
  // transactional producer: checked before any client is made.
  for (const char* together :
       {"    socket.timeout.ms: 30000\n", "    delivery.timeout.ms: 60000\n",
        "    receive.message.max.bytes: 60000000\n",  // below the restorer's fetch.max.bytes
        "    security.protocol: SSL\n    ssl.ca.location: /nonexistent/ca.pem\n"}) {
    auto t = load_yaml(std::string("kafka:\n  client:\n") + together);
    REQUIRE_MESSAGE(t.ok(), together);  // each property alone is fine
    auto p = kafka_client_properties(*t);
    REQUIRE_FALSE_MESSAGE(p.ok(), together);
    CHECK_MESSAGE(contains(p.error().what(), "kafka.client: "), p.error().what());
  }
  ::unsetenv("DIGONCE_TEST_KAFKA_UNSET");  // NOLINT(concurrency-mt-unsafe)
  auto unset = load_yaml("kafka:\n  client:\n    sasl.password_env: DIGONCE_TEST_KAFKA_UNSET\n");
  REQUIRE(unset.ok());  // `detect`, or `serve` on its embedded broker, never reads it
  auto unread = kafka_client_properties(*unset);
  REQUIRE_FALSE(unread.ok());
  CHECK(contains(unread.error().what(),
                 "kafka.client: sasl.password: the environment "
                 "variable DIGONCE_TEST_KAFKA_UNSET is not set"));

  struct Case {
    const char* yaml;
    const char* says;
  };
  for (const Case& c : std::initializer_list<Case>{
           {"kafka:\n  clinet: {}\n", "kafka.clinet: unknown key (kafka takes: client)"},
           {"kafka:\n  client: [a, b]\n", "kafka.client must be a mapping"},
           {"kafka:\n  client:\n    enable.idempotence: false\n",
            "kafka.client.enable.idempotence: digonce sets it itself"},
           {"kafka:\n  client:\n    bootstrap.servers: k:9092\n",
            "give the brokers with --brokers"},
           {"kafka:\n  client:\n    metadata.broker.list: k:9092\n", "give the brokers"},
           {"kafka:\n  client:\n    linger.ms: 5\n", "streams.linger_ms sets it"},
           {"kafka:\n  client:\n    queue.buffering.max.ms: 5\n", "streams.linger_ms sets it"},
           {"kafka:\n  client:\n    transactional.id: x\n", "digonce sets it itself"},
           {"kafka:\n  client:\n    log.queue: true\n", "digonce sets it itself"},
           {"kafka:\n  client:\n    isolation.level_env: HOME\n", "digonce sets it itself"},
           {"kafka:\n  client:\n    sasl.pasword: x\n", "kafka.client.sasl.pasword: No such"},
           {"kafka:\n  client:\n    sasl.pasword_env: HOME\n",
            "kafka.client.sasl.pasword_env: No such"},
           {"kafka:\n  client:\n    socket.timeout.ms: soon\n", "kafka.client.socket.timeout.ms: "},
           {"kafka:\n  client:\n    security.protocol: TLS\n", "kafka.client.security.protocol: "},
           {"kafka:\n  client:\n    ssl.ca.location: [a]\n",
            "kafka.client.ssl.ca.location: must be a string, number or boolean"},
           {"kafka:\n  client:\n    sasl.password: a\n    sasl.password_env: HOME\n",
            "sasl.password is given twice"},
           {"kafka:\n  client:\n    compression.type: lz4\n    compression.codec: zstd\n",
            "compression.type is given twice"},
       }) {
    auto r = load_yaml(c.yaml);
    REQUIRE_FALSE_MESSAGE(r.ok(), c.yaml);
    CHECK_MESSAGE(contains(r.error().what(), c.says), r.error().what());
  }
}

TEST_CASE("property_applies: a consumer's librdkafka property is not given to a producer") {
  using digonce::streams::property_applies;
  // From librdkafka's own table: kafka.client's properties reach every client, and each kind
  // of client takes only its own (the other would warn that it ignores them at every start).
  CHECK(property_applies("session.timeout.ms", RD_KAFKA_CONSUMER));
  CHECK_FALSE(property_applies("session.timeout.ms", RD_KAFKA_PRODUCER));
  CHECK(property_applies("linger.ms", RD_KAFKA_PRODUCER));
  CHECK_FALSE(property_applies("linger.ms", RD_KAFKA_CONSUMER));
  CHECK_FALSE(property_applies("compression.type", RD_KAFKA_CONSUMER));  // a topic property too
  for (auto type : {RD_KAFKA_PRODUCER, RD_KAFKA_CONSUMER}) {
    CHECK(property_applies("socket.timeout.ms", type));
    CHECK(property_applies("security.protocol", type));
    CHECK(property_applies("sasl.password", type));
    CHECK(property_applies("no.such.property", type));  // librdkafka refuses it when set
  }
  // Every property digonce sets itself reaches the clients it is set for.
  for (const auto& kv : digonce::streams::producer_config("b:9", "c", "t"))
    CHECK_MESSAGE(property_applies(kv.first, RD_KAFKA_PRODUCER), kv.first);
  for (const auto& c : {digonce::streams::consumer_config("b:9", "c", "g"),
                        digonce::streams::restore_consumer_config("b:9", "c")})
    for (const auto& kv : c) CHECK_MESSAGE(property_applies(kv.first, RD_KAFKA_CONSUMER), kv.first);
  for (const auto& kv : digonce::streams::base_config("b:9", "c"))
    for (auto type : {RD_KAFKA_PRODUCER, RD_KAFKA_CONSUMER})
      CHECK_MESSAGE(property_applies(kv.first, type), kv.first);  // admin clients and the rest
}

TEST_CASE("recent_connection_failure: a broker address nobody listens on is named, with why") {
  // Port 1 on loopback: nothing listens there, so the connection is refused at once. librdkafka
  // says so only in a log line; "cannot reach the Kafka brokers" errors carry it.
  auto client = digonce::streams::make_client(
      RD_KAFKA_PRODUCER, digonce::streams::base_config("127.0.0.1:1", "digonce-unit-refused"));
  REQUIRE(client.ok());
  std::string why;
  for (int i = 0; i < 100 && why.find("127.0.0.1:1") == std::string::npos; ++i) {
    rd_kafka_poll(client->get(), 50);
    why = digonce::streams::recent_connection_failure();
  }
  CHECK(why.find("last connection failure: 127.0.0.1:1/bootstrap") != std::string::npos);
  CHECK(why.find("Connection refused") != std::string::npos);
}

TEST_CASE(
    "notifier: a lost assignment takes the worker out of its group (not ready) until it "
    "rejoins") {
  // On the embedded broker: once in its group, the worker's heartbeat is answered
  // UNKNOWN_MEMBER_ID (the group forgot it, as after a long pause), so librdkafka reports the
  // assignment lost; the worker must say it is out of the group (readiness 503) and, once it has
  // joined again, in it.
  auto broker = streams::EmbeddedBroker::start();
  REQUIRE(broker.ok());
  Settings settings;
  settings.topic_prefix = "lost.";
  // Heartbeats every 100 ms, so that the injected error is met at once, and a short session, so
  // that the group does not wait long for the forgotten member before it takes the worker back.
  streams::set_client_properties(
      {{"heartbeat.interval.ms", "100"}, {"session.timeout.ms", "4500"}});
  struct Reset {
    ~Reset() { streams::set_client_properties({}); }
  } reset;
  settings.brokers = (*broker)->bootstraps();
  REQUIRE((*broker)->create_topic(settings.topic("alerts"), 2).ok());
  WebhookSettings hook;
  hook.name = "nobody";
  hook.url = "http://127.0.0.1:9/hooks";
  hook.secret = "s";
  hook.authorities = {"NOBODY"};
  settings.notifier.webhooks = {hook};
  prometheus::Registry registry;
  Notifier notifier(settings, registry);
  REQUIRE(notifier.start().ok());
  REQUIRE(notifier.health().size() == 1);
  auto joined = [&] { return notifier.health().at(0).joined; };
  // Waits up to 30 s for joined() == want; false if it never came.
  auto wait_for = [&](bool want) {
    for (auto until = std::chrono::steady_clock::now() + std::chrono::seconds(30);
         std::chrono::steady_clock::now() < until;) {
      if (joined() == want) return true;
      std::this_thread::sleep_for(std::chrono::milliseconds(2));
    }
    return false;
  };
  REQUIRE(wait_for(true));
  CHECK(streams::readiness(notifier.health(), 60000).status == 200);
  constexpr std::int16_t kHeartbeat = 12;  // the Kafka protocol's Heartbeat request
  rd_kafka_mock_push_request_errors((*broker)->mock(), kHeartbeat, 1,
                                    RD_KAFKA_RESP_ERR_UNKNOWN_MEMBER_ID);
  CHECK(wait_for(false));
  CHECK(streams::readiness(notifier.health(), 60000).status == 503);
  CHECK(wait_for(true));
  notifier.stop();
  CHECK(notifier.status().ok());
}
