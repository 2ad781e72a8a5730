// The dispatcher's desk, around the code box of app.js: the incident form under the elevator a
// code found (Enter in the code box again opens the incident), the open incidents ordered by
// urgency with live countdowns, and one incident in full beside the map with every action a
// dispatcher takes on the phone: dispatch a volunteer van, escalate, record what a unit said,
// arrived, released, the callback, close with the cause.
//
// The server decides what may be done: an incident read by someone who may dispatch carries the
// actions its state allows ("allowed"), and the desk offers those alone. The stream says when an
// incident moved; the desk then reads it again, so what is shown is always the server's.

import {
  $, t, addText, api, on, map, session, fleet, formatTime, lang, TZ, ApiError, Dropped, clearLookup, districtNames, showOnMap, mayView, formatFixTime,
} from "./app.js";

addText({
  "zh-CN": {
    openIncidents: "进行中的困人事件", noIncidents: "当前没有进行中的事件",
    trapped: "被困人数", trappedUnknown: "不详", callerPhone: "来电号码", note: "备注", lifeInDanger: "有生命危险（直接通知消防）",
    openIncident: "立即启动救援", openHint: "再按回车键启动救援", opening: "正在启动…",
    opened: (id) => `事件 #${id} 已启动，已通知第一级救援单位`, alreadyOpen: (id) => `该电梯已有进行中的事件 #${id}`,
    recent: "近期困人记录", noRecent: "近一年无困人记录",
    due: { acknowledge: "待接单", arrive: "须到达" }, elapsed: "已用时", overdue: "已超时",
    tierShort: (n) => `${n}级`, source: { call: "电话", iot: "物联网", hotline: "热线", manual: "人工" },
    summary: "事件概况", elevatorLabel: "电梯", reported: "报警时间", arriveBy: "须到达时间", district: "区县", grid: "救援网格", alarms: "报警次数",
    assignments: "救援单位", candidates: "附近志愿救援车辆", excluded: "未列入的单位", notifications: "通知", timeline: "处置记录",
    noCandidates: "附近没有可派遣的车辆", inGrid: "本网格", km: (m) => `${(m / 1000).toFixed(1)} 公里`, minutes: (s) => `约 ${Math.max(1, Math.round(s / 60))} 分钟`,
    ageS: (s) => (s < 60 ? `${Math.round(s)} 秒前` : `${Math.round(s / 60)} 分钟前`),
    dispatchVan: "派遣", dispatching: "正在派遣…", close: "关闭", confirm: "确定", cancelForm: "取消",
    actions: {
      escalate: "升级响应", arrived: "已到达现场", released: "已解救", callback_done: "已回访", close: "结案", cancel: "撤销事件", note: "添加备注",
      accept: "代为接单", decline: "无法前往", en_route: "已出发",
    },
    actionDone: { escalate: "已升级", dispatch: "已派遣", arrived: "已记录到达", released: "已记录解救", callback_done: "已记录回访", close: "已结案", cancel: "已撤销", note: "已添加备注", accept: "已记录接单", decline: "已记录无法前往", en_route: "已记录出发" },
    reason: "原因", releasedCount: "解救人数", cause: "故障原因", cancelReason: "撤销原因", callbackNote: "回访情况",
    causes: { door_system: "门系统", power_loss: "停电", controller: "控制系统", brake: "制动器", safety_circuit: "安全回路", traction: "曳引系统", misuse: "人为因素", external: "外部因素", other: "其他" },
    cancelReasons: { false_alarm: "误报", self_rescued: "已自行脱困", duplicate: "重复报警", other: "其他" },
    assignmentState: { notified: "已通知", accepted: "已接单", en_route: "赶往现场", arrived: "已到达", released: "已解救", declined: "无法前往", timed_out: "超时未应答", stood_down: "已撤回" },
    roleName: { user_unit: "使用单位", maintenance: "维保单位", volunteer: "志愿救援队", fire: "消防" },
    notificationState: { pending: "待发送", delivered: "已送达", failed: "发送失败" },
    channel: { sms: "短信", webhook: "接口推送", log: "日志" },
    actor: { dispatcher: "调度员", unit: "救援单位", system: "系统", device: "物联网终端", caller: "来电" },
    eventKind: {
      opened: "事件建立", notified: "通知", accepted: "接单", declined: "无法前往", en_route: "出发", arrived: "到达", released: "解救",
      escalated: "升级", timed_out: "超时", deadline_missed: "超过时限", awaiting_dispatch: "待派遣", stood_down: "撤回", callback_done: "回访",
      closed: "结案", cancelled: "撤销", note: "备注", alarm: "终端报警", attention: "提醒", release_evidence: "脱困迹象",
    },
    excludedReason: { busy: "执行其他任务", off_duty: "不在岗", stale_position: "定位滞后", offline: "离线", not_certified: "无救援资质", already_asked: "本次已通知过" },
    unknownError: "操作失败：", stateChanged: "事件状态已变化，请按最新状态操作",
    iotTerminals: "物联网终端", iotLastSeen: (at) => `最后上报 ${at}`, iotFaults: "近30天故障", iotFaultCount: (n) => `${n} 条`, iotNoFaults: "无",
    iotAllFaults: "完整故障记录", iotMoreTerminals: (n) => `另有 ${n} 台`, iotLoading: "正在加载…",
  },
  en: {
    openIncidents: "Open incidents", noIncidents: "No open incidents",
    trapped: "Trapped", trappedUnknown: "unknown", callerPhone: "Caller's phone", note: "Note", lifeInDanger: "Life in danger (fire brigade at once)",
    openIncident: "Start the rescue", openHint: "Enter again starts the rescue", opening: "Starting…",
    opened: (id) => `Incident #${id} started; tier-1 units notified`, alreadyOpen: (id) => `This elevator already has open incident #${id}`,
    recent: "Recent entrapments", noRecent: "None in the past year",
    due: { acknowledge: "Accept by", arrive: "Arrive by" }, elapsed: "Elapsed", overdue: "overdue",
    tierShort: (n) => `T${n}`, source: { call: "call", iot: "IoT", hotline: "hotline", manual: "manual" },
    summary: "Incident", elevatorLabel: "Elevator", reported: "Reported", arriveBy: "Arrive by", district: "District", grid: "Rescue grid", alarms: "Alarms",
    assignments: "Units", candidates: "Volunteer vans nearby", excluded: "Left out", notifications: "Notifications", timeline: "Timeline",
    noCandidates: "No van can be sent", inGrid: "grid", km: (m) => `${(m / 1000).toFixed(1)} km`, minutes: (s) => `~${Math.max(1, Math.round(s / 60))} min`,
    ageS: (s) => (s < 60 ? `${Math.round(s)} s ago` : `${Math.round(s / 60)} min ago`),
    dispatchVan: "Dispatch", dispatching: "Dispatching…", close: "Close", confirm: "Confirm", cancelForm: "Cancel",
    actions: {
      escalate: "Escalate", arrived: "Arrived", released: "Released", callback_done: "Callback done", close: "Close", cancel: "Cancel incident", note: "Add note",
      accept: "Accept for them", decline: "Cannot come", en_route: "On the way",
    },
    actionDone: { escalate: "Escalated", dispatch: "Dispatched", arrived: "Arrival recorded", released: "Release recorded", callback_done: "Callback recorded", close: "Closed", cancel: "Cancelled", note: "Note added", accept: "Accepted", decline: "Recorded: cannot come", en_route: "Recorded: on the way" },
    reason: "Reason", releasedCount: "Passengers released", cause: "Cause", cancelReason: "Why cancel", callbackNote: "Callback",
    causes: { door_system: "Door system", power_loss: "Power loss", controller: "Controller", brake: "Brake", safety_circuit: "Safety circuit", traction: "Traction", misuse: "Misuse", external: "External", other: "Other" },
    cancelReasons: { false_alarm: "False alarm", self_rescued: "Got out by themselves", duplicate: "Duplicate", other: "Other" },
    assignmentState: { notified: "notified", accepted: "accepted", en_route: "en route", arrived: "arrived", released: "released", declined: "declined", timed_out: "timed out", stood_down: "stood down" },
    roleName: { user_unit: "User unit", maintenance: "Maintenance", volunteer: "Volunteers", fire: "Fire brigade" },
    notificationState: { pending: "pending", delivered: "delivered", failed: "failed" },
    channel: { sms: "SMS", webhook: "webhook", log: "log" },
    actor: { dispatcher: "dispatcher", unit: "unit", system: "system", device: "IoT terminal", caller: "caller" },
    eventKind: {
      opened: "opened", notified: "notified", accepted: "accepted", declined: "declined", en_route: "on the way", arrived: "arrived", released: "released",
      escalated: "escalated", timed_out: "timed out", deadline_missed: "deadline missed", awaiting_dispatch: "awaiting dispatch", stood_down: "stood down", callback_done: "callback",
      closed: "closed", cancelled: "cancelled", note: "note", alarm: "terminal alarm", attention: "attention", release_evidence: "release seen",
    },
    excludedReason: { busy: "on another job", off_duty: "off duty", stale_position: "position too old", offline: "offline", not_certified: "not certified", already_asked: "already asked here" },
    unknownError: "Failed: ", stateChanged: "The incident has moved on; act on what is shown now",
    iotTerminals: "IoT terminals", iotLastSeen: (at) => `last report ${at}`, iotFaults: "Faults, 30 days", iotFaultCount: (n) => `${n}`, iotNoFaults: "none",
    iotAllFaults: "Full fault record", iotMoreTerminals: (n) => `${n} more`, iotLoading: "Loading…",
  },
});

