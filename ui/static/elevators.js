// The elevators on the map. Zoomed out, the server counts them by H3 cell and the map shows a
// circle per cell with the count; zoomed in, each elevator is a small dot (grey when out of
// service) that names its rescue code on hover and looks it up on a click, as if the dispatcher
// had typed the code. Everything is drawn on one canvas, under the vehicles and incidents, so
// that a few thousand dots pan smoothly; a switch in the map's corner hides the layer.
//
// The canvas lets the mouse through (the grids' tooltips under it keep working): this module
// finds the dot or circle under the pointer itself, from the map's own mouse events.
"use strict";

import { map, api, on, t, addText, lookup, $, session, Dropped } from "./app.js";

addText({
  "zh-CN": {
    elevatorsLayer: "电梯", elevatorsInView: (n) => `视野内 ${n} 部`, elevatorsGrouped: "按区块汇总，点击放大",
    elevatorsFailed: "电梯图层加载失败", elevatorsCount: (n) => `${n} 部电梯`, elevatorsLookUp: "点击查看",
  },
  en: {
    elevatorsLayer: "Elevators", elevatorsInView: (n) => `${n} in view`, elevatorsGrouped: "Grouped by area; click to zoom in",
    elevatorsFailed: "The elevators could not be loaded", elevatorsCount: (n) => `${n} elevators`, elevatorsLookUp: "click to look up",
  },
});

const DEBOUNCE_MS = 150;
const PAD = 0.25; // the box asked for reaches a quarter of the view beyond each side: a short pan needs nothing new
const POINTS_MAX = 3000, POINTS_ZOOM = 16; // the server's rule: dots up to 3,000, more from zoom 16
const COLOUR = { in_service: "#3949ab", out_of_service: "#9aa0a6" };
// Cells are coloured by their count's order of magnitude: 1–9, 10–99, … 100,000+.
const CELL_COLOURS = ["#9fa8da", "#7986cb", "#5c6bc0", "#3f51b5", "#303f9f", "#1a237e"];

let layer = null; // the layer group on the map, on the "elevators" pane's canvas
let renderer = null, control = null, hoverTip = null;
let shown = localStorage.getItem("elevatorsHidden") !== "1";
let timer = null, seq = 0;
let last = null; // the answer on the map: { bounds, zoom, mode, total, resolution }
const dots = new Map(); // elevator id → { e, marker }, in points mode
let cellData = null; // the cells of the answer on the map, in cells mode: { list, resolution }
let cells = []; // what is drawn of them: { c: { lat, lon, count }, marker }
let hovered = null; // the dot ({ e }) or cell ({ c }) under the pointer
let failed = false;
let inView = null; // how many elevators the view itself holds, of those drawn
let movedAt = 0; // when the map last stopped moving
// Figures of the last load, for the browser test and a curious developer's console: the request's
// time (fetchMs), the drawing's until painted (drawMs), and the time from the map's stop to the
// painted drawing (settleMs, with the debounce).
export const figures = { loads: 0, fetchMs: 0, drawMs: 0, settleMs: 0, mode: "", drawn: 0 };

// A circle with a number in it: the canvas renderer draws the circle, then this the label.
let CountCircle = null;
function countCircleClass() {
  CountCircle ??= L.CircleMarker.extend({
    _updatePath() {
      L.CircleMarker.prototype._updatePath.call(this);
      const r = this._renderer, label = this.options.label;
      if (!label || !r._drawing || this._empty()) return;
      const ctx = r._ctx, p = this._point;
      ctx.font = `600 ${this._radius >= 16 ? 12 : 11}px system-ui, "WenQuanYi Micro Hei", "Microsoft YaHei", sans-serif`;
      ctx.textAlign = "center";
      ctx.textBaseline = "middle";
      ctx.fillStyle = "#fff";
      ctx.fillText(label, p.x, p.y + 0.5);
    },
  });
  return CountCircle;
}

function init() {
  if (layer || !map) return;
  const pane = map.createPane("elevators");
  pane.style.zIndex = 430; // above the districts and grids (400), under their labels (450), the vehicles (600) and incidents (650)
  pane.style.pointerEvents = "none";
  renderer = L.canvas({ pane: "elevators", padding: 0.3 });
  layer = L.layerGroup();
  if (shown) layer.addTo(map);
  hoverTip = L.tooltip({ direction: "top", offset: [0, -5], className: "elevator-dot-label" });

  control = L.control({ position: "topright" });
  control.onAdd = () => {
    const div = L.DomUtil.create("div", "map-legend elevators-legend");
    L.DomEvent.disableClickPropagation(div);
    L.DomEvent.disableScrollPropagation(div);
    return div;
  };
  control.addTo(map);
  renderControl();

  map.on("moveend", () => { movedAt = performance.now(); countInView(); schedule(); });
  map.on("zoomend", restyle);
  map.on("mousemove", (ev) => pointAt(ev));
  map.on("mouseout", () => setHovered(null));
  map.on("click", (ev) => { pointAt(ev); if (hovered) choose(hovered); });
}

