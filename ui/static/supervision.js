// Supervision (监管): what the elevators' IoT terminals (GB/T 24476) tell those who watch the
// city's elevators and their maintenance. The share of terminals reporting, for the city and each
// district, read again every 30 s while the view is shown; the terminals that have gone quiet or
// never reported, page by page; the elevators whose faults repeat (the server's rule: N within a
// period), each with its fault record to open in place and its code to look up on the desk; any
// elevator's record by its code (the desk's elevator card links here); and, for an administrator,
// the reports of elevators or terminals no one has registered (the quarantine).
//
// Everything is read-only: supervisors, administrators and dispatchers see the same. The map
// beside it is the core's; a flagged elevator looked up goes on it.
"use strict";
import {
  $, t, addText, lang, formatTime, formatFixTime, api, ApiError, Dropped, session, districts, districtNames, on, addView, showView, lookup, pick,
} from "./app.js";

addText({
  "zh-CN": {
    viewSupervision: "监管", svTitle: "物联网终端与故障监管",
    svShare: "物联网终端在线率", svTotal: (n) => `共 ${n} 台`,
    svRule: (d) => `超过${d}没有任何上报（报警、状态或心跳）的终端视为离线。`, svUpdated: (at) => `更新于 ${at}，每 30 秒刷新`,
    svNoTerminals: "尚未登记任何物联网终端。", svByDistrict: "各区县",
    svColDistrict: "区县", svColRegistered: "终端", svColOnline: "在线", svColOffline: "离线", svColNever: "从未上报", svColShare: "在线率",
    svSilent: "离线与从未上报的终端", svShowOffline: (n) => `离线 ${n}`, svShowNever: (n) => `从未上报 ${n}`, svAllDistricts: "全部区县", svDistrictFilter: "区县",
    svColElevator: "电梯设备代码 / 终端", svColPlatform: "物联网平台", svColLastSeen: "最后上报", svColRegisteredAt: "登记时间",
    svNoneOffline: "没有离线的终端。", svNoneNever: "所有终端都已上报过。", svRange: (a, b, n) => `第 ${a}–${b} 台，共 ${n} 台`, svPrev: "上一页", svNext: "下一页",
    svFlagged: "故障频发电梯", svFlagRule: (n, d) => `${d}内故障 ${n} 次及以上`, svNoFlagged: "没有故障频发的电梯。",
    svFaults: (n) => `${n} 次故障`, svLastFault: (at) => `最近一次 ${at}`, svLookUp: "在调度台查看该电梯", svRecord: "故障记录",
    svColTime: "时间", svColKind: "故障类型", svColCode: "原始代码", svColRepeats: "次数", svColIncident: "事件", svUntil: (at) => `至 ${at}`,
    svNoFaults: "没有故障记录。", svNotCounted: "不计入频发统计", svMore: "加载更多", svShown: (a, n) => `已显示 ${a} / ${n} 条`,
    svFind: "按编码查看电梯故障记录", svFindButton: "查看", svTerminals: "物联网终端", svNoTerminal: "未登记物联网终端",
    svQuarantine: "未登记设备的上报", svQuarantineHint: "这些上报所指的电梯或终端尚未登记：登记后其上报即可送达电梯。",
    svNoQuarantine: "没有未登记设备的上报。", svColReceived: "收到时间", svColSubject: "设备代码 / 终端", svColReason: "原因", svColSender: "来源",
    svShowAll: (n) => `显示全部 ${n} 条`, svTerminal: (id) => `终端 ${id}`,
    svLoading: "正在加载…", svFailed: "加载失败：", svUnavailable: "本服务器未启用物联网终端监测。", svRefresh: "立即刷新",
    svSeconds: (n) => `${n} 秒`, svMinutes: (n) => `${n} 分钟`, svHours: (n) => `${n} 小时`, svDays: (n) => `${n} 天`,
    svPriority: (p) => `${p}级`,
  },
  en: {
    viewSupervision: "Supervision", svTitle: "IoT terminals and faults",
    svShare: "IoT terminals online", svTotal: (n) => `${n} in all`,
    svRule: (d) => `A terminal with no report (alarm, state or heartbeat) for ${d} is offline.`, svUpdated: (at) => `Updated ${at}; every 30 s`,
    svNoTerminals: "No IoT terminals are registered yet.", svByDistrict: "By district",
    svColDistrict: "District", svColRegistered: "Terminals", svColOnline: "Online", svColOffline: "Offline", svColNever: "Never", svColShare: "Share online",
    svSilent: "Terminals offline or never heard from", svShowOffline: (n) => `Offline ${n}`, svShowNever: (n) => `Never reported ${n}`, svAllDistricts: "All districts", svDistrictFilter: "District",
    svColElevator: "Elevator / terminal", svColPlatform: "IoT platform", svColLastSeen: "Last report", svColRegisteredAt: "Registered",
    svNoneOffline: "No terminal is offline.", svNoneNever: "Every terminal has reported.", svRange: (a, b, n) => `${a}–${b} of ${n}`, svPrev: "Previous", svNext: "Next",
    svFlagged: "Elevators with repeated faults", svFlagRule: (n, d) => `${n} or more faults within ${d}`, svNoFlagged: "No elevator has repeated faults.",
    svFaults: (n) => `${n} faults`, svLastFault: (at) => `latest ${at}`, svLookUp: "Look this elevator up on the desk", svRecord: "Fault record",
    svColTime: "Time", svColKind: "Kind", svColCode: "Code sent", svColRepeats: "Reports", svColIncident: "Incident", svUntil: (at) => `to ${at}`,
    svNoFaults: "No faults recorded.", svNotCounted: "not counted towards the flag", svMore: "Load more", svShown: (a, n) => `${a} of ${n} shown`,
    svFind: "An elevator's fault record by its code", svFindButton: "Show", svTerminals: "IoT terminals", svNoTerminal: "No IoT terminal registered",
    svQuarantine: "Reports of unregistered devices", svQuarantineHint: "These reports name an elevator or terminal not registered: once it is, its reports reach the elevator.",
    svNoQuarantine: "No reports of unregistered devices.", svColReceived: "Received", svColSubject: "Equipment code / terminal", svColReason: "Reason", svColSender: "Sender",
    svShowAll: (n) => `Show all ${n}`, svTerminal: (id) => `terminal ${id}`,
    svLoading: "Loading…", svFailed: "Could not load: ", svUnavailable: "This server does not monitor IoT terminals.", svRefresh: "Refresh now",
    svSeconds: (n) => `${n} s`, svMinutes: (n) => `${n} min`, svHours: (n) => `${n} h`, svDays: (n) => `${n} days`,
    svPriority: (p) => `P${p}`,
  },
});

