// GET /healthz and GET /readyz on a stage process's metrics port (ingest, detector, notifier),
// beside /metrics: the answers of streams/health.h for the process's loops. The metrics
// endpoint's server (prometheus-cpp's, on civetweb) takes them through its begin_request
// callback, so one port serves all three, as the Helm chart's probes expect.
//
// One process has one metrics endpoint, so the probes' source is the process's (set once its
// loops run); until then /healthz is 200 (the process waits, alive) and /readyz 503 with what it
// waits for.
#pragma once

#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "streams/health.h"

struct CivetCallbacks;

namespace digonce::services {

/// The callbacks to give the metrics endpoint's server (prometheus::Exposer).
const CivetCallbacks* probe_callbacks();

/// How long a loop may be quiet before /healthz calls it stuck (Settings::stall_s).
void set_probe_stall_ms(std::int64_t ms);
/// What the process waits for before its loops start ("" once they have), for /readyz.
void set_probe_waiting(std::string what);
/// The process's loops, asked at each probe; empty: no loops (yet). The source must stay valid
/// until it is replaced or cleared (clear_probe_source before the loops' owner goes).
void set_probe_source(std::function<std::vector<streams::LoopHealth>()> source);
void clear_probe_source();

/// The answer to a GET of `path` ("/healthz" or "/readyz"; others: status 0, not a probe).
streams::ProbeAnswer answer_probe(std::string_view path);

}  // namespace digonce::services
