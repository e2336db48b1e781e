// fleetlake dashboard, charging lot: every parked car's charge, power now and ready time, live.
"use strict";
const clock = (iso) => (iso ? iso.slice(11, 16) + (iso.slice(0, 10) === new Date().toISOString().slice(0, 10) ? "" : ` ${iso.slice(5, 10)}`) : "");

// A charge bar: the charge now, a mark at the target.
function chargeBar(car) {
  const target = Math.min(100, car.desired_pct);
  return `<div class="charge" title="${car.soc_pct.toFixed(1)} % of ${car.total_charge_kwh} kWh; target ${target} %">` +
    `<div class="fill${car.ready ? " ready" : ""}" style="width:${Math.min(100, car.soc_pct)}%"></div>` +
    `<div class="target" style="left:${target}%"></div></div>`;
}
function readyCell(car) {
  if (car.ready) return `<span class="state succeeded">ready</span> <small>since ${clock(car.ready_at)} UTC</small>`;
  if (!car.reaches_target) return `<span class="state failed">not by departure</span>`;
  return `${clock(car.ready_at)} UTC`;
}
let lotStream = null;
async function loadLot() {
  const [{ data }, plan] = await Promise.all([api("/api/v1/charging/vehicles"), api("/api/v1/charging/plan")]);
  const ready = data.filter((car) => car.ready).length;
  const limit = plan.site_limit_kw === null ? "no site limit" : `site limit ${fmt(plan.site_limit_kw)} kW`;
  $("#lot-summary").textContent = `· ${fmt(data.length)} cars, ${fmt(ready)} ready, drawing ${plan.power_now_kw.toFixed(1)} kW (${limit})`;
  $("#lot tbody").innerHTML = data.map((car) => `<tr data-plate="${esc(car.plate)}">` + [esc(car.plate), chargeBar(car),
    `${car.current_charge_kwh.toFixed(1)} / ${car.total_charge_kwh}`, `${car.soc_pct.toFixed(0)} → ${car.desired_pct} %`,
    car.power_kw.toFixed(1), readyCell(car), car.departure ? `${clock(car.departure)} UTC` : ""].map((c) => `<td>${c}</td>`).join("") + "</tr>").join("");
  $("#lot-empty").hidden = data.length > 0;
  $("#lot-load").innerHTML = loadChart(plan);
}
// The planned draw of the next 24 hours as a step line under the site limit.
function loadChart(plan) {
  const now = Date.now(), end = now + 24 * 3600e3;
  const points = plan.load.map((p) => [Math.max(now, Date.parse(p.at)), p.power_kw]).filter(([t]) => t <= end);
  if (!points.length) return "<p class='stats'>nothing planned</p>";
  const top = niceCeil(Math.max(plan.site_limit_kw ?? 0, ...points.map(([, kw]) => kw), 1));
  const w = 760, h = 170, left = 56, base = h - 30, room = base - 14;
  const x = (t) => left + ((t - now) / (end - now)) * (w - left - 8), y = (kw) => base - (kw / top) * room;
  let path = `M${x(points[0][0])},${y(points[0][1])}`;
  points.slice(1).forEach(([t, kw], i) => { path += `H${x(t)}V${y(kw)}`; if (i === points.length - 2) path += `H${x(end)}`; });
  if (points.length === 1) path += `H${x(end)}`;
  const hours = [0, 6, 12, 18, 24].map((hh) => `<text x="${x(now + hh * 3600e3)}" y="${base + 16}" text-anchor="middle">+${hh} h</text>`).join("");
  const limit = plan.site_limit_kw === null ? "" : `<line class="limit" x1="${left}" x2="${w - 8}" y1="${y(plan.site_limit_kw)}" y2="${y(plan.site_limit_kw)}"/><text x="${w - 10}" y="${y(plan.site_limit_kw) - 4}" text-anchor="end">limit</text>`;
  return `<svg viewBox="0 0 ${w} ${h}" role="img" aria-label="planned draw">${yTicks(top, y, left, w)}${limit}<path class="line" d="${path}"/>${hours}` +
    `<text class="axis" x="12" y="${base / 2}" transform="rotate(-90 12 ${base / 2})" text-anchor="middle">kW</text></svg>`;
}
function followLot() {
  if (lotStream) return;
  lotStream = new EventSource("/api/v1/charging/events");
  for (const type of ["vehicle.ready", "vehicle.plan_changed", "vehicle.departed"]) {
    lotStream.addEventListener(type, () => { if (!$("#page-charging").hidden) loadLot(); });
  }
  document.addEventListener("job-event", (e) => { if (e.detail.data?.kind === "charging.import" || e.detail.type === "completed") loadLot(); });
  setInterval(() => { if (!$("#page-charging").hidden) loadLot(); }, 15000);  // charges move between events
}
pageLoaders.charging = () => { followLot(); loadLot().catch((error) => ($("#lot-error").textContent = error.message)); };
