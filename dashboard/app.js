// digonce dashboard: live works and alerts from the gateway's WebSocket (/v1/stream), drawn on a
// canvas with an equirectangular projection fitted to the data, which the wheel (or a pinch)
// zooms and a drag pans (Fit, or a double click, fits it again), over the authorities' areas (GET /v1/areas); a
// scale bar, and a tooltip for the work, alert or area under the pointer; an alert picked in the
// list is zoomed to. No library, no network access beyond this server.
"use strict";

const KEY_STORAGE = "digonce.apiKey";
const state = {
  key: localStorage.getItem(KEY_STORAGE) || "",
  works: new Map(),   // work_ref -> work (geometry in EPSG:4326)
  areas: [],          // the highway authorities' areas (GET /v1/areas): GeoJSON features
  viewer: null,       // { org, role } of the key
  alerts: new Map(),  // alert_id -> open (or updated) alert at its latest revision
  closed: new Map(),  // alert_id -> revision of its close, for the last CLOSED_KEPT closes
  selected: null,     // alert_id
  socket: null,
  retryMs: 1000,
  liveSince: 0,       // when the last snapshot came (Date.now()), 0 while not live
  // The user's zoom and pan over the fitted projection (canvas pixels); `base` holds the fit
  // still while they are in use, so that new works do not move the map under the pointer.
  view: { zoom: 1, x: 0, y: 0, base: null },
};

const $ = (id) => document.getElementById(id);

// ---- the key

let retryTimer = 0;  // the reconnection start() has scheduled, if any
// Bumped by each start() and askForKey(): a start() that finds another has begun since it
// awaited the server gives up, so that one key has one socket and a late answer for an old key
// cannot undo what the user did since.
let generation = 0;
// Closed alerts are dropped (a tab left open for weeks would otherwise keep every alert ever
// closed); their last revisions are remembered, so that a repeated older message does not bring
// one back.
const CLOSED_KEPT = 10000;

// What one key saw, forgotten when another is given (the areas stay: they are the gateway's).
function forgetKey() {
  state.works = new Map();
  state.alerts = new Map();
  state.closed = new Map();
  state.selected = null;
  state.viewer = null;
  state.view = { zoom: 1, x: 0, y: 0, base: null };
  state.retryMs = 1000;
  state.liveSince = 0;
  $("who").textContent = "";
  $("alerts-heading").textContent = "Open alerts";
  render();
}

// The socket closed without calling its onclose (a new one replaces it, or the key went).
function dropSocket() {
  if (state.socket) { state.socket.onclose = null; state.socket.close(); state.socket = null; }
}

function askForKey(message) {
  ++generation;
  clearTimeout(retryTimer);
  dropSocket();
  $("main").hidden = true;
  $("change-key").hidden = true;
  $("key-form").hidden = false;
  $("key-error").textContent = message || "";
  $("key").value = "";
  $("key").focus();
  setStatus("not connected", "");
}

$("key-form").addEventListener("submit", (event) => {
  event.preventDefault();
  state.key = $("key").value.trim();
  localStorage.setItem(KEY_STORAGE, state.key);
  forgetKey();
  start();
});
$("change-key").addEventListener("click", () => {
  localStorage.removeItem(KEY_STORAGE);
  state.key = "";
  askForKey("");
});

// A WebSocket that fails its handshake does not say why: ask the REST API first (one alert is
// enough), so that a bad key, a server too busy (429) or failing (5xx) is reported as such.
async function start() {
  if (!state.key) return askForKey("");
  const mine = ++generation;
  clearTimeout(retryTimer);
  let refused = null;
  try {
    const res = await fetch("/v1/alerts?state=open&limit=1", {
      headers: { Authorization: "Bearer " + state.key },
    });
    if (mine !== generation) return;  // another start() or the key form took over
    if (res.status === 401) return askForKey("This key is not known to the server.");
    if (res.status === 403)
      return askForKey("This key may not read works and alerts (a feed key only posts the feed).");
    if (res.status === 429 || res.status >= 500) {
      const after = Number(res.headers.get("Retry-After"));
      refused = {
        text: `the server answered ${res.status}`, ms: after > 0 ? Math.min(after, 300) * 1000 : 0,
      };
    }
  } catch (err) {
    if (mine !== generation) return;
    // the server is down: the WebSocket fails too, and its close retries
  }
  loadAreas();
  $("key-form").hidden = true;
  $("key-error").textContent = "";
  $("main").hidden = false;
  $("change-key").hidden = false;
  resize();
  if (refused) return retryLater(refused.text, refused.ms);
  connect();
}