// schedule loads the view once the map has stopped for DEBOUNCE_MS.
function schedule() {
  clearTimeout(timer);
  timer = setTimeout(load, DEBOUNCE_MS);
}

// covered says whether the answer on the map still serves the view: the view lies inside the box
// it was asked for, and the server would answer in the same way (the same resolution of cells,
// or dots still).
function covered(bounds, zoom) {
  if (!last || !last.bounds.contains(bounds)) return false;
  if (last.mode === "cells") return Math.floor(zoom) === last.zoom;
  return last.total <= POINTS_MAX || zoom >= POINTS_ZOOM;
}

async function load({ force = false } = {}) {
  if (!map || !layer || !shown || !session) return;
  const view = map.getBounds(), zoom = map.getZoom();
  if (!force && covered(view, zoom)) return;
  const box = view.pad(PAD);
  const clamp = (v, lo, hi) => Math.min(hi, Math.max(lo, v));
  const w = clamp(box.getWest(), -180, 180), s = clamp(box.getSouth(), -85.0511, 85.0511);
  const e = clamp(box.getEast(), -180, 180), n = clamp(box.getNorth(), -85.0511, 85.0511);
  const bbox = [w, s, e, n].map((v) => v.toFixed(6)).join(",");
  const my = ++seq;
  const t0 = performance.now();
  let data;
  try {
    data = await api(`/api/v1/map/elevators?bbox=${bbox}&zoom=${zoom}`);
  } catch (err) {
    if (my !== seq || err instanceof Dropped) return;
    failed = true;
    renderControl();
    return;
  }
  if (my !== seq) return; // a later view is on its way
  const t1 = performance.now();
  failed = false;
  last = { bounds: L.latLngBounds([s, w], [n, e]), zoom: Math.floor(zoom), mode: data.mode, total: data.total, resolution: data.resolution };
  if (data.mode === "cells") drawCells(data.cells, data.resolution);
  else drawDots(data.elevators);
  renderControl();
  countInView();
  // The canvas paints in the next frame, after Leaflet's own callback: the figures wait for it.
  requestAnimationFrame(() => {
    const t2 = performance.now();
    figures.fetchMs = Math.round(t1 - t0);
    figures.drawMs = Math.round(t2 - t1);
    figures.settleMs = movedAt ? Math.round(t2 - movedAt) : 0;
    figures.mode = data.mode;
    figures.drawn = data.mode === "cells" ? cells.length : data.elevators.length;
    figures.loads++;
  });
}

// countInView counts the elevators of the view itself (the answer reaches beyond it): the dots
// in it, or the cells whose elevators' mean position is in it.
function countInView() {
  if (!map || !last) return;
  const b = map.getBounds();
  let n = 0;
  if (last.mode === "points") {
    for (const { e } of dots.values()) if (b.contains([e.lat, e.lon])) n++;
  } else {
    for (const c of cellData?.list ?? []) if (b.contains([c.lat, c.lon])) n += c.count;
  }
  if (n !== inView) {
    inView = n;
    renderControl();
  }
}

function dotRadius() {
  const z = map.getZoom();
  return z >= 17 ? 5 : z >= 15 ? 4 : 3;
}

function dotStyle(e) {
  return { renderer, radius: dotRadius(), weight: 1, color: "#fff", opacity: 0.9, fillColor: COLOUR[e.status] ?? COLOUR.in_service, fillOpacity: 1, interactive: false };
}

// drawDots shows the elevators as dots, keeping those already there: a pan adds and removes only
// the edges.
function drawDots(list) {
  clearCells();
  cellData = null;
  setHovered(null);
  const seen = new Set();
  for (const e of list) {
    seen.add(e.id);
    const x = dots.get(e.id);
    if (!x) {
      const marker = L.circleMarker([e.lat, e.lon], dotStyle(e));
      dots.set(e.id, { e, marker });
      layer.addLayer(marker);
      continue;
    }
    if (x.e.lat !== e.lat || x.e.lon !== e.lon) x.marker.setLatLng([e.lat, e.lon]);
    if (x.e.status !== e.status) x.marker.setStyle({ fillColor: COLOUR[e.status] ?? COLOUR.in_service });
    x.e = e;
  }
  for (const [id, x] of dots) {
    if (!seen.has(id)) { layer.removeLayer(x.marker); dots.delete(id); }
  }
  projected = null;
}