const PAGE = 10; // terminals a page
const RECORD_PAGE = 20; // faults a page
const QUARANTINE_SHOWN = 50; // the newest reports shown before "show all"
const REFRESH_MS = 30_000;

// What the view shows. seq goes up when the session's data is forgotten: answers to requests made
// before then are dropped.
const state = {
  summary: null, summaryErr: null, summaryAt: null,
  // The quiet terminals: the status and district shown, the cursors of the pages up to this one
  // ("" for the first), the page as read.
  silent: { status: "offline", district: "", cursors: [""], page: null, err: null, chosen: false },
  flagged: null, flaggedErr: null,
  records: new Map(), // elevator code → { items, total, next, err, loading, lastAt }
  opened: new Set(), // codes of the flagged elevators whose record is open
  asked: null, // { code, elevator, err }: the elevator whose record was asked for by its code
  quarantine: null, quarantineErr: null, quarantineAll: false,
};
let seq = 0, entered = false, timer = null, silentSeq = 0;

// ---- small helpers -----------------------------------------------------------------------------

// el makes an element: props are properties (onclick, className, …) except i18n (a text key the
// core's language switch re-applies), text, attrs and dataset; children may be null.
function el(tag, props = {}, ...children) {
  const e = document.createElement(tag);
  const { i18n, text, attrs, dataset, ...rest } = props;
  Object.assign(e, rest);
  if (i18n) { e.dataset.i18n = i18n; e.textContent = t(i18n); }
  if (text !== undefined) e.textContent = text;
  for (const [k, v] of Object.entries(attrs || {})) e.setAttribute(k, v);
  if (dataset) Object.assign(e.dataset, dataset);
  e.append(...children.filter((c) => c != null && c !== false));
  return e;
}
// fill replaces what the box holds with the children that are not null.
const fill = (box, ...children) => box.replaceChildren(...children.filter((c) => c != null && c !== false));
const num = (x) => new Intl.NumberFormat(lang).format(x);
const pct = (x, digits = 0) => new Intl.NumberFormat(lang, { style: "percent", maximumFractionDigits: digits }).format(x);
const districtName = (code) => (code ? districtNames.get(code) ?? code : "—");
const kindName = (k) => t("alarmKind")[k] ?? k;
const isAdmin = () => !!session && (session.principal.role === "admin" || !!session.principal.permissions?.includes("registry:write"));