// Shown as not live, and start() again after the backoff (or the server's Retry-After), which
// doubles up to 15 s until a snapshot arrives.
function retryLater(why, atLeastMs) {
  const ms = Math.max(state.retryMs, atLeastMs || 0);
  setStatus(`disconnected (${why}): retrying in ${Math.round(ms / 1000)} s`, "down");
  if (state.viewer) $("alerts-heading").textContent = "Open alerts (not live: as last seen)";
  clearTimeout(retryTimer);
  retryTimer = setTimeout(start, ms);
  state.retryMs = Math.min(state.retryMs * 2, 15000);
}

// The authorities' areas, drawn under the works: once per page (they change only with the
// gateway's configuration). A failure leaves the map without them.
async function loadAreas() {
  if (state.areas.length) return;
  try {
    const res = await fetch("/v1/areas", { headers: { Authorization: "Bearer " + state.key } });
    if (res.ok) state.areas = (await res.json()).features || [];
    render();
  } catch (err) {
    // the server is down: the next start() asks again
  }
}

// ---- the live stream

function setStatus(text, cls) {
  const s = $("status");
  s.textContent = text;
  s.className = "status " + cls;
}

function connect() {
  dropSocket();
  const scheme = location.protocol === "https:" ? "wss" : "ws";
  const url = `${scheme}://${location.host}/v1/stream?key=${encodeURIComponent(state.key)}`;
  const ws = new WebSocket(url);
  state.socket = ws;
  setStatus("connecting…", "");
  ws.onopen = () => setStatus("loading…", "");
  ws.onmessage = (event) => {
    const msg = JSON.parse(event.data);
    if (msg.type === "snapshot") {
      state.viewer = msg.data.viewer;
      $("who").textContent = `${msg.data.viewer.org} (${msg.data.viewer.role})`;
      state.works = new Map(msg.data.works.map((w) => [w.work_ref, w]));
      state.alerts = new Map(msg.data.alerts.filter((a) => a.state !== "closed")
        .map((a) => [a.alert_id, a]));
      state.closed = new Map();
      if (state.selected && !state.alerts.has(state.selected)) state.selected = null;
      // The backoff starts again only once the connection has stayed live for 30 s (onclose): a
      // client the server closes as too slow (1008) just after its snapshot is not reconnected
      // every second.
      state.liveSince = Date.now();
      $("alerts-heading").textContent = "Open alerts";
      setStatus("live", "live");  // once what it shows is the server's state, not before
    } else if (msg.type === "work") {
      if (msg.data.removed) state.works.delete(msg.data.work_ref);
      else state.works.set(msg.data.work_ref, msg.data);
    } else if (msg.type === "alert") {
      const a = msg.data;
      if (a.removed) {
        state.alerts.delete(a.alert_id); // out of this key's sight, or gone
      } else {
        const held = state.alerts.get(a.alert_id);
        const known = held ? held.revision : state.closed.get(a.alert_id);
        if (known === undefined || known <= a.revision) {
          if (a.state === "closed") {
            state.alerts.delete(a.alert_id);
            state.closed.delete(a.alert_id);  // re-inserted last: the newest close
            state.closed.set(a.alert_id, a.revision);
            if (state.closed.size > CLOSED_KEPT) state.closed.delete(state.closed.keys().next().value);
          } else {
            state.closed.delete(a.alert_id);
            state.alerts.set(a.alert_id, a);
          }
        }
      }
      if (state.selected && !state.alerts.has(state.selected)) state.selected = null;
    }
    render();
  };
  ws.onclose = (event) => {
    if (state.socket !== ws) return;
    state.socket = null;
    if (state.liveSince && Date.now() - state.liveSince > 30000) state.retryMs = 1000;
    state.liveSince = 0;
    retryLater(event.reason || "connection lost", 0);
  };
}

// ---- drawing

const canvas = $("map");
const ctx = canvas.getContext("2d");
let frame = 0;
let listDue = false;

