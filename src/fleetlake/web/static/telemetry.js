// fleetlake dashboard, telemetry: fleet (table + offline map), vehicle day, top speeds, pipeline runs, refused messages.
"use strict";
const num = (value, digits = 1) => (value === null || value === undefined ? "" : Number(value).toFixed(digits));
const when = (iso) => (iso ? iso.slice(0, 19).replace("T", " ") : "");
const vehicleLink = (vin) => `<a href="#vehicle/${encodeURIComponent(vin)}">${esc(vin)}</a>`;
const nextDay = (day) => new Date(Date.parse(day + "T00:00:00Z") + 86400000).toISOString().slice(0, 10);

// ---- fleet
// A value the latest message did not carry is not current: it is shown with how much earlier it was seen.
const ago = (ms) => {
  const minutes = Math.round(ms / 60000);
  if (minutes < 60) return `${minutes} min`;
  const hours = Math.floor(minutes / 60);
  return hours < 48 ? `${hours} h ${minutes % 60} min` : `${Math.floor(hours / 24)} d`;
};
function age(v, field) {
  const at = v.seen_at && v.seen_at[field];
  if (!at || at === v.last_ts) return "";
  return ` <small class="stale" title="seen ${when(at)} UTC">(${ago(Date.parse(v.last_ts) - Date.parse(at))} earlier)</small>`;
}
function seen(v, field, digits = 1) {
  const value = v[field];
  if (value === null || value === undefined) return "";
  const shown = typeof value === "number" ? num(value, digits) : esc(value);
  return `<span class="value">${shown}</span>` + age(v, field);
}
let fleet = [], fleetNext = null;
async function loadFleet(more = false) {
  const query = new URLSearchParams({ limit: 1000 });
  if (more && fleetNext) query.set("after", fleetNext);
  const page = await api("/api/v1/vehicles?" + query);
  fleet = more ? fleet.concat(page.data) : page.data;
  fleetNext = page.next_after;
  $("#fleet-more").hidden = !fleetNext;
  $("#fleet-count").textContent = `· ${fmt(fleet.length)}${fleetNext ? "+" : ""} vehicles`;
  $("#fleet tbody").innerHTML = fleet.map((v) => row([vehicleLink(v.vin), when(v.last_ts), seen(v, "speed_kmh"),
    seen(v, "soc_pct"), seen(v, "range_km", 0), seen(v, "charging_state"), seen(v, "odometer_km", 0),
    v.lat === null || v.lon === null ? "" : `${num(v.lat, 5)}, ${num(v.lon, 5)}` + age(v, "lat")])).join("");
  $("#fleet-map").innerHTML = positionsMap(fleet.filter((v) => v.lat !== null && v.lon !== null));
}
$("#fleet-more").addEventListener("click", () => loadFleet(true));

// The last positions on the offline map frame (map.js), coloured by charging state.
function positionsMap(placed) {
  if (!placed.length) return "<p class='stats'>no positions yet</p>";
  const map = mapFrame(placed.map((v) => [v.lon, v.lat]));
  const dots = placed.map((v) => `<a href="#vehicle/${encodeURIComponent(v.vin)}"><circle class="vehicle ${esc(v.charging_state || "unknown")}" data-vin="${esc(v.vin)}" cx="${map.x(v.lon)}" cy="${map.y(v.lat)}" r="5"><title>${esc(v.vin)} · seen ${when(v.seen_at.lat)} UTC · ${v.seen_at.speed_kmh === v.last_ts ? num(v.speed_kmh) + " km/h" : "speed not reported then"} · ${num(v.soc_pct)} %</title></circle></a>`);
  $("#fleet-grid").textContent = String(Number(map.step.toPrecision(3)));
  const states = [...new Set(placed.map((v) => v.charging_state || "unknown"))].sort();
  const legend = states.map((s) => `<span><svg width="12" height="12"><circle class="vehicle ${esc(s)}" cx="6" cy="6" r="5"/></svg> ${esc(s)}</span>`);
  return map.svg("last positions", dots.join("")) + `<p class="legend">${legend.join(" ")}</p>`;
}

