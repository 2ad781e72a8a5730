// The dispatcher's first screen: type the rescue code read out by the caller, press Enter, and
// see the elevator with its two tier-1 units. Times are shown in the centre's zone.
"use strict";

let TZ = "Asia/Shanghai"; // replaced by the server's --tz at start
const text = {
  "zh-CN": {
    title: "电梯应急救援调度", codeLabel: "救援识别码 / 设备代码", find: "查找", lang: "English",
    notFound: "未找到该编码的电梯", badCode: "请输入4–8位救援识别码或20位设备代码", didYouMean: "您是否要找：",
    stats: (n, d) => `${n} 部电梯 · ${d} 个区县`, error: "查询失败：",
    rescueCode: "救援识别码", equipmentCode: "设备代码", building: "楼栋", district: "区县", kind: "类型", floors: "层站",
    userUnit: "使用单位", maintenanceUnit: "维保单位", lastMaintained: "最近维保", inspection: "检验有效期至",
    status: "状态", in_service: "在用", out_of_service: "停用", overdue: "（已超期）", expired: "（已过期）",
    kinds: { traction: "曳引驱动电梯", hydraulic: "液压电梯", positive_drive: "强制驱动电梯", escalator: "自动扶梯", moving_walk: "自动人行道", dumbwaiter: "杂物电梯" },
  },
  en: {
    title: "Elevator emergency rescue dispatch", codeLabel: "Rescue code / equipment code", find: "Find", lang: "中文",
    notFound: "No elevator has this code", badCode: "Enter a 4–8 digit rescue code or a 20-digit equipment code", didYouMean: "Did you mean:",
    stats: (n, d) => `${n} elevators · ${d} districts`, error: "Lookup failed: ",
    rescueCode: "Rescue code", equipmentCode: "Equipment code", building: "Building", district: "District", kind: "Kind", floors: "Floors",
    userUnit: "User unit", maintenanceUnit: "Maintenance company", lastMaintained: "Last maintained", inspection: "Inspection valid until",
    status: "Status", in_service: "In service", out_of_service: "Out of service", overdue: " (overdue)", expired: " (expired)",
    kinds: { traction: "Traction", hydraulic: "Hydraulic", positive_drive: "Positive drive", escalator: "Escalator", moving_walk: "Moving walk", dumbwaiter: "Dumbwaiter" },
  },
};
let lang = localStorage.getItem("lang") || "zh-CN";
let shown = null;
const $ = (id) => document.getElementById(id);
const t = (key) => text[lang][key];

function applyLanguage() {
  document.documentElement.lang = lang;
  document.querySelectorAll("[data-i18n]").forEach((el) => { el.textContent = t(el.dataset.i18n); });
  $("lang").textContent = t("lang");
  document.title = "liftrescue " + t("title");
  if (shown) showElevator(shown);
  loadStats();
}

function formatTime(iso) {
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
  ];
  $("facts").replaceChildren(...rows.flatMap(([key, value, warn]) => {
    const dt = document.createElement("dt"); dt.textContent = t(key);
    const dd = document.createElement("dd"); dd.textContent = value; if (warn) dd.className = "warn";
    return [dt, dd];
  }));
  $("elevator").hidden = false;
}

async function suggest(code) {
  // Callers misread a digit: offer the elevators whose code shares all but the last digit.
  if (code.length < 5) return;
  const res = await fetch(`/api/v1/elevators?limit=5&q=${encodeURIComponent(code.slice(0, -1))}`);
  if (!res.ok) return;
  const page = await res.json();
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

async function lookup(code) {
  shown = null;
  $("elevator").hidden = true;
  $("suggestions").replaceChildren();
  if (!/^(\d{4,8}|\d{20})$/.test(code)) { $("message").textContent = t("badCode"); return; }
  try {
    const res = await fetch(`/api/v1/elevators/${code}`);
    if (res.ok) { showElevator(await res.json()); return; }
    const body = await res.json().catch(() => ({}));
    $("message").textContent = res.status === 404 ? t("notFound") : t("error") + (body.error?.message || res.status);
    if (res.status === 404) suggest(code);
  } catch (err) {
    $("message").textContent = t("error") + err.message;
  }
}

async function loadStats() {
  try {
    const [els, ds] = await Promise.all([fetch("/api/v1/elevators?limit=1"), fetch("/api/v1/districts")]);
    if (els.ok && ds.ok) $("stats").textContent = t("stats")((await els.json()).total, (await ds.json()).total);
  } catch { /* the lookup still works without the figures */ }
}

$("lookup").addEventListener("submit", (ev) => { ev.preventDefault(); lookup($("code").value.trim()); });
$("lang").addEventListener("click", () => { lang = lang === "zh-CN" ? "en" : "zh-CN"; localStorage.setItem("lang", lang); applyLanguage(); });
fetch("/api/v1/version").then((r) => r.ok ? r.json() : null).then((info) => { if (info?.time_zone) TZ = info.time_zone; }).catch(() => {});
applyLanguage();
$("code").focus();
// The hotline's telephony system can open the console on a call with the code already known:
// /?code=414743 looks it up at once.
const linked = new URLSearchParams(location.search).get("code");
if (linked) { $("code").value = linked; lookup(linked.trim()); }