// Data changed: the map and the list, once per frame.
function render() { schedule(true); }
// The view changed: the map only.
function redraw() { schedule(false); }
function schedule(withList) {
  listDue = listDue || withList;
  if (!frame) {
    frame = requestAnimationFrame(() => {
      frame = 0;
      draw();
      if (listDue) { listDue = false; list(); }
    });
  }
}

// Canvas pixels per CSS pixel (the device pixel ratio when the canvas was last sized).
let ratio = window.devicePixelRatio || 1;

// The canvas sized to its box; a view the user zoomed keeps its centre and scale.
function resize() {
  const r = canvas.getBoundingClientRect();
  const held = state.view.base ? projection(canvas.width, canvas.height) : null;
  const centre = held && held.unproject([canvas.width / 2, canvas.height / 2]);
  const metresPerCssPixel = held && held.metresPerPixel * ratio;
  ratio = window.devicePixelRatio || 1;
  canvas.width = Math.max(1, Math.round(r.width * ratio));
  canvas.height = Math.max(1, Math.round(r.height * ratio));
  const base = held && fit(canvas.width, canvas.height);
  if (base) {
    const v = state.view;
    v.base = base;
    v.zoom = base.metresPerPixel / (metresPerCssPixel / ratio);
    const [bx, by] = base.project(centre);
    v.x = canvas.width / 2 - bx * v.zoom;
    v.y = canvas.height / 2 - by * v.zoom;
  }
  redraw();
}
window.addEventListener("resize", resize);

function openAlerts() {
  return [...state.alerts.values()]
    .sort((a, b) => a.kind.localeCompare(b.kind) || a.alert_id.localeCompare(b.alert_id));
}

// Every [lon, lat] of a GeoJSON coordinates array, however nested.
function positions(coords, out) {
  if (typeof coords[0] === "number") out.push(coords);
  else for (const c of coords) positions(c, out);
  return out;
}

// Canvas pixels kept clear: 30 CSS px around, and the legend's band at the bottom.
function margins() {
  const legend = document.querySelector(".legend");
  const pad = 30 * ratio;
  return { pad, padBottom: Math.max(pad, ((legend ? legend.offsetHeight : 0) + 16) * ratio) };
}

// An equirectangular projection (x scaled by cos(latitude)) fitted to the box of everything:
// { project, unproject, metresPerPixel } in canvas pixels.
function fit(width, height) {
  let minX = Infinity, minY = Infinity, maxX = -Infinity, maxY = -Infinity;
  const add = ([x, y]) => {
    minX = Math.min(minX, x); maxX = Math.max(maxX, x);
    minY = Math.min(minY, y); maxY = Math.max(maxY, y);
  };
  for (const w of state.works.values()) positions(w.geometry.coordinates, []).forEach(add);
  for (const a of openAlerts()) add(a.location.coordinates);
  // Nothing live yet: the authorities' areas, so that the map is not blank.
  if (minX > maxX) for (const f of state.areas) positions(f.geometry.coordinates, []).forEach(add);
  if (minX > maxX) return null;
  const k = Math.cos(((minY + maxY) / 2) * Math.PI / 180);
  // At least 0.001 degrees (~110 m): one point alone is shown in its street, not at 1 mm a pixel.
  const spanX = Math.max((maxX - minX) * k, 0.001), spanY = Math.max(maxY - minY, 0.001);
  const { pad, padBottom } = margins();
  const scale = Math.min((width - 2 * pad) / spanX, (height - pad - padBottom) / spanY);
  const ox = (width - spanX * scale) / 2, oy = pad + (height - pad - padBottom - spanY * scale) / 2;
  const cx = (minX + maxX) / 2, cy = (minY + maxY) / 2;
  return {
    project: ([x, y]) => [ox + ((x - cx) * k + spanX / 2) * scale, oy + (spanY / 2 - (y - cy)) * scale],
    unproject: ([px, py]) => [cx + ((px - ox) / scale - spanX / 2) / k, cy + spanY / 2 - (py - oy) / scale],
    metresPerPixel: 111320 / scale,  // a degree of latitude is ~111.32 km
  };
}

// The fit under the user's zoom and pan.
function projection(width, height) {
  const v = state.view;
  const base = v.base || fit(width, height);
  if (!base) return null;
  return {
    project: (p) => { const [x, y] = base.project(p); return [x * v.zoom + v.x, y * v.zoom + v.y]; },
    unproject: ([px, py]) => base.unproject([(px - v.x) / v.zoom, (py - v.y) / v.zoom]),
    metresPerPixel: base.metresPerPixel / v.zoom,
  };
}