// duration says a length of time in the largest whole unit.
function duration(s) {
  if (s % 86400 === 0) return t("svDays")(s / 86400);
  if (s % 3600 === 0) return t("svHours")(s / 3600);
  if (s >= 60 && s % 60 === 0) return t("svMinutes")(s / 60);
  return s >= 60 ? t("svMinutes")(Math.round(s / 60)) : t("svSeconds")(s);
}

// problem is the line that says why a part could not load.
function problem(err) {
  if (err instanceof ApiError && err.code === "EUNAVAILABLE") return el("p", { className: "error", attrs: { role: "alert" }, text: t("svUnavailable") });
  return el("p", { className: "error", attrs: { role: "alert" }, text: t("svFailed") + (err?.message || err) });
}

// keep re-renders a part of the screen without losing the keyboard's place in it: the element
// that had the focus, known by its data-key, has it again after.
function keep(box, render) {
  const active = document.activeElement;
  const key = box.contains(active) ? active?.dataset.key : null;
  render();
  if (key) box.querySelector(`[data-key="${CSS.escape(key)}"]`)?.focus();
}

// lookUp shows the elevator on the desk (its card, its terminals, on the map).
function lookUp(code) {
  showView("desk");
  $("code").value = code;
  lookup(code);
}

// ---- the panel, built once; the core re-applies [data-i18n] texts on a language switch ---------

const panel = $("supervision");
const shareBox = el("div", { id: "sv-share-body" });
const silentTabs = el("div", { id: "sv-silent-tabs", className: "tabs", attrs: { role: "group", "aria-label": t("svSilent") } });
const districtSelect = el("select", { id: "sv-district", onchange: () => { Object.assign(state.silent, { district: districtSelect.value, cursors: [""] }); renderSilentFilters(); loadSilent(); } });
const silentBox = el("div", { id: "sv-silent-body" });
const flaggedRule = el("p", { id: "sv-flag-rule", className: "hint" });
const flaggedBox = el("div", { id: "sv-flagged-body" });
const findInput = el("input", { id: "sv-find-code", inputMode: "numeric", maxLength: 20, autocomplete: "off", required: true });
const findForm = el("form", { id: "sv-find", className: "row", noValidate: true },
  el("label", { htmlFor: "sv-find-code", i18n: "svFind" }), findInput, el("button", { type: "submit", i18n: "svFindButton" }));
const askedBox = el("div", { id: "sv-record-body" });
const quarantineBox = el("div", { id: "sv-quarantine-body" });
const quarantineSection = el("section", { id: "sv-quarantine", className: "card", hidden: true, attrs: { "aria-labelledby": "sv-quarantine-title" } },
  el("h3", { id: "sv-quarantine-title", i18n: "svQuarantine" }),
  el("p", { className: "hint", i18n: "svQuarantineHint" }),
  quarantineBox);

panel.append(
  el("div", { className: "sv-head" },
    el("h2", { id: "sv-title", i18n: "svTitle", tabIndex: -1 }),
    el("button", { id: "sv-refresh", type: "button", className: "secondary", i18n: "svRefresh", onclick: () => refresh(true) })),
  el("section", { id: "sv-share", className: "card", attrs: { "aria-labelledby": "sv-share-title" } },
    el("h3", { id: "sv-share-title", i18n: "svShare" }), shareBox),
  el("section", { id: "sv-flagged", className: "card", attrs: { "aria-labelledby": "sv-flagged-title" } },
    el("h3", { id: "sv-flagged-title", i18n: "svFlagged" }), flaggedRule, flaggedBox),
  el("section", { id: "sv-record", className: "card", attrs: { "aria-labelledby": "sv-record-title" } },
    el("h3", { id: "sv-record-title", i18n: "svRecord" }), findForm, askedBox),
  el("section", { id: "sv-silent", className: "card", attrs: { "aria-labelledby": "sv-silent-title" } },
    el("h3", { id: "sv-silent-title", i18n: "svSilent" }),
    el("div", { className: "row filters" }, silentTabs,
      el("label", { className: "inline" }, el("span", { i18n: "svDistrictFilter" }), districtSelect)),
    silentBox),
  quarantineSection,
);