// restyle fits the drawing to a new zoom: the dots' size, the cells' layout.
function restyle() {
  const r = dotRadius();
  for (const { marker } of dots.values()) if (marker.getRadius() !== r) marker.setRadius(r);
  if (cellData) layoutCells();
  projected = null;
}

function clearDots() {
  for (const { marker } of dots.values()) layer.removeLayer(marker);
  dots.clear();
}

function drawCells(list, resolution) {
  clearDots();
  setHovered(null);
  cellData = { list, resolution };
  layoutCells();
}

// cellRadius sizes a circle by its count: 9 px for one elevator, 4 px more for every tenfold.
const cellRadius = (count) => Math.min(28, 9 + 4 * Math.log10(count));

// layoutCells draws a circle per cell at its elevators' mean position, labelled with the count.
// Where a town straddles two cells, their circles would overlap: the smaller is merged into the
// larger, as marker clusters are, and a click zooms in to tell them apart.
function layoutCells() {
  clearCells();
  setHovered(null);
  const zoom = map.getZoom();
  const items = cellData.list.map((c) => ({ count: c.count, p: map.project([c.lat, c.lon], zoom) }));
  items.sort((a, b) => b.count - a.count);
  const placed = [], buckets = new Map(), SIZE = 64; // px: more than the widest merge distance
  const key = (x, y) => x * 1e6 + y;
  for (const it of items) {
    const r = cellRadius(it.count), bx = Math.floor(it.p.x / SIZE), by = Math.floor(it.p.y / SIZE);
    let into = null;
    for (let dx = -1; dx <= 1 && !into; dx++) {
      for (let dy = -1; dy <= 1 && !into; dy++) {
        into = (buckets.get(key(bx + dx, by + dy)) ?? []).find((q) => q.p.distanceTo(it.p) < (q.r + r) * 0.85) ?? null;
      }
    }
    if (into) {
      const n = into.count + it.count;
      into.p = L.point((into.p.x * into.count + it.p.x * it.count) / n, (into.p.y * into.count + it.p.y * it.count) / n);
      into.count = n;
      into.r = cellRadius(n);
      continue;
    }
    const q = { count: it.count, p: it.p, r };
    placed.push(q);
    const k = key(bx, by);
    if (!buckets.has(k)) buckets.set(k, []);
    buckets.get(k).push(q);
  }
  const Circle = countCircleClass();
  const format = countFormat();
  cells = placed.map((q) => {
    const at = map.unproject(q.p, zoom);
    const colour = CELL_COLOURS[Math.min(CELL_COLOURS.length - 1, Math.floor(Math.log10(q.count)))];
    const marker = new Circle(at, { renderer, interactive: false, radius: q.r, weight: 1.5, color: "#fff", fillColor: colour, fillOpacity: 0.88, label: format(q.count) });
    return { c: { lat: at.lat, lon: at.lng, count: q.count }, marker };
  });
  for (const { marker } of cells) layer.addLayer(marker);
  projected = null;
}

function clearCells() {
  for (const { marker } of cells) layer.removeLayer(marker);
  cells = [];
}

let formatter = null, formatterLang = "";
function countFormat() {
  const l = document.documentElement.lang || "zh-CN";
  if (formatterLang !== l) {
    formatter = new Intl.NumberFormat(l, { notation: "compact", maximumFractionDigits: 1 });
    formatterLang = l;
  }
  return (n) => formatter.format(n);
}

// Finding what is under the pointer: every dot and circle's position in pixels at the zoom, kept
// until the zoom or the drawing changes; a linear pass over a few thousand is a few microseconds.
let projected = null; // { zoom, items: [{ x, y, r, item }] }

function project() {
  const zoom = map.getZoom();
  if (projected?.zoom === zoom) return projected.items;
  const items = [];
  for (const x of dots.values()) {
    const p = map.project([x.e.lat, x.e.lon], zoom);
    items.push({ x: p.x, y: p.y, r: x.marker.getRadius() + 3, item: x });
  }
  for (const x of cells) {
    const p = map.project([x.c.lat, x.c.lon], zoom);
    items.push({ x: p.x, y: p.y, r: x.marker.getRadius() + 1, item: x });
  }
  projected = { zoom, items };
  return items;
}

