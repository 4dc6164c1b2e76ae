// digonce dashboard: live works and alerts from the gateway's WebSocket (/v1/stream), drawn on a
// canvas with an equirectangular projection fitted to the data. No library, no network access
// beyond this server.
"use strict";

const KEY_STORAGE = "digonce.apiKey";
const state = {
  key: localStorage.getItem(KEY_STORAGE) || "",
  works: new Map(),   // work_ref -> work (geometry in EPSG:4326)
  alerts: new Map(),  // alert_id -> alert at its latest revision
  selected: null,     // alert_id
  socket: null,
  retryMs: 1000,
};

const $ = (id) => document.getElementById(id);

// ---- the key

function askForKey(message) {
  if (state.socket) { state.socket.onclose = null; state.socket.close(); state.socket = null; }
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
  start();
});
$("change-key").addEventListener("click", () => {
  localStorage.removeItem(KEY_STORAGE);
  askForKey("");
});

// A WebSocket that fails its handshake does not say why: ask the REST API first, so that a bad
// key is reported as such.
async function start() {
  if (!state.key) return askForKey("");
  try {
    const res = await fetch("/v1/alerts?state=open", {
      headers: { Authorization: "Bearer " + state.key },
    });
    if (res.status === 401) return askForKey("This key is not known to the server.");
    if (res.status === 403)
      return askForKey("This key may not read works and alerts (a feed key only posts the feed).");
  } catch (err) {
    // the server is down: connect() retries
  }
  $("key-form").hidden = true;
  $("key-error").textContent = "";
  $("main").hidden = false;
  $("change-key").hidden = false;
  resize();
  connect();
}

// ---- the live stream

function setStatus(text, cls) {
  const s = $("status");
  s.textContent = text;
  s.className = "status " + cls;
}

function connect() {
  const scheme = location.protocol === "https:" ? "wss" : "ws";
  const url = `${scheme}://${location.host}/v1/stream?key=${encodeURIComponent(state.key)}`;
  const ws = new WebSocket(url);
  state.socket = ws;
  setStatus("connecting…", "");
  ws.onopen = () => {
    state.retryMs = 1000;
    setStatus("loading…", "");
  };
  ws.onmessage = (event) => {
    const msg = JSON.parse(event.data);
    if (msg.type === "snapshot") {
      $("who").textContent = `${msg.data.viewer.org} (${msg.data.viewer.role})`;
      state.works = new Map(msg.data.works.map((w) => [w.work_ref, w]));
      state.alerts = new Map(msg.data.alerts.map((a) => [a.alert_id, a]));
      setStatus("live", "live");  // once what it shows is the server's state, not before
    } else if (msg.type === "work") {
      if (msg.data.removed) state.works.delete(msg.data.work_ref);
      else state.works.set(msg.data.work_ref, msg.data);
    } else if (msg.type === "alert") {
      const held = state.alerts.get(msg.data.alert_id);
      if (!held || held.revision <= msg.data.revision) state.alerts.set(msg.data.alert_id, msg.data);
    }
    render();
  };
  ws.onclose = (event) => {
    state.socket = null;
    const why = event.reason ? ` (${event.reason})` : "";
    setStatus(`disconnected${why}: retrying in ${Math.round(state.retryMs / 1000)} s`, "down");
    setTimeout(start, state.retryMs);
    state.retryMs = Math.min(state.retryMs * 2, 15000);
  };
}

// ---- drawing

const canvas = $("map");
const ctx = canvas.getContext("2d");
let frame = 0;

function render() {
  if (!frame) frame = requestAnimationFrame(() => { frame = 0; draw(); list(); });
}

function resize() {
  const r = canvas.getBoundingClientRect();
  const dpr = window.devicePixelRatio || 1;
  canvas.width = Math.max(1, Math.round(r.width * dpr));
  canvas.height = Math.max(1, Math.round(r.height * dpr));
  render();
}
window.addEventListener("resize", resize);

