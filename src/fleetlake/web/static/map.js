// fleetlake dashboard, shared: an offline map frame (no tiles, nothing fetched) for any domain's points.
"use strict";

// A round step (1, 2 or 5 × 10^k) giving about `count` steps over `span`.
function roundStep(span, count = 5) {
  const raw = span / count, power = 10 ** Math.floor(Math.log10(raw));
  return [1, 2, 5, 10].map((m) => m * power).find((step) => step >= raw);
}

// Frames [lon, lat] points on an equirectangular projection scaled by cos(latitude), north up:
// x/y place a point; `svg(label, body)` draws body over the graticule (in degrees) with a scale bar.
function mapFrame(points, { maxWidth = 760, maxHeight = 460 } = {}) {
  const lats = points.map((p) => p[1]), lons = points.map((p) => p[0]);
  const pad = Math.max(0.005, (Math.max(...lats) - Math.min(...lats)) * 0.08, (Math.max(...lons) - Math.min(...lons)) * 0.08);
  let south = Math.min(...lats) - pad, north = Math.max(...lats) + pad, west = Math.min(...lons) - pad, east = Math.max(...lons) + pad;
  const squeeze = Math.cos(((south + north) / 2) * Math.PI / 180);
  const aspect = ((east - west) * squeeze) / (north - south), wanted = maxWidth / maxHeight;
  if (aspect < wanted) {  // widen (or heighten) about the centre: the frame fills the space given
    const grow = ((north - south) * wanted / squeeze - (east - west)) / 2; west -= grow; east += grow;
  } else {
    const grow = ((east - west) * squeeze / wanted - (north - south)) / 2; south -= grow; north += grow;
  }
  const scale = Math.min(maxWidth / ((east - west) * squeeze), maxHeight / (north - south));  // px per degree of latitude
  const width = (east - west) * squeeze * scale, height = (north - south) * scale;
  const x = (lon) => ((lon - west) * squeeze * scale).toFixed(1), y = (lat) => ((north - lat) * scale).toFixed(1);
  const step = roundStep(Math.max(north - south, east - west));
  const digits = Math.max(0, -Math.floor(Math.log10(step)));
  const lines = [];
  for (let lat = Math.ceil(south / step) * step; lat <= north; lat += step) {
    lines.push(`<line class="grid" x1="0" x2="${width}" y1="${y(lat)}" y2="${y(lat)}"/><text x="2" y="${Number(y(lat)) - 2}">${lat.toFixed(digits)}°</text>`);
  }
  for (let lon = Math.ceil(west / step) * step; lon <= east; lon += step) {
    if (Number(x(lon)) > width - 28) continue;  // its label would be cut at the edge
    lines.push(`<line class="grid" y1="0" y2="${height}" x1="${x(lon)}" x2="${x(lon)}"/><text x="${Number(x(lon)) + 2}" y="${height - 2}">${lon.toFixed(digits)}°</text>`);
  }
  const kmPerPx = 111.32 / scale;  // a degree of latitude is 111.32 km
  const km = roundStep(width * kmPerPx / 4, 1), bar = km / kmPerPx;
  const label = km >= 1 ? `${Number(km.toPrecision(3))} km` : `${Math.round(km * 1000)} m`;
  const scaleBar = `<g class="scale" data-km="${km}" data-px="${bar.toFixed(1)}" transform="translate(${(width - bar - 12).toFixed(1)},22)">` +
    `<rect x="-4" y="-14" width="${(bar + 8).toFixed(1)}" height="22" rx="3"/><path d="M0,0v4h${bar.toFixed(1)}v-4"/>` +
    `<text x="${(bar / 2).toFixed(1)}" y="-3" text-anchor="middle">${label}</text></g>`;
  return { x, y, width, height, step,
    svg: (label, body) => `<svg viewBox="0 0 ${width.toFixed(1)} ${height.toFixed(1)}" width="${width.toFixed(0)}" height="${height.toFixed(0)}" role="img" aria-label="${esc(label)}">${lines.join("")}${body}${scaleBar}</svg>` };
}
