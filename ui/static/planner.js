// The grid planner: a planner redraws the city's rescue grids (救援网格) in a draft plan, checks
// what publishing it would do, looks at the estimated tier-2 arrival it gives, and publishes it.
// Supervisors see the same screen without the editing controls.
//
// Drawing and vertex editing are Leaflet-Geoman's (vendored, loaded before Leaflet's map is made so
// that the map has its `pm`); splitting along a line is done here. The server checks every grid:
// its answers (a 422 with a pointer per problem) are shown at the vertex they name and next to the
// form's fields, and the drawn shape stays on the map to be fixed. Everything this module puts on
// the shared map lives in `layers`, added on enter() and removed on leave().
"use strict";
import {
  $, t, addText, lang, formatTime, api, ApiError, Dropped, map, session, districts, districtNames, on, addView,
} from "./app.js";

addText({
  "zh-CN": {
    viewPlanner: "规划", plTitle: "救援网格规划", plReadOnly: "只读：您可查看方案、检查与覆盖情况，不能修改。",
    plPlans: "方案", plNewName: "新草稿名称", plFrom: "起点", plFromActive: "复制生效方案", plFromEmpty: "空白方案",
    plCreate: "新建草稿", plStatus: { draft: "草稿", active: "生效中", retired: "已停用" },
    plGridCount: (n) => `${n} 个网格`, plCreated: (by, at) => `${by} 创建于 ${at}`, plPublished: (by, at) => `${by} 发布于 ${at}`,
    plRetired: (at) => `停用于 ${at}`, plName: "方案名称", plRename: "重命名", plDiscard: "放弃草稿",
    plConfirmDiscard: (n) => `放弃草稿“${n}”及其全部网格？`, plConfirmDelete: (n) => `从草稿中删除网格“${n}”？`, plDropEdit: "放弃尚未保存的网格修改？", plYes: "确定", plNo: "取消",
    plKey: "地图：彩色为所选方案的网格，蓝色虚线为生效方案。", plNotDraft: "只有草稿可以修改：新建草稿后在其中编辑。",
    plDraw: "绘制网格", plCheck: "发布前检查", plPublish: "发布", plPublishConfirm: "确认发布", plCoverage: "覆盖热力图", plWhatIf: "推演对比",
    plDrawHelp: "在地图上单击放置顶点，单击第一个顶点或按 Enter 完成；键盘：方向键移动地图，空格在十字准星处放顶点，Backspace 删除上一个顶点，Esc 取消。按住 Alt 不吸附。",
    plSplitHelp: "画一条穿过网格边界两次的线，单击最后一个顶点或按 Enter 完成；Esc 取消。",
    plFinish: "完成", plCancel: "取消", plGrids: "网格", plNewGrid: "新网格", plEditGrid: (n) => `网格：${n}`, plSplitGrid: (n) => `切分“${n}”：橙色部分成为新网格`,
    plShape: (p, v) => `区域：${p} 个多边形，${v} 个顶点`, plEditVertices: "编辑顶点", plSplit: "切分", plDelete: "删除网格",
    plGridName: "网格名称", plDistrict: "区县", plUnits: "救援单位（按优先顺序）", plUnitsHelp: "在列表中选择单位（Ctrl/⌘ 多选），右侧调整顺序。",
    plOrder: "优先顺序", plUp: "上移", plDown: "下移", plRemove: "移除", plFire: "责任消防站", plNotes: "备注", plSave: "保存", plChoose: "请选择…",
    plKm: (d) => `${d} 公里`, plSaved: (n) => `已保存网格“${n}”。`, plDeleted: (n) => `已删除网格“${n}”。`, plSplitSaved: (a, b) => `已切分为“${a}”和“${b}”。`,
    plFailed: "操作失败：", plGeomProblems: "区域有问题（已在地图上标出）：", plSplitOnlySimple: "只能切分由一个多边形组成且无孔洞的网格。",
    plSplitLine: "切分线必须恰好穿过网格边界两次。", plNoDraw: "绘图组件未加载，无法在地图上绘制。",
    plBusy: { check: "正在检查…", publish: "正在发布…", coverage: "正在计算覆盖…", whatif: "正在推演…", save: "正在保存…", load: "正在加载…" },
    plReport: "发布前检查", plPerGrid: "各网格的电梯数", plElevators: "电梯", plChanged: "更换网格的电梯", plOverlaps: "网格重叠", plGaps: "不在任何网格内的电梯",
    plOverlap: (a, b, m2) => `${a} × ${b}：${m2} 平方米`, plGapAt: (id) => `电梯 #${id} 不在任何网格内`, plShowOnMap: "在地图上查看",
    plNeedsConfirm: "该方案有网格重叠或有电梯不在任何网格内。仍要发布吗？", plPublishedMsg: (n) => `“${n}”已发布，现为生效方案。`,
    plCoverageTitle: "各网格第二级救援覆盖", plMeasure: "图层指标", plShare: "限时内到达比例", plMeanEta: "平均预计到达时间",
    plNoEstimate: "无法估计", plUnassigned: (n) => `${n} 部电梯不在任何网格内`,
    plColGrid: "网格", plColElev: "电梯", plColUnits: "单位", plColVans: "在岗车辆", plColMedian: "中位", plColP90: "P90", plColWithin: "限时内", plColEta: "中位 / P90（分）",
    plCell: (n, eta, worst, share) => `${n} 部电梯 · 平均 ${eta} · 最长 ${worst} · 限时内 ${share}`,
    plWhatIfTitle: (a) => `推演：本方案与“${a}”对比`, plWhatIfSource: { incidents: (n, d) => `重演 ${d} 以来的 ${n} 起困人事件`, elevators: (n) => `按历史事件加权抽取的 ${n} 部电梯` },
    plThisPlan: "本方案", plNoGrid: "无网格", plOutside: "由网格外单位救援", plChangedUnit: "改派单位", plFaster: "快 1 分钟以上", plSlower: "慢 1 分钟以上",
    plMin: (m) => `${m} 分钟`,
  },
  en: {
    viewPlanner: "Grid planner", plTitle: "Rescue grid planning", plReadOnly: "Read only: you can look at plans, checks and coverage, not change them.",
    plPlans: "Plans", plNewName: "New draft's name", plFrom: "Start from", plFromActive: "a copy of the active plan", plFromEmpty: "nothing",
    plCreate: "New draft", plStatus: { draft: "Draft", active: "Active", retired: "Retired" },
    plGridCount: (n) => `${n} grids`, plCreated: (by, at) => `created by ${by}, ${at}`, plPublished: (by, at) => `published by ${by}, ${at}`,
    plRetired: (at) => `retired ${at}`, plName: "Plan name", plRename: "Rename", plDiscard: "Discard draft",
    plConfirmDiscard: (n) => `Discard the draft “${n}” and all its grids?`, plConfirmDelete: (n) => `Remove the grid “${n}” from the draft?`, plDropEdit: "Drop the changes to the grid, not saved yet?", plYes: "Yes", plNo: "Cancel",
    plKey: "Map: the selected plan's grids in colour, the active plan in dashed blue.", plNotDraft: "Only a draft changes: start a new draft to edit.",
    plDraw: "Draw grid", plCheck: "Check", plPublish: "Publish", plPublishConfirm: "Publish anyway", plCoverage: "Coverage map", plWhatIf: "What-if",
    plDrawHelp: "Click on the map to place vertices; click the first vertex or press Enter to finish. Keyboard: arrows move the map, Space places a vertex at the cross-hair, Backspace removes the last one, Esc cancels. Hold Alt not to snap.",
    plSplitHelp: "Draw a line that crosses the grid's edge twice; click its last vertex or press Enter to finish; Esc cancels.",
    plFinish: "Finish", plCancel: "Cancel", plGrids: "Grids", plNewGrid: "New grid", plEditGrid: (n) => `Grid: ${n}`, plSplitGrid: (n) => `Splitting “${n}”: the orange part becomes a new grid`,
    plShape: (p, v) => `Area: ${p} polygon(s), ${v} vertices`, plEditVertices: "Edit vertices", plSplit: "Split", plDelete: "Delete grid",
    plGridName: "Grid name", plDistrict: "District", plUnits: "Rescue units (preferred first)", plUnitsHelp: "Select units in the list (Ctrl/⌘ for several); order them on the right.",
    plOrder: "Order of preference", plUp: "Move up", plDown: "Move down", plRemove: "Remove", plFire: "Fire station", plNotes: "Notes", plSave: "Save", plChoose: "Choose…",
    plKm: (d) => `${d} km`, plSaved: (n) => `Grid “${n}” saved.`, plDeleted: (n) => `Grid “${n}” deleted.`, plSplitSaved: (a, b) => `Split into “${a}” and “${b}”.`,
    plFailed: "Failed: ", plGeomProblems: "The area has problems (marked on the map):", plSplitOnlySimple: "Only a grid of one polygon without holes can be split.",
    plSplitLine: "The line must cross the grid's edge exactly twice.", plNoDraw: "The drawing library did not load: drawing on the map is unavailable.",
    plBusy: { check: "Checking…", publish: "Publishing…", coverage: "Computing coverage…", whatif: "Replaying…", save: "Saving…", load: "Loading…" },
    plReport: "Publication check", plPerGrid: "Elevators per grid", plElevators: "Elevators", plChanged: "Elevators changing grid", plOverlaps: "Overlapping grids", plGaps: "Elevators in no grid",
    plOverlap: (a, b, m2) => `${a} × ${b}: ${m2} m²`, plGapAt: (id) => `Elevator #${id} is in no grid`, plShowOnMap: "Show on the map",
    plNeedsConfirm: "Grids of this plan overlap or leave elevators in no grid. Publish anyway?", plPublishedMsg: (n) => `“${n}” is published and now active.`,
    plCoverageTitle: "Tier-2 coverage per grid", plMeasure: "Map shows", plShare: "Share within the limit", plMeanEta: "Mean estimated arrival",
    plNoEstimate: "No estimate", plUnassigned: (n) => `${n} elevators in no grid`,
    plColGrid: "Grid", plColElev: "Elev.", plColUnits: "Units", plColVans: "Vans", plColMedian: "Median", plColP90: "P90", plColWithin: "In limit", plColEta: "Median / P90 (min)",
    plCell: (n, eta, worst, share) => `${n} elevators · mean ${eta} · worst ${worst} · ${share} within the limit`,
    plWhatIfTitle: (a) => `What-if: this plan against “${a}”`, plWhatIfSource: { incidents: (n, d) => `${n} incidents since ${d} replayed`, elevators: (n) => `${n} elevators drawn by incident history` },
    plThisPlan: "This plan", plNoGrid: "In no grid", plOutside: "Sent from outside the grid", plChangedUnit: "Another unit sent", plFaster: "Over 1 min faster", plSlower: "Over 1 min slower",
    plMin: (m) => `${m} min`,
  },
});

