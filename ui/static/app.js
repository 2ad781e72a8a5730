// The dispatcher's first screen: type the rescue code read out by the caller, press Enter, and
// see the elevator with its two tier-1 units, and beside it the live map of the city's rescue
// vehicles with the elevator on it. Times are shown in the centre's zone.
//
// Everything but the sign-in needs a session: the page asks for it first, shows the sign-in panel
// without one, and starts the live data once signed in. Every API call goes through api(), which
// brings the panel back when the session ends and carries on after the next sign-in.
//
// It is the page's core module: the other modules (the incident desk, the planner, the elevator
// layer) import what they need from it and follow the session through on(): "live" when someone
// is signed in and the data should load, "clear" when the screen must forget the previous
// person, "event" for each event of the stream, "language" after the switch, "elevator" when the
// lookup shows an elevator (or null when it clears), "pick" when an incident is clicked on the
// map. main.js starts it.
"use strict";

// The base map is the server's (--tiles; /api/v1/version says which): OpenStreetMap's by default,
// the centre's own tile server in production, or none. Its tiles may not load in a centre's
// network: the district outlines from the API are drawn under everything, so the map stays
// readable without it. Tiles must be in WGS-84 (most Chinese commercial tiles are GCJ-02 and would
// put every marker 100–700 m off).
let baseMap = null; // { url, attribution } once the server has said; null: no base map

export let TZ = "Asia/Shanghai"; // replaced by the server's --tz at start
export const text = {
  "zh-CN": {
    title: "电梯应急救援调度", codeLabel: "救援识别码 / 设备代码", find: "查找", lang: "English",
    notFound: "未找到该编码的电梯", badCode: "请输入4–8位救援识别码或20位设备代码", didYouMean: "您是否要找：",
    stats: (n, d) => `${n} 部电梯 · ${d} 个区县`, error: "查询失败：",
    rescueCode: "救援识别码", equipmentCode: "设备代码", building: "楼栋", district: "区县", kind: "类型", floors: "层站",
    userUnit: "使用单位", maintenanceUnit: "维保单位", lastMaintained: "最近维保", inspection: "检验有效期至",
    status: "状态", in_service: "在用", out_of_service: "停用", overdue: "（已超期）", expired: "（已过期）",
    kinds: { traction: "曳引驱动电梯", hydraulic: "液压电梯", positive_drive: "强制驱动电梯", escalator: "自动扶梯", moving_walk: "自动人行道", dumbwaiter: "杂物电梯" },
    map: "救援车辆实时地图", vehicles: "救援车辆", baseMapDown: "底图无法加载", streamDown: "实时更新中断，正在重连…",
    speed: "速度", fixTime: "定位时间", offDuty: "不在岗",
    vehicleStatus: { live: "在线", stale: "定位滞后", offline: "离线", no_fix: "无定位" },
    incident: "困人事件", tier: (n) => `第${n}级响应`,
    incidentState: { notified: "已通知", awaiting_dispatch: "待派遣", acknowledged: "已接单", en_route: "赶往现场", arrived: "已到达", released: "已解救", closed: "已结案", cancelled: "已取消" },
    outsideDistrict: (d) => `该电梯属于${d}，不在您负责的区县`,
    signInTitle: "登录", username: "用户名", password: "密码", signIn: "登录", signingIn: "正在登录…", signOut: "退出登录",
    signInEmpty: "请输入用户名和密码", badPassword: "用户名或密码错误",
    locked: (at) => `密码错误次数过多，账户已锁定，${at} 后可再登录`, disabled: "该账户已停用，请联系管理员",
    rateLimited: (s) => `登录尝试过于频繁，请 ${s} 秒后再试`, signInFailed: "登录失败：", unreachable: "无法连接服务器，请稍后再试",
    sessionEnded: "登录已失效，请重新登录，当前操作将继续。", signedOut: "已退出登录。", signOutFailed: "退出失败：",
    roles: { admin: "管理员", dispatcher: "调度员", planner: "网格规划员", supervisor: "值班主任" },
    whoDistrict: (d) => `辖区：${d}`,
    grid: "救援网格", gridUnits: "网格救援单位", gridFire: "责任消防站", noGrid: "不在任何网格内",
    viewDesk: "调度台",
    alarmKind: {
      trapped: "困人", alarm_button: "报警按钮", stopped_outside_door_zone: "门区外停梯", unintended_movement: "轿厢意外移动（开门走车）",
      door_open_while_running: "运行中开门", overtravel_top: "冲顶", overtravel_bottom: "蹲底", overspeed: "超速", speed_abnormal: "运行速度异常",
      safety_circuit_open: "安全回路断路", door_lock_circuit_open: "门锁回路断路", power_lost: "停电", run_time_limiter: "运行时间限制器动作",
      unintended_reversal: "扶梯非操纵逆转", missing_step: "扶梯梯级缺失", door_close_fault: "关门故障", door_open_fault: "开门故障",
      floor_lost: "楼层位置丢失", restart_prevented: "防止再运行故障", button_stuck: "按钮粘连", e_bike_in_car: "电动车乘梯",
      mode_change: "运行模式变更", back_to_normal: "恢复正常运行", no_fault: "无故障", terminal_offline: "终端离线", unknown: "未知代码",
    },
    terminalStatus: { online: "在线", offline: "离线", never: "从未上报" },
  },
  en: {
    title: "Elevator emergency rescue dispatch", codeLabel: "Rescue code / equipment code", find: "Find", lang: "中文",
    notFound: "No elevator has this code", badCode: "Enter a 4–8 digit rescue code or a 20-digit equipment code", didYouMean: "Did you mean:",
    stats: (n, d) => `${n} elevators · ${d} districts`, error: "Lookup failed: ",
    rescueCode: "Rescue code", equipmentCode: "Equipment code", building: "Building", district: "District", kind: "Kind", floors: "Floors",
    userUnit: "User unit", maintenanceUnit: "Maintenance company", lastMaintained: "Last maintained", inspection: "Inspection valid until",
    status: "Status", in_service: "In service", out_of_service: "Out of service", overdue: " (overdue)", expired: " (expired)",
    kinds: { traction: "Traction", hydraulic: "Hydraulic", positive_drive: "Positive drive", escalator: "Escalator", moving_walk: "Moving walk", dumbwaiter: "Dumbwaiter" },
    map: "Live map of the rescue vehicles", vehicles: "Rescue vehicles", baseMapDown: "Base map unavailable", streamDown: "Live updates interrupted, reconnecting…",
    speed: "Speed", fixTime: "Fix time", offDuty: "Off duty",
    vehicleStatus: { live: "Live", stale: "Stale", offline: "Offline", no_fix: "No fix" },
    incident: "Trapped passengers", tier: (n) => `tier ${n}`,
    incidentState: { notified: "notified", awaiting_dispatch: "awaiting dispatch", acknowledged: "accepted", en_route: "en route", arrived: "arrived", released: "released", closed: "closed", cancelled: "cancelled" },
    outsideDistrict: (d) => `This elevator is in ${d}, outside your district`,
    signInTitle: "Sign in", username: "Username", password: "Password", signIn: "Sign in", signingIn: "Signing in…", signOut: "Sign out",
    signInEmpty: "Enter your username and password", badPassword: "Wrong username or password",
    locked: (at) => `Too many wrong passwords: the account is locked until ${at}`, disabled: "This account is disabled; ask an administrator",
    rateLimited: (s) => `Too many sign-in attempts: try again in ${s} s`, signInFailed: "Sign-in failed: ", unreachable: "Cannot reach the server; try again shortly",
    sessionEnded: "Your session has ended. Sign in again to carry on where you were.", signedOut: "Signed out.", signOutFailed: "Sign-out failed: ",
    roles: { admin: "Administrator", dispatcher: "Dispatcher", planner: "Grid planner", supervisor: "Duty supervisor" },
    whoDistrict: (d) => `District: ${d}`,
    grid: "Rescue grid", gridUnits: "Grid rescue units", gridFire: "Fire station", noGrid: "In no grid",
    viewDesk: "Dispatch desk",
    alarmKind: {
      trapped: "Trapped passengers", alarm_button: "Alarm button", stopped_outside_door_zone: "Stopped outside the door zone", unintended_movement: "Unintended car movement",
      door_open_while_running: "Door open while running", overtravel_top: "Top overtravel", overtravel_bottom: "Bottom overtravel", overspeed: "Overspeed", speed_abnormal: "Abnormal speed",
      safety_circuit_open: "Safety circuit open", door_lock_circuit_open: "Door lock circuit open", power_lost: "Power lost", run_time_limiter: "Run-time limiter tripped",
      unintended_reversal: "Escalator reversed", missing_step: "Escalator step missing", door_close_fault: "Door close fault", door_open_fault: "Door open fault",
      floor_lost: "Floor position lost", restart_prevented: "Restart prevented", button_stuck: "Button stuck", e_bike_in_car: "E-bike in the car",
      mode_change: "Service mode changed", back_to_normal: "Back to normal", no_fault: "No fault", terminal_offline: "Terminal offline", unknown: "Unknown code",
    },
    terminalStatus: { online: "online", offline: "offline", never: "never reported" },
  },
};
export let lang = localStorage.getItem("lang") || "zh-CN";
let shown = null;
export const $ = (id) => document.getElementById(id);
export const t = (key) => text[lang][key];