findForm.addEventListener("submit", (ev) => {
  ev.preventDefault();
  const code = findInput.value.trim();
  if (!/^(\d{4,8}|\d{20})$/.test(code)) { state.asked = { code, err: new Error(t("badCode")) }; renderAsked(); findInput.focus(); return; }
  ask(code);
});

// ---- the share online --------------------------------------------------------------------------

async function loadSummary() {
  const at = seq;
  try {
    await districts().catch(() => {}); // the names; the codes do without them
    const s = await api("/api/v1/terminals/summary");
    if (at !== seq) return;
    Object.assign(state, { summary: s, summaryErr: null, summaryAt: new Date().toISOString() });
  } catch (err) {
    if (err instanceof Dropped || at !== seq) return;
    state.summaryErr = err;
  }
  renderSummary();
  renderSilentFilters();
}

function renderSummary() {
  const s = state.summary;
  if (!s) { fill(shareBox, state.summaryErr ? problem(state.summaryErr) : el("p", { className: "hint", text: t("svLoading") })); return; }
  const parts = [];
  if (!s.registered) {
    parts.push(el("p", { id: "sv-no-terminals", className: "empty", text: t("svNoTerminals") }));
  } else {
    parts.push(el("div", { className: "figure" },
      el("span", { id: "sv-share-figure", className: "big " + shareClass(s.share_online), text: pct(s.share_online, 1) }),
      el("span", { id: "sv-counts", className: "counts" },
        ...[["online", s.online], ["offline", s.offline], ["never", s.never]].map(([k, n]) =>
          el("span", { className: "count " + k, dataset: { status: k } }, el("span", { className: "dot" }), `${t("terminalStatus")[k]} `, el("strong", { text: num(n) }))),
        el("span", { className: "count all", text: t("svTotal")(num(s.registered)) }))));
    parts.push(districtTable(s.districts ?? []));
  }
  parts.push(el("p", { className: "hint" }, t("svRule")(duration(s.offline_after_s)), " ",
    el("span", { id: "sv-updated", text: t("svUpdated")(formatFixTime(state.summaryAt)) })));
  if (state.summaryErr) parts.push(problem(state.summaryErr)); // the figures shown are the last read
  fill(shareBox, ...parts);
}

function shareClass(x) { return x >= 0.95 ? "good" : x >= 0.8 ? "fair" : "poor"; }

function districtTable(rows) {
  return el("table", { id: "sv-districts", className: "sv-table" },
    el("caption", { className: "sr-only", i18n: "svByDistrict" }),
    el("thead", {}, el("tr", {}, ...["svColDistrict", "svColRegistered", "svColOnline", "svColOffline", "svColNever", "svColShare"].map((k) =>
      el("th", { scope: "col", i18n: k })))),
    el("tbody", {}, ...rows.map((d) => el("tr", { dataset: { district: d.district } },
      el("th", { scope: "row", text: districtName(d.district) }),
      el("td", { text: num(d.registered) }), el("td", { text: num(d.online) }),
      el("td", { className: d.offline ? "warn" : "", text: num(d.offline) }), el("td", { text: num(d.never) }),
      el("td", { className: "share" },
        el("span", { className: "bar", attrs: { "aria-hidden": "true" } }, el("span", { className: shareClass(d.share_online), style: `width:${Math.round(d.share_online * 100)}%` })),
        el("span", { text: pct(d.share_online) }))))));
}

// ---- the quiet terminals -----------------------------------------------------------------------

let districtOptions = ""; // what the district list was filled with, not to fill it again while open

function renderSilentFilters() {
  const f = state.silent;
  // The counts on the toggles are those of the district chosen.
  const s = f.district ? state.summary?.districts?.find((d) => d.district === f.district) ?? null : state.summary;
  // The first look goes to the terminals never heard from when none is offline.
  if (s && !f.chosen && !s.offline && s.never && f.status === "offline") { f.status = "never"; f.cursors = [""]; loadSilent(); }
  keep(silentTabs, () => fill(silentTabs, ...[["offline", "svShowOffline", s?.offline], ["never", "svShowNever", s?.never]].map(([status, key, n]) =>
    el("button", {
      type: "button", text: t(key)(n == null ? "…" : num(n)), dataset: { status, key: "tab-" + status },
      attrs: { "aria-pressed": String(f.status === status) },
      onclick: () => { f.chosen = true; if (f.status === status) return; f.status = status; f.cursors = [""]; renderSilentFilters(); loadSilent(); },
    }))));
  const names = [...districtNames].sort((a, b) => a[0].localeCompare(b[0]));
  const own = session?.principal.district;
  districtSelect.hidden = !!own; // a district's account sees its own only
  districtSelect.parentElement.hidden = !!own;
  const options = lang + JSON.stringify(names);
  if (options !== districtOptions) {
    districtOptions = options;
    fill(districtSelect, el("option", { value: "", text: t("svAllDistricts") }), ...names.map(([code, name]) => el("option", { value: code, text: name })));
  }
  districtSelect.value = f.district;
}