const TIER_COLOUR = { 1: "#e8710a", 2: "#c5221f", 3: "#7b1113" };
const can = (perm) => !!session?.principal.permissions?.includes(perm);
// el makes an element with its properties (dataset entries under dataset) and children.
const el = (tag, { dataset, ...props } = {}, ...children) => {
  const e = Object.assign(document.createElement(tag), props);
  if (dataset) Object.assign(e.dataset, dataset);
  e.append(...children.filter((c) => c != null && c !== false));
  return e;
};

// ---- The incident form, under the elevator the code found ----

let found = null; // the elevator the lookup shows
let recentSeq = 0;

// renderForm puts the incident form under the elevator shown. The same elevator shown again (the
// language switch draws it anew) keeps what the dispatcher has typed.
function renderForm(e) {
  const typed = e && found?.id === e.id ? [...($("incident-form")?.elements ?? [])].filter((i) => i.id).map((i) => [i.id, i.type === "checkbox" ? i.checked : i.value]) : [];
  found = e;
  $("incident-form")?.remove();
  $("elevator-recent")?.remove();
  if (!e || !can("incidents:open")) return;
  const params = new URLSearchParams(location.search); // the hotline's telephony may pass the caller's number
  const form = el("form", { id: "incident-form", autocomplete: "off", noValidate: true },
    el("label", { htmlFor: "trapped", textContent: t("trapped") }),
    el("input", { id: "trapped", type: "number", min: 0, max: 100, value: 1, inputMode: "numeric" }),
    el("label", { htmlFor: "caller-phone", textContent: t("callerPhone") }),
    el("input", { id: "caller-phone", type: "tel", maxLength: 20, value: params.get("phone") ?? "" }),
    el("label", { htmlFor: "incident-note", textContent: t("note") }),
    el("input", { id: "incident-note", maxLength: 1000 }),
    el("label", { className: "check" }, el("input", { id: "life-in-danger", type: "checkbox" }), t("lifeInDanger")),
    el("button", { id: "open-incident", type: "submit", textContent: t("openIncident") }),
    el("p", { id: "incident-form-message", className: "hint", role: "status", textContent: t("openHint") }));
  form.addEventListener("submit", (ev) => { ev.preventDefault(); openIncident(form); });
  for (const [id, v] of typed) { const i = form.querySelector("#" + id); if (i) i[i.type === "checkbox" ? "checked" : "value"] = v; }
  $("elevator").append(form);
  loadRecent(e);
}