// addText adds a module's words to both languages.
export function addText(words) {
  for (const [l, entries] of Object.entries(words)) Object.assign(text[l], entries);
}

// Hooks of the other modules: see the comment at the top.
const hooks = { live: [], clear: [], event: [], language: [], elevator: [], pick: [] };
export function on(name, fn) { hooks[name].push(fn); }
function emit(name, ...args) {
  for (const fn of hooks[name]) {
    try { fn(...args); } catch (err) { console.error(name, err); } // one module's fault stops no other
  }
}

function applyLanguage() {
  document.documentElement.lang = lang;
  document.querySelectorAll("[data-i18n]").forEach((el) => { el.textContent = t(el.dataset.i18n); });
  $("lang").textContent = t("lang");
  document.title = "liftrescue " + t("title");
  if (shown) showElevator(shown);
  renderStats();
  renderWho();
  renderViews();
  renderNote();
  mapLanguage();
  emit("language");
}

export function formatTime(iso) {
  return new Intl.DateTimeFormat(lang, { timeZone: TZ, dateStyle: "medium", timeStyle: "short" }).format(new Date(iso));
}

function unitLine(u) {
  return u ? `${u.name}  ${(u.duty_phones || []).join(" / ")}` : "—";
}

function showElevator(e) {
  shown = e;
  $("message").textContent = "";
  $("suggestions").replaceChildren();
  $("address").textContent = e.address;
  const today = new Intl.DateTimeFormat("en-CA", { timeZone: TZ }).format(new Date()); // YYYY-MM-DD in the centre's zone
  const maintainedDays = e.last_maintained_at ? (Date.now() - Date.parse(e.last_maintained_at)) / 864e5 : Infinity;
  const rows = [
    ["rescueCode", e.rescue_code], ["equipmentCode", e.equipment_code], ["building", e.building || "—"],
    ["district", `${e.district_name || ""} ${e.district}`], ["kind", t("kinds")[e.kind] || e.kind], ["floors", e.floors],
    ["userUnit", unitLine(e.user_unit)], ["maintenanceUnit", unitLine(e.maintenance_unit)],
    ["lastMaintained", e.last_maintained_at ? formatTime(e.last_maintained_at) + (maintainedDays > 15 ? t("overdue") : "") : "—", maintainedDays > 15],
    ["inspection", (e.inspection_valid_until || "—") + (e.inspection_valid_until && e.inspection_valid_until < today ? t("expired") : ""), e.inspection_valid_until && e.inspection_valid_until < today],
    ["status", t(e.status)],
    ["grid", e.grid ? e.grid.name : t("noGrid"), !e.grid],
  ];
  $("facts").replaceChildren(...rows.flatMap(([key, value, warn]) => {
    const dt = document.createElement("dt"); dt.textContent = t(key);
    const dd = document.createElement("dd"); dd.textContent = value; if (warn) dd.className = "warn";
    return [dt, dd];
  }));
  $("elevator").hidden = false;
  emit("elevator", e);
}