// ---- one vehicle: its last state, and a day of speed and SoC
async function loadVehicle(vin) {
  $("#vehicle-vin").textContent = vin;
  $("#vehicle-error").textContent = "";
  try {
    const state = await api(`/api/v1/vehicles/${encodeURIComponent(vin)}`);
    $("#vehicle-state tbody").innerHTML = Object.keys(state.seen_at).map((name) =>
      row([esc(name), esc(typeof state[name] === "number" ? num(state[name], 3) : state[name] ?? ""), when(state.seen_at[name])])).join("");
    const day = $("#vehicle-day");
    if (day.dataset.vin !== vin) { day.value = state.last_ts.slice(0, 10); day.dataset.vin = vin; }
    await loadVehicleDay(vin, day.value);
  } catch (error) {
    $("#vehicle-error").textContent = error.message;
  }
}
async function loadVehicleDay(vin, day) {
  const query = new URLSearchParams({ start: day + "T00:00:00Z", end: nextDay(day) + "T00:00:00Z", fields: "speed_kmh,soc_pct", every: 60 });
  const series = await api(`/api/v1/vehicles/${encodeURIComponent(vin)}/telemetry?` + query);
  $("#vehicle-speed").innerHTML = dayChart(series.data, "speed_kmh", day, { unit: "km/h" });
  $("#vehicle-soc").innerHTML = dayChart(series.data, "soc_pct", day, { unit: "%", top: 100 });
  await loadVehicleDays(vin, day);
}
// The 30 days up to `day` from gold's daily stats: distance and energy used as bars, all in the table.
async function loadVehicleDays(vin, day) {
  const start = new Date(Date.parse(day + "T00:00:00Z") - 29 * 86400000).toISOString().slice(0, 10);
  const { data } = await api(`/api/v1/vehicles/${encodeURIComponent(vin)}/daily?` + new URLSearchParams({ start, end: day }));
  const byDay = Object.fromEntries(data.map((d) => [d.date, d]));
  const days = Array.from({ length: 30 }, (_, i) => new Date(Date.parse(start + "T00:00:00Z") + i * 86400000).toISOString().slice(0, 10));
  // A day not reported, or whose value is unknown (no odometer, say), has no bar rather than a false 0.
  const points = (field, color) => days.map((d) => ({ value: byDay[d]?.[field] ?? null, label: d, short: d.slice(8), color }));
  const xTitle = `UTC day of the month, ${start} to ${day} (no bar: not reported)`, one = (n) => num(n, 1);
  $("#vehicle-distance").innerHTML = bars(points("distance_km", palette[0]), "distance per day",
    { unit: "km", yTitle: "km", xTitle, format: one });
  $("#vehicle-energy").innerHTML = bars(points("energy_used_kwh", palette[5]), "energy used per day",
    { unit: "kWh", yTitle: "kWh used", xTitle, format: one });
  $("#vehicle-days tbody").innerHTML = data.map((d) => row([d.date, one(d.distance_km), one(d.energy_used_kwh), one(d.energy_added_kwh),
    one(d.max_speed_kmh), d.soc_min_pct === null ? "" : `${one(d.soc_min_pct)}–${one(d.soc_max_pct)}`, fmt(d.messages)])).join("")
    || row(["no day with gold stats in these 30 days: run the pipeline", "", "", "", "", "", ""]);
}
$("#vehicle-form").addEventListener("submit", (event) => {
  event.preventDefault();
  const vin = $("#vehicle-vin").textContent;
  loadVehicleDay(vin, $("#vehicle-day").value).catch((error) => ($("#vehicle-error").textContent = error.message));
});