// What the screen shows. seq goes up when the session's data is forgotten: answers to requests
// made before then are dropped.
const state = { plans: null, plan: null, grids: [], grid: null, volunteers: [], fire: [], coverage: null, report: null, whatif: null, measure: "share" };
let seq = 0, entered = false, canWrite = false;
// edit is the grid in the form: kind "new" (a drawn area), "edit" (a stored grid) or "split" (the
// new part of a stored grid, whose other part is rest); layer is the area on the map, out of the
// plan's layer while it is being changed; dirty once anything has changed.
let edit = null;

// ---- small DOM helpers -------------------------------------------------------------------------

// el makes an element: props are properties (onclick, type, …) except i18n (a text key the core's
// language switch re-applies), text and attrs; children may be null.
function el(tag, props = {}, ...children) {
  const e = document.createElement(tag);
  const { i18n, text, attrs, ...rest } = props;
  Object.assign(e, rest);
  if (i18n) { e.dataset.i18n = i18n; e.textContent = t(i18n); }
  if (text !== undefined) e.textContent = text;
  for (const [k, v] of Object.entries(attrs || {})) e.setAttribute(k, v);
  e.append(...children.filter((c) => c != null && c !== false));
  return e;
}
const button = (id, i18n, onclick, extra = {}) => el("button", { id, type: "button", i18n, onclick, ...extra });
const field = (id, i18n, control) => [el("label", { htmlFor: id, i18n }), control, el("p", { className: "field-error", id: id + "-error", attrs: { "aria-live": "polite" } })];
const num = (x, digits = 0) => new Intl.NumberFormat(lang, { maximumFractionDigits: digits }).format(x);
const pct = (x) => (x == null ? "—" : new Intl.NumberFormat(lang, { style: "percent", maximumFractionDigits: 0 }).format(x));
const mins = (s) => (s == null ? "—" : t("plMin")(num(s / 60, 1)));
const selectedPlan = () => state.plans?.find((p) => p.id === state.plan) ?? null;
const editable = () => canWrite && selectedPlan()?.status === "draft";

// ---- the panel, built once; the core re-applies [data-i18n] texts on a language switch ---------

const panel = $("planner");
const planList = el("ol", { id: "plan-list", className: "plan-list" });
const newForm = el("form", { id: "plan-new", className: "row" },
  ...field("plan-new-name", "plNewName", el("input", { id: "plan-new-name", maxLength: 100, required: true })),
  ...field("plan-new-from", "plFrom", el("select", { id: "plan-new-from" },
    el("option", { value: "active", i18n: "plFromActive" }), el("option", { value: "empty", i18n: "plFromEmpty" }))),
  el("button", { id: "plan-create", type: "submit", i18n: "plCreate" }));
const renameForm = el("form", { id: "plan-rename", className: "row" },
  ...field("plan-name", "plName", el("input", { id: "plan-name", maxLength: 100, required: true })),
  el("button", { id: "plan-rename-save", type: "submit", i18n: "plRename" }),
  button("plan-discard", "plDiscard", () => { const p = selectedPlan(); ask(t("plConfirmDiscard")(p.name), () => discardPlan(p.id)); }));
const tools = el("div", { className: "toolbar", attrs: { role: "toolbar" } },
  button("grid-draw", "plDraw", (ev) => startDraw("Polygon", ev)),
  button("plan-check", "plCheck", checkPlan),
  button("plan-publish", "plPublish", () => publish(false)),
  button("coverage-toggle", "plCoverage", toggleCoverage, { attrs: { "aria-pressed": "false" } }),
  button("plan-whatif", "plWhatIf", whatIf));
const drawHelp = el("div", { id: "draw-help", className: "draw-help", hidden: true },
  el("p", { id: "draw-help-text" }),
  button("grid-draw-finish", "plFinish", finishDraw), button("grid-draw-cancel", "plCancel", () => map?.pm.disableDraw()));
const status = el("p", { id: "planner-status", className: "status", attrs: { role: "status" } });
const message = el("p", { id: "planner-message", className: "message", attrs: { role: "alert" } });
const confirmBox = el("div", { id: "planner-confirm", className: "confirm", hidden: true });
const unitsSelect = el("select", { id: "grid-units", multiple: true, size: 7, onchange: syncUnits });
const unitOrder = el("ol", { id: "grid-units-order", className: "unit-order", attrs: { "aria-live": "polite" } });
const gridForm = el("form", { id: "grid-form", className: "card", hidden: true, noValidate: true },
  el("h3", { id: "grid-form-title" }),
  el("p", { id: "grid-shape", className: "hint" }),
  el("ul", { id: "grid-geometry-error", className: "field-error" }),
  el("div", { className: "row", id: "grid-shape-tools" },
    button("grid-edit", "plEditVertices", toggleVertices, { attrs: { "aria-pressed": "false" } }),
    button("grid-split", "plSplit", (ev) => startDraw("Line", ev)),
    button("grid-delete", "plDelete", () => { const f = edit?.feature; if (!f) return; ask(t("plConfirmDelete")(f.properties.name), () => deleteGrid(f)); }, { className: "danger" })),
  ...field("grid-name", "plGridName", el("input", { id: "grid-name", maxLength: 100, required: true })),
  ...field("grid-district", "plDistrict", el("select", { id: "grid-district", required: true })),
  el("label", { htmlFor: "grid-units", i18n: "plUnits" }),
  el("p", { className: "hint", id: "grid-units-help", i18n: "plUnitsHelp" }),
  el("div", { className: "units" }, unitsSelect, el("div", {}, el("span", { className: "hint", i18n: "plOrder" }), unitOrder)),
  el("p", { className: "field-error", id: "grid-units-error", attrs: { "aria-live": "polite" } }),
  ...field("grid-fire", "plFire", el("select", { id: "grid-fire", required: true })),
  ...field("grid-notes", "plNotes", el("textarea", { id: "grid-notes", rows: 2, maxLength: 2000 })),
  el("div", { className: "row" }, el("button", { id: "grid-save", type: "submit", i18n: "plSave" }), button("grid-cancel", "plCancel", cancelEdit)));