async function suggest(code) {
  // Callers misread a digit: offer the elevators whose code shares all but the last digit.
  if (code.length < 5) return;
  let page;
  try { page = await api(`/api/v1/elevators?limit=5&q=${encodeURIComponent(code.slice(0, -1))}`); } catch { return; }
  if (!page.items.length) return;
  const items = page.items.map((e) => {
    const li = document.createElement("li");
    const b = document.createElement("button");
    b.type = "button";
    b.textContent = `${e.rescue_code} — ${e.address} ${e.building}`;
    b.addEventListener("click", () => { $("code").value = e.rescue_code; lookup(e.rescue_code); });
    li.append(b);
    return li;
  });
  const head = document.createElement("li"); head.textContent = t("didYouMean");
  $("suggestions").replaceChildren(head, ...items);
}

// clearLookup empties the code box and takes the elevator found off the screen and the map, once
// the call is handled.
export function clearLookup() {
  if (shown) emit("elevator", null);
  shown = null;
  $("elevator").hidden = true;
  $("message").textContent = "";
  $("suggestions").replaceChildren();
  $("code").value = "";
  elevatorOnMap(null);
}

export async function lookup(code) {
  if (shown) emit("elevator", null);
  shown = null;
  $("elevator").hidden = true;
  $("suggestions").replaceChildren();
  elevatorOnMap(null);
  if (!/^(\d{4,8}|\d{20})$/.test(code)) { $("message").textContent = t("badCode"); return; }
  try {
    const e = await api(`/api/v1/elevators/${code}`);
    showElevator(e);
    elevatorOnMap(e);
  } catch (err) {
    if (err instanceof Dropped) return;
    if (err.status === 404) {
      $("message").textContent = t("notFound");
      suggest(code);
    } else if (err.status === 403 && err.detail.district) {
      $("message").textContent = t("outsideDistrict")(districtNames.get(err.detail.district) ?? err.detail.district);
    } else {
      $("message").textContent = t("error") + err.message;
    }
  }
}

let statsFigures = null; // [elevators, districts] the signed-in person can see

async function loadStats() {
  try {
    const [els, ds] = await Promise.all([api("/api/v1/elevators?limit=1"), districts()]);
    statsFigures = [els.total, ds.total];
    renderStats();
  } catch { /* the lookup still works without the figures */ }
}

function renderStats() {
  $("stats").textContent = statsFigures ? t("stats")(...statsFigures) : "";
}

// districts fetches the districts, outlines included, once for the figures, the map and the
// header's district name.
let districtsReq = null;
export const districtNames = new Map(); // code → name
export function districts() {
  districtsReq ??= api("/api/v1/districts")
    .then((page) => {
      for (const d of page.items) districtNames.set(d.code, d.name);
      return page;
    })
    .catch((err) => { districtsReq = null; throw err; });
  return districtsReq;
}

// The live map. It is an addition to the lookup, never a condition of it: if Leaflet is missing
// or the map fails, every function below does nothing and the lookup works as before.

export let map = null;
// fitted: the map has left its first view of China for the city. The first of the districts'
// outline, a found elevator or the vehicles moves it there.
let fitted = false;
let legend = null, elevatorMarker = null, baseLayer = null, districtLayer = null, gridLayer = null;
export const fleet = new Map(); // vehicle id → { v, marker }; every vehicle, with or without a position
const VEHICLE_Z = { live: 3000, stale: 2000, offline: 1000 }; // live vehicles on top (markers stack by y otherwise)
// A moving vehicle draws its last positions as a faint trail, so that a glance shows where it is
// going; a vehicle that moves again after TRAIL_GAP_MS in one place starts a new trail.
const TRAIL_POINTS = 24, TRAIL_GAP_MS = 60_000;

function initMap() {
  if (!window.L) return;
  // Without tiles, quarter zoom steps let the city's outline fill the screen instead of half of
  // it; tiles, though, show seams between them at fractional zooms, so the first tile to load
  // brings back whole steps. The map gets a view before any layer goes on it: Leaflet fails to
  // draw paths added to a map without one.
  map = L.map("map", { zoomSnap: 0.25, worldCopyJump: true }).setView([35, 105], 4);
  map.createPane("districtLabels").style.zIndex = 450; // above the outlines, under the markers
  map.createPane("incidents").style.zIndex = 650; // trapped passengers above the vans around them
  L.control.scale({ imperial: false }).addTo(map);

  districtLayer = L.geoJSON(null, {
    interactive: false,
    style: { color: "#6b7c8d", weight: 1.5, fillColor: "#c9d3dc", fillOpacity: 0.45 },
    onEachFeature: (f, layer) => layer.bindTooltip(f.properties.name, { permanent: true, direction: "center", className: "district-label", pane: "districtLabels" }),
  });
  setTimeout(() => { baseTimeUp = true; showBaseMap(); }, 3000); // the tiles wait for the city's view, but not for ever
  districtLayer.addTo(map);
  // The active plan's rescue grids: dashed lines over the districts, named on hover with their
  // units and fire station, so that a dispatcher sees whose area an elevator is in.
  gridLayer = L.geoJSON(null, {
    style: { color: "#1a73e8", weight: 1.2, dashArray: "5 4", fillOpacity: 0 },
    onEachFeature: (f, layer) => layer.bindTooltip(() => gridTooltip(f.properties), { sticky: true, className: "grid-label" }),
  }).addTo(map);

  legend = L.control({ position: "topright" });
  legend.onAdd = () => {
    const div = L.DomUtil.create("div", "map-legend");
    L.DomEvent.disableClickPropagation(div);
    return div;
  };
  legend.addTo(map);
  renderLegend();
  // The data comes once signed in: startLive.
}

// loadOutlines draws the districts and takes the map to them: to the signed-in person's own
// district when they have one, else to the city.
function loadOutlines() {
  const at = epoch;
  districts().then((page) => {
    if (at !== epoch) return;
    for (const d of page.items) {
      if (d.outline) districtLayer.addData({ type: "Feature", geometry: d.outline, properties: { name: d.name, code: d.code } });
    }
    if (!fitted && districtLayer.getLayers().length) {
      const own = districtLayer.getLayers().filter((l) => l.feature.properties.code === session?.principal.district);
      map.fitBounds((own.length ? L.featureGroup(own) : districtLayer).getBounds(), { padding: [12, 12] });
      settle();
    }
  }, () => { /* no outlines: the vehicles take the view */ }).finally(() => {
    if (at !== epoch) return;
    districtsSettled = true;
    fitVehicles();
  });
}

