// The observer page: one server-sent event stream pushes the supervision trees,
// the FSM count and the selected FSM when they change; the FSM list is fetched a
// page at a time, on search, on paging, and at most every LIST_REFRESH_MS while
// the stream reports changes. User values arrive rendered (safe_repr) and are
// inserted as text, never as HTML; the diagram is SVG drawn by the server.
"use strict";

const LIST_REFRESH_MS = 1000;
const $ = (id) => document.getElementById(id);

let page = 0;
let pages = 1;
let selected = location.hash.startsWith("#fsm=") ? location.hash.slice(5) : null;
let stream = null;
let actions = false;
let token = null;
let listTimer = null;
let lastListAt = 0;
let lastLogTop = null;

function el(tag, attrs, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs || {})) {
    if (key === "onclick") node.addEventListener("click", value);
    else if (value !== null && value !== undefined) node.setAttribute(key, value);
  }
  for (const child of children) {
    if (child === null || child === undefined) continue;
    node.append(child instanceof Node ? child : String(child));
  }
  return node;
}

function fill(node, ...children) {
  node.replaceChildren(...children.filter((child) => child !== null && child !== undefined));
}

function seconds(value) {
  if (value === null || value === undefined) return "—";
  return value < 10 ? `${value.toFixed(2)} s` : `${value.toFixed(1)} s`;
}

function clock(at) {
  const date = new Date(at * 1000);
  return date.toTimeString().slice(0, 8) + "." + String(date.getMilliseconds()).padStart(3, "0");
}

// ------------------------------------------------------------------ list

async function loadList() {
  lastListAt = Date.now();
  const query = encodeURIComponent($("search").value);
  const response = await fetch(`/api/fsms?q=${query}&page=${page}`);
  const data = await response.json();
  page = data.page;
  pages = data.pages;
  const body = $("fsms").querySelector("tbody");
  body.replaceChildren(...data.rows.map((row) => el("tr", {
    "data-id": row.id,
    class: row.id === selected ? "selected" : null,
    onclick: () => select(row.id),
  }, el("td", {}, row.name), el("td", {}, row.class), el("td", {}, row.state),
     el("td", { class: "num" }, row.queued))));
  $("pageinfo").textContent =
    `${data.matched.toLocaleString()} of ${data.total.toLocaleString()} FSMs · page ${page + 1} of ${pages}`;
  $("prev").disabled = page === 0;
  $("next").disabled = page >= pages - 1;
}

function scheduleList() {
  if (listTimer !== null) return;
  const wait = Math.max(0, LIST_REFRESH_MS - (Date.now() - lastListAt));
  listTimer = setTimeout(() => { listTimer = null; loadList(); }, wait);
}

// ----------------------------------------------------------------- trees

function renderTree(tree, nested) {
  const items = tree.children.map((child) => {
    const facts = [`restarts ${child.restarts}`, `errors ${child.errors}`,
      `in state ${seconds(child.in_state_for)}`];
    if (child.failure_streak > 1) facts.push(`streak ${child.failure_streak}`);
    if (child.dead_letters) facts.push(`dead letters ${child.dead_letters}`);
    if (child.restart_in !== null) facts.push(`restart in ${seconds(child.restart_in)}`);
    const name = el("span", {
      class: "child-name", "data-child": child.name,
      onclick: () => child.fsm && select(child.fsm),
    }, child.name);
    const restart = actions && child.fsm ? el("button", {
      type: "button", onclick: () => act(`/api/fsm/${tree.id}/children/${child.name}/restart`),
    }, "restart") : null;
    return el("li", { "data-child": child.name },
      name, " ", el("span", { class: "muted" }, child.class), " ",
      el("span", { class: `badge ${child.lifecycle}`, "data-lifecycle": child.lifecycle },
        child.lifecycle), " ",
      ...child.alerts.map((alert) => el("span", { class: "badge alert" }, alert)), " ", restart,
      el("div", { class: "child-facts" }, facts.join(" · ")),
      child.last_failure ? el("div", { class: "child-facts" }, `last failure: ${child.last_failure}`) : null,
      child.tree ? renderTree(child.tree, true) : null);
  });
  const header = nested ? null : el("div", { class: "sup" }, `${tree.name} `,
    el("span", { class: "muted" }, `${tree.class} · ${tree.state}`));
  const list = el("ul", {}, ...items);
  return nested ? list : el("div", { class: "tree" }, header, list);
}

function renderTrees(trees) {
  const box = $("trees");
  if (!trees.length) {
    box.replaceChildren("No supervisors running.");
    box.className = "muted";
    return;
  }
  box.className = "";
  box.replaceChildren(...trees.map((tree) => renderTree(tree, false)));
}

// ---------------------------------------------------------------- detail

