// fleetlake dashboard: plain JS, no CDN; live over Server-Sent Events.
"use strict";
const $ = (selector) => document.querySelector(selector);
const keyInput = $("#api-key");
keyInput.value = localStorage.getItem("fleetlake-key") || "";
keyInput.addEventListener("change", () => localStorage.setItem("fleetlake-key", keyInput.value));

async function api(path, options = {}) {
  const headers = Object.assign({ "X-API-Key": keyInput.value }, options.headers || {});
  const response = await fetch(path, Object.assign({}, options, { headers }));
  const body = response.headers.get("content-type")?.includes("json") ? await response.json() : await response.text();
  if (!response.ok) throw new Error(body?.error?.message || String(body));
  return body;
}
const esc = (text) => String(text ?? "").replace(/[&<>"]/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;" })[c]);
const fmt = (n) => Number(n || 0).toLocaleString("en");
const row = (cells) => "<tr>" + cells.map((c) => `<td>${c}</td>`).join("") + "</tr>";

// ---- pages: #name or #name/argument; each domain's script registers its loaders here.
const pageLoaders = { trips: () => loadTrips() };
function showPage() {
  const [page, ...rest] = (location.hash || "#ingestion").slice(1).split("/");
  document.querySelectorAll(".page").forEach((el) => (el.hidden = el.id !== "page-" + page));
  document.querySelectorAll("nav a[data-page]").forEach((a) => a.classList.toggle("active", a.dataset.page === page));
  if (pageLoaders[page]) pageLoaders[page](decodeURIComponent(rest.join("/")));
}
window.addEventListener("hashchange", showPage);

// ---- ingestion
let followed = null;
async function loadJobs() {
  const { data } = await api("/api/v1/ingestions?limit=15");
  $("#jobs tbody").innerHTML = data.map((j) => row([
    `<a href="#ingestion" data-job="${j.id}">${j.id}</a>`, `<span class="state ${j.state}">${j.state}</span>`,
    fmt(j.progress.rows_done), esc(j.created_at.slice(0, 19).replace("T", " ")), esc(j.error || "")])).join("");
  document.querySelectorAll("[data-job]").forEach((a) => a.addEventListener("click", () => followJob(Number(a.dataset.job))));
}

function renderJob(job) {
  $("#current-job").hidden = false;
  $("#job-id").textContent = job.id;
  const state = $("#job-state");
  state.textContent = job.state; state.className = "state " + job.state;
  renderProgress(job.progress);
  renderResults(job.results || []);
}
function renderProgress(p) {
  const share = p.bytes_total ? Math.min(100, (100 * p.bytes_done) / p.bytes_total) : 0;
  $("#job-bar").style.width = share.toFixed(1) + "%";
  $("#job-rows").textContent = fmt(p.rows_done);
  $("#job-rows").dataset.rows = p.rows_done;
  if (p.rows_per_s !== undefined) $("#job-rate").textContent = fmt(Math.round(p.rows_per_s));
  $("#job-bytes").textContent = p.bytes_total ? `${(p.bytes_done / 1e6).toFixed(1)} / ${(p.bytes_total / 1e6).toFixed(1)} MB` : "";
  $("#job-source").textContent = p.current_source || "";
}
function renderResults(results) {
  $("#job-results tbody").innerHTML = results.map((r) => row([esc(r.name), esc(r.status), fmt(r.rows_loaded),
    fmt(r.rows_quarantined), (r.duration_s || 0).toFixed(2), esc(r.reason || "")])).join("");
}
async function loadQuarantine(jobId) {
  const { data } = await api(`/api/v1/ingestions/${jobId}/quarantine?limit=200`);
  $("#job-quarantine tbody").innerHTML = data.map((q) =>
    row([esc(q.source.split("/").pop()), q.line ?? "", esc(q.reason), `<span class="raw">${esc(q.raw)}</span>`])).join("");
}