// A promoter's colour, from a palette that keeps clear of the alert kinds' red, orange and purple.
const PROMOTER_COLOURS = ["#1b7f79", "#2f6fb0", "#3f8f3a", "#8a5a2b", "#4b5d73",
                          "#0f9bb5", "#6b7a1f", "#274690", "#a14a76", "#2e4d3a"];
function colour(text) {
  let h = 0;
  for (const ch of text) h = (h * 31 + ch.charCodeAt(0)) >>> 0;
  return PROMOTER_COLOURS[h % PROMOTER_COLOURS.length];
}

function path(project, ring) {
  ring.forEach((p, i) => {
    const [x, y] = project(p);
    if (i === 0) ctx.moveTo(x, y); else ctx.lineTo(x, y);
  });
}

function drawWork(project, w) {
  const g = w.geometry, dpr = ratio;
  ctx.strokeStyle = ctx.fillStyle = colour(w.promoter || "");
  ctx.lineWidth = 3 * dpr;
  ctx.lineCap = ctx.lineJoin = "round";
  const polygons = g.type === "Polygon" ? [g.coordinates] : g.type === "MultiPolygon" ? g.coordinates : [];
  const lines = g.type === "LineString" ? [g.coordinates] : g.type === "MultiLineString" ? g.coordinates : [];
  const points = g.type === "Point" ? [g.coordinates] : g.type === "MultiPoint" ? g.coordinates : [];
  for (const poly of polygons) {
    ctx.beginPath();
    poly.forEach((ring) => { path(project, ring); ctx.closePath(); });
    ctx.globalAlpha = 0.25; ctx.fill("evenodd");
    ctx.globalAlpha = 1; ctx.stroke();
  }
  for (const line of lines) { ctx.beginPath(); path(project, line); ctx.stroke(); }
  for (const p of points) {
    const [x, y] = project(p);
    ctx.beginPath(); ctx.arc(x, y, 4 * dpr, 0, 2 * Math.PI); ctx.fill();
  }
}

const KIND_COLOURS = { clash: "#d7263d", collaboration: "#f29e02", restriction: "#7b2cbf" };

let drawn = null;  // the projection of the last frame drawn, for hit testing

function draw() {
  ctx.clearRect(0, 0, canvas.width, canvas.height);
  const view = projection(canvas.width, canvas.height);
  drawn = view;
  scaleBar(view);
  if (!view) return;
  const project = view.project;
  const dpr = ratio;
  drawAreas(project);
  for (const w of state.works.values()) drawWork(project, w);
  for (const a of openAlerts()) {
    const [x, y] = project(a.location.coordinates);
    const selected = a.alert_id === state.selected;
    ctx.beginPath();
    ctx.arc(x, y, (selected ? 11 : 7) * dpr, 0, 2 * Math.PI);
    ctx.fillStyle = KIND_COLOURS[a.kind] || "#333";
    ctx.globalAlpha = 0.8; ctx.fill(); ctx.globalAlpha = 1;
    ctx.lineWidth = (selected ? 3 : 1.5) * dpr;
    ctx.strokeStyle = "#fff"; ctx.stroke();
  }
}

// The authorities' areas: pale, the viewer's own (an authority key) tinted, each named where it
// is wide enough on screen for its name.
function drawAreas(project) {
  const dpr = ratio;
  ctx.lineWidth = 1 * dpr;
  ctx.font = `${12 * dpr}px system-ui, sans-serif`;
  ctx.textAlign = "center";
  ctx.textBaseline = "middle";
  for (const f of state.areas) {
    const own = state.viewer && state.viewer.role === "authority" && state.viewer.org === f.properties.code;
    ctx.beginPath();
    for (const poly of f.geometry.coordinates) poly.forEach((ring) => { path(project, ring); ctx.closePath(); });
    ctx.fillStyle = own ? "#e4eefc" : "#f1f3f6";
    ctx.fill("evenodd");
    ctx.strokeStyle = "#c3cad4";
    ctx.stroke();
  }
  for (const f of state.areas) {
    // The name at the middle of the area's largest polygon's box, if that box is 80 px wide.
    let best = null;
    for (const poly of f.geometry.coordinates) {
      const s = poly[0].map(project);
      const xs = s.map((q) => q[0]), ys = s.map((q) => q[1]);
      const box = [Math.min(...xs), Math.min(...ys), Math.max(...xs), Math.max(...ys)];
      if (!best || box[2] - box[0] > best[2] - best[0]) best = box;
    }
    if (!best || best[2] - best[0] < 80 * dpr) continue;
    const x = (best[0] + best[2]) / 2, y = (best[1] + best[3]) / 2;
    if (x < 0 || y < 0 || x > canvas.width || y > canvas.height) continue;
    ctx.fillStyle = "#5f6875";  // 5:1 on the pale areas
    ctx.fillText(f.properties.name, x, y);
  }
}