const gridInfo = el("div", { id: "grid-info", className: "card", hidden: true });
const reportBox = el("div", { id: "plan-report", className: "card", hidden: true });
const whatIfBox = el("div", { id: "plan-whatif-result", className: "card", hidden: true });
const coverageBox = el("div", { id: "coverage-table", className: "card", hidden: true });
const gridList = el("ul", { id: "grid-list", className: "grid-list" });
const gridListTitle = el("summary");
const planBox = el("div", { id: "plan-detail", hidden: true },
  el("h3", { id: "plan-title" }), el("p", { id: "plan-meta", className: "hint" }), el("p", { className: "hint", i18n: "plKey" }),
  el("p", { id: "plan-not-draft", className: "hint", i18n: "plNotDraft" }),
  renameForm, tools, drawHelp, status, message, confirmBox, gridForm, gridInfo, reportBox, whatIfBox, coverageBox,
  el("details", { open: true, className: "grids" }, gridListTitle, gridList));
panel.append(el("h2", { i18n: "plTitle" }), el("p", { id: "planner-readonly", className: "hint", i18n: "plReadOnly", hidden: true }),
  el("h3", { i18n: "plPlans" }), planList, newForm, planBox);
newForm.addEventListener("submit", (ev) => { ev.preventDefault(); leaveEdit(createPlan); });
renameForm.addEventListener("submit", (ev) => { ev.preventDefault(); renamePlan(); });
gridForm.addEventListener("submit", (ev) => { ev.preventDefault(); saveGrid(); });
gridForm.addEventListener("input", () => { if (edit) edit.dirty = true; });

// say shows a message (a text or an error) in the panel; busy marks a button and the status line
// while a slow call runs, so that it is not sent twice.
function say(text = "", isError = false) {
  message.textContent = text;
  message.classList.toggle("ok", !isError && !!text);
}
function fail(err) {
  if (err instanceof Dropped) return;
  say(t("plFailed") + (err?.message || String(err)), true);
}
const running = [];
async function busy(btn, what, fn) {
  if (btn) { btn.disabled = true; btn.setAttribute("aria-busy", "true"); }
  running.push(what);
  status.textContent = t("plBusy")[what];
  try { return await fn(); } finally {
    if (btn) { btn.removeAttribute("aria-busy"); btn.disabled = false; }
    running.splice(running.indexOf(what), 1);
    status.textContent = running.length ? t("plBusy")[running.at(-1)] : "";
    renderTools();
  }
}

// ask puts a yes/no question in the panel (a modal dialog would block the page's tests and the
// keyboard's flow); yes runs the action.
function ask(question, action) {
  const yes = button("planner-confirm-yes", "plYes", () => { confirmBox.hidden = true; action(); }, { className: "danger" });
  confirmBox.replaceChildren(el("p", { text: question }), yes, button("planner-confirm-no", "plNo", () => { confirmBox.hidden = true; }));
  confirmBox.hidden = false;
  yes.focus();
}

// leaveEdit runs go, after asking when it would drop a grid drawn or changed and not saved.
function leaveEdit(go) {
  if (edit?.dirty) ask(t("plDropEdit"), go);
  else go();
}

// ---- data --------------------------------------------------------------------------------------

// all reads every page of a list.
async function all(path) {
  const items = [];
  let cursor = "";
  do {
    const page = await api(`${path}&limit=1000${cursor ? "&cursor=" + encodeURIComponent(cursor) : ""}`);
    items.push(...page.items);
    cursor = page.next_cursor;
  } while (cursor);
  return items;
}

// load reads the plans (and once per session the units and districts the form offers), then the
// selected plan's grids. The selection stays when the plan is still there.
async function load(select = state.plan) {
  const at = seq;
  canWrite = !!session?.principal.permissions?.includes("grids:write");
  try {
    const [plans] = await Promise.all([
      api("/api/v1/plans"),
      state.volunteers.length ? null : all("/api/v1/organizations?kind=volunteer").then((o) => { if (at === seq) state.volunteers = o; }),
      state.fire.length ? null : all("/api/v1/organizations?kind=fire").then((o) => { if (at === seq) state.fire = o; }),
      districts().catch(() => null),
    ]);
    if (at !== seq) return;
    districts().then((page) => { if (at === seq) for (const d of page.items) if (d.outline) districtOutlines.set(d.code, d.outline); }, () => {});
    state.plans = plans.items;
    const keep = state.plans.find((p) => p.id === select);
    const first = state.plans.find((p) => p.status === "draft") ?? state.plans.find((p) => p.status === "active");
    await selectPlan((keep ?? first)?.id ?? null, keep?.id === state.plan);
  } catch (err) { if (at === seq) fail(err); }
}

// selectPlan shows a plan and its grids; same keeps what was computed for it (report, coverage).
async function selectPlan(id, same = false) {
  const at = seq;
  if (!same) {
    closeEdit();
    clearProblems();
    reportBox.hidden = whatIfBox.hidden = coverageBox.hidden = confirmBox.hidden = gridInfo.hidden = true;
    state.grid = state.report = state.whatif = null;
    state.grids = []; // not the previous plan's while this one's come
    renderGrids();
    drawGrids();
    marks?.clearLayers();
    say();
  }
  state.plan = id;
  renderPlans();
  if (id == null) return;
  const fc = await api(`/api/v1/plans/${id}/grids`);
  if (at !== seq || state.plan !== id) return;
  state.grids = fc.features;
  renderGrids();
  drawGrids();
  if (state.coverage || coverageOn()) loadCoverage();
}

async function createPlan() {
  const name = $("plan-new-name").value.trim();
  if (!name) { $("plan-new-name").focus(); return; }
  await busy($("plan-create"), "load", async () => {
    try {
      const p = await api("/api/v1/plans", { method: "POST", body: { name, from: $("plan-new-from").value } });
      $("plan-new-name").value = "";
      await load(p.id);
      $("plan-title").focus();
    } catch (err) { fail(err); }
  });
}

async function renamePlan() {
  const p = selectedPlan();
  await busy($("plan-rename-save"), "save", async () => {
    try {
      await api(`/api/v1/plans/${p.id}`, { method: "PUT", body: { name: $("plan-name").value, notes: p.notes } });
      await load();
    } catch (err) { fail(err); }
  });
}

async function discardPlan(id) {
  try {
    await api(`/api/v1/plans/${id}`, { method: "DELETE" });
    await load(null);
  } catch (err) { fail(err); }
}

// ---- rendering the panel -----------------------------------------------------------------------