function pointAt(ev) {
  if (!layer || !map.hasLayer(layer) || (!dots.size && !cells.length)) return;
  // Vehicles, incidents and popups above the layer take the pointer first.
  const target = ev.originalEvent?.target;
  if (target?.closest?.(".leaflet-marker-pane, .leaflet-incidents-pane, .leaflet-popup-pane, .leaflet-control")) {
    setHovered(null);
    return;
  }
  const m = map.project(ev.latlng, map.getZoom());
  let best = null, bestD = Infinity;
  for (const it of project()) {
    const dx = it.x - m.x, dy = it.y - m.y, d = dx * dx + dy * dy;
    if (d <= it.r * it.r && d < bestD) { best = it.item; bestD = d; }
  }
  setHovered(best);
}

function setHovered(x) {
  if (x === hovered) return;
  hovered = x;
  map?.getContainer().classList.toggle("elevator-hover", !!x);
  if (!x) { hoverTip?.remove(); return; }
  const at = x.e ? [x.e.lat, x.e.lon] : [x.c.lat, x.c.lon];
  hoverTip.options.offset = x.e ? [0, -5] : [0, -x.marker.getRadius()];
  hoverTip.setLatLng(at).setContent(tipText(x));
  if (!map.hasLayer(hoverTip)) hoverTip.addTo(map);
}

function tipText(x) {
  const div = document.createElement("div");
  const head = document.createElement("strong");
  const note = document.createElement("div");
  if (x.e) {
    head.textContent = x.e.code;
    note.textContent = (x.e.status === "out_of_service" ? t("out_of_service") + " · " : "") + t("elevatorsLookUp");
  } else {
    head.textContent = t("elevatorsCount")(x.c.count.toLocaleString(document.documentElement.lang));
    note.textContent = t("elevatorsGrouped");
  }
  div.append(head, note);
  return div;
}

// choose acts on a click: a dot is looked up at the desk, a cell zoomed into.
function choose(x) {
  if (x.e) {
    const input = $("code");
    if (input) input.value = x.e.code;
    lookup(x.e.code);
    return;
  }
  map.setView([x.c.lat, x.c.lon], Math.min(map.getZoom() + 2, map.getMaxZoom() || 19));
}

// The switch in the map's corner, with how many elevators the view holds.
function renderControl() {
  const div = control?.getContainer();
  if (!div) return;
  const label = document.createElement("label");
  label.className = "legend-title elevators-switch";
  const box = document.createElement("input");
  box.type = "checkbox";
  box.checked = shown;
  box.addEventListener("change", () => setShown(box.checked));
  const name = document.createElement("span");
  name.textContent = t("elevatorsLayer");
  label.append(box, name);
  const rows = [label];
  if (shown && failed) {
    const down = document.createElement("div");
    down.className = "legend-down";
    down.textContent = t("elevatorsFailed");
    rows.push(down);
  } else if (shown && last) {
    const n = document.createElement("div");
    n.className = "elevators-total";
    n.textContent = t("elevatorsInView")((inView ?? last.total).toLocaleString(document.documentElement.lang));
    rows.push(n);
    if (last.mode === "points") {
      for (const s of ["in_service", "out_of_service"]) {
        const row = document.createElement("div");
        row.className = `legend-row elevator-${s}`;
        const dot = document.createElement("span"); dot.className = "dot";
        const text = document.createElement("span"); text.textContent = t(s);
        row.append(dot, text);
        rows.push(row);
      }
    } else {
      const row = document.createElement("div");
      row.className = "legend-row elevators-grouped";
      const dot = document.createElement("span"); dot.className = "dot";
      const text = document.createElement("span"); text.textContent = t("elevatorsGrouped");
      row.append(dot, text);
      rows.push(row);
    }
  }
  div.replaceChildren(...rows);
}

function setShown(visible) {
  shown = visible;
  localStorage.setItem("elevatorsHidden", visible ? "0" : "1");
  if (!layer) return;
  if (visible) {
    layer.addTo(map);
    load({ force: true });
  } else {
    seq++; // an answer on its way is not drawn
    layer.remove();
    setHovered(null);
  }
  renderControl();
}

// clear forgets everything of the previous person.
function clear() {
  clearTimeout(timer);
  seq++;
  last = null;
  cellData = null;
  inView = null;
  failed = false;
  setHovered(null);
  if (layer) { clearDots(); clearCells(); }
  projected = null;
  renderControl();
}

on("live", () => {
  init();
  if (!layer) return;
  if (window.liftrescue) window.liftrescue.elevators = figures;
  load({ force: true });
});
on("clear", clear);
on("language", () => {
  renderControl();
  if (cellData) layoutCells(); // the numbers' format
  if (hovered) hoverTip.setContent(tipText(hovered));
});