// ---- The elevator's IoT terminals and recent faults, two lines among its facts ----

// A dispatcher on a call needs to know whether the car's terminal is reporting (its alarms and
// state will come by themselves) and whether the elevator has been failing; no more, so the lines
// stay short and the faults open only when asked for.
const IOT_TERMINALS_SHOWN = 3;
let iotOpen = null; // the id of the elevator whose faults are open, kept over the language switch
let iotSeq = 0;

function renderIoT(e) {
  for (const x of $("facts").querySelectorAll(".iot")) x.remove();
  iotSeq++;
  if (!e) { iotOpen = null; return; }
  if (iotOpen !== e.id) iotOpen = null;
  const terminals = e.terminals ?? [];
  if (!terminals.length && !e.recent_faults) return; // no terminal, nothing recorded: nothing to say
  const rows = [];
  if (terminals.length) {
    const shown = terminals.slice(0, IOT_TERMINALS_SHOWN);
    rows.push([t("iotTerminals"), el("dd", { id: "elevator-terminals", className: "iot terminals" },
      ...shown.map((x) => el("span", { className: `terminal ${x.status}`, dataset: { terminal: x.terminal_id, status: x.status }, title: [x.platform, x.model].filter(Boolean).join(" · ") },
        el("span", { className: "dot" }), `${x.terminal_id} ${t("terminalStatus")[x.status] ?? x.status}`,
        x.status === "offline" && x.last_seen ? el("span", { className: "hint", textContent: ` (${t("iotLastSeen")(formatTime(x.last_seen))})` }) : null)),
      terminals.length > shown.length ? el("span", { className: "hint", textContent: t("iotMoreTerminals")(terminals.length - shown.length) }) : null)]);
  }
  const n = e.recent_faults ?? 0;
  const dd = el("dd", { id: "elevator-faults", className: "iot" });
  if (!n) dd.textContent = t("iotNoFaults");
  else {
    const details = el("details", { open: iotOpen === e.id }, el("summary", { textContent: t("iotFaultCount")(n) }));
    details.addEventListener("toggle", () => {
      iotOpen = details.open ? e.id : null;
      if (details.open && details.childElementCount < 2) loadIoTFaults(e, details);
    });
    dd.append(details);
    if (iotOpen === e.id) loadIoTFaults(e, details);
  }
  rows.push([t("iotFaults"), dd]);
  $("facts").append(...rows.flatMap(([k, v]) => [el("dt", { className: "iot", textContent: k }), v]));
}

// loadIoTFaults lists the elevator's last few faults of the 30 days under the count, and links to
// the whole record in the supervision view for those who may open it.
async function loadIoTFaults(e, details) {
  const seq = iotSeq;
  const box = el("div", { className: "iot-faults" }, el("p", { className: "hint", textContent: t("iotLoading") }));
  details.append(box);
  const q = new URLSearchParams({ limit: 5, since: new Date(Date.now() - 30 * 864e5).toISOString() });
  let page;
  try {
    page = await api(`/api/v1/elevators/${encodeURIComponent(e.rescue_code)}/faults?${q}`);
  } catch (err) {
    if (err instanceof Dropped || seq !== iotSeq) return;
    box.replaceChildren(el("p", { className: "error", textContent: problemText(err) }));
    return;
  }
  if (seq !== iotSeq) return;
  page.items ??= [];
  box.replaceChildren(
    el("ul", {}, ...page.items.map((f) => el("li", { dataset: { kind: f.kind } },
      el("span", { className: "when", textContent: formatFixTime(f.first_at) }),
      ` ${t("alarmKind")[f.kind] ?? f.kind}`, f.repeats > 1 ? ` ×${f.repeats}` : "",
      f.incident_id ? " · " : "", f.incident_id ? el("a", { href: `/incidents/${f.incident_id}`, textContent: `#${f.incident_id}`, onclick: (ev) => { ev.preventDefault(); select(f.incident_id); } }) : null))),
    mayView("supervision") ? el("a", {
      href: "/supervision", className: "all-faults", textContent: t("iotAllFaults") + (page.total > page.items.length ? ` (${page.total})` : ""),
      onclick: (ev) => { ev.preventDefault(); window.dispatchEvent(new CustomEvent("show-faults", { detail: e.rescue_code })); },
    }) : null);
}