async function loadSilent() {
  const f = state.silent, at = seq, mine = ++silentSeq;
  const q = new URLSearchParams({ status: f.status, limit: PAGE });
  if (f.district) q.set("district", f.district);
  const cursor = f.cursors[f.cursors.length - 1];
  if (cursor) q.set("cursor", cursor);
  if (f.shown !== `${f.status} ${f.district} ${cursor}`) f.err = null; // the last query's error is not this one's
  renderSilent();
  try {
    const page = await api(`/api/v1/terminals?${q}`);
    if (at !== seq || mine !== silentSeq) return;
    page.items ??= []; // an empty list may come as null
    if (!page.items.length && f.cursors.length > 1) { f.cursors.pop(); loadSilent(); return; } // the page emptied (they came back)
    Object.assign(f, { page, err: null, shown: `${f.status} ${f.district} ${cursor}` });
  } catch (err) {
    if (err instanceof Dropped || at !== seq || mine !== silentSeq) return;
    f.err = err;
  }
  renderSilent();
}

function renderSilent() {
  const f = state.silent, page = f.page;
  keep(silentBox, () => {
    if (!page || f.shown !== `${f.status} ${f.district} ${f.cursors[f.cursors.length - 1]}`) { // a new query on its way
      fill(silentBox, f.err ? problem(f.err) : el("p", { className: "hint", text: t("svLoading") }));
      return;
    }
    if (!page.items.length) {
      fill(silentBox, el("p", { className: "empty", text: t(f.status === "never" ? "svNoneNever" : "svNoneOffline") }), f.err ? problem(f.err) : null);
      return;
    }
    const never = f.status === "never";
    const first = (f.cursors.length - 1) * PAGE + 1;
    fill(silentBox,
      el("div", { className: "scroll" }, el("table", { id: "sv-silent-table", className: "sv-table" },
        el("thead", {}, el("tr", {}, ...["svColElevator", "svColDistrict", "svColPlatform", never ? "svColRegisteredAt" : "svColLastSeen"].map((k) =>
          el("th", { scope: "col", i18n: k })))),
        el("tbody", {}, ...page.items.map((x) => el("tr", { className: x.status, dataset: { terminal: x.terminal_id } },
          el("th", { scope: "row" }, x.equipment_code
            ? el("button", { type: "button", className: "link code", text: x.equipment_code, title: t("svLookUp"), dataset: { key: "look-" + x.terminal_id }, onclick: () => lookUp(x.equipment_code) })
            : `#${x.elevator_id}`,
          el("div", { className: "hint mono terminal-id", text: t("svTerminal")(x.terminal_id) })),
          el("td", { text: districtName(x.district) }),
          el("td", {}, x.platform || "—", x.model ? el("div", { className: "hint", text: x.model }) : null),
          el("td", { className: "when", text: never ? (x.created_at ? formatTime(x.created_at) : "—") : (x.last_seen ? formatTime(x.last_seen) : "—") })))))),
      el("div", { className: "pager" },
        el("button", { type: "button", text: t("svPrev"), disabled: f.cursors.length < 2, dataset: { key: "prev" }, onclick: () => { f.cursors.pop(); loadSilent(); } }),
        el("span", { className: "hint", attrs: { "aria-live": "polite" }, text: t("svRange")(num(first), num(first + page.items.length - 1), num(page.total)) }),
        el("button", { type: "button", text: t("svNext"), disabled: !page.next_cursor, dataset: { key: "next" }, onclick: () => { f.cursors.push(page.next_cursor); loadSilent(); } })),
      f.err ? problem(f.err) : null);
  });
}

// ---- the flagged elevators and their fault records ---------------------------------------------