function renderPlans() {
  $("planner-readonly").hidden = canWrite;
  newForm.hidden = !canWrite;
  planList.replaceChildren(...(state.plans ?? []).map((p) => {
    const b = el("button", { type: "button", className: "plan", onclick: () => leaveEdit(() => selectPlan(p.id).catch(fail)) },
      el("strong", { text: p.name }), el("span", { className: `badge ${p.status}`, text: t("plStatus")[p.status] ?? p.status }),
      el("span", { className: "hint", text: [t("plGridCount")(p.grids),
        p.published_at ? t("plPublished")(p.published_by, formatTime(p.published_at)) : t("plCreated")(p.created_by, formatTime(p.created_at)),
        p.retired_at ? t("plRetired")(formatTime(p.retired_at)) : ""].filter(Boolean).join(" · ") }));
    if (p.id === state.plan) b.setAttribute("aria-current", "true");
    return el("li", { className: p.status, attrs: { "data-plan-id": p.id, "data-status": p.status } }, b);
  }));
  const p = selectedPlan();
  planBox.hidden = !p;
  if (!p) return;
  $("plan-title").textContent = p.name;
  $("plan-title").tabIndex = -1;
  $("plan-meta").textContent = `${t("plStatus")[p.status]} · ${t("plGridCount")(p.grids)}`;
  $("plan-not-draft").hidden = !canWrite || p.status === "draft";
  renameForm.hidden = !editable();
  if (document.activeElement !== $("plan-name")) $("plan-name").value = p.name;
  renderTools();
}

// renderTools enables what the selected plan and the current edit allow.
function renderTools() {
  const draft = editable();
  for (const id of ["grid-draw", "plan-publish"]) $(id).hidden = !draft;
  $("grid-draw").disabled = !!edit || !!drawing || !map?.pm;
}

// renderGrids lists the plan's grids, so that the keyboard can reach each.
function renderGrids() {
  gridListTitle.textContent = `${t("plGrids")} (${state.grids.length})`;
  gridList.replaceChildren(...state.grids.map((f) => {
    const p = f.properties;
    const b = el("button", { type: "button", onclick: () => selectGrid(p.id, true) },
      el("span", { className: "swatch", attrs: { style: `background:${colour(p.id)}` } }),
      el("span", { text: p.name }), el("span", { className: "hint", text: districtNames.get(p.district) ?? p.district }));
    if (p.id === state.grid) b.setAttribute("aria-current", "true");
    return el("li", { attrs: { "data-grid-id": p.id } }, b);
  }));
}

// ---- the map -----------------------------------------------------------------------------------

// Eleven colours that stay apart from each other and from the core's blue dashes on the plain
// background; a grid keeps its colour by its ID.
const PALETTE = ["#d95f02", "#7570b3", "#e7298a", "#66a61e", "#a6761d", "#1b9e77", "#e6ab02", "#984ea3", "#a65628", "#f781bf", "#4daf4a"];
const colour = (id) => PALETTE[id % PALETTE.length];
let layers = null, gridLayer = null, coverageLayer = null, problems = null, marks = null, legend = null, crosshair = null;

// setupMap makes the planner's layers once: its panes put the coverage cells under the grids and
// both over the core's layers, so that a reload of the core's grids does not cover them. Geoman
// (whose hooks gave the map its `pm`) then takes only the layers that opt in (pmIgnore: false):
// the grids, to edit and to snap to, so that a shared border is drawn once; not the vehicles.
function setupMap() {
  if (layers || !map) return;
  window.L.PM?.setOptIn(true);
  map.createPane("plannerCoverage").style.zIndex = 415;
  map.createPane("plannerGrids").style.zIndex = 420;
  map.createPane("plannerEdit").style.zIndex = 430;
  layers = L.layerGroup();
  problems = L.layerGroup().addTo(layers); // the server's problems with the grid in the form
  marks = L.layerGroup().addTo(layers); // the report's overlaps and elevators in no grid
  gridLayer = L.geoJSON(null, {
    pane: "plannerGrids", pmIgnore: false,
    style: (f) => gridStyle(f.properties.id),
    onEachFeature: (f, layer) => {
      layer.bindTooltip(f.properties.name, { permanent: true, direction: "center", className: "planner-grid-label" });
      layer.on("click", () => selectGrid(f.properties.id));
    },
  }).addTo(layers);
  crosshair = el("div", { className: "planner-crosshair", hidden: true, attrs: { "aria-hidden": "true" } });
  if (!map.pm) return;
  // Self-crossing shapes are allowed so that the server's check, which says where, is the one the
  // planner sees; Esc cancels a drawing.
  map.pm.setGlobalOptions({
    allowSelfIntersection: true, snappable: true, snapDistance: 12, exitModeOnEscape: true,
    templineStyle: { color: "#c5221f", weight: 2 }, hintlineStyle: { color: "#c5221f", dashArray: "4 4" },
    pathOptions: { color: "#c5221f", weight: 3, fillOpacity: 0.15 },
  });
  map.on("zoomend", fitLabels);
  map.on("pm:create", drawn);
  map.on("pm:drawend", () => { drawing = null; drawHelp.hidden = true; crosshair.hidden = true; renderTools(); });
}

// gridStyle: the selected grid stands out; over the coverage cells the grids keep only their
// borders, so that the cells below answer the pointer.
function gridStyle(id) {
  const selected = id === state.grid;
  return { color: colour(id), weight: selected ? 4 : 2, opacity: 1, fill: !coverageLayer, fillColor: colour(id), fillOpacity: selected ? 0.35 : 0.15 };
}
function restyle() {
  gridLayer?.setStyle((f) => gridStyle(f.properties.id));
  if (edit?.kind === "edit") edit.layer.setStyle(gridStyle(edit.feature.properties.id)); // out of gridLayer meanwhile
}

// drawGrids draws the plan's grids as stored, but for the one being changed, which stays on the
// map as the planner left it.
function drawGrids() {
  if (!gridLayer) return;
  gridLayer.clearLayers();
  const changing = edit?.feature?.properties.id;
  gridLayer.addData(state.grids.filter((f) => f.properties.id !== changing));
  fitLabels();
}

// fitLabels hides the names that would cover another: the selected grid's first, then the larger
// grids'. Zooming in brings the others back.
function fitLabels() {
  if (!gridLayer || !map || !entered) return;
  const size = (l) => { const b = l.getBounds(); return l.feature.properties.id === state.grid ? Infinity : (b.getEast() - b.getWest()) * (b.getNorth() - b.getSouth()); };
  const shown = [];
  for (const layer of gridLayer.getLayers().sort((a, b) => size(b) - size(a))) {
    const label = layer.getTooltip()?.getElement();
    if (!label) continue;
    label.classList.remove("crowded");
    const r = label.getBoundingClientRect();
    const hit = shown.some((s) => r.left < s.right && s.left < r.right && r.top < s.bottom && s.top < r.bottom);
    label.classList.toggle("crowded", hit);
    if (!hit) shown.push(r);
  }
}

function layerOf(id) { return gridLayer?.getLayers().find((l) => l.feature.properties.id === id); }

// selectGrid shows a grid's properties: the form in a draft the person may change, read-only
// otherwise. From the list it also takes the map to the grid.
function selectGrid(id, fly = false) {
  // A click while drawing places a vertex; a change in the form is saved or cancelled first.
  if (drawing || edit?.feature?.properties.id === id || (edit && (edit.dirty || edit.kind !== "edit"))) return;
  closeEdit();
  state.grid = id;
  renderGrids();
  restyle();
  fitLabels();
  const f = state.grids.find((g) => g.properties.id === id);
  if (!f) return;
  const layer = layerOf(id);
  if (fly && layer && map) map.flyToBounds(layer.getBounds(), { padding: [40, 40], duration: 0.5 });
  if (editable() && map) openForm("edit", f);
  else showInfo();
}

function showInfo() {
  const f = state.grids.find((g) => g.properties.id === state.grid);
  if (!f) return;
  const p = f.properties;
  const rows = [["plDistrict", districtNames.get(p.district) ?? p.district],
    ["plUnits", (p.unit_names || []).map((n, i) => `${i + 1}. ${n}`).join("\n")], ["plFire", p.fire_station_name], ["plNotes", p.notes || "—"]];
  gridInfo.replaceChildren(el("h3", { text: t("plEditGrid")(p.name) }),
    el("dl", {}, ...rows.flatMap(([k, v]) => [el("dt", { i18n: k }), el("dd", { text: v })])));
  gridInfo.hidden = false;
}

// ---- drawing, editing and splitting ------------------------------------------------------------

let drawing = null; // "Polygon" or "Line" while Geoman draws