// loadGrids draws the active plan's grids, again every five minutes (a planner elsewhere may
// publish a new plan at any time) and at once when the planner on this page publishes one.
let gridsTimer = null;
function loadGrids() {
  if (!gridLayer) return;
  const at = epoch;
  clearTimeout(gridsTimer);
  api("/api/v1/grids").then((fc) => {
    if (at !== epoch) return;
    gridLayer.clearLayers();
    gridLayer.addData(fc);
  }, () => { /* no grids shown: the rest of the map stands */ }).finally(() => {
    if (at === epoch) gridsTimer = setTimeout(loadGrids, 5 * 60_000);
  });
}

function gridTooltip(p) {
  const div = document.createElement("div");
  const name = document.createElement("strong");
  name.textContent = `${t("grid")} ${p.name}`;
  const units = document.createElement("div");
  const [colon, comma] = lang === "en" ? [": ", ", "] : ["：", "、"];
  units.textContent = t("gridUnits") + colon + (p.unit_names || []).join(comma);
  const fire = document.createElement("div");
  fire.textContent = t("gridFire") + colon + (p.fire_station_name || "");
  div.append(name, units, fire);
  return div;
}

// fitVehicles shows the vehicles when there are no district outlines to show.
let districtsSettled = false;
function fitVehicles() {
  if (fitted || !districtsSettled) return;
  const points = [...fleet.values()].filter((x) => x.marker).map((x) => x.marker.getLatLng());
  if (!points.length) return;
  map.fitBounds(L.latLngBounds(points), { padding: [24, 24], maxZoom: 14 });
  settle();
}

// settle ends the first view of China. The base map waits for it, so as not to fetch China's
// tiles first.
function settle() {
  fitted = true;
  showBaseMap();
}

// showOnMap takes the map to a place (an incident the desk opened), at least to the zoom given;
// it ends the first view of China as a found elevator does.
export function showOnMap(lat, lon, zoom) {
  if (!map || !Number.isFinite(lat) || !Number.isFinite(lon)) return;
  zoom = Math.max(zoom, map.getZoom());
  if (fitted) map.flyTo([lat, lon], zoom, { duration: 0.6 });
  else map.setView([lat, lon], zoom);
  settle();
}

// useBaseMap makes the tile layer of the server's base map; it goes on the map at showBaseMap.
function useBaseMap(info) {
  if (!map || !info?.url || baseLayer) return;
  baseMap = info;
  const tiles = baseLayer = L.tileLayer(baseMap.url, { attribution: baseMap.attribution, maxZoom: 19 });
  // One small notice while the tiles fail; it goes when they load again.
  let notice = null;
  tiles.on("tileerror", () => {
    if (notice) return;
    notice = L.control({ position: "bottomleft" });
    notice.onAdd = () => {
      const div = L.DomUtil.create("div", "map-notice");
      div.dataset.i18n = "baseMapDown";
      div.textContent = t("baseMapDown");
      return div;
    };
    notice.addTo(map);
  });
  let tilesSeen = false;
  tiles.on("tileload", () => {
    notice?.remove();
    notice = null;
    if (tilesSeen) return;
    tilesSeen = true;
    districtLayer.setStyle({ fillOpacity: 0.06 }); // the tiles show the land
    map.options.zoomSnap = 1;
    if (!Number.isInteger(map.getZoom())) map.setZoom(Math.floor(map.getZoom()), { animate: false });
  });
  if (fitted || baseTimeUp) showBaseMap();
}

let baseTimeUp = false;
function showBaseMap() {
  if (baseLayer && !map.hasLayer(baseLayer)) baseLayer.addTo(map);
}

// Vehicles: the list once, then the stream. Events that arrive while the list loads wait for it,
// so that the older list cannot undo them.
let queued = null;
let listRetry = null;
let vehiclesSeq = 0; // only the latest load applies its list (two can overlap after a new sign-in)

async function loadVehicles() {
  const seq = ++vehiclesSeq;
  queued ??= [];
  clearTimeout(listRetry);
  try {
    const page = await api("/api/v1/vehicles");
    if (seq !== vehiclesSeq) return; // the later load takes the queued events
    const ids = new Set(page.items.map((v) => v.id));
    for (const id of [...fleet.keys()]) if (!ids.has(id)) removeVehicle(id);
    for (const v of page.items) putVehicle(v, true);
    const events = queued ?? []; // another load (after a reset) may have taken them
    queued = null;
    for (const [kind, data] of events) applyEvent(kind, data);
    renderLegend();
    fitVehicles();
  } catch (err) {
    if (seq !== vehiclesSeq || err instanceof Dropped) return;
    listRetry = setTimeout(loadVehicles, 5000); // the stream keeps running; the list comes when it can
  }
}

// The stream runs while someone is signed in: stopStream closes it when the session ends.
let stream = null, streamRetry = null;

function startStream() {
  stopStream();
  const es = stream = new EventSource("/api/v1/stream?types=vehicle,incident");
  for (const kind of ["vehicle", "vehicle_removed", "incident", "reset"]) {
    es.addEventListener(kind, (ev) => {
      let data;
      try { data = JSON.parse(ev.data); } catch { return; }
      if (queued && kind !== "reset") queued.push([kind, data]);
      else applyEvent(kind, data);
    });
  }
  es.onopen = () => setStreamDown(false);
  es.onerror = () => {
    if (es !== stream) return;
    setStreamDown(true);
    // EventSource reconnects by itself with Last-Event-ID, unless the server answered with an
    // error: then start again, and reload the list, since a new stream cannot resume.
    if (es.readyState === EventSource.CLOSED) {
      stream = null;
      retryStream();
    }
  };
}

function stopStream() {
  clearTimeout(streamRetry);
  streamRetry = null;
  stream?.close();
  stream = null;
}

// retryStream starts the stream again in a while. The server may have refused it because the
// session ended (EventSource cannot say why): then the sign-in panel comes back, and the next
// sign-in starts the stream.
function retryStream() {
  const at = epoch;
  clearTimeout(streamRetry);
  streamRetry = setTimeout(async () => {
    let info;
    try {
      info = await api(SESSION, { auth: false });
    } catch (err) {
      if (at !== epoch || !session) return;
      if (err.status === 401) sessionLost();
      else retryStream();
      return;
    }
    if (at !== epoch || !session) return;
    if (!samePerson(info.principal, session.principal)) signedIn(info); // signed in anew in another tab
    else resumeLive();
  }, 5000);
}