// loadRecent lists the elevator's last incidents: a repeat offender is worth a word to the caller.
async function loadRecent(e) {
  const seq = ++recentSeq;
  const box = el("div", { id: "elevator-recent" }, el("h3", { textContent: t("recent") }));
  $("elevator").append(box);
  let page;
  try { page = await api(`/api/v1/incidents?elevator_id=${e.id}&limit=5`); } catch { return; }
  if (seq !== recentSeq) return;
  const yearAgo = Date.now() - 365 * 864e5;
  const items = page.items.filter((inc) => Date.parse(inc.reported_at) > yearAgo);
  if (!items.length) { box.append(el("p", { className: "hint", textContent: t("noRecent") })); return; }
  box.append(el("ul", {}, ...items.map((inc) => el("li", {},
    el("a", { href: `/incidents/${inc.id}`, textContent: `#${inc.id}`, onclick: (ev) => { ev.preventDefault(); select(inc.id); } }),
    ` ${formatTime(inc.reported_at)} · ${t("incidentState")[inc.state] ?? inc.state}${inc.cause ? " · " + (t("causes")[inc.cause] ?? inc.cause) : ""}`))));
}

async function openIncident(form) {
  const button = $("open-incident"), message = $("incident-form-message");
  if (button.disabled || !found) return;
  const trapped = Number($("trapped").value || 0);
  const body = {
    elevator_id: found.id, source: "call", trapped: Number.isFinite(trapped) ? trapped : 0,
    caller_phone: $("caller-phone").value.trim(), note: $("incident-note").value.trim(), life_in_danger: $("life-in-danger").checked,
  };
  button.disabled = true;
  message.className = "hint";
  message.textContent = t("opening");
  try {
    const inc = await api("/api/v1/incidents", { method: "POST", body });
    put(inc);
    clearLookup();
    say(t("opened")(inc.id));
    select(inc.id);
  } catch (err) {
    if (err instanceof Dropped) return;
    button.disabled = false;
    message.className = "error";
    if (err instanceof ApiError && err.status === 409 && err.detail.incident_id) {
      message.textContent = t("alreadyOpen")(err.detail.incident_id);
      select(err.detail.incident_id);
      return;
    }
    message.textContent = problemText(err);
    const field = { trapped: "trapped", caller_phone: "caller-phone", note: "incident-note" }[err.detail?.details?.[0]?.field];
    if (field) $(field).focus();
  }
  if (form.isConnected) button.disabled = false;
}

// problemText says what the server refused, with the first field's reason when it gave them.
function problemText(err) {
  if (!(err instanceof ApiError)) return t("unknownError") + (err.message || err);
  const d = err.detail?.details?.[0];
  return d ? `${err.message}: ${d.field} ${d.reason}` : err.message;
}

// say shows a line under the code box (a confirmation, or what went wrong).
function say(text) { $("message").textContent = text; }

// ---- The open incidents, by urgency ----

const open = new Map(); // incident id → incident as the server last gave it
let listSeq = 0;

async function loadList() {
  const seq = ++listSeq;
  try {
    const page = await api("/api/v1/incidents?open=true&limit=1000");
    if (seq !== listSeq) return;
    open.clear();
    for (const inc of page.items) open.set(inc.id, inc);
    renderList();
  } catch { /* the stream's next step brings them */ }
}

// nextDue is the incident's earliest deadline still pending: what the dispatcher races against.
function nextDue(inc) {
  let next = null;
  for (const d of inc.deadlines ?? []) {
    if (d.fired_at || d.met_at) continue;
    if (!next || d.due < next.due) next = d;
  }
  return next;
}

// urgency orders the list: incidents waiting for the dispatcher first, then the nearest deadline,
// the higher tier, the older report.
function urgency(a, b) {
  const wait = (inc) => (inc.state === "awaiting_dispatch" ? 0 : 1);
  if (wait(a) !== wait(b)) return wait(a) - wait(b);
  const da = nextDue(a)?.due ?? "9999", db = nextDue(b)?.due ?? "9999";
  if (da !== db) return da < db ? -1 : 1;
  if (a.tier !== b.tier) return b.tier - a.tier;
  return a.reported_at < b.reported_at ? -1 : 1;
}