function startDraw(shape, ev) {
  if (!map?.pm) { say(t("plNoDraw"), true); return; }
  if (shape === "Polygon") { closeEdit(); state.grid = null; renderGrids(); restyle(); gridInfo.hidden = true; }
  say();
  drawing = shape;
  map.pm.setLang(lang === "en" ? "en" : "zh");
  map.pm.enableDraw(shape, { snappable: true });
  const help = $("draw-help-text");
  help.dataset.i18n = shape === "Polygon" ? "plDrawHelp" : "plSplitHelp";
  help.textContent = t(help.dataset.i18n);
  drawHelp.hidden = false;
  crosshair.hidden = false;
  renderTools();
  // A keyboard user started it: the map takes the focus, so that the arrows move it.
  if (ev?.detail === 0) map.getContainer().focus({ preventScroll: true });
}

// Drawing keys, while the map (or nothing) has the focus, so that a focused button keeps its own:
// Space adds a vertex at the cross-hair, Backspace removes the last one, Enter finishes. (Geoman's
// own Enter acts wherever the focus is; its Esc, which cancels, is kept.)
document.addEventListener("keydown", (ev) => {
  if (!drawing || !map?.pm.Draw.getActiveShape() || !(ev.target === document.body || map.getContainer().contains(ev.target))) return;
  const drawer = map.pm.Draw[drawing];
  if (ev.key === "Enter") {
    ev.preventDefault();
    drawer._finishShape();
  } else if (ev.key === " ") {
    ev.preventDefault();
    const at = map.getCenter();
    drawer._hintMarker.setLatLng(at); // Geoman's own handler; it has no public "add a vertex here"
    drawer._hintMarker._snapped = false;
    drawer._createVertex({ latlng: at });
  } else if (ev.key === "Backspace") {
    ev.preventDefault();
    drawer._removeLastVertex();
  }
});

function finishDraw() { if (drawing) map.pm.Draw[drawing]._finishShape(); }

// drawn takes Geoman's new shape: a polygon becomes a new grid's area, a line splits the grid in
// the form.
function drawn(e) {
  const shape = drawing;
  drawing = null;
  e.layer.remove();
  if (shape === "Polygon") {
    const layer = editLayer(e.layer.getLatLngs());
    openForm("new", null, layer);
    layer.pm.enable({ allowSelfIntersection: true });
  } else if (shape === "Line" && edit) {
    splitAlong(e.layer.getLatLngs().map((p) => [p.lng, p.lat]));
  }
}

// editLayer shows a drawn area, not yet stored: dashed, over the grids.
function editLayer(latlngs, color = "#c5221f") {
  const layer = L.polygon(latlngs, { pane: "plannerEdit", pmIgnore: false, color, weight: 3, dashArray: "6 4", fillOpacity: 0.2 }).addTo(layers);
  watchEdits(layer);
  return layer;
}
function watchEdits(layer) {
  layer.off("pm:edit").on("pm:edit", () => { if (edit) { edit.dirty = true; renderShape(); } });
}

// coords gives a layer's area as GeoJSON MultiPolygon coordinates, closed rings, in the order the
// server numbers its problems by.
function coords(layer) {
  let ll = layer.getLatLngs();
  if (L.LineUtil.isFlat(ll)) ll = [ll];
  if (L.LineUtil.isFlat(ll[0])) ll = [ll];
  return ll.map((poly) => poly.map((ring) => [...ring, ring[0]].map((p) => [p.lng, p.lat])));
}
const toLatLngs = (mp) => mp.map((poly) => poly.map((ring) => ring.slice(0, -1).map(([x, y]) => [y, x])));

// openForm shows the grid form for a new area (kind "new"), a stored grid ("edit") or the new part
// of a split ("split"), with the districts and units, nearest first.
function openForm(kind, feature, layer = null) {
  if (kind === "edit") {
    layer = layerOf(feature.properties.id);
    gridLayer.removeLayer(layer); // out of the plan's layer, which redraws what is stored
    layers.addLayer(layer);
    watchEdits(layer);
  }
  edit = { kind, feature, layer, dirty: kind !== "edit" };
  const p = feature?.properties ?? {};
  gridInfo.hidden = true;
  gridForm.hidden = false;
  renderFormTitle();
  $("grid-shape-tools").hidden = kind !== "edit";
  $("grid-edit").hidden = $("grid-split").hidden = !map.pm;
  $("grid-edit").setAttribute("aria-pressed", "false");
  $("grid-name").value = kind === "split" ? "" : p.name ?? "";
  $("grid-notes").value = p.notes ?? "";
  $("grid-district").value = "";
  $("grid-fire").value = "";
  order = [...(p.units ?? [])];
  // A new grid starts in the district under it, with the nearest fire station (the planner may
  // choose another).
  const at = layer?.getBounds().getCenter();
  renderOptions(p.district ?? districtAt(at), p.fire_station ?? byDistance(state.fire, at)[0]?.id);
  clearProblems();
  renderShape();
  renderTools();
  (kind === "edit" ? $("grid-form-title") : $("grid-name")).focus();
}

function renderFormTitle() {
  if (!edit) return;
  const name = edit.feature?.properties.name;
  $("grid-form-title").textContent = edit.kind === "new" ? t("plNewGrid") : edit.kind === "split" ? t("plSplitGrid")(name) : t("plEditGrid")(name);
}

// renderOptions fills the form's lists, the units and fire stations nearest the area first, and
// keeps what is chosen (district and fire station as given when they are).
function renderOptions(district = $("grid-district").value, fire = $("grid-fire").value) {
  const at = edit?.layer?.getBounds().getCenter();
  fillOptions($("grid-district"), [...districtNames].map(([code, name]) => ({ id: code, name })), district);
  fillOptions($("grid-fire"), byDistance(state.fire, at), fire);
  fillOptions(unitsSelect, byDistance(state.volunteers, at), null);
  for (const o of unitsSelect.options) o.selected = order.includes(Number(o.value));
  renderUnits();
}

function fillOptions(select, items, chosen) {
  const opts = items.map((o) => el("option", { value: String(o.id), text: o.km != null ? `${o.name}（${t("plKm")(num(o.km, 1))}）` : o.name }));
  if (!select.multiple) opts.unshift(el("option", { value: "", i18n: "plChoose" }));
  select.replaceChildren(...opts);
  select.value = chosen ? String(chosen) : "";
}

// byDistance orders organisations by the distance of their base from the area's centre: the
// units near a grid are the ones a planner looks for.
function byDistance(orgs, at) {
  const out = orgs.map((o) => ({ id: o.id, name: o.name, km: at && o.lat != null ? at.distanceTo([o.lat, o.lon]) / 1000 : null }));
  return out.sort((a, b) => (a.km ?? Infinity) - (b.km ?? Infinity));
}

// districtAt names the district whose outline holds a point, so that a new grid starts in it.
function districtAt(at) {
  if (!at) return session?.principal.district ?? "";
  for (const [code] of districtNames) {
    const outline = districtOutlines.get(code);
    if (!outline) continue;
    const polys = outline.type === "Polygon" ? [outline.coordinates] : outline.coordinates;
    if (polys.some((poly) => inRing([at.lng, at.lat], poly[0]) && !poly.slice(1).some((h) => inRing([at.lng, at.lat], h)))) return code;
  }
  return session?.principal.district ?? "";
}
const districtOutlines = new Map();

function inRing([x, y], ring) {
  let inside = false;
  for (let i = 0, j = ring.length - 1; i < ring.length; j = i++) {
    const [xi, yi] = ring[i], [xj, yj] = ring[j];
    if ((yi > y) !== (yj > y) && x < ((xj - xi) * (y - yi)) / (yj - yi) + xi) inside = !inside;
  }
  return inside;
}

// The units' order of preference: the select says which, `order` in which order. A unit selected
// in the list goes last; the buttons move it.
let order = [];
function syncUnits() {
  const chosen = [...unitsSelect.selectedOptions].map((o) => Number(o.value));
  order = order.filter((id) => chosen.includes(id)).concat(chosen.filter((id) => !order.includes(id)));
  renderUnits();
}