// A UTC day as a line (gaps where nothing was reported): a y axis in the unit, hours below.
function dayChart(rows, field, day, { unit, top = null }) {
  const points = rows.filter((r) => r[field] !== null);
  if (!points.length) return `<p class="stats">no ${esc(field)} on ${esc(day)}</p>`;
  const width = 760, height = 180, left = 56, right = 20, base = height - 34, room = base - 12;
  const start = Date.parse(day + "T00:00:00Z"), max = top ?? niceCeil(Math.max(...points.map((r) => r[field]), 1));
  const x = (ts) => (left + ((width - left - right) * (Date.parse(ts) - start)) / 86400000).toFixed(1);
  const y = (value) => (base - (room * value) / max).toFixed(1);
  let path = "", previous = null;
  for (const r of points) {  // a gap of over five minutes breaks the line
    const jump = previous === null || Date.parse(r.ts) - previous > 300000;
    path += `${jump ? "M" : "L"}${x(r.ts)},${y(r[field])} `;
    previous = Date.parse(r.ts);
  }
  const ticks = yTicks(max, y, left, width - right);
  const hours = [0, 3, 6, 9, 12, 15, 18, 21, 24].map((h) => `<text class="hour" x="${left + ((width - left - right) * h) / 24}" ` +
    `y="${base + 14}" text-anchor="middle">${String(h).padStart(2, "0")}:00</text>`).join("");
  return `<svg viewBox="0 0 ${width} ${height}" role="img" aria-label="${esc(field)} in ${esc(unit)} on ${esc(day)}" ` +
    `data-points="${points.length}" data-max="${max}">${ticks}${hours}<path class="line" d="${path}"/>` +
    `<text class="axis" x="12" y="${base - room / 2}" transform="rotate(-90 12 ${base - room / 2})" text-anchor="middle">${esc(unit)}</text>` +
    `<text class="axis" x="${left + (width - left - right) / 2}" y="${height - 2}" text-anchor="middle">hour of ${esc(day)} (UTC)</text></svg>`;
}

// ---- top speeds
$("#top-hour").innerHTML += Array.from({ length: 24 }, (_, h) => `<option value="${h}">${h}:00</option>`).join("");
async function loadTopSpeeds() {
  $("#top-error").textContent = "";
  if (!$("#top-day").value) {  // the newest day any vehicle reported
    const { data } = await api("/api/v1/vehicles?limit=1000");
    const newest = data.map((v) => v.last_ts).sort().pop();
    if (!newest) return;
    $("#top-day").value = newest.slice(0, 10);
  }
  const query = new URLSearchParams({ date: $("#top-day").value });
  if ($("#top-hour").value) query.set("hour", $("#top-hour").value);
  try {
    const { data } = await api("/api/v1/reports/top-speeds?" + query);
    const day = encodeURIComponent($("#top-day").value);
    $("#top-csv").href = `/api/v1/reports/top-speeds.csv?date=${day}`;
    $("#top-html").href = `/api/v1/reports/top-speeds.html?date=${day}`;
    $("#top-chart").innerHTML = topChart(data, $("#top-day").value);
    $("#top-speeds tbody").innerHTML = data.map((r) => row([r.hour.slice(11, 16), r.rank, vehicleLink(r.vin),
      num(r.speed_kmh), when(r.ts), r.lat === null ? "" : `${num(r.lat, 5)}, ${num(r.lon, 5)}`])).join("")
      || row([$("#top-hour").value ? "no vehicle reported a valid speed in this hour" : "no report for this day yet: run the pipeline", "", "", "", "", ""]);
  } catch (error) {
    $("#top-error").textContent = error.message;
  }
}
// The fastest vehicle of each hour (rank 1), or of the chosen hour its ranking, as bars in km/h.
function topChart(rows, day) {
  const oneHour = $("#top-hour").value !== "";
  const shown = oneHour ? rows : rows.filter((r) => r.rank === 1);
  const points = shown.map((r) => ({ value: r.speed_kmh, label: `${r.hour.slice(11, 16)} #${r.rank} ${r.vin}`,
    short: oneHour ? `#${r.rank}` : r.hour.slice(11, 13), color: palette[0] }));
  return bars(points, "top speeds", { unit: "km/h", yTitle: "km/h", format: (n) => num(n, 0), empty: "no speeds to chart",
    xTitle: oneHour ? `rank in ${$("#top-hour").value}:00 UTC of ${day}` : `UTC hour of ${day} (the fastest vehicle)` });
}
$("#top-form").addEventListener("submit", (event) => { event.preventDefault(); loadTopSpeeds(); });

