// fleetlake dashboard, sensor monitoring: templates and their level, a template's sensors on its
// plan with the leak estimate, each sensor's series with its deviations shaded, live events.
"use strict";
const M = "/api/v1/monitoring";
const LEVEL_RANK = { ok: 0, warning: 1, critical: 2 };
const utc = (iso) => (iso ? iso.slice(0, 16).replace("T", " ") : "");

async function latestLevels() {  // template id → its newest event (the level it is at)
  const { data } = await api(`${M}/events?limit=1000`);
  const found = {};
  for (const e of data) if (!(e.template_id in found)) found[e.template_id] = e;
  return found;
}

async function loadTemplates() {
  const [{ data: platforms }, { data: templates }, latest] = await Promise.all(
    [api(`${M}/platforms`), api(`${M}/templates`), latestLevels()]);
  const names = Object.fromEntries(platforms.map((p) => [p.id, p.name]));
  $("#mon-templates tbody").innerHTML = templates.map((t) => {
    const level = latest[t.id]?.level ?? "ok";
    return `<tr data-template="${t.id}">` + [esc(names[t.platform_id]), `<a href="#monitoring/${t.id}">${esc(t.name)}</a>`,
      `<span class="level ${level}">${level}</span>`, utc(latest[t.id]?.at), fmt(t.internal_volume_m3)].map((c) => `<td>${c}</td>`).join("") + "</tr>";
  }).join("");
  $("#mon-empty").hidden = templates.length > 0;
  return templates;
}

// A sensor's level now: its last deviation interval's.
async function sensorState(sensor) {
  if (!sensor.last_reading_at) return { sensor, level: "ok", deviations: [], series: null };
  const end = new Date(Date.parse(sensor.last_reading_at) + 1000).toISOString();
  const start = new Date(Date.parse(end) - 86400e3).toISOString();
  const range = `start=${encodeURIComponent(start)}&end=${encodeURIComponent(end)}`;
  const [{ data: deviations }, series] = await Promise.all(
    [api(`${M}/sensors/${sensor.id}/deviations?${range}`), api(`${M}/sensors/${sensor.id}/series?${range}`)]);
  return { sensor, level: deviations.length ? deviations[deviations.length - 1].level : "ok", deviations, series };
}

async function loadTemplate(id) {
  const [template, { data: sensors }] = await Promise.all([api(`${M}/templates/${id}`), api(`${M}/sensors?template_id=${id}`)]);
  const leak = await api(`${M}/templates/${id}/leak`).catch(() => null);
  const states = await Promise.all(sensors.map(sensorState));
  $("#mon-template-name").textContent = template.name;
  $("#mon-plan").innerHTML = planView(template, states, leak);
  $("#mon-leak").textContent = leak
    ? `Leak estimate: ${leak.rate_kg_h.toFixed(2)} kg/h (95 % ${leak.rate_kg_h_low.toFixed(2)}–${leak.rate_kg_h_high.toFixed(2)}), ` +
      `from x ${leak.source.x_m} m, y ${leak.source.y_m} m, z ${leak.source.z_m} m, since ${utc(leak.started_at)} UTC`
    : "No leak estimate: the template has not been critical.";
  $("#mon-series").innerHTML = states.map((s) => `<figure data-sensor="${s.sensor.id}"><figcaption>${esc(s.sensor.name)} ` +
    `<span class="level ${s.level}">${s.level}</span></figcaption>${seriesChart(s)}</figure>`).join("");
  await loadEvents(id);
}

// The template from above: x along its length, y along its width; sensors coloured by level.
function planView(t, states, leak) {
  const w = 520, pad = 30, scale = (w - 2 * pad) / Math.max(t.length_m, t.width_m), h = t.width_m * scale + 2 * pad;
  const x = (m) => pad + m * scale, y = (m) => h - pad - m * scale;
  const dots = states.map(({ sensor: s, level }) => `<g class="sensor ${level}" data-sensor="${s.id}" data-level="${level}">` +
    `<circle cx="${x(s.x_m)}" cy="${y(s.y_m)}" r="9"/><text x="${x(s.x_m) + 12}" y="${y(s.y_m) + 4}">${esc(s.name)}</text></g>`).join("");
  const mark = leak ? `<g class="leak" data-rate="${leak.rate_kg_h}"><path d="M${x(leak.source.x_m) - 8},${y(leak.source.y_m) - 8}l16,16m0,-16l-16,16"/>` +
    `<text x="${x(leak.source.x_m) + 10}" y="${y(leak.source.y_m) - 10}">${leak.rate_kg_h.toFixed(2)} kg/h</text></g>` : "";
  return `<svg viewBox="0 0 ${w} ${h}" role="img" aria-label="template ${esc(t.name)} from above">` +
    `<rect class="outline" x="${x(0)}" y="${y(t.width_m)}" width="${t.length_m * scale}" height="${t.width_m * scale}"/>` +
    `<text x="${x(t.length_m / 2)}" y="${h - 8}" text-anchor="middle">${t.length_m} m</text>` +
    `<text x="10" y="${y(t.width_m / 2)}" transform="rotate(-90 10 ${y(t.width_m / 2)})" text-anchor="middle">${t.width_m} m</text>${dots}${mark}</svg>`;
}