async function followJob(jobId) {
  if (followed) followed.close();
  const job = await api(`/api/v1/ingestions/${jobId}`);
  renderJob(job);
  loadQuarantine(jobId);
  const results = job.results ? [...job.results] : [];
  const stream = new EventSource(`/api/v1/ingestions/${jobId}/events`);
  followed = stream;
  stream.addEventListener("started", () => renderJob(Object.assign(job, { state: "running" })));
  stream.addEventListener("progress", (e) => {
    const message = JSON.parse(e.data);
    $("#job-state").textContent = "running"; $("#job-state").className = "state running";
    renderProgress(message.data);
  });
  stream.addEventListener("source_finished", (e) => {
    const result = JSON.parse(e.data).data;
    if (!results.some((r) => r.source === result.source && r.finished_at === result.finished_at)) results.push(result);
    renderResults(results);
    loadQuarantine(jobId);
  });
  for (const type of ["completed", "failed", "cancelled"]) {
    stream.addEventListener(type, (e) => { stream.close(); renderJob(JSON.parse(e.data).data); loadQuarantine(jobId); loadJobs(); });
  }
}

async function startIngestion(options) {
  $("#start-error").textContent = "";
  try {
    const accepted = await api("/api/v1/ingestions", Object.assign({ method: "POST" }, options));
    followJob(accepted.id);
    loadJobs();
  } catch (error) {
    $("#start-error").textContent = error.message;
  }
}
$("#upload-form").addEventListener("submit", (event) => {
  event.preventDefault();
  const body = new FormData();
  body.append("file", $("#upload-file").files[0]);
  startIngestion({ body });
});
$("#sources-form").addEventListener("submit", (event) => {
  event.preventDefault();
  const sources = $("#sources").value.split(/\s+/).filter(Boolean);
  startIngestion({ body: JSON.stringify({ sources, force: $("#force").checked }), headers: { "Content-Type": "application/json" } });
});

// Every job's events: new jobs appear, and the newest running one is followed live.
function listenToAll() {
  const stream = new EventSource("/api/v1/events");
  stream.onopen = () => $("#live").classList.add("on");
  stream.onerror = () => $("#live").classList.remove("on");
  stream.addEventListener("queued", () => loadJobs());
  stream.addEventListener("started", (e) => {
    const jobId = JSON.parse(e.data).job_id;
    if (!followed || followed.readyState === EventSource.CLOSED) followJob(jobId);
    loadJobs();
  });
  // Other pages hear every job's events as a "job-event" on the document.
  for (const type of ["queued", "started", "stage_started", "stage_finished", "completed", "failed", "cancelled"]) {
    stream.addEventListener(type, (e) => document.dispatchEvent(new CustomEvent("job-event", { detail: JSON.parse(e.data) })));
  }
}