function renderList() {
  const own = session?.principal.district;
  const items = [...open.values()].filter((inc) => !inc.state.match(/closed|cancelled/) && (!own || inc.district === own)).sort(urgency);
  $("incidents").replaceChildren(...items.map((inc) => {
    const due = nextDue(inc);
    const li = el("li", { className: `incident-item tier${inc.tier} ${inc.state}` + (inc.id === selected ? " selected" : "") },
      el("button", { type: "button", onclick: () => select(inc.id) },
        el("span", { className: "line" },
          el("span", { className: "tier-badge", textContent: t("tierShort")(inc.tier) }),
          el("span", { className: "state", textContent: t("incidentState")[inc.state] ?? inc.state }),
          countdown(due, inc)),
        el("span", { className: "line code", textContent: `${inc.elevator.rescue_code} · ${inc.elevator.address} ${inc.elevator.building}` }),
        el("span", { className: "line hint", textContent: `#${inc.id} · ${formatClock(inc.reported_at)} · ${t("trapped")} ${inc.trapped || t("trappedUnknown")}` })));
    li.dataset.incident = inc.id;
    li.style.borderLeftColor = TIER_COLOUR[inc.tier] ?? "#c5221f";
    return li;
  }));
  if (!items.length) $("incidents").append(el("li", { className: "hint empty", textContent: t("noIncidents") }));
  tick();
}

// countdown is a span the ticker keeps current: the time left to the deadline, or the time since
// the report when there is none.
function countdown(due, inc) {
  const span = el("span", { className: "countdown" });
  if (due) { span.dataset.due = due.due; span.dataset.label = due.kind; span.dataset.tier = due.tier; } else span.dataset.since = inc.reported_at;
  return span;
}

function tick() {
  const now = Date.now();
  for (const span of document.querySelectorAll(".countdown")) {
    if (span.dataset.due) {
      const left = (Date.parse(span.dataset.due) - now) / 1000;
      span.textContent = `${t("tierShort")(span.dataset.tier)} ${t("due")[span.dataset.label] ?? ""} ${left < 0 ? "-" : ""}${mmss(Math.abs(left))}`;
      span.classList.toggle("late", left < 0);
      span.classList.toggle("soon", left >= 0 && left < 60);
    } else {
      span.textContent = `${t("elapsed")} ${mmss((now - Date.parse(span.dataset.since)) / 1000)}`;
    }
  }
}

function mmss(s) {
  s = Math.floor(s);
  const h = Math.floor(s / 3600), m = Math.floor((s % 3600) / 60), sec = s % 60;
  return (h ? `${h}:${String(m).padStart(2, "0")}` : String(m)) + ":" + String(sec).padStart(2, "0");
}

function formatClock(iso) {
  return new Intl.DateTimeFormat(lang, { timeZone: TZ, hour: "2-digit", minute: "2-digit", second: "2-digit", hourCycle: "h23" }).format(new Date(iso));
}

// put keeps what the server said of an incident; the newer version wins.
function put(inc) {
  const old = open.get(inc.id);
  if (old && old.version > inc.version) return;
  open.set(inc.id, inc);
  renderList();
  if (inc.id === selected) renderDetail(inc);
}

// The stream says an incident moved (id, state, tier, version): read it again, once however many
// steps arrive while the read is on its way.
const reading = new Map(); // id → the version asked for
async function refresh(id, version = Infinity) {
  if (reading.has(id)) { reading.set(id, Math.max(reading.get(id), version)); return; }
  reading.set(id, version);
  try {
    for (;;) {
      const want = reading.get(id);
      const inc = await api(`/api/v1/incidents/${id}`);
      put(inc);
      if (id === selected) loadCandidates(inc);
      if (inc.version >= want || want === Infinity) break;
    }
  } catch (err) {
    if (!(err instanceof Dropped) && err.status === 404) { open.delete(id); renderList(); }
  } finally {
    reading.delete(id);
  }
}

// ---- One incident in full ----

let selected = null;
let candidates = null; // the last candidates of the selected incident
let candidatesSeq = 0;
let actionForm = null; // the open action form: { action, assignment }
let lines = []; // map lines from the selected incident's vans to its elevator
let said = null; // the answer to the last action: { id, text, className, until }, kept over re-renders

async function select(id, { push = true } = {}) {
  id = Number(id);
  const changed = id !== selected;
  selected = id;
  if (changed) { candidates = null; actionForm = null; }
  if (push && location.pathname !== `/incidents/${id}`) history.pushState(null, "", `/incidents/${id}` + location.search);
  $("incident").hidden = false;
  document.body.classList.add("with-incident");
  map?.invalidateSize();
  renderList();
  let inc = open.get(id);
  if (inc) renderDetail(inc);
  try {
    inc = await api(`/api/v1/incidents/${id}`);
  } catch (err) {
    if (err instanceof Dropped || selected !== id) return;
    $("incident").replaceChildren(closeButton(), el("p", { className: "error", textContent: problemText(err) }));
    return;
  }
  if (selected !== id) return;
  if (!inc.state.match(/closed|cancelled/)) open.set(id, inc);
  renderDetail(inc);
  if (changed) showOnMap(inc.elevator.lat, inc.elevator.lon, 14);
  loadCandidates(inc);
  $("incident").querySelector("h2")?.focus();
}

function unselect() {
  selected = null;
  candidates = null;
  actionForm = null;
  $("incident").hidden = true;
  $("incident").replaceChildren();
  document.body.classList.remove("with-incident");
  clearLines();
  map?.invalidateSize();
  renderList();
  if (location.pathname.startsWith("/incidents/")) history.pushState(null, "", "/" + location.search);
  $("code").focus();
}