// The scale bar: the longest round length (1, 2 or 5 x 10^n m) that fits in 120 px.
function scaleBar(view) {
  const el = $("scale");
  el.hidden = !view;
  if (!view) return;
  const dpr = ratio;
  const mPerCssPx = view.metresPerPixel * dpr;
  const max = 120 * mPerCssPx;
  let metres = Math.pow(10, Math.floor(Math.log10(max)));
  for (const f of [5, 2]) if (metres * f <= max) { metres *= f; break; }
  $("scale-bar").style.width = `${Math.round(metres / mPerCssPx)}px`;
  $("scale-label").textContent = metres >= 1000 ? `${metres / 1000} km` : `${+metres.toPrecision(3)} m`;
}

// ---- what is under the pointer

function segmentDistance([px, py], [ax, ay], [bx, by]) {
  const dx = bx - ax, dy = by - ay, len = dx * dx + dy * dy;
  const t = len ? Math.max(0, Math.min(1, ((px - ax) * dx + (py - ay) * dy) / len)) : 0;
  return Math.hypot(px - (ax + t * dx), py - (ay + t * dy));
}

// The [minLon, minLat, maxLon, maxLat] of a GeoJSON geometry, kept per geometry object (a work's
// update brings a new one).
const boxes = new WeakMap();
function boxOf(geometry) {
  let b = boxes.get(geometry);
  if (!b) {
    b = [Infinity, Infinity, -Infinity, -Infinity];
    for (const [x, y] of positions(geometry.coordinates, [])) {
      b[0] = Math.min(b[0], x); b[1] = Math.min(b[1], y);
      b[2] = Math.max(b[2], x); b[3] = Math.max(b[3], y);
    }
    boxes.set(geometry, b);
  }
  return b;
}

// Screen distance (canvas px) from p to a work's geometry; 0 inside one of its areas.
function workDistance(project, w, p) {
  const g = w.geometry;
  let best = Infinity;
  const lines = g.type === "LineString" ? [g.coordinates] : g.type === "MultiLineString" ? g.coordinates
    : g.type === "Polygon" ? g.coordinates : g.type === "MultiPolygon" ? g.coordinates.flat() : [];
  for (const line of lines) {
    let prev = null;
    for (const q of line) {
      const s = project(q);
      best = Math.min(best, prev ? segmentDistance(p, prev, s) : Math.hypot(p[0] - s[0], p[1] - s[1]));
      prev = s;
    }
  }
  const points = g.type === "Point" ? [g.coordinates] : g.type === "MultiPoint" ? g.coordinates : [];
  for (const q of points) {
    const [x, y] = project(q);
    best = Math.min(best, Math.hypot(p[0] - x, p[1] - y));
  }
  const polygons = g.type === "Polygon" ? [g.coordinates] : g.type === "MultiPolygon" ? g.coordinates : [];
  if (polygons.length && best > 0) {
    ctx.beginPath();
    for (const poly of polygons) poly.forEach((ring) => { path(project, ring); ctx.closePath(); });
    if (ctx.isPointInPath(p[0], p[1], "evenodd")) best = 0;
  }
  return best;
}