// ---- trips
// A bar chart a reader can read: a y axis with its unit and ticks, the value over each bar,
// week labels with their year; `max` shares one scale between charts so they compare.
const niceCeil = (value) => {
  const power = 10 ** Math.floor(Math.log10(Math.max(value, 1)));
  return [1, 2, 2.5, 5, 10].map((m) => m * power).find((n) => n >= value);
};
function bars(points, label, { unit = "trips", max = null, yTitle = null, xTitle = null, format = fmt, empty = null } = {}) {
  if (!points.length) return `<p class='stats'>${esc(empty ?? `no ${unit} yet`)}</p>`;
  const top = niceCeil(max ?? Math.max(...points.map((p) => p.value ?? 0), 1));  // a null value: an empty slot
  const w = 760, h = 190, left = 56, base = h - 34, room = base - 18, step = (w - left) / points.length;
  const y = (v) => base - (v / top) * room;
  const ticks = yTicks(top, y, left, w);
  const labelled = points.length <= 40;
  const rects = points.map((p, i) => {
    const x = left + i * step, mid = x + step / 2;
    if (p.value === null) return labelled ? `<text class="week" x="${mid}" y="${base + 14}" text-anchor="middle">${esc(p.short)}</text>` : "";
    return `<rect x="${x + 2}" y="${y(p.value)}" width="${Math.max(step - 4, 1)}" height="${base - y(p.value)}" fill="${p.color || palette[0]}" data-value="${p.value}"><title>${esc(p.label)}: ${format(p.value)} ${unit}</title></rect>` +
      (labelled ? `<text class="value" x="${mid}" y="${y(p.value) - 3}" text-anchor="middle">${format(p.value)}</text>` +
        `<text class="week" x="${mid}" y="${base + 14}" text-anchor="middle">${esc(p.short)}</text>` : "");
  });
  const years = [...new Set(points.map((p) => p.year).filter(Boolean))].join("–");
  return `<svg viewBox="0 0 ${w} ${h}" role="img" aria-label="${esc(label)}" data-max="${top}">${ticks}${rects.join("")}` +
    `<text class="axis" x="12" y="${base - room / 2}" transform="rotate(-90 12 ${base - room / 2})" text-anchor="middle">${esc(yTitle ?? unit + " per week")}</text>` +
    `<text class="axis" x="${left + (w - left) / 2}" y="${h - 2}" text-anchor="middle">${esc(xTitle ?? "ISO week" + (years ? " of " + years : ""))}</text></svg>`;
}
// Okabe–Ito: told apart with every common colour-vision deficiency.
const palette = ["#0072B2", "#E69F00", "#009E73", "#CC79A7", "#56B4E9", "#D55E00", "#F0E442", "#000000"];
const weekPoint = (d, color) => ({ value: d.trips, label: `${d.year}-W${d.week}`, short: `W${d.week}`, year: d.year, color });
const isoWeekMonday = (year, week) => {
  const jan4 = new Date(Date.UTC(year, 0, 4));
  return new Date(jan4.getTime() + ((week - 1) * 7 - ((jan4.getUTCDay() + 6) % 7)) * 86400000).toISOString().slice(0, 10);
};
let weekly = [];
function drawWeekly() {
  const region = $("#weekly-region").value, from = $("#weekly-from").value, to = $("#weekly-to").value;
  const shown = weekly.filter((d) => (!region || d.region === region) &&
    (!from || isoWeekMonday(d.year, d.week) >= from) && (!to || isoWeekMonday(d.year, d.week) <= to));
  const regions = [...new Set(weekly.map((d) => d.region))];
  const max = Math.max(...shown.map((d) => d.trips), 1);  // one scale: regions compare at a glance
  $("#weekly-chart").innerHTML = regions.filter((r) => shown.some((d) => d.region === r)).map((r) =>
    `<h3><span class="swatch" style="background:${palette[regions.indexOf(r) % palette.length]}"></span>${esc(r)}</h3>` +
    bars(shown.filter((d) => d.region === r).map((d) => weekPoint(d, palette[regions.indexOf(r) % palette.length])), r, { max })).join("")
    || "<p class='stats'>no trips in these weeks</p>";
}

// Grid lines and labels at 0, half and the top of a chart's y scale, from x1 to x2.
const yTicks = (top, y, x1, x2) => [0, top / 2, top].map((t) => `<line class="grid" x1="${x1}" x2="${x2}" y1="${y(t)}" y2="${y(t)}"/>` +
  `<text class="tick" x="${x1 - 6}" y="${Number(y(t)) + 4}" text-anchor="end">${fmt(t)}</text>`).join("");