function closeButton() {
  return el("button", { type: "button", className: "close", title: "Esc", textContent: "×", ariaLabel: t("close"), onclick: unselect });
}

async function loadCandidates(inc) {
  const seq = ++candidatesSeq;
  if (!can("incidents:act") || !inc.allowed?.includes("dispatch")) {
    candidates = null;
    return;
  }
  try {
    const c = await api(`/api/v1/incidents/${inc.id}/candidates`);
    if (seq !== candidatesSeq || selected !== inc.id) return;
    candidates = c;
    renderCandidates();
  } catch { /* shown as none */ }
}

function renderDetail(inc) {
  const box = $("incident");
  box.dataset.incident = inc.id;
  box.dataset.state = inc.state;
  const e = inc.elevator;
  const due = nextDue(inc);
  const facts = [
    [t("elevatorLabel"), `${e.rescue_code} · ${e.address} ${e.building}`],
    [t("district"), districtNames.get(inc.district) ?? inc.district],
    [t("grid"), inc.grid?.name ?? "—"],
    [t("trapped"), inc.trapped || t("trappedUnknown")],
    [t("callerPhone"), inc.caller_phone || "—"],
    [t("reported"), `${formatTime(inc.reported_at)} · ${t("source")[inc.source] ?? inc.source}`],
    [t("arriveBy"), formatTime(inc.arrive_by)],
    inc.alarms ? [t("alarms"), inc.alarms] : null,
    inc.note ? [t("note"), inc.note] : null,
  ].filter(Boolean);
  box.replaceChildren(...[
    closeButton(),
    el("h2", { tabIndex: -1, textContent: `#${inc.id} ${t("incident")}` }),
    el("p", { className: "status-line" },
      el("span", { id: "incident-tier", className: `tier-badge tier${inc.tier}`, textContent: t("tier")(inc.tier) }),
      el("span", { id: "incident-state", className: "state", textContent: t("incidentState")[inc.state] ?? inc.state }),
      due ? countdown(due, inc) : null,
      inc.life_in_danger ? el("span", { className: "danger", textContent: "⚠ " + t("lifeInDanger") }) : null),
    el("dl", { className: "facts" }, ...facts.flatMap(([k, v]) => [el("dt", { textContent: k }), el("dd", { textContent: String(v) })])),
    actionsBar(inc),
    actionFormFor(inc),
    el("p", { id: "action-message", role: "status", ...(said?.id === inc.id && Date.now() < said.until ? { textContent: said.text, className: said.className } : {}) }),
    section("assignments", t("assignments"), assignmentsTable(inc)),
    el("section", { id: "candidates-box" }),
    section("notifications", t("notifications"), notificationsList(inc)),
    section("timeline", t("timeline"), timelineList(inc)),
  ].filter(Boolean));
  renderCandidates();
  drawLines(inc);
  tick();
}

function section(id, title, body) {
  return el("section", { className: "part" }, el("h3", { textContent: title }), Object.assign(body, { id }));
}

// The incident's own actions; the units' (accept, decline, …) are on their rows.
const INCIDENT_ACTIONS = ["escalate", "arrived", "released", "callback_done", "close", "cancel", "note"];
// Actions that ask for something before they go.
const NEEDS_INPUT = new Set(["escalate", "released", "callback_done", "close", "cancel", "note", "decline"]);

function actionsBar(inc) {
  const allowed = new Set(inc.allowed ?? []);
  // arrived without a unit named is the dispatcher's word that someone is there: offered when a
  // unit holds the job, on its row otherwise.
  const buttons = INCIDENT_ACTIONS.filter((a) => allowed.has(a) && a !== "arrived").map((a) =>
    el("button", { type: "button", className: a === "cancel" ? "action secondary" : "action", textContent: t("actions")[a], dataset: { action: a }, onclick: () => startAction(inc, a) }));
  return el("div", { className: "actions" }, ...buttons);
}

function startAction(inc, action, assignment = 0) {
  if (!NEEDS_INPUT.has(action)) { act(inc, { action, assignment_id: assignment }); return; }
  actionForm = { action, assignment };
  renderDetail(inc);
  $("action-form")?.querySelector("input, select, textarea")?.focus();
}