// The alert marker, else the work nearest the canvas point (within 8 px), else the authority
// area holding it. Only what the last frame drew, and only the works and areas whose box comes
// within reach of the point, are looked at.
function hit(p) {
  const view = drawn;
  if (!view) return null;
  let found = null, best = Infinity;
  for (const a of openAlerts()) {
    const [x, y] = view.project(a.location.coordinates);
    const d = Math.hypot(p[0] - x, p[1] - y);
    const reach = (a.alert_id === state.selected ? 11 : 8) * ratio;
    if (d <= reach && d < best) { best = d; found = { alert: a }; }
  }
  if (found) return found;
  const [lon, lat] = view.unproject(p);
  const reachLat = (8 * ratio * view.metresPerPixel) / 111320;
  const reachLon = reachLat / Math.max(Math.cos((lat * Math.PI) / 180), 0.01);
  const near = (b) => lon >= b[0] - reachLon && lon <= b[2] + reachLon &&
    lat >= b[1] - reachLat && lat <= b[3] + reachLat;
  best = 8 * ratio;
  for (const w of state.works.values()) {
    if (!near(boxOf(w.geometry))) continue;
    const d = workDistance(view.project, w, p);
    if (d <= best) { best = d; found = { work: w }; }
  }
  if (found) return found;
  for (const f of state.areas) {
    if (!near(boxOf(f.geometry))) continue;
    ctx.beginPath();
    for (const poly of f.geometry.coordinates) poly.forEach((ring) => { path(view.project, ring); ctx.closePath(); });
    if (ctx.isPointInPath(p[0], p[1], "evenodd")) return { area: f };
  }
  return null;
}

// A work's day, as the alerts' reasons give it: in London (the server writes UTC times, and a
// start at 00:00 in summer time is 23:00Z the day before). As sent if it is not a time.
const londonDay = new Intl.DateTimeFormat("en-GB", {
  timeZone: "Europe/London", year: "numeric", month: "2-digit", day: "2-digit",
});
function day(t) {
  const when = new Date(t || "");
  if (Number.isNaN(when.getTime())) return (t || "").slice(0, 10);
  const part = Object.fromEntries(londonDay.formatToParts(when).map((p) => [p.type, p.value]));
  return `${part.year}-${part.month}-${part.day}`;
}

// A number with at most one decimal, and its unit, singular for exactly 1.
function count(n, unit) {
  const text = n >= 10 ? String(Math.round(n)) : String(Math.round(n * 10) / 10);
  return `${text} ${unit}${text === "1" ? "" : "s"}`;
}

// A collaboration's gap, in the unit a person reads at a glance (gap_days is exact to 0.1 s).
function apart(days) {
  const s = days * 86400;
  if (s < 60) return "under a minute apart";
  if (s < 3600) return `${count(Math.floor(s / 60), "minute")} apart`;
  if (s < 23.5 * 3600) return `${count(s / 3600, "hour")} apart`;  // then "1 day", not "24 hours"
  return `${count(days, "day")} apart`;
}

function describe(found) {
  if (found.area) return `${found.area.properties.name} · highway authority ${found.area.properties.code}`;
  if (found.alert) {
    const a = found.alert;
    return `${a.kind}: ${a.works.map((w) => w.work_ref).join(" / ")} · ${a.distance_m} m` +
      (a.gap_days > 0 ? ` · ${apart(a.gap_days)}` : "");
  }
  const w = found.work;
  return [w.work_ref, w.promoter, w.category || "standard", `${day(w.start)} → ${day(w.end)}`,
    w.street_name].filter(Boolean).join(" · ");
}

function canvasPoint(event) {
  const r = canvas.getBoundingClientRect();
  return [(event.clientX - r.left) * ratio, (event.clientY - r.top) * ratio];
}

// The tooltip for the last pointer position, at most once a frame.
let hoverFrame = 0, hoverEvent = null;
function hover(event) {
  hoverEvent = event;
  if (hoverFrame) return;
  hoverFrame = requestAnimationFrame(() => {
    hoverFrame = 0;
    const e = hoverEvent;
    const found = hit(canvasPoint(e));
    const tip = $("tip");
    tip.hidden = !found;
    if (!found) return;
    tip.textContent = describe(found);
    const r = canvas.getBoundingClientRect();
    tip.style.left = `${e.clientX - r.left + 12}px`;
    tip.style.top = `${e.clientY - r.top + 12}px`;
  });
}

// ---- zoom and pan

// Holds the current fit still, so that zoom and pan apply to a map that does not move by itself.
function holdFit() {
  if (!state.view.base) state.view.base = fit(canvas.width, canvas.height);
  return state.view.base;
}