// ---- pipeline runs, live
const runningStage = {};
async function loadPipeline() {
  const { data } = await api("/api/v1/jobs?kind=telemetry.pipeline&limit=20");
  $("#pipeline-runs tbody").innerHTML = data.map((job) => {
    const stages = job.results && job.results.length ? [...job.results] : [];
    if (job.state === "running" && runningStage[job.id] && !stages.some((s) => s.name === runningStage[job.id])) {
      stages.push({ name: runningStage[job.id], status: "running" });
    }
    const first = [`<span data-run="${job.id}">${job.id}</span>`, `<span class="state ${job.state}">${job.state}</span>`];
    const reason = job.error ? `<tr class="run-error" data-run-error="${job.id}"><td colspan="9">why: ${esc(job.error)}</td></tr>` : "";
    if (!stages.length) return row([...first, "", esc(job.params?.engine || ""), "", "", "", "", when(job.created_at)]) + reason;
    return stages.map((s) => row([...first, esc(s.name) + (s.status === "running" ? " …" : ""), esc(s.engine || job.params?.engine || ""),
      s.rows_in === undefined ? "" : fmt(s.rows_in), fmt(s.rows_loaded), dropped(s.dropped),
      s.duration_s === undefined ? "" : num(s.duration_s, 2), when(job.created_at)])).join("") + reason;
  }).join("");
}
const dropped = (reasons) => (reasons ? Object.entries(reasons).map(([why, n]) => `${esc(why)} ${fmt(n)}`).join(", ") || "0" : "");
$("#pipeline-form").addEventListener("submit", async (event) => {
  event.preventDefault();
  $("#pipeline-error").textContent = "";
  const body = { full_refresh: $("#pipeline-full").checked };
  if ($("#pipeline-engine").value) body.engine = $("#pipeline-engine").value;
  try {
    await api("/api/v1/pipeline/runs", { method: "POST", body: JSON.stringify(body), headers: { "Content-Type": "application/json" } });
    loadPipeline();
  } catch (error) {
    $("#pipeline-error").textContent = error.message;
  }
});
document.addEventListener("job-event", (event) => {
  const message = event.detail;
  if (message.type === "stage_started") runningStage[message.job_id] = message.data.stage;
  if (!$("#page-pipeline").hidden) loadPipeline();
  if (message.type === "completed" && !$("#page-fleet").hidden) loadFleet();
});

// ---- refused messages (bronze quarantine)
let refused = [], refusedNext = null;
async function loadRefused(more = false) {
  $("#refused-error").textContent = "";
  const query = new URLSearchParams({ limit: 200 });
  if ($("#refused-day").value) query.set("date", $("#refused-day").value);
  if (more && refusedNext) query.set("after", refusedNext);
  try {
    const page = await api("/api/v1/telemetry/quarantine?" + query);
    refused = more ? refused.concat(page.data) : page.data;
    refusedNext = page.next_after;
    const chosen = page.date || "";
    $("#refused-day").innerHTML = page.days.map((d) => `<option${d === chosen ? " selected" : ""}>${esc(d)}</option>`).join("");
    $("#refused-count").textContent = page.date ? `· ${fmt(page.total)} on ${page.date}` : "· none";
    $("#refused-more").hidden = !refusedNext;
    $("#refused tbody").innerHTML = refused.map((r) => row([when(r.received_at), esc(r.source), r.position ?? "",
      `<span class="reason">${esc(r.reason)}</span>`, `<code class="raw">${esc(r.raw.slice(0, 160))}</code>`])).join("");
  } catch (error) {
    $("#refused-error").textContent = error.message;
  }
}
$("#refused-form").addEventListener("submit", (event) => { event.preventDefault(); loadRefused(); });
$("#refused-more").addEventListener("click", () => loadRefused(true));

Object.assign(pageLoaders, {
  fleet: () => loadFleet(),
  vehicle: (vin) => loadVehicle(vin),
  "top-speeds": () => loadTopSpeeds(),
  pipeline: () => loadPipeline(),
  refused: () => loadRefused(),
});