function applyEvent(kind, data) {
  emit("event", kind, data);
  if (!map) return;
  if (kind === "vehicle") putVehicle(data, false);
  else if (kind === "vehicle_removed") removeVehicle(data.id);
  else if (kind === "incident") { putIncident(data); return; }
  else if (kind === "reset") { loadVehicles(); loadIncidents(); return; }
  renderLegendSoon();
}

// renderLegendSoon counts once a frame however many events arrive in it.
let legendDue = false;
function renderLegendSoon() {
  if (legendDue) return;
  legendDue = true;
  requestAnimationFrame(() => { legendDue = false; renderLegend(); });
}

let streamDown = false;
function setStreamDown(down) {
  if (down === streamDown) return;
  streamDown = down;
  renderLegend();
}

// putVehicle shows a vehicle where it is now. An event older than what the map shows (it waited
// while the list loaded) is dropped, unless force.
function putVehicle(v, force) {
  let x = fleet.get(v.id);
  if (!force && x?.v.position && v.position && Date.parse(v.position.time) < Date.parse(x.v.position.time)) return;
  if (!x) { x = { v, marker: null }; fleet.set(v.id, x); }
  x.v = v;
  const p = v.position;
  if (!p) {
    x.marker?.remove();
    x.trail?.remove();
    x.marker = x.trail = null;
    return;
  }
  extendTrail(x, p);
  // An arrow only while it moves: a stale or offline vehicle's last speed says nothing of now.
  const heading = v.status === "live" && p.heading != null && (p.speed_kmh ?? 0) >= 1 ? Math.round(p.heading) : null;
  // Only a change of status or of shape builds a new icon; a turn rotates the arrow in place, as
  // a thousand moving vans turn at nearly every fix.
  const look = `${v.status} ${v.on_duty} ${heading === null ? "dot" : "arrow"}`;
  if (!x.marker) {
    x.marker = L.marker([p.lat, p.lon], { icon: vehicleIcon(v, heading), zIndexOffset: VEHICLE_Z[v.status] || 0, keyboard: false });
    x.marker.bindTooltip(() => vehicleTooltip(x.v), { direction: "top", offset: [0, -9] });
    x.marker.addTo(map);
  } else {
    x.marker.setLatLng([p.lat, p.lon]);
    if (x.look !== look) {
      x.marker.setIcon(vehicleIcon(v, heading));
      x.marker.setZIndexOffset(VEHICLE_Z[v.status] || 0);
    } else if (heading !== null && heading !== x.heading) {
      x.marker.getElement()?.querySelector("path")?.setAttribute("transform", `rotate(${heading})`);
    }
  }
  x.look = look;
  x.heading = heading;
  if (x.marker.isTooltipOpen()) x.marker.getTooltip().update();
}

// vehicleIcon draws a parked vehicle as a dot and a moving one as an arrow along its heading, in
// the colour of its status.
function vehicleIcon(v, heading) {
  const shape = heading === null ? '<circle r="6"/>' : `<path d="M0,-9.5 L7,8 L0,4 L-7,8 Z" transform="rotate(${heading})"/>`;
  return L.divIcon({
    className: `vehicle ${v.status}${v.on_duty ? "" : " off-duty"}`,
    html: `<svg viewBox="-11 -11 22 22" width="22" height="22" aria-hidden="true">${shape}</svg>`,
    iconSize: [22, 22], iconAnchor: [11, 11],
  });
}

function removeVehicle(id) {
  const x = fleet.get(id);
  if (!x) return;
  x.marker?.remove();
  x.trail?.remove();
  fleet.delete(id);
}

function extendTrail(x, p) {
  const at = Date.parse(p.time);
  if (x.trail && at - x.trailAt > TRAIL_GAP_MS) { x.trail.remove(); x.trail = null; }
  if (!x.trail) x.trail = L.polyline([], { className: "trail", interactive: false }).addTo(map);
  const points = x.trail.getLatLngs();
  const here = L.latLng(p.lat, p.lon);
  if (points.length && here.distanceTo(points[points.length - 1]) < 10) return; // parked: GPS jitter is no path
  points.push(here);
  if (points.length > TRAIL_POINTS) points.shift();
  x.trail.setLatLngs(points);
  x.trailAt = at;
}

function vehicleTooltip(v) {
  const div = document.createElement("div");
  const plate = document.createElement("strong");
  plate.textContent = v.plate || `#${v.id}`;
  const lines = [t("vehicleStatus")[v.status] || v.status];
  if (!v.on_duty) lines.push(t("offDuty"));
  const p = v.position;
  if (p) {
    if (p.speed_kmh != null) lines.push(`${t("speed")} ${Math.round(p.speed_kmh)} km/h`);
    lines.push(`${t("fixTime")} ${formatFixTime(p.time)}`);
  }
  div.append(plate, ...lines.map((line) => { const d = document.createElement("div"); d.textContent = line; return d; }));
  return div;
}

// formatFixTime shows a time (a fix's, the end of an account's lock) in the centre's zone, with
// the date only when it is not today.
export function formatFixTime(iso) {
  const at = new Date(iso);
  const day = (d) => new Intl.DateTimeFormat("en-CA", { timeZone: TZ }).format(d);
  const opts = day(at) === day(new Date()) ? { timeStyle: "medium" } : { dateStyle: "short", timeStyle: "medium" };
  return new Intl.DateTimeFormat(lang, { timeZone: TZ, ...opts }).format(at);
}

function renderLegend() {
  const div = legend?.getContainer();
  if (!div) return;
  const counts = { live: 0, stale: 0, offline: 0, no_fix: 0 };
  for (const { v } of fleet.values()) if (v.status in counts) counts[v.status]++;
  const head = document.createElement("div");
  head.className = "legend-title";
  head.textContent = `${t("vehicles")} ${fleet.size}`;
  const rows = ["live", "stale", "offline", "no_fix"].filter((s) => s !== "no_fix" || counts.no_fix).map((s) => {
    const row = document.createElement("div");
    row.className = `legend-row ${s}`;
    row.dataset.status = s;
    const dot = document.createElement("span"); dot.className = "dot";
    const label = document.createElement("span"); label.textContent = t("vehicleStatus")[s];
    const n = document.createElement("span"); n.className = "count"; n.textContent = counts[s];
    row.append(dot, label, n);
    return row;
  });
  const parts = [head, ...rows];
  if (streamDown) {
    const down = document.createElement("div");
    down.className = "legend-down";
    down.textContent = t("streamDown");
    parts.push(down);
  }
  div.replaceChildren(...parts);
}