function renderUnits() {
  const names = new Map(state.volunteers.map((o) => [o.id, o.name]));
  const move = (i, d) => {
    [order[i], order[i + d]] = [order[i + d], order[i]];
    renderUnits();
    unitOrder.children[i + d]?.querySelector(d < 0 ? ".up" : ".down")?.focus();
    if (edit) edit.dirty = true;
  };
  unitOrder.replaceChildren(...order.map((id, i) => {
    const name = names.get(id) ?? `#${id}`;
    return el("li", {}, el("span", { text: name }),
      el("button", { type: "button", className: "up", text: "↑", title: t("plUp"), disabled: i === 0, onclick: () => move(i, -1), attrs: { "aria-label": `${t("plUp")}: ${name}` } }),
      el("button", { type: "button", className: "down", text: "↓", title: t("plDown"), disabled: i === order.length - 1, onclick: () => move(i, 1), attrs: { "aria-label": `${t("plDown")}: ${name}` } }),
      el("button", { type: "button", text: "×", title: t("plRemove"), onclick: () => {
        for (const o of unitsSelect.options) if (Number(o.value) === id) o.selected = false;
        syncUnits();
      }, attrs: { "aria-label": `${t("plRemove")}: ${name}` } }));
  }));
}

function renderShape() {
  if (!edit?.layer) return;
  const mp = coords(edit.layer);
  $("grid-shape").textContent = t("plShape")(mp.length, mp.flat().reduce((n, r) => n + r.length - 1, 0));
}

// toggleVertices lets the planner drag the vertices of the selected grid (Geoman's edit mode).
function toggleVertices() {
  const on = !edit.layer.pm.enabled();
  if (on) edit.layer.pm.enable({ allowSelfIntersection: true, snappable: true });
  else edit.layer.pm.disable();
  $("grid-edit").setAttribute("aria-pressed", String(on));
}

// splitAlong cuts the grid in the form along a line: the grid keeps one side, the other side
// (orange) becomes a new grid with the same units once saved.
function splitAlong(line) {
  const mp = coords(edit.layer);
  if (mp.length !== 1 || mp[0].length !== 1) { say(t("plSplitOnlySimple"), true); return; }
  const parts = splitRing(mp[0][0].slice(0, -1), line);
  if (!parts) { say(t("plSplitLine"), true); return; }
  say();
  const { feature, layer } = edit;
  layer.pm.disable();
  layer.setLatLngs(toLatLngs([[parts[0]]]));
  const newPart = editLayer(toLatLngs([[parts[1]]]), "#e8710a");
  openForm("split", feature, newPart);
  edit.rest = layer; // the stored grid's new area
  newPart.pm.enable({ allowSelfIntersection: true, snappable: true });
}

// splitRing cuts a ring (open: without the closing point) along a polyline that crosses its edge
// exactly twice, in longitude/latitude as the server draws edges; null for any other line.
function splitRing(ring, line) {
  const n = ring.length, hits = [];
  for (let s = 0; s < line.length - 1; s++) {
    for (let e = 0; e < n; e++) {
      const h = crossing(line[s], line[s + 1], ring[e], ring[(e + 1) % n], s === line.length - 2);
      if (h && !hits.some((o) => Math.abs(o.p[0] - h.p[0]) < 1e-10 && Math.abs(o.p[1] - h.p[1]) < 1e-10)) hits.push({ s, e, ...h });
    }
  }
  if (hits.length !== 2) return null;
  hits.sort((a, b) => a.s - b.s || a.u - b.u);
  const [h1, h2] = hits;
  // The ring with the two crossings put in their edges; then each side is a walk along it from
  // one crossing to the other, back along the line.
  const aug = [];
  for (let e = 0; e < n; e++) {
    aug.push(ring[e]);
    for (const h of [h1, h2].filter((x) => x.e === e).sort((a, b) => a.v - b.v)) aug.push(h);
  }
  const i1 = aug.indexOf(h1), i2 = aug.indexOf(h2);
  const walk = (from, to) => { const out = []; for (let i = from; ; i = (i + 1) % aug.length) { out.push(aug[i].p ?? aug[i]); if (i === to) return out; } };
  const inner = line.slice(h1.s + 1, h2.s + 1); // the line's vertices from the first crossing to the second
  const close = (pts) => { const r = pts.filter((p, i) => i === 0 || p[0] !== pts[i - 1][0] || p[1] !== pts[i - 1][1]); return [...r, r[0]]; };
  return [close([...walk(i1, i2), ...[...inner].reverse()]), close([...walk(i2, i1), ...inner])];
}

// crossing finds where segment a–b meets segment c–d: u along a–b in [0, 1) ([0, 1] for the
// line's last segment), v along c–d in [0, 1).
function crossing(a, b, c, d, last) {
  const rx = b[0] - a[0], ry = b[1] - a[1], sx = d[0] - c[0], sy = d[1] - c[1];
  const den = rx * sy - ry * sx;
  if (den === 0) return null;
  const u = ((c[0] - a[0]) * sy - (c[1] - a[1]) * sx) / den, v = ((c[0] - a[0]) * ry - (c[1] - a[1]) * rx) / den;
  if (u < 0 || u > 1 || (u === 1 && !last) || v < 0 || v >= 1) return null;
  return { u, v, p: [a[0] + u * rx, a[1] + u * ry] };
}

// closeEdit ends the change in the form without saving: drawn shapes go, a stored grid takes its
// stored area back.
function closeEdit() {
  if (!edit) return;
  for (const layer of [edit.layer, edit.rest]) {
    layer?.pm?.disable();
    if (layer) layers?.removeLayer(layer);
  }
  edit = null;
  gridForm.hidden = true;
  clearProblems();
  drawGrids(); // the stored areas again
  renderTools();
}

function cancelEdit() {
  closeEdit();
  say();
  state.grid = null;
  renderGrids();
  restyle();
  $(editable() ? "grid-draw" : "plan-check").focus();
}

// gridBody is the Feature the server reads: the area as a MultiPolygon, so that its pointers
// (coordinates[p][r][v]) name the rings the map shows.
function gridBody(layer) {
  syncUnits();
  return {
    type: "Feature",
    geometry: { type: "MultiPolygon", coordinates: coords(layer) },
    properties: {
      name: $("grid-name").value, district: $("grid-district").value, units: [...order],
      fire_station: Number($("grid-fire").value) || 0, notes: $("grid-notes").value,
    },
  };
}

// saveGrid stores the grid in the form. A split stores the new part first, then the grid's
// remaining area; nothing drawn is lost on an error: the shape and the form stay to be fixed.
async function saveGrid() {
  const at = seq, e = edit, plan = state.plan;
  if (!e) return;
  clearProblems();
  let stage = e.layer;
  await busy($("grid-save"), "save", async () => {
    try {
      let saved = e.saved; // a split's new part, stored by an earlier try
      if (e.kind === "edit") {
        saved = await api(`/api/v1/plans/${plan}/grids/${e.feature.properties.id}`, { method: "PUT", body: gridBody(e.layer) });
      } else if (!saved) {
        saved = e.saved = await api(`/api/v1/plans/${plan}/grids`, { method: "POST", body: gridBody(e.layer) });
      }
      if (e.kind === "split") {
        const old = e.feature.properties;
        stage = e.rest;
        await api(`/api/v1/plans/${plan}/grids/${old.id}`, { method: "PUT", body: {
          type: "Feature", geometry: { type: "MultiPolygon", coordinates: coords(e.rest) },
          properties: { name: old.name, district: old.district, units: old.units, fire_station: old.fire_station, notes: old.notes } } });
        say(t("plSplitSaved")(old.name, saved.properties.name));
      } else {
        say(t("plSaved")(saved.properties.name));
      }
      if (at !== seq) return;
      closeEdit();
      reportBox.hidden = whatIfBox.hidden = true; // they were of the plan before this change
      state.report = state.whatif = null;
      marks.clearLayers();
      await load();
      selectGrid(saved.properties.id);
    } catch (err) {
      if (err instanceof Dropped || at !== seq) return;
      showProblems(err, stage);
      fail(err);
    }
  });
}

