// The dashboard in a real browser (Debian's chromium, headless, driven by playwright-core):
// `digonce serve` on its embedded broker; a wrong key and a feed key are refused with a message;
// Westminster's key connects, sees "live", and a clash submitted over the API appears in the
// list within seconds, live, with both works and the authority; a click selects it, as Enter and
// Space do; gaps and days read as a person reads them; the map's authority areas, scale bar,
// tooltips, wheel zoom, drag, pinch and Fit work; Camden's key, in another browser context, sees
// no alert; a cancelled work's clash leaves the list and the page's memory; no console errors;
// reconnection honours Retry-After and backs off (on a paused clock); a late answer for a key
// changed since changes nothing. A screenshot goes to $DIGONCE_BROWSER_OUT.
//
//   DIGONCE_BIN=build/bin/digonce node tests/browser/dashboard.test.mjs
import { spawn } from "node:child_process";
import { mkdtempSync, mkdirSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { chromium } from "playwright-core";

const here = dirname(fileURLToPath(import.meta.url));
const root = resolve(here, "../..");
const bin = process.env.DIGONCE_BIN || join(root, "build/bin/digonce");
const browserPath = process.env.DIGONCE_CHROMIUM || "/usr/bin/chromium";
const outDir = process.env.DIGONCE_BROWSER_OUT || join(root, "build/browser-test");
const work = mkdtempSync(join(tmpdir(), "digonce-browser-"));
let server;
let browser;
let serverLog = "";
let failed = false;

const ok = (what) => console.log(`ok: ${what}`);
function fail(what) {
  failed = true;
  throw new Error(what);
}

async function startServer() {
  server = spawn(bin, ["--log-level", "info", "serve", "--http", "127.0.0.1:0",
    "--data-dir", join(work, "data"), "--api-keys", join(root, "config/dev-api-keys.yaml")],
  { stdio: ["ignore", "pipe", "pipe"] });
  const collect = (chunk) => { serverLog += chunk.toString(); };
  server.stdout.on("data", collect);
  server.stderr.on("data", collect);
  const deadline = Date.now() + 60000;
  let base = "";
  while (Date.now() < deadline) {
    if (server.exitCode !== null) fail(`digonce serve exited during start-up (${server.exitCode})`);
    const m = serverLog.match(/HTTP API at (http:\/\/[0-9.:]+)/);
    if (m) base = m[1];
    if (base) {
      try {
        if ((await fetch(`${base}/healthz`)).status === 200) return base;
      } catch { /* not yet */ }
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  fail("digonce serve not healthy within 60 s");
}

async function post(base, key, work) {
  const res = await fetch(`${base}/v1/works`, {
    method: "POST",
    headers: { Authorization: `Bearer ${key}`, "Content-Type": "application/json" },
    body: JSON.stringify(work),
  });
  if (res.status !== 202) fail(`POST /v1/works: ${res.status} ${await res.text()}`);
}

async function connectWith(page, key) {
  await page.fill("#key", key);
  await page.click("#key-form button[type=submit]");
}

async function main() {
  const base = await startServer();
  ok(`serve up at ${base}`);
  browser = await chromium.launch({
    executablePath: browserPath,
    headless: true,
    args: ["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage"],
  });

  const errors = [];
  const westminster = await browser.newPage({ viewport: { width: 1280, height: 800 }, hasTouch: true });
  westminster.on("console", (m) => { if (m.type() === "error") errors.push(m.text()); });
  westminster.on("pageerror", (e) => errors.push(String(e)));
  await westminster.goto(base);
  await westminster.waitForSelector("#key-form:not([hidden])", { timeout: 10000 });
  await westminster.waitForTimeout(300);  // a favicon request, say, comes after the load
  if (errors.length) fail(`browser errors on loading the page: ${errors.join(" | ")}`);
  ok("the dashboard asks for a key (no console errors on loading it)");

  await connectWith(westminster, "not-a-key");
  await westminster.waitForFunction(
    () => document.getElementById("key-error").textContent.includes("not known"),
    null, { timeout: 10000 });
  ok(`a wrong key is refused: "${await westminster.textContent("#key-error")}"`);

  await connectWith(westminster, "dev-feed-key");
  await westminster.waitForFunction(
    () => document.getElementById("key-error").textContent.includes("may not read"),
    null, { timeout: 10000 });
  if (!(await westminster.isVisible("#key-form"))) fail("a feed key left the key form");
  ok(`a feed key is refused too: "${await westminster.textContent("#key-error")}"`);
  errors.length = 0;  // the refused keys' 401 and 403 are logged by the browser: expected

  await connectWith(westminster, "dev-westminster-key");
  await westminster.waitForFunction(
    () => document.getElementById("status").textContent === "live", null, { timeout: 15000 });
  const who = await westminster.textContent("#who");
  if (!who.includes("5990")) fail(`the header does not name the viewer: "${who}"`);
  ok(`Westminster's key connects: status "live", viewer "${who}"`);
  if (await westminster.isVisible("#key-form")) fail("the key form is still shown once connected");
  if (!(await westminster.isVisible("#no-alerts"))) fail("'No open alerts.' is not shown at first");
  await westminster.waitForFunction(() => window.digonce.areas() === 33, null, { timeout: 10000 });
  ok("the map shows London's 33 authority areas before any work");
  const map = await westminster.locator("#map").boundingBox();
  if (!map || map.height < 600) fail(`the map is ${map && map.height} px high in an 800 px window`);

  const camden = await (await browser.newContext()).newPage();
  camden.on("pageerror", (e) => errors.push(String(e)));
  await camden.goto(base);
  await connectWith(camden, "dev-camden-key");
  await camden.waitForFunction(
    () => document.getElementById("status").textContent === "live", null, { timeout: 15000 });

  // Two lines a couple of metres apart in Whitehall, overlapping in time: one clash.
  const submitted = Date.now();
  await post(base, "dev-stpr-key", {
    work_ref: "UI-A-1", promoter: "STPR", start: "2026-03-16", end: "2026-03-20",
    geometry: { type: "LineString", coordinates: [[-0.12700, 51.50300], [-0.12650, 51.50400]] },
  });
  await post(base, "dev-tfl-key", {
    work_ref: "UI-B-1", promoter: "TFL", start: "2026-03-18T07:00:00Z", end: "2026-03-25T18:00:00Z",
    geometry: { type: "LineString", coordinates: [[-0.12697, 51.50302], [-0.12647, 51.50402]] },
  });
  const item = westminster.locator("#alerts li.clash");
  await item.first().waitFor({ timeout: 20000 });
  const seconds = ((Date.now() - submitted) / 1000).toFixed(1);
  const text = await item.first().textContent();
  for (const part of ["clash", "UI-A-1 / UI-B-1", "authorities: 5990"])
    if (!text.includes(part)) fail(`the alert item lacks "${part}": "${text}"`);
  if ((await item.count()) !== 1) fail(`${await item.count()} clash items, expected 1`);
  const counts = await westminster.textContent("#counts");
  if (!counts.includes("2 live works") || !counts.includes("1 open alerts"))
    fail(`counts: "${counts}"`);
  if (await westminster.isVisible("#no-alerts")) fail("'No open alerts.' still shown");
  ok(`the clash appears live ${seconds} s after the second POST: "${text.slice(0, 90)}…"; ${counts}`);

  await item.first().click();
  await westminster.waitForSelector("#alerts li.clash.selected", { timeout: 5000 });
  ok("a click selects the alert");

  // The keyboard: Enter on the focused alert toggles its selection, as a click does, and the
  // list drawn anew gives the focus back to it.
  await item.first().focus();
  await westminster.keyboard.press("Enter");
  await westminster.waitForSelector("#alerts li.clash:not(.selected)", { timeout: 5000 });
  await westminster.keyboard.press(" ");
  await westminster.waitForSelector("#alerts li.clash.selected[aria-current=true]", { timeout: 5000 });
  const focusedId = await westminster.evaluate(() => document.activeElement.dataset.id || "");
  if (!focusedId.startsWith("clash-")) fail(`after Enter and Space the focus is on "${focusedId}"`);
  ok("Enter and Space select an alert from the keyboard; the focus stays on it");

  // Gaps and days as a person reads them (gap_days has 6 decimals; times come in UTC).
  const shown = await westminster.evaluate(() => [
    [0.0002, 0.001042, 0.03, 0.5, 0.99, 1, 1.234722, 89.999988].map(window.digonce.apart),
    ["2027-06-09T23:00:00Z", "2026-01-15T23:30:00Z", "2026-03-16T00:30:00+01:00", "soon"]
      .map(window.digonce.day)]);
  const expected = [
    ["under a minute apart", "1 minute apart", "43 minutes apart", "12 hours apart",
      "1 day apart", "1 day apart", "1.2 days apart", "90 days apart"],
    ["2027-06-10", "2026-01-15", "2026-03-15", "soon"]];
  if (JSON.stringify(shown) !== JSON.stringify(expected))
    fail(`gaps and days: ${JSON.stringify(shown)}, expected ${JSON.stringify(expected)}`);
  ok(`gaps and days read as a person reads them: ${shown[0].join(", ")}; London days`);

  // The map: a scale bar; a tooltip names what is under the pointer; the wheel zooms; Fit fits.
  const metres = (label) => {
    const m = label.match(/^([0-9.]+) (m|km)$/);
    if (!m) fail(`the scale bar reads "${label}"`);
    return Number(m[1]) * (m[2] === "km" ? 1000 : 1);
  };
  await westminster.click("#fit");
  await westminster.waitForTimeout(100);
  const fitted = metres(await westminster.textContent("#scale-label"));
  const box = await westminster.locator("#map").boundingBox();
  const hover = async (lonLat) => {
    const [x, y] = await westminster.evaluate((p) => window.digonce.screenOf(p), lonLat);
    await westminster.mouse.move(box.x + x, box.y + y);
    await westminster.waitForTimeout(100);
    return (await westminster.isVisible("#tip")) ? await westminster.textContent("#tip") : "";
  };
  const alertJson = await (await fetch(`${base}/v1/alerts?state=open`, {
    headers: { Authorization: "Bearer dev-westminster-key" } })).json();
  const location = alertJson.alerts[0].location.coordinates;
  const onAlert = await hover(location);
  if (!onAlert.startsWith("clash: UI-A-1 / UI-B-1")) fail(`the tooltip on the alert: "${onAlert}"`);
  const onWork = await hover([-0.12700, 51.50300]);
  if (!onWork.startsWith("UI-A-1 · STPR · standard · 2026-03-16 → 2026-03-20"))
    fail(`the tooltip on work UI-A-1: "${onWork}"`);
  await westminster.mouse.move(box.x + 40, box.y + 40);
  await westminster.waitForTimeout(100);
  const onArea = (await westminster.isVisible("#tip")) ? await westminster.textContent("#tip") : "";
  if (onArea !== "Westminster · highway authority 5990") fail(`the tooltip off the works: "${onArea}"`);
  await westminster.mouse.move(box.x + box.width / 2, box.y + box.height / 2);
  await westminster.mouse.wheel(0, -500);
  await westminster.waitForTimeout(200);
  const zoomed = metres(await westminster.textContent("#scale-label"));
  if (!(zoomed < fitted)) fail(`the wheel did not zoom in: scale ${fitted} m, then ${zoomed} m`);
  // A drag pans: the alert's place on the screen follows the pointer.
  const [ax, ay] = await westminster.evaluate((p) => window.digonce.screenOf(p), location);
  await westminster.mouse.move(box.x + box.width / 2, box.y + box.height / 2);
  await westminster.mouse.down();
  await westminster.mouse.move(box.x + box.width / 2 + 60, box.y + box.height / 2 + 40, { steps: 5 });
  await westminster.mouse.up();
  await westminster.waitForTimeout(100);
  const [bx, by] = await westminster.evaluate((p) => window.digonce.screenOf(p), location);
  if (Math.abs(bx - ax - 60) > 2 || Math.abs(by - ay - 40) > 2)
    fail(`a drag of (60, 40) moved the alert by (${(bx - ax).toFixed(1)}, ${(by - ay).toFixed(1)})`);
  await westminster.click("#fit");
  await westminster.waitForTimeout(100);
  const refitted = metres(await westminster.textContent("#scale-label"));
  if (refitted !== fitted) fail(`Fit gave a scale of ${refitted} m, not ${fitted} m`);
  ok(`the map: scale bar ${fitted} m, ${zoomed} m zoomed in, a drag pans, ${refitted} m after Fit; tooltips ` +
     `"${onAlert}", "${onWork}" and "${onArea}"`);
  if ((await westminster.locator("#alerts li.clash.selected").count()) !== 1)
    fail("the alert is no longer selected after zoom and Fit");
  // Two fingers pinch: spread from 40 to 80 px apart about the middle of the fitted map, it zooms
  // 2x about it (the scale bar's metres fall), and a place keeps its side of the middle, 2x as far.
  const touch = await westminster.context().newCDPSession(westminster);
  const mid = [box.x + box.width / 2, box.y + box.height / 2];
  const fingers = (half) => [{ x: mid[0] - half, y: mid[1], id: 1 }, { x: mid[0] + half, y: mid[1], id: 2 }];
  const before = await westminster.evaluate((p) => window.digonce.screenOf(p), location);
  const beforeScale = metres(await westminster.textContent("#scale-label"));
  await touch.send("Input.dispatchTouchEvent", { type: "touchStart", touchPoints: fingers(20) });
  for (const half of [25, 30, 35, 40])
    await touch.send("Input.dispatchTouchEvent", { type: "touchMove", touchPoints: fingers(half) });
  await touch.send("Input.dispatchTouchEvent", { type: "touchEnd", touchPoints: [] });
  await westminster.waitForTimeout(200);
  const after = await westminster.evaluate((p) => window.digonce.screenOf(p), location);
  const pinchedScale = metres(await westminster.textContent("#scale-label"));
  const [cx, cy] = [box.width / 2, box.height / 2];
  const want = [cx + (before[0] - cx) * 2, cy + (before[1] - cy) * 2];
  if (Math.abs(after[0] - want[0]) > 3 || Math.abs(after[1] - want[1]) > 3)
    fail(`a pinch of 2x put the alert at (${after.map((v) => v.toFixed(1))}), expected ` +
         `(${want.map((v) => v.toFixed(1))}) from (${before.map((v) => v.toFixed(1))})`);
  if (!(pinchedScale < beforeScale)) fail(`a pinch did not zoom in: scale ${beforeScale} m, then ${pinchedScale} m`);
  await westminster.click("#fit");
  await westminster.waitForTimeout(100);
  ok(`a two-finger pinch zooms 2x about its middle (scale ${beforeScale} m, then ${pinchedScale} m)`);

  // Camden has had as long; its list must still be empty (per-role visibility).
  await camden.waitForTimeout(500);
  if ((await camden.locator("#alerts li").count()) !== 0) fail("Camden sees Westminster's alert");
  ok("Camden's key sees no alert");

  // An alert whose new revision lies in another authority's area leaves the first one's list
  // (the stream sends it as removed) and reaches the other's. A line across the Westminster /
  // Camden boundary by Tottenham Court Road, and a point by its Westminster end, then by its
  // Camden end.
  await post(base, "dev-stpr-key", {
    work_ref: "UI-C-1", promoter: "STPR", start: "2026-04-01", end: "2026-04-10",
    geometry: { type: "LineString", coordinates: [[-0.131004, 51.516516], [-0.130204, 51.517116]] },
  });
  await post(base, "dev-tfl-key", {
    work_ref: "UI-D-1", promoter: "TFL", version: 1, start: "2026-04-05", end: "2026-04-06",
    geometry: { type: "Point", coordinates: [-0.130984, 51.516506] },
  });
  const moving = (page) => page.locator("#alerts li.clash", { hasText: "UI-C-1 / UI-D-1" });
  await moving(westminster).first().waitFor({ timeout: 20000 });
  await post(base, "dev-tfl-key", {
    work_ref: "UI-D-1", promoter: "TFL", version: 2, start: "2026-04-05", end: "2026-04-06",
    geometry: { type: "Point", coordinates: [-0.130224, 51.517126] },
  });
  await moving(camden).first().waitFor({ timeout: 20000 });
  await moving(westminster).first().waitFor({ state: "detached", timeout: 5000 })
    .catch(() => fail("Westminster still lists the clash after it moved into Camden's area"));
  ok("an alert that moves into Camden's area leaves Westminster's list and reaches Camden's");

  mkdirSync(outDir, { recursive: true });
  await westminster.screenshot({ path: join(outDir, "dashboard.png") });
  ok(`screenshot: ${join(outDir, "dashboard.png")}`);

  // A work cancelled closes its clash: the alert leaves the list and is not kept (a tab left open
  // for weeks holds the open alerts only), and its selection goes with it.
  const cancelled = await fetch(`${base}/v1/works/UI-A-1`, {
    method: "DELETE", headers: { Authorization: "Bearer dev-stpr-key" },
  });
  if (cancelled.status !== 202) fail(`DELETE /v1/works/UI-A-1: ${cancelled.status}`);
  await westminster.locator("#alerts li", { hasText: "UI-A-1 / UI-B-1" }).first()
    .waitFor({ state: "detached", timeout: 20000 })
    .catch(() => fail("the clash of a cancelled work is still listed"));
  const held = await westminster.evaluate(() => window.digonce.alertsHeld());
  const listed = await westminster.locator("#alerts li").count();
  if (held !== listed) fail(`${held} alerts held for ${listed} listed: closed ones are kept`);
  if (await westminster.locator("#alerts li.selected").count()) fail("a closed alert is selected");
  ok(`a cancelled work's clash leaves the list and the page's memory (${held} held, ${listed} listed)`);
  if (errors.length) fail(`browser errors: ${errors.join(" | ")}`);
  ok("no errors in the browser console");

  await reconnects(base);
  await keyChangeRace(base);
}

// How the page comes back when the server refuses it or closes its stream, on a paused clock
// (time moves only when the test moves it): the server's Retry-After is honoured, the backoff
// doubles, a stream closed soon after its snapshot (a client closed as too slow) does not restart
// the backoff, one live for over 30 s does. The status check and the stream are the test's own
// (page.route, page.routeWebSocket); the page and its areas come from the server.
async function reconnects(base) {
  const context = await browser.newContext();
  await context.clock.install({ time: new Date("2026-12-01T10:00:00Z") });
  await context.clock.pauseAt(new Date("2026-12-01T10:00:01Z"));
  const page = await context.newPage();
  const errors = [];
  page.on("pageerror", (e) => errors.push(String(e)));
  const answers = [
    { status: 429, headers: { "Retry-After": "7" } },
    { status: 503 },
  ];
  let checks = 0;
  await page.route("**/v1/alerts?state=open&limit=1", (route) => {
    const answer = answers[checks++] || { status: 200 };
    route.fulfill({
      ...answer, contentType: "application/json",
      body: answer.status === 200 ? '{"alerts":[]}' : '{"error":"busy"}',
    });
  });
  let stream = null;
  let streams = 0;
  await page.routeWebSocket(/\/v1\/stream/, (ws) => {
    stream = ws;
    ++streams;
    ws.send(JSON.stringify({
      type: "snapshot",
      data: { viewer: { org: "5990", role: "authority" }, works: [], alerts: [] },
    }));
  });
  const status = () => page.textContent("#status");
  const statusIs = async (want, what) => {
    await page.waitForFunction((w) => document.getElementById("status").textContent === w, want,
      { timeout: 10000 }).catch(async () => fail(`${what}: status "${await status()}", not "${want}"`));
  };

  await page.goto(base);
  await connectWith(page, "dev-westminster-key");
  await statusIs("disconnected (the server answered 429): retrying in 7 s", "a 429 with Retry-After: 7");
  await context.clock.fastForward(6000);
  if (checks !== 1) fail(`asked again ${checks - 1} time(s) before the server's Retry-After`);
  await context.clock.fastForward(1000);
  await statusIs("disconnected (the server answered 503): retrying in 2 s", "a 503 after the 429");
  ok("a 429's Retry-After is waited out; a 503 after it waits the doubled backoff, 2 s");
  await context.clock.fastForward(2000);
  await statusIs("live", "the third check answered 200");
  if (streams !== 1) fail(`${streams} streams opened, not 1`);

  stream.close({ code: 1008, reason: "too slow" });
  await statusIs("disconnected (too slow): retrying in 4 s", "a stream closed just after its snapshot");
  const heading = await page.textContent("#alerts-heading");
  if (!heading.includes("not live")) fail(`the heading says "${heading}" while disconnected`);
  ok("a stream closed just after its snapshot backs off further (4 s), the list marked not live");
  await context.clock.fastForward(4000);
  await statusIs("live", "the reconnection after 4 s");
  if (streams !== 2) fail(`${streams} streams opened, not 2`);
  if ((await page.textContent("#alerts-heading")) !== "Open alerts") fail("the heading stayed 'not live'");
  await context.clock.fastForward(31000);
  stream.close({ code: 1012, reason: "restart" });
  await statusIs("disconnected (restart): retrying in 1 s", "a stream closed after 31 s live");
  ok("a stream live for over 30 s starts the backoff again (1 s)");
  await context.clock.fastForward(1000);
  await statusIs("live", "the reconnection after 1 s");
  if (checks !== 5 || streams !== 3) fail(`${checks} checks and ${streams} streams, not 5 and 3`);
  if (errors.length) fail(`browser errors: ${errors.join(" | ")}`);
  ok("each reconnection asks once and opens one stream (5 checks, 3 streams)");
  await context.close();
}

// A key changed while the server still thinks about the old one: the late answer for the old key
// (here a 401) must not undo what the user did since (ask for a key again, or open a second
// stream). The checks and the stream are the test's own; the first check is held until the second
// key is live.
async function keyChangeRace(base) {
  const context = await browser.newContext();
  const page = await context.newPage();
  const errors = [];
  page.on("pageerror", (e) => errors.push(String(e)));
  let release = null;
  await page.route("**/v1/alerts?state=open&limit=1", (route) => {
    const key = route.request().headers()["authorization"];
    if (key === "Bearer dev-westminster-key") {
      release = () => route.fulfill({ status: 401, contentType: "application/json",
                                       body: '{"error":"unknown API key"}' });
    } else {
      route.fulfill({ status: 200, contentType: "application/json", body: '{"alerts":[]}' });
    }
  });
  const streams = [];
  await page.routeWebSocket(/\/v1\/stream/, (ws) => {
    streams.push(new URL(ws.url()).searchParams.get("key"));
    ws.send(JSON.stringify({
      type: "snapshot",
      data: { viewer: { org: "5210", role: "authority" }, works: [], alerts: [] },
    }));
  });
  await page.goto(base);
  await connectWith(page, "dev-westminster-key");
  for (let i = 0; i < 100 && !release; ++i) await page.waitForTimeout(50);
  if (!release) fail("the first key's check never reached the server");
  await connectWith(page, "dev-camden-key");  // the form is still shown: the first is unanswered
  await page.waitForFunction(() => document.getElementById("status").textContent === "live", null,
    { timeout: 10000 }).catch(() => fail("the second key did not go live while the first waited"));
  await release();
  await page.waitForTimeout(500);  // the late answer's turn
  const status = await page.textContent("#status");
  if (status !== "live") fail(`after the first key's late 401 the status is "${status}"`);
  if (await page.isVisible("#key-form")) fail("the first key's late 401 brought the key form back");
  if (streams.join() !== "dev-camden-key") fail(`streams opened for: ${streams.join(", ")}`);
  if (!(await page.textContent("#who")).includes("5210")) fail("the viewer is not Camden's");
  if (errors.length) fail(`browser errors: ${errors.join(" | ")}`);
  ok("a key changed while the old one's check is unanswered: its late 401 changes nothing (one stream)");
  await context.close();
}

try {
  await main();
  console.log("PASS");
} catch (e) {
  console.error(`FAIL: ${e.message}`);
  console.error("---- last lines of the server log:");
  console.error(serverLog.split("\n").slice(-30).join("\n"));
  failed = true;
} finally {
  if (browser) await browser.close().catch(() => {});
  if (server && server.exitCode === null) {
    server.kill("SIGTERM");
    await new Promise((r) => { server.on("exit", r); setTimeout(r, 15000); });
  }
  rmSync(work, { recursive: true, force: true });
  process.exit(failed ? 1 : 0);
}