// Zoom factors from 1/20 of the fit down to 2 cm a canvas pixel.
function clampZoom(base, zoom) {
  return Math.min(Math.max(zoom, 0.05), Math.max(base.metresPerPixel / 0.02, 1));
}

function zoomAt([px, py], factor) {
  const base = holdFit();
  if (!base) return;
  const v = state.view;
  const zoom = clampZoom(base, v.zoom * factor);
  const f = zoom / v.zoom;
  v.x = px - (px - v.x) * f;
  v.y = py - (py - v.y) * f;
  v.zoom = zoom;
  redraw();
}

function fitAll() {
  state.view = { zoom: 1, x: 0, y: 0, base: null };
  redraw();
}

// Zooms to the box of an alert's two works (as far as they are shown) and its location, at
// least 200 m across, in the part of the map the legend leaves clear.
function zoomTo(alert) {
  const base = holdFit();
  if (!base) return;
  const pts = [alert.location.coordinates];
  for (const ref of alert.works.map((w) => w.work_ref)) {
    const w = state.works.get(ref);
    if (w) positions(w.geometry.coordinates, pts);
  }
  const s = pts.map(base.project);
  const xs = s.map((q) => q[0]), ys = s.map((q) => q[1]);
  const least = 200 / base.metresPerPixel;
  const w = Math.max(Math.max(...xs) - Math.min(...xs), least);
  const h = Math.max(Math.max(...ys) - Math.min(...ys), least);
  const { pad, padBottom } = margins();
  const clearH = canvas.height - pad - padBottom;
  const zoom = clampZoom(base, Math.min((canvas.width - 2 * pad) / w, clearH / h));
  const cx = (Math.max(...xs) + Math.min(...xs)) / 2, cy = (Math.max(...ys) + Math.min(...ys)) / 2;
  state.view.zoom = zoom;
  state.view.x = canvas.width / 2 - cx * zoom;
  state.view.y = pad + clearH / 2 - cy * zoom;
  redraw();
}

function select(alert) {
  state.selected = state.selected === alert.alert_id ? null : alert.alert_id;
  if (state.selected) zoomTo(alert);
  render();
}

canvas.addEventListener("wheel", (event) => {
  event.preventDefault();
  $("tip").hidden = true;
  zoomAt(canvasPoint(event), Math.pow(1.2, -event.deltaY / 100));
}, { passive: false });

// Pointer events (mouse, pen, touch): the primary button drags the map; a press that does not
// move is a click, which selects the alert under it; two fingers pinch: the map zooms by the
// change in their distance, about their midpoint, and pans with it. The canvas captures the
// pointer, so a drag goes on over the legend and ends wherever the button is let go.
let drag = null;  // { id, x, y, moved } while the button is down
const down = new Map();  // pointerId -> [clientX, clientY], each pointer down on the canvas
let pinch = null;  // { dist, mid } of the first two pointers while both are down
function twoFingers() {
  const [a, b] = [...down.values()];
  return { dist: Math.hypot(a[0] - b[0], a[1] - b[1]), mid: [(a[0] + b[0]) / 2, (a[1] + b[1]) / 2] };
}
canvas.addEventListener("pointerdown", (event) => {
  if (event.button !== 0) return;
  event.preventDefault();  // no text selection in the side panel while dragging
  try {
    canvas.setPointerCapture(event.pointerId);
  } catch {
    // a pointer the browser no longer knows (lifted already): nothing to capture
  }
  if (event.isPrimary) down.clear();  // the first of a new touch: none can be down still
  down.set(event.pointerId, [event.clientX, event.clientY]);
  if (down.size === 2) {  // a second finger: the drag becomes a pinch
    drag = null;
    canvas.classList.remove("dragging");
    $("tip").hidden = true;
    pinch = twoFingers();
  } else if (down.size === 1) {
    drag = { id: event.pointerId, x: event.clientX, y: event.clientY, moved: false };
  }
});
canvas.addEventListener("pointermove", (event) => {
  if (pinch && down.has(event.pointerId)) {
    down.set(event.pointerId, [event.clientX, event.clientY]);
    if (!holdFit()) return;
    const now = twoFingers();
    state.view.x += (now.mid[0] - pinch.mid[0]) * ratio;
    state.view.y += (now.mid[1] - pinch.mid[1]) * ratio;
    if (pinch.dist > 0 && now.dist > 0) {
      zoomAt(canvasPoint({ clientX: now.mid[0], clientY: now.mid[1] }), now.dist / pinch.dist);
    } else {
      redraw();
    }
    pinch = now;
    return;
  }
  if (!drag || event.pointerId !== drag.id) return hover(event);
  const dx = event.clientX - drag.x, dy = event.clientY - drag.y;
  if (!drag.moved && Math.hypot(dx, dy) <= 3) return;
  if (!holdFit()) return;
  drag.moved = true;
  canvas.classList.add("dragging");
  $("tip").hidden = true;
  state.view.x += dx * ratio;
  state.view.y += dy * ratio;
  drag.x = event.clientX;
  drag.y = event.clientY;
  redraw();
});
function endDrag(event, click) {
  down.delete(event.pointerId);
  if (pinch) {  // the finger left after a pinch does not drag or click
    pinch = down.size >= 2 ? twoFingers() : null;  // a third finger takes over the pair
    return;
  }
  if (!drag || event.pointerId !== drag.id) return;
  const wasClick = click && !drag.moved;
  drag = null;
  canvas.classList.remove("dragging");
  if (wasClick) {
    const found = hit(canvasPoint(event));
    if (found && found.alert) select(found.alert);
  }
}
canvas.addEventListener("pointerup", (event) => endDrag(event, true));
canvas.addEventListener("pointercancel", (event) => endDrag(event, false));
canvas.addEventListener("pointerleave", () => { if (!drag) $("tip").hidden = true; });
canvas.addEventListener("dblclick", fitAll);
$("fit").addEventListener("click", fitAll);