async function deleteGrid(f) {
  try {
    await api(`/api/v1/plans/${state.plan}/grids/${f.properties.id}`, { method: "DELETE" });
    closeEdit();
    state.grid = null;
    say(t("plDeleted")(f.properties.name));
    await load();
    $("grid-draw").focus();
  } catch (err) { fail(err); }
}

// showProblems puts each of the server's details by its field: a red mark at the vertex (or the
// place in words) a geometry problem names, the reason beside the other fields.
function showProblems(err, layer) {
  if (!(err instanceof ApiError)) return;
  const mp = coords(layer);
  const list = $("grid-geometry-error");
  for (const d of err.detail.details ?? []) {
    const f = d.field ?? "";
    if (f.startsWith("geometry")) {
      list.append(el("li", { text: d.reason }));
      const at = problemPlace(f, d.value, mp) ?? layer.getBounds().getCenter();
      L.marker(at, { icon: L.divIcon({ className: "planner-problem", html: "!", iconSize: [22, 22] }), keyboard: false, zIndexOffset: 5000 })
        .bindTooltip(d.reason, { permanent: true, direction: "right", offset: [10, 0], className: "planner-problem-tip" }).addTo(problems);
      continue;
    }
    const id = { name: "grid-name", district: "grid-district", fire_station: "grid-fire", notes: "grid-notes" }[f] ?? (f.startsWith("units") ? "grid-units" : null);
    if (!id) continue;
    $(id + "-error").textContent = d.reason;
    $(id).setAttribute("aria-invalid", "true");
  }
}

// problemPlace finds where a geometry problem is: the vertex `coordinates[p][r][v]` names, else
// the "lon,lat" the detail's value gives, else the ring's first vertex.
function problemPlace(field, value, mp) {
  const [p, r, v] = [...field.matchAll(/\[(\d+)\]/g)].map((m) => Number(m[1]));
  if (v != null && mp[p]?.[r]?.[v]) return L.latLng(mp[p][r][v][1], mp[p][r][v][0]);
  const m = /^(-?[\d.]+),(-?[\d.]+)$/.exec(value ?? "");
  if (m) return L.latLng(Number(m[2]), Number(m[1]));
  if (r != null && mp[p]?.[r]) return L.latLng(mp[p][r][0][1], mp[p][r][0][0]);
  return null;
}

function clearProblems() {
  problems?.clearLayers();
  $("grid-geometry-error").replaceChildren();
  for (const e of gridForm.querySelectorAll(".field-error")) if (e.tagName === "P") e.textContent = "";
  for (const e of gridForm.querySelectorAll("[aria-invalid]")) e.removeAttribute("aria-invalid");
}

// ---- checking and publishing -------------------------------------------------------------------

async function checkPlan() {
  const id = state.plan, at = seq;
  await busy($("plan-check"), "check", async () => {
    try {
      const r = await api(`/api/v1/plans/${id}/check`);
      if (at === seq && id === state.plan) renderReport(r, false);
    } catch (err) { fail(err); }
  });
}

// publish puts the draft in force; with overlaps or gaps the server answers 409 with its report,
// shown with a button to publish anyway.
async function publish(confirm) {
  const id = state.plan, at = seq, name = selectedPlan().name;
  await busy($(confirm ? "plan-publish-confirm" : "plan-publish"), "publish", async () => {
    try {
      const res = await api(`/api/v1/plans/${id}/publish`, confirm ? { method: "POST", body: { confirm: true } } : { method: "POST" });
      if (at !== seq) return;
      closeEdit();
      renderReport(res.report, false);
      say(t("plPublishedMsg")(name));
      window.dispatchEvent(new CustomEvent("grids-published", { detail: { plan: id } })); // the core's dashed layer reloads
      await load(id);
      if (state.grid != null) showInfo();
      $("plan-title").focus();
    } catch (err) {
      if (at === seq && err instanceof ApiError && err.status === 409 && err.detail.report) {
        renderReport(err.detail.report, true);
        $("plan-publish-confirm").focus();
      } else fail(err);
    }
  });
}

function renderReport(r, needsConfirm) {
  r = { ...r, per_grid: r.per_grid ?? [], overlaps: r.overlaps ?? [], gaps: { elevators: r.gaps?.elevators ?? 0, sample: r.gaps?.sample ?? [] } }; // an empty plan has no lists
  state.report = { r, needsConfirm };
  marks?.clearLayers();
  const names = new Map(state.grids.map((f) => [f.properties.id, f.properties.name]));
  const facts = [["plGrids", num(r.grids)], ["plElevators", num(r.elevators)], ["plChanged", num(r.changed)],
    ["plOverlaps", num(r.overlaps.length)], ["plGaps", num(r.gaps.elevators)]];
  // The question first, where the eye is; the figures that raise it below.
  const parts = [el("h3", { i18n: "plReport" }), ...(needsConfirm && editable() ? [el("p", { className: "warn", i18n: "plNeedsConfirm" }),
    button("plan-publish-confirm", "plPublishConfirm", () => publish(true), { className: "danger" })] : []),
    el("dl", {}, ...facts.flatMap(([k, v]) => [el("dt", { i18n: k }), el("dd", { text: v, className: (k === "plOverlaps" || k === "plGaps") && v !== "0" ? "warn" : "" })]))];
  if (r.overlaps.length) {
    parts.push(el("ul", { className: "places" }, ...r.overlaps.map((o) => {
      const text = t("plOverlap")(o.a.name, o.b.name, num(o.area_m2));
      mark([o.at[1], o.at[0]], text, "overlap");
      return el("li", {}, el("button", { type: "button", className: "link", text, onclick: () => map?.flyTo([o.at[1], o.at[0]], 15) }));
    })));
  }
  for (const g of r.gaps.sample) mark([g.lat, g.lon], t("plGapAt")(g.id), "gap");
  const perGrid = [...r.per_grid].sort((a, b) => a.elevators - b.elevators);
  parts.push(el("details", {}, el("summary", { i18n: "plPerGrid" }), table(["plColGrid", "plColElev"], perGrid.map((g) => [names.get(g.id) ?? g.name, num(g.elevators)]))));
  reportBox.replaceChildren(...parts);
  reportBox.hidden = false;
}

// mark puts a report's place on the map: an overlap (orange) or an elevator in no grid (dark red).
function mark(at, text, kind) {
  if (!marks) return;
  L.circleMarker(at, { pane: "markerPane", className: `planner-${kind}`, radius: kind === "overlap" ? 9 : 5, weight: 2, color: "#fff",
    fillColor: kind === "overlap" ? "#e8710a" : "#7b1113", fillOpacity: 1 }).bindTooltip(text).addTo(marks);
}

function table(heads, rows) {
  return el("table", {}, el("thead", {}, el("tr", {}, ...heads.map((h) => el("th", { scope: "col", i18n: h })))),
    el("tbody", {}, ...rows.map((r) => el("tr", {}, ...r.map((c, i) => (i ? el("td", { text: c }) : el("th", { text: c, scope: "row" })))))));
}

// ---- coverage and what-if ----------------------------------------------------------------------

const coverageOn = () => $("coverage-toggle").getAttribute("aria-pressed") === "true";

function toggleCoverage() {
  const on = !coverageOn();
  $("coverage-toggle").setAttribute("aria-pressed", String(on));
  if (on) loadCoverage();
  else hideCoverage();
}

async function loadCoverage() {
  const id = state.plan, at = seq;
  if (id == null) return;
  await busy($("coverage-toggle"), "coverage", async () => {
    try {
      const cv = await api(`/api/v1/plans/${id}/coverage`);
      if (at !== seq || id !== state.plan || !coverageOn()) return;
      state.coverage = cv;
      drawCoverage();
      renderCoverageTable();
    } catch (err) { fail(err); }
  });
}

function hideCoverage() {
  state.coverage = null;
  coverageLayer?.remove();
  coverageLayer = null;
  legend?.remove();
  coverageBox.hidden = true;
  restyle();
}