// A day of min/mean/max buckets, the deviation intervals shaded behind.
function seriesChart({ series, deviations }) {
  if (!series || !series.data.length) return `<p class="stats">no readings yet</p>`;
  const w = 760, h = 150, left = 50, right = 10, base = h - 24, room = base - 10;
  const t0 = Date.parse(series.start), t1 = Date.parse(series.end);
  const lo = Math.min(...series.data.map((p) => p.min)), hi = Math.max(...series.data.map((p) => p.max));
  const span = hi - lo || 1, bottom = lo >= 0 ? Math.max(0, lo - span * 0.05) : lo - span * 0.05, top = hi + span * 0.05;
  const x = (iso) => (left + ((w - left - right) * (Date.parse(iso) - t0)) / (t1 - t0)).toFixed(1);
  const y = (v) => (base - (room * (v - bottom)) / (top - bottom)).toFixed(1);
  const shaded = deviations.filter((d) => d.level !== "ok").map((d) => {
    const a = Math.max(Number(x(d.start)), left), b = Math.min(Number(x(d.end)), w - right);
    return `<rect class="deviation ${d.level}" data-level="${d.level}" x="${a}" y="${base - room}" width="${Math.max(b - a, 1.5)}" height="${room}"/>`;
  }).join("");
  const band = series.data.map((p) => `${x(p.ts)},${y(p.max)}`).join(" ") + " " +
    series.data.slice().reverse().map((p) => `${x(p.ts)},${y(p.min)}`).join(" ");
  const mean = series.data.map((p, i) => `${i ? "L" : "M"}${x(p.ts)},${y(p.mean)}`).join("");
  const ticks = [bottom, (bottom + top) / 2, top].map((v) => `<line class="grid" x1="${left}" x2="${w - right}" y1="${y(v)}" y2="${y(v)}"/>` +
    `<text x="${left - 5}" y="${Number(y(v)) + 4}" text-anchor="end">${v.toFixed(2)}</text>`).join("");
  return `<svg viewBox="0 0 ${w} ${h}" role="img" aria-label="ppmv" data-buckets="${series.data.length}">${shaded}${ticks}` +
    `<polygon class="band" points="${band}"/><path class="line" d="${mean}"/>` +
    `<text x="${left}" y="${h - 6}">${utc(series.start)}</text><text x="${w - right}" y="${h - 6}" text-anchor="end">${utc(series.end)} UTC · ppmv</text></svg>`;
}

async function loadEvents(templateId) {
  const { data } = await api(`${M}/events?template_id=${templateId}&limit=50`);
  $("#mon-events tbody").innerHTML = data.map((e) => `<tr data-event="${e.id}" data-state="${e.state}">` + [e.id, utc(e.at),
    `<span class="level ${e.level}">${e.level}</span>`, esc(e.message), e.state,
    e.state === "open" ? `<button type="button" class="ack" data-event="${e.id}">Acknowledge</button>` : esc(lastBy(e))]
    .map((c) => `<td>${c}</td>`).join("") + "</tr>").join("");
}
const lastBy = (e) => { const a = (e.actions || []).filter((x) => x.action !== "comment").pop(); return a ? `${a.by} ${utc(a.at)}` : ""; };

$("#mon-events").addEventListener("click", async (event) => {
  const button = event.target.closest("button.ack");
  if (!button) return;
  $("#mon-error").textContent = "";
  try {
    await api(`${M}/events/${button.dataset.event}/acknowledge`, { method: "POST", headers: { "Content-Type": "application/json" },
      body: JSON.stringify({ by: $("#mon-by").value || "dashboard" }) });
  } catch (error) { $("#mon-error").textContent = error.message; }
});

let monitoringStream = null, shownTemplate = null;
function followMonitoring() {
  if (monitoringStream) return;
  monitoringStream = new EventSource(`${M}/events/stream`);
  const refresh = () => {
    if ($("#page-monitoring").hidden) return;
    loadTemplates().catch(() => {});
    if (shownTemplate) loadTemplate(shownTemplate).catch((error) => ($("#mon-error").textContent = error.message));
  };
  for (const type of ["template.level_changed", "event.updated"]) monitoringStream.addEventListener(type, refresh);
}
pageLoaders.monitoring = async (id) => {
  followMonitoring();
  $("#mon-error").textContent = "";
  try {
    const templates = await loadTemplates();
    shownTemplate = id ? Number(id) : templates[0]?.id ?? null;
    $("#mon-detail").hidden = shownTemplate === null;
    if (shownTemplate !== null) await loadTemplate(shownTemplate);
  } catch (error) { $("#mon-error").textContent = error.message; }
};