function openAlerts() {
  return [...state.alerts.values()]
    .filter((a) => a.state === "open" || a.state === "updated")
    .sort((a, b) => a.kind.localeCompare(b.kind) || a.alert_id.localeCompare(b.alert_id));
}

// Every [lon, lat] of a GeoJSON coordinates array, however nested.
function positions(coords, out) {
  if (typeof coords[0] === "number") out.push(coords);
  else for (const c of coords) positions(c, out);
  return out;
}

// An equirectangular projection (x scaled by cos(latitude)) fitted to the box of everything.
function projection(width, height) {
  let minX = Infinity, minY = Infinity, maxX = -Infinity, maxY = -Infinity;
  const add = ([x, y]) => {
    minX = Math.min(minX, x); maxX = Math.max(maxX, x);
    minY = Math.min(minY, y); maxY = Math.max(maxY, y);
  };
  for (const w of state.works.values()) positions(w.geometry.coordinates, []).forEach(add);
  for (const a of openAlerts()) add(a.location.coordinates);
  if (minX > maxX) return null;
  const k = Math.cos(((minY + maxY) / 2) * Math.PI / 180);
  const spanX = Math.max((maxX - minX) * k, 1e-5), spanY = Math.max(maxY - minY, 1e-5);
  // 30 px around everything, and the legend's band kept clear at the bottom.
  const dpr = window.devicePixelRatio || 1;
  const pad = 30 * dpr;
  const legend = document.querySelector(".legend");
  const padBottom = Math.max(pad, ((legend ? legend.offsetHeight : 0) + 16) * dpr);
  const scale = Math.min((width - 2 * pad) / spanX, (height - pad - padBottom) / spanY);
  const ox = (width - spanX * scale) / 2, oy = pad + (height - pad - padBottom - spanY * scale) / 2;
  const cx = (minX + maxX) / 2, cy = (minY + maxY) / 2;
  return ([x, y]) => [
    ox + ((x - cx) * k + spanX / 2) * scale,
    oy + (spanY / 2 - (y - cy)) * scale,
  ];
}

function colour(text) {
  let h = 0;
  for (const ch of text) h = (h * 31 + ch.charCodeAt(0)) % 360;
  return `hsl(${h}, 55%, 42%)`;
}

function path(project, ring) {
  ring.forEach((p, i) => {
    const [x, y] = project(p);
    if (i === 0) ctx.moveTo(x, y); else ctx.lineTo(x, y);
  });
}

function drawWork(project, w) {
  const g = w.geometry, dpr = window.devicePixelRatio || 1;
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

function draw() {
  ctx.clearRect(0, 0, canvas.width, canvas.height);
  const project = projection(canvas.width, canvas.height);
  if (!project) return;
  const dpr = window.devicePixelRatio || 1;
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

// ---- the list of open alerts

function list() {
  const alerts = openAlerts();
  $("counts").textContent = `${state.works.size} live works · ${alerts.length} open alerts`;
  $("no-alerts").hidden = alerts.length > 0;
  const ol = $("alerts");
  ol.replaceChildren(...alerts.map((a) => {
    const li = document.createElement("li");
    li.className = a.kind + (a.alert_id === state.selected ? " selected" : "");
    const head = document.createElement("div");
    const kind = document.createElement("span");
    kind.className = "kind";
    kind.textContent = a.kind;
    const meta = document.createElement("span");
    meta.className = "meta";
    const authorities = (a.highway_authorities || []).join(", ") || "no authority";
    meta.textContent = ` · ${a.works.map((w) => w.work_ref).join(" / ")} · ` +
      `${a.distance_m} m · authorities: ${authorities}`;
    head.append(kind, meta);
    const reason = document.createElement("p");
    reason.textContent = a.reason;
    li.append(head, reason);
    li.addEventListener("click", () => {
      state.selected = state.selected === a.alert_id ? null : a.alert_id;
      render();
    });
    return li;
  }));
}

start();