// The cells' colours: five steps from red (bad) to green (good), for the share within the limit
// or the mean estimated arrival in minutes.
const STEPS = ["#b2182b", "#ef6548", "#fdae61", "#a6d96a", "#1a9641"];
const MEASURES = {
  share: { key: "plShare", value: (p) => p.within_limit, bounds: [0.5, 0.7, 0.85, 0.95], label: (x) => pct(x), up: true },
  eta: { key: "plMeanEta", value: (p) => p.eta_s, bounds: [300, 600, 900, 1200], label: (x) => mins(x), up: false },
};
function cellColour(p) {
  const m = MEASURES[state.measure], x = m.value(p);
  if (x == null) return "#9aa0a6";
  const i = m.bounds.filter((b) => x >= b).length;
  return STEPS[m.up ? i : STEPS.length - 1 - i];
}

function drawCoverage() {
  if (!map || !state.coverage?.layer) return;
  coverageLayer?.remove();
  // Under the grids' borders; a cell's click selects its grid, as the area under it would.
  coverageLayer = L.geoJSON(state.coverage.layer, {
    pane: "plannerCoverage",
    style: (f) => ({ color: cellColour(f.properties), weight: 1, opacity: 0.9, fillColor: cellColour(f.properties), fillOpacity: 0.7 }), // the border keeps a small cell visible from afar
    onEachFeature: (f, layer) => {
      const p = f.properties;
      layer.bindTooltip(() => t("plCell")(num(p.elevators), mins(p.eta_s), mins(p.worst_s), pct(p.within_limit)), { sticky: true });
      if (p.grid) layer.on("click", () => selectGrid(p.grid));
    },
  }).addTo(layers);
  restyle();
  renderLegend();
}

function renderLegend() {
  legend?.remove();
  legend = L.control({ position: "bottomright" });
  legend.onAdd = () => {
    const m = MEASURES[state.measure];
    const div = el("div", { className: "map-legend planner-legend" });
    L.DomEvent.disableClickPropagation(div);
    const select = el("select", { id: "coverage-measure", onchange: () => { state.measure = select.value; drawCoverage(); } },
      ...Object.entries(MEASURES).map(([k, v]) => el("option", { value: k, text: t(v.key), selected: k === state.measure })));
    const b = m.bounds;
    const ranges = [`< ${m.label(b[0])}`, ...b.slice(1).map((x, i) => `${m.label(b[i])} – ${m.label(x)}`), `≥ ${m.label(b[b.length - 1])}`];
    const colours = m.up ? STEPS : [...STEPS].reverse();
    div.append(el("label", { htmlFor: "coverage-measure", className: "legend-title", i18n: "plMeasure" }), select,
      ...ranges.map((r, i) => el("div", { className: "legend-row" }, el("span", { className: "box", attrs: { style: `background:${colours[i]}` } }), el("span", { text: r }))),
      el("div", { className: "legend-row" }, el("span", { className: "box", attrs: { style: "background:#9aa0a6" } }), el("span", { i18n: "plNoEstimate" })));
    return div;
  };
  legend.addTo(map);
}

// renderCoverageTable lists the grids worst covered first: those are the planner's work. Units
// read "with a known base / named" when some have none.
function renderCoverageTable() {
  const cv = state.coverage;
  const grids = [...(cv.grids ?? [])].sort((a, b) => (a.eta?.within_limit ?? -1) - (b.eta?.within_limit ?? -1));
  const m = (s) => (s == null ? "—" : num(s / 60, 1));
  const tbl = table(["plColGrid", "plColElev", "plColUnits", "plColVans", "plColEta", "plColWithin"], grids.map((g) => [
    g.name, num(g.elevators), g.units_with_base < g.units ? `${g.units_with_base}/${g.units}` : num(g.units), num(g.vehicles_on_duty),
    g.eta ? `${m(g.eta.median_s)} / ${m(g.eta.p90_s)}` : "—", pct(g.eta?.within_limit)]));
  coverageBox.replaceChildren(...[el("h3", { i18n: "plCoverageTitle" }),
    cv.unassigned ? el("p", { className: "warn", text: t("plUnassigned")(num(cv.unassigned)) }) : null, el("div", { className: "scroll" }, tbl)].filter(Boolean));
  coverageBox.hidden = false;
}

async function whatIf() {
  const id = state.plan, at = seq;
  await busy($("plan-whatif"), "whatif", async () => {
    try {
      const w = await api(`/api/v1/plans/${id}/whatif`);
      if (at !== seq || id !== state.plan) return;
      state.whatif = w;
      renderWhatIf();
    } catch (err) { fail(err); }
  });
}

// renderWhatIf compares the plan with the one it was tried against, case for case.
function renderWhatIf() {
  const w = state.whatif, src = t("plWhatIfSource");
  const rows = [["plShare", pct(w.plan.within_limit), pct(w.against.within_limit)], ["plColMedian", mins(w.plan.median_s), mins(w.against.median_s)],
    ["plColP90", mins(w.plan.p90_s), mins(w.against.p90_s)], ["plNoGrid", num(w.plan.no_grid), num(w.against.no_grid)],
    ["plOutside", num(w.plan.outside_grid), num(w.against.outside_grid)]];
  whatIfBox.replaceChildren(el("h3", { text: t("plWhatIfTitle")(w.against.name) }),
    el("p", { className: "hint", text: w.source === "incidents" ? src.incidents(num(w.cases), formatTime(w.since)) : src.elevators(num(w.cases)) }),
    el("table", {}, el("thead", {}, el("tr", {}, el("td"), el("th", { scope: "col", i18n: "plThisPlan" }), el("th", { scope: "col", text: w.against.name }))),
      el("tbody", {}, ...rows.map(([k, a, b]) => el("tr", {}, el("th", { scope: "row", i18n: k }), el("td", { text: a }), el("td", { text: b }))))),
    el("dl", {}, ...[["plChangedUnit", w.changed], ["plFaster", w.faster], ["plSlower", w.slower]].flatMap(([k, v]) => [el("dt", { i18n: k }), el("dd", { text: num(v) })])));
  whatIfBox.hidden = false;
}

// ---- the view ----------------------------------------------------------------------------------

addView("planner", {
  label: "viewPlanner",
  may: (p) => !!p.permissions?.includes("grids:write") || p.role === "supervisor" || p.role === "admin",
  enter() {
    entered = true;
    setupMap();
    if (layers) {
      layers.addTo(map);
      map.getContainer().append(crosshair);
      fitLabels();
      if (state.coverage) renderLegend();
    }
    if (!state.plans) load();
  },
  // leave takes the planner's layers off the shared map; what is being drawn stays in them for
  // the way back.
  leave() {
    entered = false;
    if (drawing) map.pm.disableDraw();
    edit?.layer?.pm?.disable();
    $("grid-edit").setAttribute("aria-pressed", "false");
    layers?.remove();
    legend?.remove();
    crosshair?.remove();
  },
});

on("live", () => { if (entered) load(); });
on("clear", () => {
  seq++;
  if (drawing) map.pm.disableDraw();
  Object.assign(state, { plans: null, plan: null, grids: [], grid: null, volunteers: [], fire: [], report: null, whatif: null });
  canWrite = false;
  closeEdit();
  drawGrids();
  marks?.clearLayers();
  hideCoverage();
  $("coverage-toggle").setAttribute("aria-pressed", "false");
  districtOutlines.clear();
  reportBox.hidden = whatIfBox.hidden = gridInfo.hidden = confirmBox.hidden = true;
  say();
  renderPlans();
  renderGrids();
});
// Texts built from data follow the language; the [data-i18n] ones the core has switched already.
on("language", () => {
  map?.pm?.setLang(lang === "en" ? "en" : "zh");
  if (!state.plans) return;
  renderPlans();
  renderGrids();
  if (edit) { renderFormTitle(); renderShape(); renderOptions(); }
  else if (!gridInfo.hidden) showInfo();
  if (state.report) renderReport(state.report.r, state.report.needsConfirm);
  if (state.whatif) renderWhatIf();
  if (state.coverage) { renderCoverageTable(); if (entered) renderLegend(); }
});