// For the browser test: where a [lon, lat] is on the page (CSS pixels from the canvas's corner),
// and how many areas were loaded.
window.digonce = {
  areas: () => state.areas.length,
  alertsHeld: () => state.alerts.size,  // open alerts only: closed ones are dropped
  apart,
  day,
  screenOf(lonLat) {
    const view = projection(canvas.width, canvas.height);
    if (!view) return null;
    const [x, y] = view.project(lonLat);
    return [x / ratio, y / ratio];
  },
};

// ---- the list of open alerts

function list() {
  const alerts = openAlerts();
  $("counts").textContent = `${state.works.size} live works · ${alerts.length} open alerts`;
  $("no-alerts").hidden = alerts.length > 0;
  const ol = $("alerts");
  // The list is drawn anew: the item that had the keyboard's focus gets it back.
  const focusedItem = ol.contains(document.activeElement) ? document.activeElement : null;
  const focused = focusedItem ? focusedItem.dataset.id : null;
  const focusedAt = focusedItem ? [...ol.children].indexOf(focusedItem) : -1;
  ol.replaceChildren(...alerts.map((a) => {
    const li = document.createElement("li");
    li.className = a.kind + (a.alert_id === state.selected ? " selected" : "");
    li.dataset.id = a.alert_id;
    li.tabIndex = 0;  // Tab reaches each alert; Enter or Space selects it, as a click does
    if (a.alert_id === state.selected) li.setAttribute("aria-current", "true");
    const head = document.createElement("div");
    const kind = document.createElement("span");
    kind.className = "kind";
    kind.textContent = a.kind;
    const meta = document.createElement("span");
    meta.className = "meta";
    // The authorities whose area holds the place, then any a work names (TfL on a red route):
    // each of them is sent the alert.
    const named = a.works.map((w) => w.highway_authority)
      .filter((code) => code && !(a.highway_authorities || []).includes(code));
    const authorities = [...(a.highway_authorities || []), ...new Set(named)].join(", ") ||
      "no authority";
    meta.textContent = ` · ${a.works.map((w) => w.work_ref).join(" / ")} · ` +
      `${a.distance_m} m · authorities: ${authorities}`;
    head.append(kind, meta);
    const reason = document.createElement("p");
    reason.textContent = a.reason;
    li.append(head, reason);
    li.addEventListener("click", () => select(a));
    li.addEventListener("keydown", (event) => {
      if (event.key !== "Enter" && event.key !== " ") return;
      event.preventDefault();
      select(a);
    });
    return li;
  }));
  if (focused) {  // that item, or if it has gone (closed), the one now in its place
    const items = [...ol.children];
    (items.find((li) => li.dataset.id === focused) ||
      items[Math.min(focusedAt, items.length - 1)])?.focus();
  }
}

start();