// Open incidents are red rings on their elevators, darker as the tier rises; they go when closed
// or cancelled. The list comes once, then each step from the stream.
const incidents = new Map(); // incident id → circle marker
const TIER_COLOUR = { 1: "#e8710a", 2: "#c5221f", 3: "#7b1113" };
let incidentsSeq = 0;

async function loadIncidents() {
  const seq = ++incidentsSeq;
  const before = new Set(incidents.keys()); // those the stream adds meanwhile are not in the list
  try {
    const page = await api("/api/v1/incidents?open=true&limit=1000");
    if (seq !== incidentsSeq) return;
    const open = new Set(page.items.map((inc) => inc.id));
    for (const id of before) { // closed while the stream was down
      if (!open.has(id)) { incidents.get(id)?.remove(); incidents.delete(id); }
    }
    for (const inc of page.items) putIncident(inc);
  } catch { /* the stream brings the next steps */ }
}

// putIncident takes an incident from the list (with its elevator) or from the stream (flat).
// A district's account sees its district's incidents only, even if the stream brings others.
function putIncident(inc) {
  const old = incidents.get(inc.id);
  const own = session?.principal.district;
  const district = inc.district ?? inc.elevator?.district;
  if (inc.state === "closed" || inc.state === "cancelled" || (own && district && district !== own)) {
    old?.remove();
    incidents.delete(inc.id);
    return;
  }
  const lat = inc.lat ?? inc.elevator?.lat, lon = inc.lon ?? inc.elevator?.lon;
  if (!map || !Number.isFinite(lat) || !Number.isFinite(lon)) return;
  const code = inc.rescue_code ?? inc.elevator?.rescue_code ?? "";
  const label = () => `${t("incident")} #${inc.id} · ${code} · ${t("tier")(inc.tier)} · ${t("incidentState")[inc.state] ?? inc.state}`;
  const style = { radius: 14, weight: 5, color: TIER_COLOUR[inc.tier] ?? "#c5221f", fillColor: "#fff", fillOpacity: 0.35 };
  if (old) {
    old.setStyle(style);
    old.setTooltipContent(label());
    return;
  }
  const ring = L.circleMarker([lat, lon], { ...style, pane: "incidents", className: "incident-ring" }).bindTooltip(label, { direction: "top" });
  ring.on("click", () => emit("pick", inc.id)); // the desk opens it
  incidents.set(inc.id, ring.addTo(map));
}

// elevatorOnMap marks the elevator that a lookup found and takes the map to it; null clears it.
export function elevatorOnMap(e) {
  if (!map) return;
  try {
    elevatorMarker?.remove();
    elevatorMarker = null;
    if (!e || !Number.isFinite(e.lat) || !Number.isFinite(e.lon)) return;
    const at = [e.lat, e.lon];
    elevatorMarker = L.marker(at, { icon: L.divIcon({ className: "elevator-pin", html: ELEVATOR_SVG, iconSize: [30, 38], iconAnchor: [15, 37] }), zIndexOffset: 10000, keyboard: false })
      .bindTooltip(`${e.rescue_code} ${e.building || ""}`.trim(), { permanent: true, direction: "top", offset: [0, -36], className: "elevator-label" })
      .addTo(map);
    const zoom = Math.max(16, map.getZoom());
    if (fitted) map.flyTo(at, zoom, { duration: 0.8 });
    else map.setView(at, zoom);
    settle();
  } catch (err) {
    console.warn("map:", err); // the lookup has shown the elevator; the map must not fail it
  }
}

// A red pin with the up and down arrows of an elevator's call buttons.
const ELEVATOR_SVG = '<svg viewBox="0 0 30 38" width="30" height="38" aria-hidden="true">' +
  '<path d="M15 37 C15 37 2 22 2 14 A13 13 0 1 1 28 14 C28 22 15 37 15 37 Z" fill="#b3261e" stroke="#fff" stroke-width="2"/>' +
  '<path d="M15 6.5 L10 12 H20 Z M15 21.5 L10 16 H20 Z" fill="#fff"/></svg>';

function mapLanguage() {
  if (!map) return;
  map.getContainer().setAttribute("aria-label", t("map"));
  renderLegend();
  for (const { marker } of fleet.values()) if (marker?.isTooltipOpen()) marker.getTooltip().update();
}

// Signing in. The session is an HttpOnly cookie the page never sees; what the page keeps is the
// answer of the sign-in: who is signed in and the CSRF token that every write carries.

const SESSION = "/api/v1/session";
export let session = null; // { principal, csrf_token, expires_at } while signed in
let lastPrincipal = null; // who was signed in when the session ended, to tell whether the next sign-in goes on
// epoch goes up when a session's work is abandoned (sign-out, or another person signs in): the
// answers to requests made before then are dropped, not shown to the next person.
let epoch = 0;
let waiting = []; // requests that met a 401, waiting for the next sign-in: { resolve, reject }

// ApiError is an error answer of the API: status, code and message from the server's error body;
// detail holds the whole error object (locked_until, retry_after, district, …).
export class ApiError extends Error {
  constructor(res, body) {
    const detail = body?.error ?? {};
    super(detail.message || `${res.status} ${res.statusText}`.trim());
    this.name = "ApiError";
    this.status = res.status;
    this.code = detail.code ?? "";
    this.detail = detail;
    this.retryAfter = Number(detail.retry_after ?? res.headers.get("Retry-After")) || 0;
  }
}

// Dropped is thrown to the callers of a request whose session was abandoned: they show nothing.
export class Dropped extends Error {
  constructor() { super("dropped: the session ended"); this.name = "Dropped"; }
}