// actionFormFor asks what an action needs: why escalate, how many came out, the cause, …
function actionFormFor(inc) {
  if (!actionForm) return null;
  const { action, assignment } = actionForm;
  const fields = [];
  const field = (label, input) => fields.push(el("label", { textContent: label }, input));
  const select = (name, options, labels) => el("select", { name }, ...options.map((o) => el("option", { value: o, textContent: labels[o] ?? o })));
  if (action === "escalate") {
    field(t("reason"), el("input", { name: "reason", maxLength: 500 }));
    fields.push(el("label", { className: "check" }, el("input", { type: "checkbox", name: "life_in_danger" }), t("lifeInDanger")));
  } else if (action === "decline") field(t("reason"), el("input", { name: "reason", maxLength: 500, required: true }));
  else if (action === "released") field(t("releasedCount"), el("input", { name: "released", type: "number", min: 0, max: 100, value: inc.trapped || 1 }));
  else if (action === "callback_done") field(t("callbackNote"), el("input", { name: "note", maxLength: 1000 }));
  else if (action === "close") field(t("cause"), select("cause", Object.keys(t("causes")), t("causes")));
  else if (action === "cancel") field(t("cancelReason"), select("cancel_reason", Object.keys(t("cancelReasons")), t("cancelReasons")));
  else if (action === "note") field(t("note"), el("input", { name: "note", maxLength: 1000, required: true }));
  const form = el("form", { id: "action-form", className: "action-form", dataset: { action } },
    el("strong", { textContent: t("actions")[action] }), ...fields,
    el("span", { className: "buttons" },
      el("button", { type: "submit", textContent: t("confirm") }),
      el("button", { type: "button", className: "secondary", textContent: t("cancelForm"), onclick: () => { actionForm = null; renderDetail(inc); } })));
  form.addEventListener("submit", (ev) => {
    ev.preventDefault();
    const body = { action, assignment_id: assignment };
    for (const input of form.querySelectorAll("input, select")) {
      if (input.type === "checkbox") body[input.name] = input.checked;
      else if (input.type === "number") body[input.name] = Number(input.value);
      else body[input.name] = input.value.trim();
    }
    act(inc, body);
  });
  return form;
}

// sayAction shows the answer to an action under the buttons, for a while.
function sayAction(id, text, className) {
  said = { id, text, className, until: Date.now() + 15000 };
  const m = $("action-message");
  if (m && selected === id) { m.textContent = text; m.className = className; }
}

// act sends a dispatcher's action; the answer is the incident as it now is.
async function act(inc, body) {
  sayAction(inc.id, "…", "hint");
  try {
    const after = await api(`/api/v1/incidents/${inc.id}/actions`, { method: "POST", body });
    actionForm = null;
    if (after.state.match(/closed|cancelled/)) open.delete(after.id);
    put(after);
    sayAction(after.id, t("actionDone")[body.action] ?? "", "done");
    if (selected === after.id) {
      renderDetail(after);
      loadCandidates(after);
      refresh(after.id); // the timeline and notifications come with a full read
    }
  } catch (err) {
    if (err instanceof Dropped) return;
    sayAction(inc.id, err instanceof ApiError && err.status === 409 ? `${t("stateChanged")} (${err.message})` : problemText(err), "error");
    refresh(inc.id);
  }
}

function assignmentsTable(inc) {
  const allowed = new Set(inc.allowed ?? []);
  const rows = (inc.assignments ?? []).map((a) => {
    const u = a.unit;
    const buttons = [];
    const live = a.state === "notified" || a.state === "accepted" || a.state === "en_route" || a.state === "timed_out";
    if (live) {
      for (const action of ["accept", "en_route", "arrived", "decline"]) {
        if (!allowed.has(action)) continue;
        if (action === "accept" && !(a.state === "notified" || a.state === "timed_out")) continue;
        if (action !== "decline" && u.role === "user_unit") continue; // the property has no rescuers of its own
        if (action === "en_route" && a.state === "en_route") continue;
        buttons.push(el("button", { type: "button", className: "small", textContent: t("actions")[action], dataset: { action, assignment: a.id }, onclick: () => startAction(inc, action, a.id) }));
      }
    }
    const eta = [u.distance_m != null ? t("km")(u.distance_m) : null, u.eta_s != null ? t("minutes")(u.eta_s) : null].filter(Boolean).join(" · ");
    const tr = el("tr", { className: a.state },
      el("td", { textContent: t("tierShort")(a.tier) }),
      el("td", {}, el("strong", { textContent: u.organization_name }), el("br"),
        el("span", { className: "hint", textContent: [t("roleName")[u.role] ?? u.role, u.plate, eta].filter(Boolean).join(" · ") }), el("br"),
        ...(u.phones ?? []).flatMap((p, i) => [i ? " " : null, el("a", { href: `tel:${p}`, textContent: p })])),
      el("td", { className: "state", textContent: t("assignmentState")[a.state] ?? a.state, title: a.reason ?? "" }),
      el("td", { className: "buttons" }, ...buttons));
    tr.dataset.assignment = a.id;
    return tr;
  });
  return el("table", { className: "grid" }, el("tbody", {}, ...rows));
}

function renderCandidates() {
  const box = $("candidates-box");
  if (!box) return;
  const inc = open.get(selected);
  if (!candidates || !inc?.allowed?.includes("dispatch")) { box.replaceChildren(); return; }
  const rows = candidates.candidates.map((c) => {
    const tr = el("tr", { className: c.in_grid ? "in-grid" : "" },
      el("td", {}, el("strong", { textContent: c.organization_name }), c.in_grid ? el("span", { className: "in-grid-badge", textContent: t("inGrid") }) : null, el("br"),
        el("span", { className: "hint", textContent: [c.plate, ...(c.phones ?? []).slice(0, 2)].filter(Boolean).join(" · ") })),
      el("td", { textContent: c.distance_m != null ? t("km")(c.distance_m) : "—" }),
      el("td", { textContent: c.eta_s != null ? t("minutes")(c.eta_s) : "—" }),
      el("td", { className: `age ${c.status ?? ""}`, textContent: c.position_age_s != null ? t("ageS")(c.position_age_s) : "—" }),
      el("td", {}, el("button", { type: "button", className: "dispatch", textContent: t("dispatchVan"), onclick: (ev) => dispatchVan(inc, c, ev.target) })));
    tr.dataset.vehicle = c.vehicle_id;
    return tr;
  });
  const excluded = candidates.excluded ?? [];
  box.replaceChildren(
    el("h3", { textContent: t("candidates") }),
    rows.length ? el("table", { id: "candidates", className: "grid" }, el("tbody", {}, ...rows)) : el("p", { className: "hint", id: "candidates", textContent: t("noCandidates") }),
    excluded.length ? el("details", {}, el("summary", { textContent: `${t("excluded")} (${excluded.length})` }),
      el("ul", { className: "excluded" }, ...excluded.map((x) => el("li", { textContent: `${x.organization_name ?? ""} ${x.plate ?? ""} — ${t("excludedReason")[x.reason] ?? x.reason}${x.detail ? " · " + x.detail : ""}` })))) : null);
}