async function loadTrips() {
  ({ data: weekly } = await api("/api/v1/trips/weekly-counts"));
  const chosen = $("#weekly-region").value;
  $("#weekly-region").innerHTML = `<option value="">every region</option>` + [...new Set(weekly.map((d) => d.region))]
    .map((r) => `<option${r === chosen ? " selected" : ""}>${esc(r)}</option>`).join("");
  drawWeekly();
  loadGroups();
}
$("#weekly-form").addEventListener("submit", (event) => { event.preventDefault(); drawWeekly(); });
$("#average-form").addEventListener("submit", async (event) => {
  event.preventDefault();
  const query = new URLSearchParams();
  for (const [name, id] of [["region", "#avg-region"], ["bbox", "#avg-bbox"], ["start", "#avg-start"], ["end", "#avg-end"]]) {
    if ($(id).value) query.set(name, $(id).value);
  }
  query.set("match", $("#avg-match").value);
  try {
    const result = await api("/api/v1/trips/weekly-average?" + query);
    $("#avg-result").innerHTML = `<b id="avg-value">${result.weekly_average.toFixed(2)}</b> trips per week · ${fmt(result.trips)} trips over ${result.weeks} weeks`;
    $("#avg-chart").innerHTML = bars(result.per_week.map((w) => weekPoint(w, palette[0])), "trips per week in the area");
  } catch (error) {
    $("#avg-result").innerHTML = `<span class="error">${esc(error.message)}</span>`;
    $("#avg-chart").innerHTML = "";
  }
});
async function loadGroups() {
  const query = new URLSearchParams({ limit: $("#groups-limit").value || 10 });
  if ($("#groups-region").value) query.set("region", $("#groups-region").value);
  $("#groups-error").textContent = "";
  let data = [];
  try {
    ({ data } = await api("/api/v1/trip-groups?" + query));
  } catch (error) {
    $("#groups-error").textContent = error.message;  // an unknown region lists the known ones
  }
  const point = (p) => `${p.lon.toFixed(4)}, ${p.lat.toFixed(4)}`;
  $("#groups tbody").innerHTML = data.map((g, i) => row([i + 1, fmt(g.trips), esc(g.regions.join(", ")),
    `${g.time_window.start}–${g.time_window.end}`, point(g.origin), point(g.destination),
    g.first_seen.slice(0, 10), g.last_seen.slice(0, 10)])).join("");
  $("#groups-map").innerHTML = groupsMap(data);
}
// Each group as an origin → destination line, as wide as its share of trips, numbered as in the
// table; one map per region, since a city's lines vanish on a map of a continent.
function groupsMap(groups) {
  if (!groups.length) return "<p class='stats'>no groups yet</p>";
  const most = Math.max(...groups.map((g) => g.trips));
  const numbered = groups.map((g, i) => Object.assign({ n: i + 1 }, g));
  const regions = [...new Set(numbered.map((g) => g.region))];
  const arrow = `<defs><marker id="arrow" viewBox="0 0 10 10" refX="9" refY="5" markerWidth="5" markerHeight="5" orient="auto-start-reverse">` +
    `<path d="M0,0L10,5L0,10z"/></marker></defs>`;
  const maps = regions.map((region) => {
    const mine = numbered.filter((g) => g.region === region);
    const map = mapFrame(mine.flatMap((g) => [[g.origin.lon, g.origin.lat], [g.destination.lon, g.destination.lat]]),
      { maxWidth: regions.length > 1 ? 520 : 760, maxHeight: 300 });
    const seen = {};  // groups between the same places (other hours): their numbers staggered along the line
    const lines = mine.map((g) => {
      let [x1, y1, x2, y2] = [map.x(g.origin.lon), map.y(g.origin.lat), map.x(g.destination.lon), map.y(g.destination.lat)].map(Number);
      const length = Math.hypot(x2 - x1, y2 - y1) || 1, [nx, ny] = [(y2 - y1) / length, (x1 - x2) / length];
      [x1, y1, x2, y2] = [x1 + 3 * nx, y1 + 3 * ny, x2 + 3 * nx, y2 + 3 * ny];  // keep right: A→B and B→A apart
      const pair = [x1, y1, x2, y2].map((v) => Math.round(v / 30)).join();
      const k = (seen[pair] = (seen[pair] ?? -1) + 1), t = 0.3 + ((k * 0.13) % 0.5);
      const width = (1.5 + (4.5 * g.trips) / most).toFixed(1);
      return `<g class="group" data-group="${g.n}" data-trips="${g.trips}"><title>#${g.n}: ${fmt(g.trips)} trips, ${esc(g.regions.join(", "))}, ` +
        `${g.time_window.start}–${g.time_window.end}</title><line x1="${x1.toFixed(1)}" y1="${y1.toFixed(1)}" x2="${x2.toFixed(1)}" y2="${y2.toFixed(1)}" stroke-width="${width}" marker-end="url(#arrow)"/>` +
        `<circle cx="${x1.toFixed(1)}" cy="${y1.toFixed(1)}" r="3.5"/><text x="${(x1 + t * (x2 - x1) + 10 * nx).toFixed(1)}" y="${(y1 + t * (y2 - y1) + 10 * ny + 4).toFixed(1)}" text-anchor="middle">${g.n}</text></g>`;
    });
    return `<figure data-region="${esc(region)}"><figcaption>${esc(region)}</figcaption>${map.svg(`trip groups in ${region}, origin to destination`, arrow + lines.join(""))}</figure>`;
  });
  return `<div class="maps">${maps.join("")}</div><p class="legend">● origin → destination, numbered as in the table; line width ∝ trips (widest: ${fmt(most)})</p>`;
}
$("#groups-form").addEventListener("submit", (event) => { event.preventDefault(); loadGroups(); });

// Started after every script has registered its pages.
window.addEventListener("DOMContentLoaded", () => { showPage(); loadJobs(); listenToAll(); });