// api makes every API call: JSON in and out, the CSRF token on writes. A 401 means the session has
// ended: the sign-in panel comes back and the request waits, to go on after the same person signs
// in again (a 401 is answered before anything is done, so even a write can be sent again). With
// auth false a 401 is just an error answer: signing in, asking whether there is a session.
// It returns the answer's JSON (null for none) or throws ApiError with the server's message,
// Dropped, or the network's TypeError.
export async function api(path, { method = "GET", body, auth = true } = {}) {
  let refreshed = false;
  for (;;) {
    const at = epoch;
    const headers = { Accept: "application/json" };
    if (body !== undefined) headers["Content-Type"] = "application/json";
    if (method !== "GET" && session) headers["X-CSRF-Token"] = session.csrf_token;
    const res = await fetch(path, { method, headers, body: body === undefined ? undefined : JSON.stringify(body), credentials: "same-origin" });
    const data = res.status === 204 ? null : await res.json().catch(() => null);
    if (at !== epoch) throw new Dropped();
    if (res.status === 401 && auth) {
      await signInAgain(at);
      continue;
    }
    // The cookie is shared by the tabs, the CSRF token is not: after a sign-in in another tab
    // this one's token is stale, and its writes are refused until it fetches the new one.
    if (res.status === 403 && method !== "GET" && session && !refreshed) {
      refreshed = true;
      if (await refreshSession(at)) continue;
    }
    if (!res.ok) throw new ApiError(res, data);
    return data;
  }
}

function signInAgain(at) {
  if (at !== epoch) return Promise.reject(new Dropped());
  sessionLost();
  return new Promise((resolve, reject) => waiting.push({ resolve, reject }));
}

// refreshSession fetches the session's CSRF token again; true if it has changed.
async function refreshSession(at) {
  let info;
  try { info = await api(SESSION, { auth: false }); } catch { return false; }
  if (at !== epoch || !session) return false;
  if (!samePerson(info.principal, session.principal)) {
    signedIn(info); // another person signed in in another tab: this tab is theirs now
    throw new Dropped();
  }
  if (info.csrf_token === session.csrf_token) return false;
  session = info;
  return true;
}

function samePerson(a, b) {
  return !!a && !!b && a.kind === b.kind && a.id === b.id && a.role === b.role && (a.district ?? "") === (b.district ?? "");
}

// signedIn starts the console for the session. The same person signing in again after their
// session ended goes on where they were: the waiting requests go on, the stream opens again.
// Anyone else starts afresh, with nothing of the previous person's on the screen.
function signedIn(info) {
  const same = samePerson(lastPrincipal, info.principal);
  session = info;
  lastPrincipal = info.principal;
  const held = waiting;
  waiting = [];
  if (!same) epoch++;
  for (const w of held) same ? w.resolve() : w.reject(new Dropped());
  hideSignIn();
  renderWho();
  showView(same ? view : viewOfPath(), { push: false });
  if (same) resumeLive();
  else startLive();
}

// sessionLost shows the sign-in panel when the session has ended in use; what is on the screen
// stays under it.
function sessionLost() {
  if (!session) return;
  lastPrincipal = session.principal;
  session = null;
  stopStream();
  showSignIn(() => t("sessionEnded"), true);
}

async function signOut() {
  const button = $("signout");
  button.disabled = true;
  try {
    await api(SESSION, { method: "DELETE", auth: false });
  } catch (err) {
    if (!(err instanceof ApiError && err.status === 401)) { // a 401: it had ended already
      if (!(err instanceof Dropped)) $("message").textContent = t("signOutFailed") + err.message;
      return;
    }
  } finally {
    button.disabled = false;
  }
  epoch++;
  for (const w of waiting) w.reject(new Dropped());
  waiting = [];
  session = lastPrincipal = null;
  clearView();
  $("username").value = "";
  showSignIn(() => t("signedOut"), true);
}

// startLive loads what a newly signed-in person sees; resumeLive opens the stream again and
// reloads the lists it cannot resume.
function startLive() {
  clearView();
  loadStats();
  districts().then(renderWho, () => {});
  if (map) {
    loadOutlines();
    loadGrids();
  }
  resumeLive();
  // The hotline's telephony system can open the console on a call with the code already known:
  // /?code=414743 looks it up once signed in.
  if (linked) {
    $("code").value = linked;
    lookup(linked.trim());
    linked = null;
  }
}

function resumeLive() {
  if (!session) return;
  emit("live");
  startStream();
  if (!map) return;
  loadVehicles();
  loadIncidents();
}

// clearView takes everything of the previous session off the screen.
function clearView() {
  emit("clear");
  stopStream();
  clearTimeout(listRetry);
  queued = null;
  vehiclesSeq++;
  incidentsSeq++;
  shown = null;
  $("elevator").hidden = true;
  $("message").textContent = "";
  $("suggestions").replaceChildren();
  $("code").value = "";
  statsFigures = null;
  renderStats();
  districtsReq = null;
  districtNames.clear();
  if (!map) return;
  elevatorOnMap(null);
  for (const id of [...fleet.keys()]) removeVehicle(id);
  for (const ring of incidents.values()) ring.remove();
  incidents.clear();
  districtLayer.clearLayers();
  gridLayer.clearLayers();
  clearTimeout(gridsTimer);
  fitted = districtsSettled = false;
  streamDown = false;
  renderLegend();
}

// Views: the desk, and those the other modules add (the planner). Each is a <main> with its
// data-view; the map stays. The header offers the views the signed-in person may use, and the
// path names the view (/planner), so that a reload or a bookmark lands on it.
const views = new Map([["desk", { label: "viewDesk", may: () => true }]]); // name → { label, may(principal), enter(), leave() }
let view = "desk";

// addView adds a view: label is its text key, may(principal) whether the person may use it,
// enter() and leave() run as it comes and goes.
export function addView(name, v) { views.set(name, v); }

export function showView(name, { push = true } = {}) {
  const v = views.get(name);
  if (!v || !session || !v.may(session.principal)) name = "desk";
  if (name !== view) views.get(view)?.leave?.();
  const entering = name !== view;
  view = name;
  for (const el of document.querySelectorAll("main[data-view]")) el.hidden = el.dataset.view !== name;
  document.body.dataset.view = name;
  renderViews();
  const path = name === "desk" ? "/" : "/" + name;
  if (push && location.pathname !== path && !(name === "desk" && location.pathname.startsWith("/incidents/"))) history.pushState(null, "", path + location.search);
  map?.invalidateSize();
  if (entering) views.get(name).enter?.();
}