async function loadFlagged() {
  const at = seq;
  try {
    const r = await api("/api/v1/faults/flagged");
    if (at !== seq) return;
    r.items ??= [];
    Object.assign(state, { flagged: r, flaggedErr: null });
    // An open record whose elevator has had a fault since it was read is read again.
    for (const x of r.items) {
      const rec = state.records.get(x.rescue_code);
      if (state.opened.has(x.rescue_code) && rec && rec.lastAt !== x.last_at) loadRecord(x.rescue_code, { lastAt: x.last_at });
    }
  } catch (err) {
    if (err instanceof Dropped || at !== seq) return;
    state.flaggedErr = err;
  }
  renderFlagged();
}

function renderFlagged() {
  const r = state.flagged;
  flaggedRule.textContent = r ? t("svFlagRule")(num(r.min_faults), duration(r.period_s)) : "";
  keep(flaggedBox, () => {
    if (!r) { fill(flaggedBox, state.flaggedErr ? problem(state.flaggedErr) : el("p", { className: "hint", text: t("svLoading") })); return; }
    if (!r.items.length) { fill(flaggedBox, el("p", { id: "sv-no-flagged", className: "empty", text: t("svNoFlagged") }), state.flaggedErr ? problem(state.flaggedErr) : null); return; }
    fill(flaggedBox, el("ol", { id: "sv-flagged-list", className: "flagged" }, ...r.items.map((x) => {
      const code = x.rescue_code, open = state.opened.has(code), id = "sv-rec-" + x.elevator_id;
      return el("li", { dataset: { elevator: x.elevator_id, code } },
        el("div", { className: "flag-head" },
          el("button", { type: "button", className: "link code", text: code, title: t("svLookUp"), attrs: { "aria-label": `${t("svLookUp")} ${code}` }, dataset: { key: "look-" + code }, onclick: () => lookUp(code) }),
          el("span", { className: "address", text: x.address }),
          el("span", { className: "faults", text: t("svFaults")(num(x.faults)) })),
        el("div", { className: "flag-foot" },
          el("span", { className: "hint", text: `${districtName(x.district)} · ${t("svLastFault")(formatTime(x.last_at))}` }),
          el("button", {
            type: "button", className: "toggle", text: t("svRecord"), dataset: { key: "rec-" + code },
            attrs: { "aria-expanded": String(open), "aria-controls": id }, onclick: () => toggleRecord(code, x.last_at),
          })),
        open ? el("div", { id, className: "record" }, recordView(code)) : null);
    })), state.flaggedErr ? problem(state.flaggedErr) : null);
  });
}

function toggleRecord(code, lastAt) {
  if (state.opened.has(code)) state.opened.delete(code);
  else {
    state.opened.add(code);
    const rec = state.records.get(code);
    if (!rec || rec.err || rec.lastAt !== lastAt) loadRecord(code, { lastAt });
  }
  renderFlagged();
}

// loadRecord reads the first page of an elevator's fault record (more: the next page, added).
async function loadRecord(code, { more = false, lastAt } = {}) {
  const at = seq;
  const rec = state.records.get(code) ?? { items: [], total: 0, next: "" };
  if (!more) lastAt ??= rec.lastAt;
  rec.loading = true;
  state.records.set(code, rec);
  const q = new URLSearchParams({ limit: RECORD_PAGE });
  if (more && rec.next) q.set("cursor", rec.next);
  try {
    const page = await api(`/api/v1/elevators/${encodeURIComponent(code)}/faults?${q}`);
    if (at !== seq) return;
    page.items ??= [];
    Object.assign(rec, { items: more ? [...rec.items, ...page.items] : page.items, total: page.total, next: page.next_cursor ?? "", err: null, lastAt });
  } catch (err) {
    if (err instanceof Dropped || at !== seq) return;
    rec.err = err;
  } finally {
    rec.loading = false;
  }
  renderRecords(code);
}

// renderRecords draws the record again wherever it is shown.
function renderRecords(code) {
  if (state.opened.has(code) && state.flagged?.items.some((x) => x.rescue_code === code)) renderFlagged();
  if (state.asked && recordCode(state.asked) === code) renderAsked();
}