async function dispatchVan(inc, c, button) {
  button.disabled = true;
  button.textContent = t("dispatching");
  await act(inc, { action: "dispatch", vehicle_id: c.vehicle_id });
}

function notificationsList(inc) {
  return el("ul", { className: "notifications" }, ...(inc.notifications ?? []).slice().reverse().map((n) =>
    el("li", { className: n.state },
      el("span", { className: "when", textContent: formatClock(n.created_at) }),
      ` ${t("channel")[n.channel] ?? n.channel} → ${n.recipient} · `,
      el("span", { className: "state", textContent: t("notificationState")[n.state] ?? n.state }),
      n.attempts > 1 ? ` ×${n.attempts}` : "",
      n.last_error ? el("span", { className: "hint", textContent: ` (${n.last_error})` }) : null)));
}

function timelineList(inc) {
  return el("ol", { className: "timeline" }, ...(inc.timeline ?? []).slice().reverse().map((ev) =>
    el("li", { className: ev.kind },
      el("span", { className: "when", textContent: formatClock(ev.at) }),
      el("strong", { textContent: ` ${t("eventKind")[ev.kind] ?? ev.kind}` }),
      ` · ${t("actor")[ev.actor.kind] ?? ev.actor.kind}${ev.actor.name ? " " + ev.actor.name : ""}`,
      ev.text ? el("div", { className: "hint", textContent: ev.text }) : null)));
}

// ---- The map: a line from each van on its way to the elevator, following the van ----

function drawLines(inc) {
  clearLines();
  if (!map) return;
  for (const a of inc.assignments ?? []) {
    if (!a.unit.vehicle_id || !(a.state === "notified" || a.state === "accepted" || a.state === "en_route")) continue;
    const line = L.polyline([], { color: TIER_COLOUR[a.tier] ?? "#c5221f", weight: 3, dashArray: "6 6", interactive: false, className: "assignment-line" });
    line.vehicleId = a.unit.vehicle_id;
    line.to = [inc.elevator.lat, inc.elevator.lon];
    lines.push(line.addTo(map));
  }
  followLines();
}

function followLines() {
  for (const line of lines) {
    const p = fleet.get(line.vehicleId)?.v.position;
    line.setLatLngs(p ? [[p.lat, p.lon], line.to] : []);
  }
}

function clearLines() {
  for (const line of lines) line.remove();
  lines = [];
}

// ---- Wiring ----

on("elevator", (e) => { renderIoT(e); renderForm(e); });
on("pick", (id) => select(id));
on("live", () => {
  loadList();
  const m = location.pathname.match(/^\/incidents\/(\d+)$/);
  if (m) select(m[1], { push: false });
  else if (selected) select(selected, { push: false });
});
on("clear", () => {
  listSeq++;
  open.clear();
  renderList();
  if (selected) { selected = null; $("incident").hidden = true; $("incident").replaceChildren(); document.body.classList.remove("with-incident"); clearLines(); }
});
on("event", (kind, data) => {
  if (kind === "incident") {
    const known = open.get(data.id);
    if (data.state === "closed" || data.state === "cancelled") {
      open.delete(data.id);
      renderList();
      if (data.id === selected) refresh(data.id);
      return;
    }
    if (!known || known.version < data.version) refresh(data.id, data.version);
  } else if (kind === "vehicle" && lines.length) followLines();
  else if (kind === "reset") loadList();
});
on("language", () => {
  renderList();
  if (selected && open.get(selected)) renderDetail(open.get(selected));
  // The form follows the elevator, which app.js draws again in the new language.
});

setInterval(tick, 1000);
// Candidates age: read them again while an incident is open on the screen.
setInterval(() => { const inc = open.get(selected); if (inc && !document.hidden) loadCandidates(inc); }, 15000);

document.addEventListener("keydown", (ev) => {
  if (ev.key === "Escape" && selected && !$("signin").offsetParent) {
    if (actionForm) { actionForm = null; renderDetail(open.get(selected)); } else unselect();
  } else if (ev.key === "/" && !ev.target.closest("input, textarea, select")) {
    ev.preventDefault();
    $("code").focus();
    $("code").select();
  }
});
window.addEventListener("popstate", () => {
  const m = location.pathname.match(/^\/incidents\/(\d+)$/);
  if (m) select(m[1], { push: false });
  else if (selected) { selected = null; unselect(); }
});