// mayView says whether the signed-in person may use the view (another module's link to it).
export function mayView(name) { return !!session && !!views.get(name)?.may(session.principal); }

// pick opens an incident on the desk, as a click on its ring on the map does.
export function pick(id) {
  showView("desk");
  emit("pick", Number(id));
}

function renderViews() {
  const nav = $("views");
  const mine = [...views].filter(([, v]) => session && v.may(session.principal));
  nav.hidden = mine.length < 2;
  nav.replaceChildren(...mine.map(([name, v]) => {
    const b = document.createElement("button");
    b.type = "button";
    b.dataset.view = name;
    b.textContent = t(v.label);
    b.setAttribute("aria-pressed", String(name === view));
    b.addEventListener("click", () => showView(name));
    return b;
  }));
}

function viewOfPath() {
  const name = location.pathname.split("/")[1];
  return views.has(name) ? name : "desk";
}

// The header names who is signed in: full name, role, and district when they have one.
function renderWho() {
  const p = session?.principal;
  $("who").hidden = !p;
  if (!p) return;
  $("who-name").textContent = p.display || p.name;
  $("who-role").textContent = t("roles")[p.role] ?? p.role ?? "";
  $("who-district").textContent = p.district ? t("whoDistrict")(districtNames.get(p.district) ?? p.district) : "";
}

// The sign-in panel's line of text is kept as a function, so that it follows the language (and
// counts down a wait).
let note = null, noteInfo = false, noteTimer = null;

function setNote(render, info = false, ticking = false) {
  note = render;
  noteInfo = info;
  clearInterval(noteTimer);
  if (ticking) noteTimer = setInterval(renderNote, 1000);
  renderNote();
}

function renderNote() {
  const line = note ? note() : "";
  $("signin-message").textContent = line;
  $("signin-message").classList.toggle("info", noteInfo);
  if (!line) clearInterval(noteTimer);
}

function showSignIn(render = null, info = false) {
  const panel = $("signin");
  const opening = panel.hidden || panel.classList.contains("checking");
  panel.hidden = false;
  panel.classList.remove("checking");
  for (const el of document.querySelectorAll("main, aside")) el.inert = true;
  $("map").inert = true;
  $("who").hidden = true;
  setNote(render, info);
  if (!opening) return;
  const user = $("username");
  if (!user.value && lastPrincipal) user.value = lastPrincipal.name;
  $("password").value = "";
  user.focus();
  user.select();
}

function hideSignIn() {
  $("signin").hidden = true;
  $("signin").classList.remove("checking");
  for (const el of document.querySelectorAll("main, aside")) el.inert = false;
  $("map").inert = false;
  $("password").value = "";
  setNote(null);
  $("code").focus();
}

async function submitSignIn(ev) {
  ev.preventDefault();
  const username = $("username").value.trim(), password = $("password").value;
  if (!username || !password) {
    setNote(() => t("signInEmpty"));
    (username ? $("password") : $("username")).focus();
    return;
  }
  const button = $("signin-submit");
  if (button.disabled) return;
  button.disabled = true;
  setNote(() => t("signingIn"), true);
  try {
    signedIn(await api(SESSION, { method: "POST", body: { username, password }, auth: false }));
  } catch (err) {
    if (err instanceof Dropped) return;
    signInRefused(err);
    $("password").value = "";
    $("password").focus();
  } finally {
    button.disabled = false;
  }
}

// signInRefused says why the server refused the sign-in.
function signInRefused(err) {
  if (!(err instanceof ApiError)) return setNote(() => t("unreachable"));
  if (err.status === 401) return setNote(() => t("badPassword"));
  if (err.status === 429) {
    const until = Date.now() + (err.retryAfter || 60) * 1000;
    return setNote(() => {
      const s = Math.ceil((until - Date.now()) / 1000);
      return s > 0 ? t("rateLimited")(s) : "";
    }, false, true);
  }
  if (err.status === 403 && err.detail.locked_until) {
    const until = err.detail.locked_until;
    return setNote(() => t("locked")(formatFixTime(until)));
  }
  // The only other refusal of a right password: the account is disabled.
  if (err.status === 403) return setNote(() => t("disabled"));
  setNote(() => t("signInFailed") + err.message);
}

// boot asks for the centre's time zone and the session, then starts the console or shows the
// sign-in panel.
async function boot() {
  const zone = api("/api/v1/version", { auth: false }).then((info) => {
    if (info?.time_zone) TZ = info.time_zone;
    useBaseMap(info?.base_map);
  }).catch(() => {});
  let info = null, problem = null;
  try {
    info = await api(SESSION, { auth: false });
  } catch (err) {
    if (!(err instanceof ApiError && err.status === 401)) problem = err;
  }
  await zone;
  if (info) signedIn(info);
  else showSignIn(problem ? () => (problem instanceof ApiError ? t("signInFailed") + problem.message : t("unreachable")) : null);
}

let linked = new URLSearchParams(location.search).get("code");

// start wires the page and asks for the session; main.js calls it once every module has said
// what it follows.
export function start() {
  // Enter on the code of the elevator shown goes on to the next step (the desk's incident form).
  $("lookup").addEventListener("submit", (ev) => {
    ev.preventDefault();
    const code = $("code").value.trim();
    const next = shown && (code === shown.rescue_code || code === shown.equipment_code) && $("elevator").querySelector("form");
    if (next) next.requestSubmit();
    else lookup(code);
  });
  $("signin-form").addEventListener("submit", submitSignIn);
  $("signout").addEventListener("click", signOut);
  window.addEventListener("popstate", () => { if (session) showView(viewOfPath(), { push: false }); });
  window.addEventListener("grids-published", () => { if (session) loadGrids(); });
  $("lang").addEventListener("click", () => { lang = lang === "zh-CN" ? "en" : "zh-CN"; localStorage.setItem("lang", lang); applyLanguage(); });
  try { initMap(); } catch (err) { console.warn("map unavailable:", err); map = null; }
  // A handle for the browser tests and for a curious developer's console; the page never uses it.
  window.liftrescue = { get map() { return map; }, fleet, incidents, get session() { return session; } };
  applyLanguage();
  boot();
}
