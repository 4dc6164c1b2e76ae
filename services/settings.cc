#include "services/settings.h"

#include <spdlog/spdlog.h>
#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <cctype>
#include <cstdlib>
#include <filesystem>
#include <map>
#include <string_view>
#include <type_traits>

#include "base/yaml_keys.h"
#include "geo/authorities.h"
#include "geo/crs.h"
#include "services/http_client.h"
#include "services/resources.h"
#include "streams/kafka.h"

namespace digonce::services {
namespace fs = std::filesystem;

std::string find_shared_data() {
  // DIGONCE_SHARED_DATA is taken as given when it is a folder (another region's data need not
  // hold London's boroughs); the other places only when they hold London's boroughs.
  if (const char* env = std::getenv("DIGONCE_SHARED_DATA"); env && *env) {
    std::error_code ec;
    if (fs::is_directory(env, ec)) return env;
  }
  std::vector<std::string> candidates;
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
const char* kind_of() {
  if constexpr (std::is_same_v<T, bool>)
    return "true or false";
  else if constexpr (std::is_integral_v<T>)
    return "a whole number";
  else if constexpr (std::is_floating_point_v<T>)
    return "a number";
  else if constexpr (std::is_same_v<T, std::string>)
    return "a string";
  else
    return "a list of strings";
}

// One mapping of the file and its dotted path, for messages: `topics.read("prefix", x)` reads
// topics.prefix and names it so in an error.
struct Mapping {
  YAML::Node node;   // an Undefined node (false) when the file leaves the mapping out
  std::string path;  // "topics", "notifier.webhooks[0]"; "" is the top level

  std::string name(std::string_view key) const {
    return path.empty() ? std::string(key) : path + "." + std::string(key);
  }
  // A key absent from a const node reads as yaml-cpp's invalid node, which throws on IsNull() or
  // Mark(): made an Undefined one, safe to ask.
  Mapping at(const std::string& key) const {
    const YAML::Node value = node ? node[key] : YAML::Node(YAML::NodeType::Undefined);
    return {value ? value : YAML::Node(YAML::NodeType::Undefined), name(key)};
  }

  // The key's value, when the key is there; a value of the wrong type is an error naming the
  // key, as is a key written with no value (`secret:`), which yaml-cpp reads as the string
  // "null": a webhook signed with the key "null", a topic prefix "null".
  template <class T>
  void read(const std::string& key, T& out) const {
    const YAML::Node value = at(key).node;
    if (!value) return;
    if constexpr (std::is_same_v<T, std::string>) {
      if (value.IsNull())
        throw YAML::Exception(value.Mark(), name(key) +
                                                ": has no value: write one (\"\" for an empty "
                                                "string), or leave the key out for the default");
    } else if constexpr (std::is_same_v<T, std::vector<std::string>>) {
      if (value.IsSequence())
        for (const auto& item : value)
          if (item.IsNull())
            throw YAML::Exception(item.Mark(), name(key) + ": an item has no value");
    }
    try {
      out = value.as<T>();
    } catch (const YAML::BadConversion& e) {
      throw YAML::Exception(e.mark, name(key) + ": must be " + kind_of<T>());
    }
  }
};

// The keys a config file may hold, by section; anything else is a typo that would otherwise be
// ignored without a word (a misspelt `notifier:` turned every webhook off).
struct Section {
  const char* name;  // dotted path; "" is the top level
  std::vector<std::string_view> keys;
};
const std::vector<Section>& known_sections() {
  static const std::vector<Section> sections = {
      {"",
       {"topics", "detection", "tiles", "boundaries", "proj", "streams", "http", "feeds",
        "notifier", "kafka"}},
      {"kafka", {"client"}},
      {"topics", {"prefix", "partitions", "alerts_partitions", "replication"}},
      {"detection",
       {"distance_m", "collaboration_window_days", "metric_crs", "max_vertices", "finest_cell_m"}},
      {"tiles", {"size_m"}},
      {"proj", {"search_paths"}},
      {"streams",
       {"commit_interval_ms", "max_commit_interval_ms", "max_batch", "linger_ms", "fetch_min_bytes",
        "static_membership", "stall_s"}},
      {"http", {"listen", "body_timeout_s"}},
      {"feeds", {"streetmanager"}},
      {"feeds.streetmanager",
       {"verify_signatures", "cert_hosts", "subscribe_hosts", "topic_arns", "allow_http",
        "timeout_ms", "max_waiting"}},
      {"notifier",
       {"timeout_ms", "max_attempts", "backoff_initial_ms", "backoff_max_ms", "start_from",
        "webhooks"}},
      {"notifier.webhooks[]",
       {"name", "url", "secret", "secret_env", "ca_file", "authorities", "kinds", "states"}},
  };
  return sections;
}

// What is wrong with the file's shape (an unknown key, a section that is not a mapping), or "".
std::string check_keys(const YAML::Node& node, const std::string& where) {
  const Section* section = nullptr;
  for (const auto& s : known_sections())
    if (where == s.name) section = &s;
  if (!section) return {};  // a leaf: its value is read and checked where it is used
  const std::string name = where.empty() ? "the file" : where;
  if (node.IsNull()) return {};  // an empty section: the defaults
  if (!node.IsMap()) return name + " must be a mapping of keys to values";
  // A section written twice (a second `kafka:` appended for TLS) would be silently ignored.
  if (auto bad = yaml_key_problem(node, section->keys, name)) return bad->message(where);
  for (const auto& kv : node) {
    const auto key = kv.first.as<std::string>();
    const std::string inner = where.empty() ? key : where + "." + key;
    if (inner == "notifier.webhooks") {
      if (kv.second.IsNull()) continue;
      if (!kv.second.IsSequence())
        return "notifier.webhooks must be a list (each item: - name: ..., url: ...)";
      for (const auto& w : kv.second)
        if (auto bad = check_keys(w, "notifier.webhooks[]"); !bad.empty()) return bad;
    } else if (auto bad = check_keys(kv.second, inner); !bad.empty()) {
      return bad;
    }
  }
  return {};
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
  if (w.secret.empty() && w.secret_env.empty())
    return "secret or secret_env is required (the signing key)";
  if (!w.secret.empty() && !w.secret_env.empty())
    return "secret and secret_env are both given: keep one (the signing key comes from one place)";
  if (!w.ca_file.empty() && w.url.rfind("https://", 0) != 0) return "ca_file is for an https url";
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
  if (path.empty()) {
    // Said, since the defaults have no authority areas: every alert's highway_authorities would
    // be empty without a word.
    spdlog::warn(
        "no configuration file ({} not found; --config names one): built-in defaults, "
        "without highway authority areas",
        resource_path("config/digonce.yaml"));
    // The shared data's PROJ grids (OSTN15) all the same, as with a file: without them a
    // transform from EPSG:4326 falls back to one about 2 m out.
    if (!s.shared_data.empty())
      s.proj_search_paths.push_back((fs::path(s.shared_data) / "proj").string());
    return s;
  }
  s.config_path = path;
  bool boundaries_given = false;
  {
    std::error_code ec;
    if (!fs::exists(path, ec)) return error("config " + path + ": no such file");
    if (fs::is_directory(path, ec)) return error("config " + path + ": is a folder, not a file");
  }
  try {
    YAML::Node root = YAML::LoadFile(path);
    if (auto bad = check_keys(root, ""); !bad.empty()) return error("config " + path + ": " + bad);
    auto dir = fs::path(path).parent_path();
    const Mapping file{root, ""};
    const auto topics = file.at("topics");
    topics.read("prefix", s.topic_prefix);
    topics.read("partitions", s.partitions);
    topics.read("alerts_partitions", s.alerts_partitions);
    topics.read("replication", s.replication);
    const auto det = file.at("detection");
    det.read("distance_m", s.rules.distance_m);
    double days = 90;
    det.read("collaboration_window_days", days);
    if (!(days >= 0 && days <= 36500))
      return error("config " + path + ": detection.collaboration_window_days from 0 to 36500");
    s.rules.collaboration_window = geo::window_of_days(days);
    det.read("metric_crs", s.metric_crs);
    det.read("max_vertices", s.max_vertices);
    det.read("finest_cell_m", s.finest_cell_m);
    file.at("tiles").read("size_m", s.tile_size_m);
    boundaries_given = static_cast<bool>(file.at("boundaries").node);
    if (boundaries_given) {
      std::string given_boundaries;
      file.read("boundaries", given_boundaries);
      auto b = fs::path(given_boundaries);
      s.boundaries = given_boundaries.empty() ? std::string()  // "": no authority areas
                                              : (b.is_absolute() ? b : dir / b).string();
    }
    file.at("proj").read("search_paths", s.proj_search_paths);
    const auto streams = file.at("streams");
    streams.read("commit_interval_ms", s.commit_interval_ms);
    streams.read("max_commit_interval_ms", s.max_commit_interval_ms);
    streams.read("max_batch", s.max_batch);
    streams.read("linger_ms", s.linger_ms);
    streams.read("fetch_min_bytes", s.fetch_min_bytes);
    streams.read("static_membership", s.static_membership);
    streams.read("stall_s", s.stall_s);
    const auto http = file.at("http");
    http.read("listen", s.http_listen);
    http.read("body_timeout_s", s.http_body_timeout_s);
    if (auto c = file.at("kafka").at("client").node; c && !c.IsNull()) {
      if (!c.IsMap())
        throw YAML::Exception(c.Mark(), "kafka.client must be a mapping of librdkafka properties");
      for (const auto& kv : c) {
        auto name = kv.first.as<std::string>();
        const std::string where = "kafka.client." + name;
        if (!kv.second.IsScalar())
          throw YAML::Exception(kv.second.Mark(), where + ": must be a string, number or boolean");
        auto value = kv.second.as<std::string>();
        // A secret (sasl.password, ssl.key.password) from the environment, not the file: its
        // name is checked now, its value once a command talks to a cluster.
        const bool from_env = name.size() > 4 && name.ends_with("_env");
        if (from_env) name.resize(name.size() - 4);
        name = streams::canonical_property(name);
        if (s.kafka_client.contains(name) || s.kafka_client_env.contains(name))
          throw YAML::Exception(kv.first.Mark(), where + ": " + name + " is given twice");
        if (auto bad = streams::client_property_problem(name, from_env ? nullptr : &value);
            !bad.empty())
          throw YAML::Exception(kv.first.Mark(), where + ": " + bad);
        (from_env ? s.kafka_client_env : s.kafka_client)[name] = value;
      }
    }
    {
      const auto f = file.at("feeds").at("streetmanager");
      auto& fs = s.streetmanager_feed;
      f.read("verify_signatures", fs.verify_signatures);
      f.read("cert_hosts", fs.cert_hosts);
      f.read("subscribe_hosts", fs.subscribe_hosts);
      f.read("topic_arns", fs.topic_arns);
      f.read("allow_http", fs.allow_http);
      f.read("timeout_ms", fs.timeout_ms);
      f.read("max_waiting", fs.max_waiting);
    }
    if (const auto n = file.at("notifier"); n.node) {
      auto& ns = s.notifier;
      n.read("timeout_ms", ns.timeout_ms);
      n.read("max_attempts", ns.max_attempts);
      n.read("backoff_initial_ms", ns.backoff_initial_ms);
      n.read("backoff_max_ms", ns.backoff_max_ms);
      n.read("start_from", ns.start_from);
      if (n.node["webhooks"]) {
        for (const auto& item : n.node["webhooks"]) {
          WebhookSettings ws;
          const Mapping w{item, "notifier.webhooks[" + std::to_string(ns.webhooks.size()) + "]"};
          w.read("name", ws.name);
          w.read("url", ws.url);
          w.read("secret", ws.secret);
          w.read("ca_file", ws.ca_file);
          w.read("secret_env", ws.secret_env);
          w.read("authorities", ws.authorities);
          w.read("kinds", ws.kinds);
          w.read("states", ws.states);
          const std::string where = ws.name.empty() ? w.path : "notifier.webhooks[" + ws.name + "]";
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
    }
  } catch (const YAML::Exception& e) {
    return error("config " + path + ": " + e.what());
  } catch (const std::exception& e) {  // reading the file failed (yaml-cpp's stream)
    return error("config " + path + ": cannot read it: " + e.what());
  }
  // A file that leaves `boundaries` out gets config/digonce.yaml's: London's areas, where they
  // are found (the shared data folder), else none.
  if (!boundaries_given) {
    const auto london = resource_path("config/london-authorities.yaml");
    std::error_code ec;
    if (auto o = geo::load_authority_options(london, s.shared_data); o && fs::exists(o->path, ec))
      s.boundaries = london;
  }
  if (!s.boundaries.empty()) {
    // Without its areas every alert would name no highway authority, and no authority's webhook
    // or key would see anything: a wrong path stops every command at start, not later.
    const std::string without = "; `boundaries: \"\"` runs without authority areas";
    auto o = geo::load_authority_options(s.boundaries, s.shared_data);
    if (!o) return error("config " + path + ": boundaries: " + o.error().what() + without);
    std::error_code ec;
    if (!fs::exists(o->path, ec))
      return error("config " + path + ": boundaries: " + s.boundaries + " names " + o->path +
                   ", which does not exist" +
                   (s.shared_data.empty()
                        ? " (no shared data folder was found: set DIGONCE_SHARED_DATA)"
                        : "") +
                   without);
  }
  if (!s.shared_data.empty())
    s.proj_search_paths.push_back((fs::path(s.shared_data) / "proj").string());
  // One message per value out of range, naming its key.
  const char* bad =
      s.partitions < 1          ? "topics.partitions must be at least 1"
      : s.alerts_partitions < 1 ? "topics.alerts_partitions must be at least 1"
      : s.replication < 1       ? "topics.replication must be at least 1"
      : !(s.rules.distance_m >= 0 && s.rules.distance_m <= 1e6)
          ? "detection.distance_m from 0 to 1000000 (metres, as --distance-m)"
      : !(s.finest_cell_m >= 0.125 && s.finest_cell_m <= 67108864)
          ? "detection.finest_cell_m from 0.125 to 67108864 (the space-time index's deepest "
            "cell, 2^-3 m, and its whole square, 2^26 m)"
      : s.max_vertices < 1 ? "detection.max_vertices must be at least 1"
      : !(s.tile_size_m > 0 && s.tile_size_m <= 67108864) || s.tile_size_m < 4 * s.rules.distance_m
          ? "tiles.size_m from 4 x detection.distance_m to 67108864 (2^26 m)"
      : s.http_body_timeout_s < 1 || s.http_body_timeout_s > 3600
          ? "http.body_timeout_s from 1 to 3600"
      : s.commit_interval_ms < 1 ? "streams: commit_interval_ms must be at least 1"
      : s.max_batch < 1          ? "streams: max_batch must be at least 1"
      : s.linger_ms < 0 || s.linger_ms >= streams::kTransactionTimeoutMs
          ? "streams: linger_ms from 0 to 14999 (below the stages' transaction timeout, 15 s)"
      : s.fetch_min_bytes < 1 || s.fetch_min_bytes > 100000000
          ? "streams: fetch_min_bytes from 1 to 100000000"
      : s.max_commit_interval_ms < 0 || s.max_commit_interval_ms > 10000 ||
              (s.max_commit_interval_ms > 0 && s.max_commit_interval_ms < s.commit_interval_ms)
          ? "streams: max_commit_interval_ms from commit_interval_ms to 10000 (a transaction "
            "times out after 15 s), or 0 for 4 x commit_interval_ms"
      : s.stall_s < 90 || s.stall_s > 86400 ? "streams: stall_s from 90 to 86400"
      : s.streetmanager_feed.timeout_ms < 1 ? "feeds.streetmanager.timeout_ms >= 1"
      : s.streetmanager_feed.max_waiting < 1 || s.streetmanager_feed.max_waiting > 1000000
          ? "feeds.streetmanager.max_waiting from 1 to 1000000"
      : s.notifier.timeout_ms < 1         ? "notifier.timeout_ms must be at least 1"
      : s.notifier.max_attempts < 1       ? "notifier.max_attempts must be at least 1"
      : s.notifier.backoff_initial_ms < 0 ? "notifier.backoff_initial_ms must be 0 or more"
      : s.notifier.backoff_max_ms < s.notifier.backoff_initial_ms
          ? "notifier.backoff_max_ms must be at least backoff_initial_ms"
      : s.notifier.start_from != "earliest" && s.notifier.start_from != "latest"
          ? "notifier.start_from must be earliest or latest"

          : nullptr;
  if (bad) return error("config " + path + ": " + bad);
  if (s.max_commit_interval_ms == 0)
    s.max_commit_interval_ms = std::min(10000, 4 * s.commit_interval_ms);
  return s;
}

Status check_metric_crs(const Settings& settings, std::string_view option) {
  geo::CrsOptions crs;
  crs.metric_crs = settings.metric_crs;
  crs.search_paths = settings.proj_search_paths;
  if (auto c = geo::CrsContext::create(crs); !c) {
    std::string where =
        !option.empty() ? std::string(option)
                        : (settings.config_path.empty() ? std::string()
                                                        : "config " + settings.config_path + ": ") +
                              "detection.metric_crs";
    return error(where + " " + settings.metric_crs + ": " + c.error().message);
  }
  return {};
}

Status resolve_webhooks(NotifierSettings& notifier, const std::string& path) {
  for (auto& w : notifier.webhooks) {
    const std::string where = "config " + path + ": notifier.webhooks[" + w.name + "]: ";
    if (!w.secret_env.empty()) {
      const char* v = std::getenv(w.secret_env.c_str());
      if (!v || !*v)
        return error(where + "secret_env " + w.secret_env + " is not set in the environment");
      w.secret = v;
    }
    if (!w.ca_file.empty())
      if (auto bad = check_ca_file(w.ca_file); !bad.empty())
        return error(where + "ca_file: " + bad);
  }
  return {};
}

Result<std::map<std::string, std::string>> kafka_client_properties(const Settings& settings) {
  auto properties = settings.kafka_client;
  for (const auto& [name, variable] : settings.kafka_client_env) {
    const std::string where = "kafka.client: " + name;  // by librdkafka's name (aliases)
    const char* v = std::getenv(variable.c_str());
    if (!v || !*v) return error(where + ": the environment variable " + variable + " is not set");
    const std::string value = v;
    if (auto bad = streams::client_property_problem(name, &value); !bad.empty())
      return error(where + ": the value of " + variable + ": " + bad);
    properties[name] = value;
  }
  if (!properties.empty())
    if (auto bad = streams::client_properties_conflict(properties, settings.linger_ms);
        !bad.empty())
      return error("kafka.client: " + bad);
  return properties;
}

}  // namespace digonce::services