// recordView is an elevator's fault record as a table, newest first, with more on demand.
function recordView(code) {
  const rec = state.records.get(code);
  if (!rec || (rec.loading && !rec.items.length)) return el("p", { className: "hint", text: t("svLoading") });
  if (rec.err && !rec.items.length) return problem(rec.err);
  if (!rec.items.length) return el("p", { className: "empty", text: t("svNoFaults") });
  return el("div", { className: "fault-record", dataset: { code } },
    el("div", { className: "scroll" }, el("table", { className: "sv-table faults" },
      el("thead", {}, el("tr", {}, ...["svColTime", "svColKind", "svColRepeats", "svColCode", "svColIncident"].map((k) => el("th", { scope: "col", i18n: k })))),
      el("tbody", {}, ...rec.items.map((f) => el("tr", { className: `p${f.priority}` + (f.counts ? "" : " uncounted"), dataset: { fault: f.id, kind: f.kind } },
        el("td", { className: "when" }, formatTime(f.first_at),
          f.repeats > 1 && f.last_at !== f.first_at ? el("div", { className: "hint", text: t("svUntil")(formatTime(f.last_at)) }) : null),
        el("th", { scope: "row" },
          el("span", { className: `prio p${f.priority}`, text: t("svPriority")(f.priority) }), " ", kindName(f.kind),
          f.counts ? null : el("div", { className: "hint", text: t("svNotCounted") })),
        el("td", { className: "repeats", text: "×" + num(f.repeats) }),
        el("td", { className: "mono" }, `${f.namespace} ${f.code}`, f.terminal_id ? el("div", { className: "hint", text: t("svTerminal")(f.terminal_id) }) : null),
        el("td", {}, f.incident_id ? el("a", {
          href: `/incidents/${f.incident_id}`, text: `#${f.incident_id}`, dataset: { key: `inc-${code}-${f.id}` },
          onclick: (ev) => { ev.preventDefault(); pick(f.incident_id); },
        }) : "—")))))),
    el("div", { className: "pager" },
      el("span", { className: "hint", text: t("svShown")(num(rec.items.length), num(rec.total)) }),
      rec.next ? el("button", { type: "button", text: t("svMore"), disabled: !!rec.loading, dataset: { key: "more-" + code }, onclick: () => loadRecord(code, { more: true }) }) : null),
    rec.err ? problem(rec.err) : null);
}

// ---- one elevator's record, asked for by its code (here, or from the desk's card) ---------------

const recordCode = (a) => a.elevator?.rescue_code ?? a.code;

async function ask(code) {
  const at = seq;
  findInput.value = code;
  state.asked = { code, elevator: null, err: null, loading: true };
  renderAsked();
  try {
    const e = await api(`/api/v1/elevators/${encodeURIComponent(code)}`);
    if (at !== seq || state.asked?.code !== code) return;
    state.asked = { code, elevator: e, err: null };
    loadRecord(e.rescue_code, { lastAt: null });
  } catch (err) {
    if (err instanceof Dropped || at !== seq || state.asked?.code !== code) return;
    state.asked = { code, err: err instanceof ApiError && err.status === 404 ? new Error(t("notFound")) : err };
  }
  renderAsked();
}

function renderAsked() {
  const a = state.asked;
  keep(askedBox, () => {
    if (!a) { fill(askedBox); return; }
    if (a.loading) { fill(askedBox, el("p", { className: "hint", text: t("svLoading") })); return; }
    if (!a.elevator) { fill(askedBox, problem(a.err)); return; }
    const e = a.elevator;
    fill(askedBox,
      el("div", { className: "flag-head" },
        el("button", { type: "button", className: "link code", text: e.rescue_code, title: t("svLookUp"), dataset: { key: "asked-look" }, onclick: () => lookUp(e.rescue_code) }),
        el("span", { className: "address", text: `${e.address} ${e.building || ""}`.trim() })),
      el("p", { className: "terminals" }, el("span", { className: "hint", text: t("svTerminals") + (lang === "en" ? ": " : "：") }),
        ...(e.terminals?.length ? e.terminals.map((x) => el("span", { className: "terminal " + x.status, dataset: { terminal: x.terminal_id } },
          el("span", { className: "dot" }), `${x.terminal_id} ${t("terminalStatus")[x.status] ?? x.status}`,
          x.status === "offline" && x.last_seen ? ` (${formatTime(x.last_seen)})` : "")) : [el("span", { text: t("svNoTerminal") })])),
      el("div", { id: "sv-asked-record", className: "record" }, recordView(e.rescue_code)));
  });
}

