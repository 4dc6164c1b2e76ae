#include "services/settings.h"

#include <yaml-cpp/yaml.h>

#include <cctype>
#include <cstdlib>
#include <filesystem>

#include "services/http_client.h"
#include "services/resources.h"

namespace digonce::services {
namespace fs = std::filesystem;

std::string find_shared_data() {
  std::vector<std::string> candidates;
  if (const char* env = std::getenv("DIGONCE_SHARED_DATA")) candidates.emplace_back(env);
  candidates.push_back(resource_path("data"));  // installed: <prefix>/share/digonce/data
#ifdef DIGONCE_SHARED_DATA_DEFAULT
  candidates.emplace_back(DIGONCE_SHARED_DATA_DEFAULT);
#endif
  for (const auto& c : candidates) {
    std::error_code ec;
    if (!c.empty() && fs::exists(fs::path(c) / "london" / "boroughs.geojson", ec)) return c;
  }
  return {};
}

namespace {

std::string default_config_path() {
  auto p = resource_path("config/digonce.yaml");
  std::error_code ec;
  if (fs::exists(p, ec)) return p;
  return {};
}

template <class T>
void read(const YAML::Node& node, const char* key, T& out) {
  if (node && node[key]) out = node[key].as<T>();
}

// What is wrong with a webhook, or "".
std::string check_webhook(const WebhookSettings& w, const std::vector<WebhookSettings>& before) {
  if (w.name.empty()) return "name is required";
  for (char c : w.name)
    if (!std::isalnum(static_cast<unsigned char>(c)) && c != '-' && c != '_' && c != '.')
      return "name may hold only letters, digits, '-', '_' and '.'";
  for (const auto& b : before)
    if (b.name == w.name) return "name is used twice";
  if (auto u = parse_url(w.url); !u) return "url: " + u.error().what();
  if (w.secret.empty()) return "secret or secret_env is required (the signing key)";
  if (!w.ca_file.empty()) {
    if (w.url.rfind("https://", 0) != 0) return "ca_file is for an https url";
    if (auto bad = check_ca_file(w.ca_file); !bad.empty()) return "ca_file: " + bad;
  }
  if (w.authorities.empty()) return "authorities is required (codes, or \"*\" for every alert)";
  for (const auto& k : w.kinds)
    if (k != "clash" && k != "collaboration" && k != "restriction")
      return "kinds: '" + k + "' is not clash, collaboration or restriction";
  for (const auto& st : w.states)
    if (st != "open" && st != "updated" && st != "closed")
      return "states: '" + st + "' is not open, updated or closed";
  return {};
}

}  // namespace

Result<Settings> load_settings(const std::string& given) {
  Settings s;
  s.shared_data = find_shared_data();
  std::string path = given.empty() ? default_config_path() : given;
  if (path.empty()) return s;
  try {
    YAML::Node root = YAML::LoadFile(path);
    auto dir = fs::path(path).parent_path();
    read(root["topics"], "prefix", s.topic_prefix);
    read(root["topics"], "partitions", s.partitions);
    read(root["topics"], "alerts_partitions", s.alerts_partitions);
    read(root["topics"], "replication", s.replication);
    auto det = root["detection"];
    read(det, "distance_m", s.rules.distance_m);
    double days = 90;
    read(det, "collaboration_window_days", days);
    s.rules.collaboration_window = static_cast<geo::Micros>(days * geo::kMicrosPerDay);
    read(det, "metric_crs", s.metric_crs);
    read(det, "max_vertices", s.max_vertices);
    read(det, "finest_cell_m", s.finest_cell_m);
    read(root["tiles"], "size_m", s.tile_size_m);
    if (root["boundaries"]) {
      auto b = fs::path(root["boundaries"].as<std::string>());
      s.boundaries = (b.is_absolute() ? b : dir / b).string();
    }
    if (root["proj"] && root["proj"]["search_paths"])
      for (const auto& p : root["proj"]["search_paths"])
        s.proj_search_paths.push_back(p.as<std::string>());
    read(root["streams"], "commit_interval_ms", s.commit_interval_ms);
    read(root["streams"], "max_commit_interval_ms", s.max_commit_interval_ms);
    read(root["streams"], "max_batch", s.max_batch);
    read(root["streams"], "linger_ms", s.linger_ms);
    read(root["streams"], "fetch_min_bytes", s.fetch_min_bytes);
    read(root["http"], "listen", s.http_listen);
    if (root["feeds"] && root["feeds"]["streetmanager"]) {
      auto f = root["feeds"]["streetmanager"];
      auto& fs = s.streetmanager_feed;
      read(f, "verify_signatures", fs.verify_signatures);
      read(f, "cert_hosts", fs.cert_hosts);
      read(f, "subscribe_hosts", fs.subscribe_hosts);
      read(f, "topic_arns", fs.topic_arns);
      read(f, "allow_http", fs.allow_http);
      read(f, "timeout_ms", fs.timeout_ms);
      read(f, "max_waiting", fs.max_waiting);
      if (fs.timeout_ms < 1)
        return error("config " + path + ": feeds.streetmanager.timeout_ms >= 1");
      if (fs.max_waiting < 1 || fs.max_waiting > 1000000)
        return error("config " + path + ": feeds.streetmanager.max_waiting from 1 to 1000000");
    }
    if (auto n = root["notifier"]) {
      auto& ns = s.notifier;
      read(n, "timeout_ms", ns.timeout_ms);
      read(n, "max_attempts", ns.max_attempts);
      read(n, "backoff_initial_ms", ns.backoff_initial_ms);
      read(n, "backoff_max_ms", ns.backoff_max_ms);
      read(n, "start_from", ns.start_from);
      if (n["webhooks"]) {
        for (const auto& w : n["webhooks"]) {
          WebhookSettings ws;
          read(w, "name", ws.name);
          read(w, "url", ws.url);
          read(w, "secret", ws.secret);
          read(w, "ca_file", ws.ca_file);
          std::string secret_env;
          read(w, "secret_env", secret_env);
          read(w, "authorities", ws.authorities);
          read(w, "kinds", ws.kinds);
          read(w, "states", ws.states);
          const std::string where =
              "notifier.webhooks[" +
              (ws.name.empty() ? std::to_string(ns.webhooks.size()) : ws.name) + "]";
          if (!secret_env.empty()) {
            const char* v = std::getenv(secret_env.c_str());
            if (!v || !*v)
              return error("config " + path + ": " + where + ": secret_env " + secret_env +
                           " is not set in the environment");
            ws.secret = v;
          }
          if (auto bad = check_webhook(ws, ns.webhooks); !bad.empty())
            return error("config " + path + ": " + where + ": " + bad);
          ns.webhooks.push_back(std::move(ws));
        }
      }
      // One delivery, retries included, must end well within the consumer's max.poll.interval.ms
      // (1 hour), or the group takes the partition away mid-delivery.
      if (static_cast<double>(ns.max_attempts) * (ns.timeout_ms + ns.backoff_max_ms) > 3.0e6)
        return error("config " + path +
                     ": notifier: max_attempts x (timeout_ms + backoff_max_ms) must stay under 50 "
                     "minutes");
      if (ns.timeout_ms < 1 || ns.max_attempts < 1 || ns.backoff_initial_ms < 0 ||
          ns.backoff_max_ms < ns.backoff_initial_ms ||
          (ns.start_from != "earliest" && ns.start_from != "latest"))
        return error("config " + path +
                     ": notifier: timeout_ms >= 1, max_attempts >= 1, 0 <= backoff_initial_ms <= "
                     "backoff_max_ms, start_from earliest or latest");
    }
  } catch (const YAML::Exception& e) {
    return error("config " + path + ": " + e.what());
  }
  if (!s.shared_data.empty())
    s.proj_search_paths.push_back((fs::path(s.shared_data) / "proj").string());
  if (!(s.rules.distance_m >= 0) || s.partitions < 1 || !(s.tile_size_m > 0) ||
      s.tile_size_m < 4 * s.rules.distance_m)
    return error("config " + path +
                 ": distance_m must be >= 0, partitions >= 1, tiles.size_m > 0 and >= 4 x "
                 "distance_m");
  if (s.commit_interval_ms < 1 || s.max_batch < 1 || s.linger_ms < 0 || s.linger_ms > 900000 ||
      s.fetch_min_bytes < 1 || s.fetch_min_bytes > 100000000 || s.max_commit_interval_ms < 0 ||
      s.max_commit_interval_ms > 10000 ||
      (s.max_commit_interval_ms > 0 && s.max_commit_interval_ms < s.commit_interval_ms))
    return error("config " + path +
                 ": streams: commit_interval_ms and max_batch must be >= 1, "
                 "max_commit_interval_ms from commit_interval_ms to 10000 (a transaction times out "
                 "after 15 s), linger_ms 0 to 900000, fetch_min_bytes 1 to 100000000");
  if (s.max_commit_interval_ms == 0)
    s.max_commit_interval_ms = std::min(10000, 4 * s.commit_interval_ms);
  return s;
}

}  // namespace digonce::services