function renderDetail(fsm) {
  const box = $("detail");
  if (fsm.gone) {
    box.replaceChildren(el("p", { class: "muted" }, "This FSM is no longer running."));
    return;
  }
  const facts = el("dl", { class: "kv" },
    el("dt", {}, "class"), el("dd", {}, fsm.class),
    el("dt", {}, "data"), el("dd", { id: "fsm-data" }, fsm.data),
    el("dt", {}, "state timeout"), el("dd", {}, seconds(fsm.state_timeout)),
    el("dt", {}, "queued"), el("dd", {}, fsm.queued),
    el("dt", {}, "event in progress"),
    el("dd", { class: fsm.stuck ? "stuck" : null, id: "fsm-current" },
      fsm.current_event === null ? "— (idle)"
        : `${fsm.current_event} for ${seconds(fsm.busy_for)}${fsm.stuck ? " — STUCK" : ""}`));
  const timers = fsm.timers.length
    ? el("table", {}, el("thead", {}, el("tr", {}, el("th", {}, "timer"), el("th", { class: "num" }, "seconds left"))),
      el("tbody", {}, ...fsm.timers.map((timer) => el("tr", {},
        el("td", {}, timer.name), el("td", { class: "num" }, timer.seconds_left.toFixed(2))))))
    : el("p", { class: "muted" }, "No named timers.");
  const top = fsm.log.length ? `${fsm.log[0].at}|${fsm.log[0].event}` : null;
  const fresh = lastLogTop !== null && top !== lastLogTop;
  lastLogTop = top;
  const log = fsm.log.length
    ? el("table", { id: "log" },
      el("thead", {}, el("tr", {}, el("th", {}, "time"), el("th", {}, "state"), el("th", {}, "event"), el("th", {}, "data"))),
      el("tbody", {}, ...fsm.log.map((entry, index) => el("tr", { class: index === 0 && fresh ? "new" : null },
        el("td", {}, clock(entry.at)), el("td", {}, entry.state), el("td", {}, entry.event),
        el("td", {}, entry.data)))))
    : el("p", { class: "muted" }, "No rolling log (subclass LoggingFSM to keep one).");
  const diagram = el("div", { class: "diagram" });
  diagram.innerHTML = fsm.diagram; // SVG drawn and escaped by the server
  const stop = actions ? el("button", { type: "button", class: "danger",
    onclick: () => act(`/api/fsm/${fsm.id}/stop`) }, "stop this FSM") : null;
  fill(box,
    el("div", {}, el("strong", { id: "fsm-name" }, fsm.name), " ", stop),
    el("div", { class: "state-big", id: "fsm-state" }, fsm.state),
    facts,
    fsm.stack ? el("div", {}, el("h3", {}, "stack of the stuck handler"), el("pre", { id: "fsm-stack" }, fsm.stack)) : null,
    el("h3", {}, "timers"), timers,
    el("h3", {}, "transitions (declared states, observed counts)"), diagram,
    el("h3", {}, `rolling log (${fsm.log.length}, newest first)`), log);
}

// ---------------------------------------------------------------- stream

function connect() {
  if (stream !== null) stream.close();
  stream = new EventSource(selected ? `/events?fsm=${encodeURIComponent(selected)}` : "/events");
  stream.onopen = () => { $("conn").textContent = "live"; $("conn").className = "conn live"; };
  stream.onerror = () => { $("conn").textContent = "reconnecting…"; $("conn").className = "conn down"; };
  stream.addEventListener("trees", (event) => { renderTrees(JSON.parse(event.data)); scheduleList(); });
  stream.addEventListener("count", (event) => {
    $("total").textContent = `${JSON.parse(event.data).total.toLocaleString()} FSMs running`;
    scheduleList();
  });
  stream.addEventListener("fsm", (event) => { renderDetail(JSON.parse(event.data)); scheduleList(); });
}

function select(id) {
  selected = id;
  lastLogTop = null;
  history.replaceState(null, "", `#fsm=${id}`);
  for (const row of $("fsms").querySelectorAll("tbody tr")) {
    row.classList.toggle("selected", row.dataset.id === id);
  }
  connect();
}

async function act(path) {
  if (token === null) token = prompt("Action token (given when the observer was started):");
  if (!token) return;
  const response = await fetch(path, { method: "POST", headers: { Authorization: `Bearer ${token}` } });
  if (response.status === 401) token = null;
  if (!response.ok) alert((await response.json()).error);
}

// ------------------------------------------------------------------ start

let searchTimer = null;
$("search").addEventListener("input", () => {
  clearTimeout(searchTimer);
  searchTimer = setTimeout(() => { page = 0; loadList(); }, 250);
});
$("prev").addEventListener("click", () => { page = Math.max(0, page - 1); loadList(); });
$("next").addEventListener("click", () => { page = Math.min(pages - 1, page + 1); loadList(); });

fetch("/api/config").then((response) => response.json()).then((config) => {
  actions = config.actions;
  loadList();
  connect();
});