// The desk's elevator card asks for an elevator's record: the view opens on it.
window.addEventListener("show-faults", (ev) => {
  if (!session) return;
  showView("supervision");
  ask(String(ev.detail));
  $("sv-record").scrollIntoView({ block: "start" });
  $("sv-find-code").focus({ preventScroll: true });
});

// ---- the quarantine (administrators) -----------------------------------------------------------

async function loadQuarantine() {
  const at = seq;
  try {
    const r = await api("/api/v1/alarms/quarantine");
    if (at !== seq) return;
    r.items ??= [];
    Object.assign(state, { quarantine: r, quarantineErr: null });
  } catch (err) {
    if (err instanceof Dropped || at !== seq) return;
    state.quarantineErr = err;
  }
  renderQuarantine();
}

function renderQuarantine() {
  quarantineSection.hidden = !isAdmin();
  if (quarantineSection.hidden) return;
  const r = state.quarantine;
  keep(quarantineBox, () => {
    if (!r) { fill(quarantineBox, state.quarantineErr ? problem(state.quarantineErr) : el("p", { className: "hint", text: t("svLoading") })); return; }
    if (!r.items.length) { fill(quarantineBox, el("p", { className: "empty", text: t("svNoQuarantine") }), state.quarantineErr ? problem(state.quarantineErr) : null); return; }
    const newest = r.items.slice().reverse(); // the server lists them newest last
    const shown = state.quarantineAll ? newest : newest.slice(0, QUARANTINE_SHOWN);
    fill(quarantineBox,
      el("div", { className: "scroll" }, el("table", { id: "sv-quarantine-table", className: "sv-table" },
        el("thead", {}, el("tr", {}, ...["svColReceived", "svColSubject", "svColKind", "svColReason"].map((k) => el("th", { scope: "col", i18n: k })))),
        el("tbody", {}, ...shown.map((q) => el("tr", {},
          el("td", { className: "when", text: formatTime(q.received_at), title: q.time ? formatTime(q.time) : "" }),
          el("th", { scope: "row", className: "mono", text: q.equipment_code || t("svTerminal")(q.terminal_id) }),
          el("td", {}, q.kind ? kindName(q.kind) : "—", q.code ? el("div", { className: "hint mono", text: `${q.namespace} ${q.code}` }) : null),
          el("td", {}, q.reason, el("div", { className: "hint" }, t("svColSender") + (lang === "en" ? ": " : "："), el("span", { className: "mono", text: q.sender })))))))),
      newest.length > shown.length ? el("div", { className: "pager" },
        el("button", { type: "button", text: t("svShowAll")(num(newest.length)), dataset: { key: "q-all" }, onclick: () => { state.quarantineAll = true; renderQuarantine(); } })) : null,
      state.quarantineErr ? problem(state.quarantineErr) : null);
  });
}

// ---- the view ----------------------------------------------------------------------------------

// refresh reads everything again; the open records follow their elevators' latest faults.
function refresh(all = false) {
  if (!session || !entered || (document.hidden && !all)) return;
  loadSummary();
  loadSilent();
  loadFlagged();
  if (all && state.asked?.elevator) ask(state.asked.code);
  if (isAdmin()) loadQuarantine();
}

function renderAll() {
  renderSummary();
  renderSilentFilters();
  renderSilent();
  renderFlagged();
  renderAsked();
  renderQuarantine();
}

addView("supervision", {
  label: "viewSupervision",
  may: (p) => p.role === "supervisor" || p.role === "admin" || p.role === "dispatcher",
  enter() {
    entered = true;
    renderAll();
    refresh(true);
    clearInterval(timer);
    timer = setInterval(refresh, REFRESH_MS);
  },
  leave() {
    entered = false;
    clearInterval(timer);
    timer = null;
  },
});

on("live", () => { if (entered) refresh(true); });
on("clear", () => {
  seq++;
  silentSeq++;
  Object.assign(state, {
    summary: null, summaryErr: null, summaryAt: null, flagged: null, flaggedErr: null, asked: null,
    quarantine: null, quarantineErr: null, quarantineAll: false,
    silent: { status: "offline", district: "", cursors: [""], page: null, err: null, chosen: false },
  });
  state.records.clear();
  state.opened.clear();
  findInput.value = "";
  renderAll();
});
// Texts built from data follow the language; the [data-i18n] ones the core has switched already.
on("language", () => {
  silentTabs.setAttribute("aria-label", t("svSilent"));
  renderAll();
});
