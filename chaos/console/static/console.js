// @ts-check
/**
 * The console page: renders every snapshot the server streams over SSE and sends the
 * operator's writes as JSON. Plain DOM, no framework: the server owns all state.
 */

/** The two clients, then one of one's own when the mesh runs it (`--client`). */
let clients = ["naive", "resilient"];
const COLOURS = { naive: "#d9480f", resilient: "#1864ab" };
const OWN_COLOUR = "#7048e8";
const HISTORY_S = 300;
const GAP_S = 5;
const ACTIVE_RUN = ["starting", "running", "waiting"];

/** @type {Meta | null} */
let meta = null;
/** @type {Sample[]} */
let samples = [];
/** @type {FaultWindow[]} */
let windows = [];
/** @type {Link[]} */
let links = [];
/** The fault windows last drawn, serialised: unchanged windows need no redraw. */
let lastShading = "";
let chartsPending = false;

// ---------------------------------------------------------------- DOM helpers

/** @param {string} id @returns {HTMLElement} */
function $(id) {
  const el = document.getElementById(id);
  if (!el) throw new Error(`the page has no #${id}`);
  return el;
}

/** @template {HTMLElement} T @param {string} id @param {new () => T} type @returns {T} */
function $as(id, type) {
  const el = $(id);
  if (!(el instanceof type)) throw new Error(`#${id} is not a ${type.name}`);
  return el;
}

/**
 * Build an element; attributes named `on…` are listeners, the rest attributes.
 * @param {string} tag
 * @param {Record<string, string | number | boolean | EventListener | null>} [attrs]
 * @param {(Node | string)[]} [children]
 * @returns {HTMLElement}
 */
function h(tag, attrs = {}, children = []) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (typeof v === "function") el.addEventListener(k.slice(2), v);
    else if (v === true) el.setAttribute(k, "");
    else if (v !== false && v !== null) el.setAttribute(k, String(v));
  }
  el.append(...children);
  return el;
}

const SVG_NS = "http://www.w3.org/2000/svg";

/**
 * @param {string} tag
 * @param {Record<string, string | number>} attrs
 * @param {(Node | string)[]} [children]
 * @returns {SVGElement}
 */
function s(tag, attrs, children = []) {
  const el = document.createElementNS(SVG_NS, tag);
  for (const [k, v] of Object.entries(attrs)) el.setAttribute(k, String(v));
  el.append(...children);
  return el;
}

/**
 * Reuse the parent's children by key so buttons survive re-renders (a click never
 * lands on an element replaced between press and release).
 * @template T
 * @param {Element} parent
 * @param {T[]} items
 * @param {(item: T) => string} key
 * @param {(item: T) => HTMLElement} make
 * @param {(el: HTMLElement, item: T) => void} update
 */
function sync(parent, items, key, make, update) {
  /** @type {Map<string, HTMLElement>} */
  const old = new Map();
  for (const el of parent.children) {
    if (el instanceof HTMLElement && el.dataset.key !== undefined) old.set(el.dataset.key, el);
  }
  items.forEach((item, i) => {
    const k = key(item);
    let el = old.get(k);
    if (el) old.delete(k);
    else {
      el = make(item);
      el.dataset.key = k;
    }
    update(el, item);
    if (parent.children[i] !== el) parent.insertBefore(el, parent.children[i] ?? null);
  });
  for (const el of old.values()) el.remove();
}

/** @param {Element} el @param {string} text */
function setText(el, text) {
  if (el.textContent !== text) el.textContent = text;
}

// ---------------------------------------------------------------- formatting

/** @param {unknown} v */
function num(v) {
  return typeof v === "number" && Number.isFinite(v) ? v : 0;
}

/**
 * A duration in seconds as [value, unit]: ms below 1 s, else seconds.
 * @param {number} v
 * @param {boolean} [signed]
 * @returns {[string, string]}
 */
function fmtDuration(v, signed = false) {
  const a = Math.abs(v);
  const sign = a < 0.0005 ? "" : signed && v > 0 ? "+" : v < 0 ? "−" : "";
  if (a < 1) return [`${sign}${Math.round(a * 1000)}`, "ms"];
  return [`${sign}${a < 10 ? a.toFixed(2) : a.toFixed(1)}`, "s"];
}

/** @param {number} v */
function fmtNum(v) {
  return Number.isInteger(v) ? String(v) : String(Number(v.toPrecision(3)));
}

/**
 * Each metric of Numbers: its label and how it reads as value + unit.
 * @type {{key: keyof Numbers, label: string, fmt: (v: number) => [string, string]}[]}
 */
const METRICS = [
  { key: "success_ratio", label: "success", fmt: (v) => [(v * 100).toFixed(1), "%"] },
  { key: "p50_s", label: "p50 journey", fmt: (v) => fmtDuration(v) },
  { key: "p99_s", label: "p99 journey", fmt: (v) => fmtDuration(v) },
  { key: "clock_offset_s", label: "clock offset", fmt: (v) => fmtDuration(v, true) },
  { key: "requests_per_journey", label: "requests/journey", fmt: (v) => [v.toFixed(1), "req"] },
  { key: "bytes_per_journey", label: "bytes/journey", fmt: (v) => [(v / 1024).toFixed(1), "KB"] },
  { key: "forged_accepted", label: "forged accepted", fmt: (v) => [fmtNum(v), "count"] },
  { key: "key_rejections", label: "key rejections", fmt: (v) => [fmtNum(v), "count"] },
];

/** The server's prose marks names with backticks; on a projector they are noise. @param {string} text */
function plain(text) {
  return text.replace(/`+/g, "");
}

/** @param {number | null} secs */
function fmtTtl(secs) {
  return secs === null || secs === undefined ? "no TTL" : `${Math.max(0, Math.ceil(secs))} s`;
}

/** @param {string} iso */
function fmtClock(iso) {
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return iso;
  const p = (/** @type {number} */ n) => String(n).padStart(2, "0");
  return `${p(d.getHours())}:${p(d.getMinutes())}:${p(d.getSeconds())}`;
}

/**
 * The fault's type and its most telling attribute, with the unit from the toxic's schema.
 * @param {Fault} f
 */
function faultSummary(f) {
  const toxic = meta?.toxics.find((t) => t.type === f.type);
  const names = toxic ? toxic.attributes.map((a) => a.name) : Object.keys(f.attributes);
  const name = names.find((n) => n in f.attributes);
  if (!name) return f.type;
  const unit = toxic?.attributes.find((a) => a.name === name)?.unit ?? "";
  const value = `${String(f.attributes[name])}${unit ? " " + unit : ""}`;
  return name === f.type ? `${f.type} ${value}` : `${f.type} · ${name} ${value}`;
}

// ---------------------------------------------------------------- API

const TOKEN_KEY = "fallacies-admin-token";

/** Take `#token=…` from the URL once, keep it for the tab, and hide it from view. */
function readToken() {
  const m = /(?:^#|&)token=([^&]*)/.exec(location.hash);
  if (m) {
    sessionStorage.setItem(TOKEN_KEY, decodeURIComponent(m[1]));
    history.replaceState(null, "", location.pathname + location.search);
  }
  return sessionStorage.getItem(TOKEN_KEY);
}
const token = readToken();

/**
 * @param {string} message the server's own text, shown as it is
 * @param {string} [context] what was being done
 */
function showError(message, context = "") {
  setText($("error"), message);
  setText($("error-context"), context);
  $("error-bar").hidden = false;
}

function clearError() {
  setText($("error"), "");
  setText($("error-context"), "");
  $("error-bar").hidden = true;
}

/** @type {number | undefined} */
let noticeTimer;
/** @param {string} text */
function notice(text) {
  setText($("notice"), text);
  clearTimeout(noticeTimer);
  noticeTimer = setTimeout(() => setText($("notice"), ""), 4000);
}

/**
 * Send one write; the server's `error` text lands in #error, never swallowed.
 * @param {string} method
 * @param {string} path
 * @param {unknown} [body]
 * @returns {Promise<any>} the parsed reply, or null when it failed
 */
async function api(method, path, body = {}) {
  /** @type {Record<string, string>} */
  const headers = { "Content-Type": "application/json" };
  if (meta?.token_required && token) headers[meta.token_header] = token;
  try {
    const res = await fetch(path, { method, headers, body: JSON.stringify(body) });
    const text = await res.text();
    /** @type {any} */
    let data = null;
    try {
      data = text ? JSON.parse(text) : null;
    } catch {
      data = null;
    }
    if (!res.ok) {
      const why = data && typeof data.error === "string" ? data.error : text || res.statusText;
      showError(why, `${method} ${path} → ${res.status}:`);
      return null;
    }
    clearError();
    return data;
  } catch (e) {
    showError(e instanceof Error ? e.message : String(e), `${method} ${path}:`);
    return null;
  }
}

// ---------------------------------------------------------------- clients

/** @param {Sample} sample */
function renderClients(sample) {
  const root = $("clients");
  const named = Object.keys(sample.clients);
  if (named.length && named.join() !== clients.join()) {
    clients = named;
    root.replaceChildren();
  }
  if (!root.querySelector(".client")) root.replaceChildren(...clients.map(makeClient));
  for (const c of clients) {
    const n = sample.clients[c];
    const col = /** @type {HTMLElement} */ (root.querySelector(`[data-client="${c}"]`));
    const failing = Boolean(n?.failing);
    col.classList.toggle("failing", failing);
    /** @type {HTMLElement} */ (col.querySelector(".failing-label")).hidden = !failing;
    const running = num(n?.running_s);
    const now = running > 0 ? `journey running ${fmtDuration(running).join(" ")}` : "between journeys";
    setText(/** @type {Element} */ (col.querySelector(".client-sub")), `${fmtNum(num(n?.journeys))} journeys · ${now}`);
    for (const m of METRICS) {
      const raw = n ? n[m.key] : 0;
      const el = /** @type {HTMLElement} */ (col.querySelector(`[data-testid="num-${c}-${m.key}"]`));
      const [value, unit] = m.fmt(num(raw));
      el.dataset.value = String(num(raw));
      setText(el.children[0], value);
      setText(el.children[1], unit);
    }
  }
}

/** @param {string} c */
function makeClient(c) {
  return h("div", { class: "client", "data-client": c, style: `--client: ${colour(c)}` }, [
    h("h2", {}, [c, " ", h("span", { class: "failing-label", hidden: true }, ["FAILING"])]),
    h("p", { class: "client-sub muted" }, [""]),
    h("div", { class: "metrics" }, METRICS.map((m) => h("div", { class: "metric" }, [
      h("span", { class: "label" }, [m.label]),
      h("span", { class: "big", "data-testid": `num-${c}-${m.key}`, "data-value": "0" }, [
        h("span", { class: "value" }, ["0"]), h("span", { class: "unit" }, [""]),
      ]),
    ]))),
  ]);
}

/** @param {string} c */
function colour(c) {
  return c === "naive" || c === "resilient" ? COLOURS[c] : OWN_COLOUR;
}

// ---------------------------------------------------------------- journeys

const HOP_COLOURS = /** @type {Record<string, string>} */ ({
  connect: "#f59f00", send: "#74c0fc", wait: "#adb5bd", body: "#37b24d",
  dns: "#ae3ec9", ntp: "#ae3ec9", more: "#dee2e6",
});

/**
 * @param {number} start @param {number} end @param {number} total @param {string} hue
 * @param {string} title
 */
function wfBar(start, end, total, hue, title) {
  const left = Math.min(100, Math.max(0, (start / total) * 100));
  const width = Math.max(0, Math.min(100 - left, ((end - Math.max(0, start)) / total) * 100));
  return h("span", { class: "bar", title, style: `left:${left}%;width:${width}%;background:${hue}` });
}

/** @param {WaterfallRow} row @param {number} total @param {string} hue */
function wfRow(row, total, hue) {
  const bars = row.segments.length
    ? row.segments.map((s) => wfBar(s.start_s, s.end_s, total, HOP_COLOURS[s.kind] ?? hue, `${s.kind} ${fmtDuration(s.end_s - s.start_s).join(" ")}`))
    : [wfBar(row.start_s, row.end_s, total, row.kind === "step" ? hue : HOP_COLOURS[row.kind] ?? hue, row.name)];
  const took = fmtDuration(row.duration_s).join(" ") + (row.detail ? ` · ${row.detail}` : "");
  return h("div", { class: `row l${row.level}`, "data-kind": row.kind }, [
    h("span", { class: "name", title: row.name }, [row.name]),
    h("span", { class: "lane" }, bars),
    h("span", { class: "t", title: took }, [took]),
  ]);
}

/** @param {Snapshot} snap */
function renderJourneys(snap) {
  const journeys = snap.journeys ?? {};
  const named = Object.keys(journeys);
  if (!named.length) return;
  const boxes = clients.filter((c) => journeys[c] || snap.sample?.clients[c]).map((c) => {
    const last = journeys[c];
    const running = num(snap.sample?.clients[c]?.running_s);
    const stuck = running > 3 * Math.max(1, num(last?.duration_s));
    const title = last && last.duration_s !== null
      ? `${c} · last journey ${fmtDuration(last.duration_s).join(" ")} · ${last.outcome}`
      : `${c} · no journey finished yet`;
    const rows = last ? last.rows.map((r) => wfRow(r, Math.max(num(last.duration_s), 1e-6), colour(c))) : [];
    return h("div", { class: "wf", "data-client": c }, [
      h("h3", {}, [title]),
      ...(stuck ? [h("p", { class: "stuck" }, [`a journey has been running ${fmtDuration(running).join(" ")}: stuck, none finished since`])] : []),
      ...rows,
    ]);
  });
  $("journeys").replaceChildren(...boxes);
}

// ---------------------------------------------------------------- diagram

/** Where the known nodes sit: workload left, its targets fanned out on the right. */
const POSITIONS = /** @type {Record<string, [number, number]>} */ ({
  workload: [100, 285],
  dns: [580, 45],
  "ntp-a": [580, 125],
  "ntp-b": [580, 205],
  "ntp-c": [580, 285],
  "api-1": [580, 365],
  "api-2": [580, 445],
  rogue: [580, 525],
  proxy: [100, 500],
});
const BOX_W = 130;
const BOX_H = 48;
const LINE_H = 22;

/** @typedef {{link: Link, d: string, x: number, y: number, anchor: string, lines: string[]}} LinkShape */

/** @param {MeshNode[]} nodes @param {Link[]} linkList */
function renderDiagram(nodes, linkList) {
  const all = [...nodes];
  for (const l of linkList) {
    for (const end of [l.from, l.to]) {
      if (!all.some((n) => n.name === end)) all.push({ name: end, kind: "?", state: "unknown", healthy: false, pid: null });
    }
  }
  /** @type {Map<string, [number, number]>} */
  const pos = new Map();
  let spare = 0;
  for (const n of all) {
    const known = POSITIONS[n.name];
    pos.set(n.name, known ?? [290 + (spare % 2) * 160, 470 + Math.floor(spare / 2) * 60]);
    if (!known) spare += 1;
  }
  /** @type {Map<string, Link[]>} */
  const pairs = new Map();
  for (const l of linkList) {
    const k = [l.from, l.to].sort().join("\n");
    pairs.set(k, [...(pairs.get(k) ?? []), l]);
  }
  const shapes = [...pairs.values()].flatMap((group) => group.map((l, i) => linkShape(l, i, group.length, pos)));
  spreadLabels(shapes);
  const boxes = shapes.map(labelBox);
  const right = Math.max(...[...pos.values()].map(([x]) => x + BOX_W / 2), ...boxes.map((b) => b.right));
  const bottom = Math.max(...[...pos.values()].map(([, y]) => y + BOX_H / 2), ...boxes.map((b) => b.bottom));
  $("diagram").setAttribute("viewBox", `0 0 ${Math.ceil(right + 10)} ${Math.ceil(bottom + 10)}`);
  const svg = $("diagram");
  svg.replaceChildren(...shapes.map(drawLink), ...all.map((n) => drawNode(n, /** @type {[number, number]} */ (pos.get(n.name)))));
}

/**
 * Where a link's curve and label go; parallel links between one pair bow apart, and
 * links between two nodes of the right-hand column arc out to its right.
 * @param {Link} l
 * @param {number} i
 * @param {number} count
 * @param {Map<string, [number, number]>} pos
 * @returns {LinkShape}
 */
function linkShape(l, i, count, pos) {
  const [a, b] = [l.from, l.to].sort();
  const [ax, ay] = /** @type {[number, number]} */ (pos.get(a));
  const [bx, by] = /** @type {[number, number]} */ (pos.get(b));
  const len = Math.hypot(bx - ax, by - ay) || 1;
  let [nx, ny] = [-(by - ay) / len, (bx - ax) / len];
  const vertical = Math.abs(bx - ax) < 10;
  let bow = (i - (count - 1) / 2) * 80;
  if (vertical) {
    if (nx < 0) [nx, ny] = [-nx, -ny];
    bow = 190 + i * 80;
  }
  const cx = (ax + bx) / 2 + nx * bow;
  const cy = (ay + by) / 2 + ny * bow;
  const [sx, sy] = /** @type {[number, number]} */ (pos.get(l.from));
  const [ex, ey] = /** @type {[number, number]} */ (pos.get(l.to));
  const t = vertical ? 0.5 : l.from === a ? 0.6 : 0.4;
  const lx = (1 - t) ** 2 * ax + 2 * (1 - t) * t * cx + t ** 2 * bx;
  const ly = (1 - t) ** 2 * ay + 2 * (1 - t) * t * cy + t ** 2 * by;
  const lines = [
    `${l.name} · ${l.protocol}${l.enabled === false ? " · disabled" : ""}`,
    ...l.faults.map((f) => `⚡ ${faultSummary(f)} · ${fmtTtl(f.expires_in_s)}`),
  ];
  return {
    link: l,
    d: `M ${sx} ${sy} Q ${cx} ${cy} ${ex} ${ey}`,
    x: vertical ? Math.max(ax, bx) + (190 + (count - 1) * 80) / 2 + 10 : lx,
    y: ly + 5,
    anchor: vertical ? "start" : "middle",
    lines,
  };
}

/**
 * The room a label takes, its width estimated from the text length.
 * @param {LinkShape} c
 */
function labelBox(c) {
  const w = Math.max(...c.lines.map((x) => x.length)) * 9.8;
  const left = c.anchor === "middle" ? c.x - w / 2 : c.x;
  return { left, right: left + w, top: c.y - 16, bottom: c.y - 16 + c.lines.length * LINE_H };
}

/**
 * Push labels down until no two overlap (widths estimated from the text length).
 * @param {LinkShape[]} shapes
 */
function spreadLabels(shapes) {
  const box = labelBox;
  /** @type {LinkShape[]} */
  const placed = [];
  for (const c of [...shapes].sort((p, q) => p.y - q.y)) {
    for (let guard = 0; guard < 50; guard++) {
      const me = box(c);
      const hit = placed.map(box).find((o) => o.left < me.right && me.left < o.right && o.top < me.bottom && me.top < o.bottom);
      if (!hit) break;
      c.y = hit.bottom + 17;
    }
    placed.push(c);
  }
}

/** @param {LinkShape} c */
function drawLink(c) {
  const l = c.link;
  const cls = `link${l.faults.length ? " faulty" : ""}${l.enabled === false ? " disabled" : ""}`;
  return s("g", { class: cls, "data-testid": `link-${l.name}`, "data-faults": l.faults.length }, [
    s("title", {}, [`${l.name} (${l.protocol}) ${l.from} → ${l.to} via ${l.listen} → ${l.upstream}`]),
    s("path", { d: c.d }),
    ...c.lines.map((text, k) =>
      s(
        "text",
        k === 0
          ? { class: "link-label", x: c.x, y: c.y, "text-anchor": c.anchor }
          : { class: "badge", x: c.x, y: c.y + k * LINE_H, "text-anchor": c.anchor, "data-testid": `fault-${l.name}-${l.faults[k - 1].name}` },
        [text],
      ),
    ),
  ]);
}

/** @param {MeshNode} n @param {[number, number]} at */
function drawNode(n, [x, y]) {
  const look =
    n.state === "running" ? (n.healthy ? "ok" : "unhealthy")
    : n.state === "stopped" || n.state === "exited" ? "down"
    : n.state === "paused" ? "paused"
    : "unknown";
  return s("g", { class: `node ${look}`, "data-testid": `node-${n.name}`, "data-state": n.state }, [
    s("title", {}, [`${n.name} (${n.kind}): ${n.state}${n.healthy ? ", healthy" : ""}${n.pid ? `, pid ${n.pid}` : ""}`]),
    s("rect", { x: x - BOX_W / 2, y: y - BOX_H / 2, width: BOX_W, height: BOX_H, rx: 8 }),
    s("text", { x, y: y - 3, "text-anchor": "middle", class: "node-name" }, [n.name]),
    s("text", { x, y: y + 17, "text-anchor": "middle", class: "node-state" }, [look === "unhealthy" ? "unhealthy" : n.state]),
  ]);
}

// ---------------------------------------------------------------- nodes & links panels

/** @param {MeshNode[]} nodes */
function renderNodes(nodes) {
  const actions = meta?.node_actions ?? [];
  sync(
    $("nodes").querySelector("tbody") ?? $("nodes"),
    nodes,
    (n) => n.name,
    (n) => h("tr", {}, [
      h("td", { class: "name" }, [n.name]),
      h("td", { class: "state" }),
      h("td", { class: "pid" }),
      h("td", { class: "buttons" }, actions.map((a) => h("button", {
        type: "button", "data-testid": `node-action-${n.name}-${a}`, onclick: () => nodeAction(n.name, a),
      }, [a]))),
    ]),
    (el, n) => {
      el.dataset.state = n.state;
      setText(el.children[1], `${n.state}${n.state === "running" ? (n.healthy ? " ✓" : " (unhealthy)") : ""}`);
      setText(el.children[2], n.pid === null ? "no pid" : String(n.pid));
    },
  );
}

/** @param {string} name @param {string} action */
async function nodeAction(name, action) {
  const r = await api("POST", `/api/nodes/${encodeURIComponent(name)}/${encodeURIComponent(action)}`);
  if (r) notice(`${name}: ${action} → ${r.state}`);
}

/** @param {Link[]} linkList */
function renderLinks(linkList) {
  sync(
    $("links"),
    linkList,
    (l) => l.name,
    () => h("li", { class: "link-item" }, [h("div", { class: "link-head" }), h("ul", { class: "plain faults" })]),
    (el, l) => {
      el.classList.toggle("faulty", l.faults.length > 0);
      const state = `${l.enabled === false ? " · disabled" : ""}${l.faults.length ? "" : " · no faults"}`;
      setText(el.children[0], `${l.name} (${l.protocol}) ${l.from} → ${l.to}${state}`);
      sync(
        el.children[1],
        l.faults,
        (f) => f.name,
        (f) => h("li", {}, [h("span", { class: "fault-text" }), " ", h("button", {
          type: "button", class: "small", "data-testid": `fault-remove-${l.name}-${f.name}`,
          onclick: () => removeFault(l.name, f.name),
        }, ["remove"])]),
        (li, f) => setText(li.children[0], `${faultSummary(f)} · ${f.stream} · toxicity ${f.toxicity} · ${fmtTtl(f.expires_in_s)}`),
      );
    },
  );
}

/** @param {string} link @param {string} fault */
async function removeFault(link, fault) {
  const r = await api("DELETE", `/api/links/${encodeURIComponent(link)}/faults/${encodeURIComponent(fault)}`);
  if (r) notice(`removed ${r.removed}`);
}

// ---------------------------------------------------------------- fault form

function setupFaultForm() {
  if (!meta) return;
  const stream = $as("fault-stream", HTMLSelectElement);
  stream.replaceChildren(...meta.streams.map((x) => h("option", { value: x }, [x])));
  if (meta.streams.includes("downstream")) stream.value = "downstream";
  const ttl = $as("fault-ttl", HTMLInputElement);
  ttl.max = String(meta.ttl_max_s);
  ttl.value = String(meta.ttl_default_s ?? 30);
  $as("fault-link", HTMLSelectElement).addEventListener("change", fillFaultTypes);
  $as("fault-type", HTMLSelectElement).addEventListener("change", fillAttributes);
  $as("fault-form", HTMLFormElement).addEventListener("submit", (e) => {
    e.preventDefault();
    void addFault();
  });
}

/** Keep the link select in step with the snapshot's links, keeping the choice. */
function fillFaultLinks() {
  const select = $as("fault-link", HTMLSelectElement);
  const names = links.map((l) => `${l.name}/${l.protocol}`).join(",");
  if (select.dataset.names === names) return;
  select.dataset.names = names;
  const chosen = select.value;
  select.replaceChildren(...links.map((l) => h("option", { value: l.name }, [`${l.name} (${l.protocol})`])));
  if (links.some((l) => l.name === chosen)) select.value = chosen;
  fillFaultTypes();
}

function fillFaultTypes() {
  const select = $as("fault-type", HTMLSelectElement);
  const link = links.find((l) => l.name === $as("fault-link", HTMLSelectElement).value);
  const toxics = (meta?.toxics ?? []).filter((t) => !link || t.protocols.includes(link.protocol));
  const chosen = select.value;
  select.replaceChildren(...toxics.map((t) => h("option", { value: t.type }, [t.type])));
  if (toxics.some((t) => t.type === chosen)) select.value = chosen;
  fillAttributes();
}

function fillAttributes() {
  const type = $as("fault-type", HTMLSelectElement).value;
  const toxic = meta?.toxics.find((t) => t.type === type);
  setText($("fault-doc"), plain(toxic?.doc ?? ""));
  const box = $("fault-attrs");
  if (box.dataset.type === type) return;
  box.dataset.type = type;
  box.replaceChildren(
    ...(toxic?.attributes ?? []).map((a) => {
      const type = a.type === "bool" ? "checkbox" : a.type === "str" ? "text" : "number";
      const input = /** @type {HTMLInputElement} */ (h("input", { id: `attr-${a.name}`, name: a.name, title: a.doc, type }));
      if (a.type === "bool") input.checked = Boolean(a.default);
      else input.value = String(a.default ?? (a.type === "str" ? "" : 0));
      if (type === "number") input.step = a.type === "int" ? "1" : "any";
      return h("label", { title: a.doc }, [a.name, " ", input, " ", h("span", { class: "unit" }, [a.unit])]);
    }),
  );
}

async function addFault() {
  const link = $as("fault-link", HTMLSelectElement).value;
  const type = $as("fault-type", HTMLSelectElement).value;
  const toxic = meta?.toxics.find((t) => t.type === type);
  if (!link || !toxic) {
    showError("choose a link and a fault type first");
    return;
  }
  /** @type {Record<string, unknown>} */
  const attributes = {};
  for (const a of toxic.attributes) {
    const input = $as(`attr-${a.name}`, HTMLInputElement);
    attributes[a.name] =
      a.type === "bool" ? input.checked
      : a.type === "str" ? input.value
      : a.type === "int" ? Math.round(Number(input.value))
      : Number(input.value);
  }
  /** @type {Record<string, unknown>} */
  const body = {
    type,
    stream: $as("fault-stream", HTMLSelectElement).value,
    toxicity: Number($as("fault-toxicity", HTMLInputElement).value),
    attributes,
  };
  const ttl = $as("fault-ttl", HTMLInputElement).value;
  if (ttl !== "") body.ttl_s = Number(ttl);
  const r = await api("POST", `/api/links/${encodeURIComponent(link)}/faults`, body);
  if (r) notice(`added ${r.fault?.name ?? type} on ${link}`);
}

// ---------------------------------------------------------------- experiments

function setupRuns() {
  if (!meta) return;
  $as("run-which", HTMLSelectElement).append(
    ...meta.experiments.map((e) => h("option", { value: String(e.fallacy) }, [`${e.fallacy} · ${e.title}`])),
  );
  $as("run-disable", HTMLSelectElement).replaceChildren(
    ...Object.entries(meta.defences).map(([name, doc]) => h("option", { value: name, title: doc }, [name])),
  );
  $("run-start").addEventListener("click", async () => {
    const disable = [...$as("run-disable", HTMLSelectElement).selectedOptions].map((o) => o.value);
    const run = await api("POST", "/api/runs", {
      which: $as("run-which", HTMLSelectElement).value,
      quick: $as("run-quick", HTMLInputElement).checked,
      step: $as("run-step", HTMLInputElement).checked,
      disable,
    });
    if (run) renderRun(run);
  });
  for (const [id, skip] of /** @type {[string, boolean][]} */ ([["run-next", false], ["run-skip", true]])) {
    $(id).addEventListener("click", async () => {
      const run = await api("POST", "/api/runs/next", { skip });
      if (run) renderRun(run);
    });
  }
  $("run-stop").addEventListener("click", async () => {
    const run = await api("POST", "/api/runs/stop");
    if (run) renderRun(run);
  });
}

/** @param {Run | null} run */
function renderRun(run) {
  const state = run?.state ?? "idle";
  const stateEl = $("run-state");
  setText(stateEl, state);
  stateEl.dataset.state = state;
  const active = ACTIVE_RUN.includes(state);
  for (const [id, off] of /** @type {[string, boolean][]} */ ([
    ["run-start", active], ["run-stop", !active], ["run-next", state !== "waiting"], ["run-skip", state !== "waiting"],
  ])) $as(id, HTMLButtonElement).disabled = off;
  const exp = run?.experiment ?? null;
  const where = run && exp ? `experiment ${run.index} of ${run.total}: ${exp.fallacy} · ${exp.title}` : "";
  setText($("run-where"), where || (run ? `${run.total} experiment(s)` : ""));
  setText($("run-phase"), run?.phase ?? "none");
  const left = run?.time_left_s == null ? "" : `${Math.max(0, Math.ceil(run.time_left_s))} s`;
  setText($("run-time-left"), left && `${left} left`);
  const info = [];
  if (run) {
    info.push(`run ${run.id}`, run.quick ? "quick" : "full", run.step ? "step by step" : "continuous");
    info.push(run.disabled.length ? `defences off: ${run.disabled.join(", ")}` : "all defences on");
    if (run.error) info.push(`error: ${run.error}`);
    if (run.report) info.push(`report: ${run.report}`);
  }
  setText($("run-info"), info.join(" · "));
  for (const dd of $("run-narration").querySelectorAll("dd")) {
    const part = /** @type {keyof Narration} */ (dd instanceof HTMLElement ? dd.dataset.part : "fallacy");
    setText(dd, plain(exp?.narration?.[part] ?? ""));
  }
  $("run-narration").hidden = !exp;
  $("now-playing").hidden = !exp;
  const phase = `${run?.phase ?? "between phases"}${left && ` · ${left} left`}`;
  setText($("now-playing"), exp ? `${state}: ${exp.fallacy} · ${exp.title} · ${phase}. Watch: ${plain(exp.narration?.watch ?? "")}` : "");
  renderResults(run?.results ?? []);
}

/** @param {Result[]} results */
function renderResults(results) {
  sync(
    $("run-results"),
    results,
    (r) => `${r.fallacy}/${r.name}`,
    () => h("li", {}, [h("div", { class: "result-head" }), h("ul", { class: "plain" })]),
    (el, r) => {
      el.dataset.status = r.status;
      setText(el.children[0], `${r.status === "passed" ? "✔" : "✘"} ${r.fallacy} · ${r.title}: ${r.status}`);
      const list = el.children[1];
      const text = r.expectations.map(describeExpectation);
      if (list.childElementCount !== text.length || [...list.children].some((li, i) => li.textContent !== text[i])) {
        list.replaceChildren(...r.expectations.map((e, i) => h("li", { class: e.passed ? "pass" : "fail" }, [text[i]])));
      }
    },
  );
}

/** @param {Expectation} e */
function describeExpectation(e) {
  const unit = e.unit ? ` ${e.unit}` : "";
  const observed = e.observed === null ? "not observed" : `observed ${fmtNum(e.observed)}${unit}`;
  return `${e.passed ? "✓" : "✗"} ${e.client}: ${e.description} — ${observed}, wanted ${e.op} ${fmtNum(e.threshold)}${unit}`;
}

/** @param {MatrixRow[]} rows */
function renderMatrix(rows) {
  sync(
    $("matrix").querySelector("tbody") ?? $("matrix"),
    rows,
    (r) => `${r.fallacy}/${r.experiment}/${r.defence}`,
    (r) => h("tr", {}, [
      ...[String(r.fallacy), r.experiment, r.defence, r.protects.join("; ")].map((x) => h("td", {}, [x])),
      h("td", { class: "last" }),
    ]),
    (el, r) => {
      el.dataset.last = r.last ?? "none";
      setText(el.children[4], r.last ?? "not run yet");
    },
  );
}

/** @param {AuditEntry[]} entries */
function renderAudit(entries) {
  sync(
    $("audit").querySelector("tbody") ?? $("audit"),
    entries,
    (e) => String(e.seq),
    (e) => h("tr", { "data-testid": "audit-row" }, [
      h("td", { title: e.time }, [fmtClock(e.time)]),
      ...[e.actor, e.action, e.proxy ?? "", e.toxic ?? ""].map((x) => h("td", {}, [x])),
    ]),
    () => {},
  );
}

// ---------------------------------------------------------------- charts

/** @type {{id: string, y: (n: Numbers) => number, p50?: boolean, axis: Partial<Plotly.LayoutAxis>}[]} */
const CHARTS = [
  { id: "chart-success", y: (n) => n.success_ratio, axis: { range: [0, 1.05], tickformat: ".0%" } },
  { id: "chart-p99", y: (n) => n.p99_s, p50: true, axis: { rangemode: "tozero", ticksuffix: " s" } },
  { id: "chart-offset", y: (n) => n.clock_offset_s, axis: { ticksuffix: " s" } },
  { id: "chart-requests", y: (n) => n.requests_per_journey, axis: { rangemode: "tozero" } },
];

/**
 * Unix seconds as the local-time string Plotly's date axes read.
 * @param {number} t
 */
function toDate(t) {
  const d = new Date(t * 1000 - new Date(t * 1000).getTimezoneOffset() * 60000);
  return d.toISOString().slice(0, 23).replace("T", " ");
}

/**
 * Fault windows as shaded rectangles, each labelled on the first free row so
 * overlapping windows do not write over each other.
 * @param {number} now
 * @returns {{shapes: Partial<Plotly.Shape>[], annotations: Partial<Plotly.Annotations>[]}}
 */
function faultShading(now) {
  const shown = windows.filter((w) => (w.end ?? now) >= now - HISTORY_S).sort((p, q) => p.start - q.start);
  /** @type {number[]} */
  const rowEnds = [];
  const annotations = shown.map((w) => {
    const start = Math.max(w.start, now - HISTORY_S);
    let row = rowEnds.findIndex((end) => end < start);
    if (row < 0) row = rowEnds.push(0) - 1;
    rowEnds[row] = (w.end ?? now) + 20;
    const late = start > now - HISTORY_S / 5;
    return /** @type {Partial<Plotly.Annotations>} */ ({
      xref: "x", yref: "paper", x: toDate(late ? Math.min(now, (w.end ?? now)) : start), y: 1 - (row % 3) * 0.12,
      xanchor: late ? "right" : "left", yanchor: "top",
      text: `${w.link} ${w.type}`, showarrow: false, font: { size: 12, color: "#a61e1e" }, bgcolor: "rgba(255,255,255,0.75)",
    });
  });
  /** @type {Partial<Plotly.Shape>[]} */
  const shapes = shown.map((w) => ({
    type: "rect", xref: "x", yref: "paper", x0: toDate(w.start), x1: toDate(w.end ?? now), y0: 0, y1: 1,
    layer: "below", line: { width: 0 },
    fillcolor: w.end === null ? "rgba(224, 49, 49, 0.2)" : "rgba(224, 49, 49, 0.1)",
  }));
  return { shapes, annotations };
}

/**
 * One client's line; a gap in the samples (a reconnect) breaks the line.
 * @param {string} name
 * @param {(n: Numbers) => number} y
 * @param {boolean} dotted
 * @returns {Partial<Plotly.PlotData>}
 */
function trace(name, y, dotted) {
  const client = name.split(" ")[0];
  /** @type {string[]} */
  const xs = [];
  /** @type {(number | null)[]} */
  const ys = [];
  samples.forEach((p, i) => {
    if (i > 0 && p.t - samples[i - 1].t > GAP_S) {
      xs.push(toDate(p.t - GAP_S / 2));
      ys.push(null);
    }
    const n = p.clients[client];
    xs.push(toDate(p.t));
    ys.push(n ? num(y(n)) : null);
  });
  return {
    type: "scatter", mode: "lines", name, x: xs, y: ys,
    line: { color: colour(client), width: dotted ? 1.5 : 3, dash: dotted ? "dot" : "solid" },
  };
}

/** Draw the charts after this task, so the numbers and the diagram paint first. */
function scheduleCharts() {
  if (chartsPending) return;
  chartsPending = true;
  setTimeout(() => {
    chartsPending = false;
    renderCharts();
  }, 0);
}

function renderCharts() {
  if (typeof Plotly === "undefined") return;
  const now = samples.length ? samples[samples.length - 1].t : Date.now() / 1000;
  const { shapes, annotations } = faultShading(now);
  for (const c of CHARTS) {
    const traces = clients.map((name) => trace(name, c.y, false));
    if (c.p50) traces.push(...clients.map((name) => trace(`${name} p50`, (n) => n.p50_s, true)));
    /** @type {Partial<Plotly.Layout>} */
    const layout = {
      margin: { t: 6, r: 12, b: 26, l: 56 },
      height: 230,
      legend: { orientation: "h", x: 0, y: 1.02, yanchor: "bottom", font: { size: 13 } },
      xaxis: { type: "date", range: [toDate(now - HISTORY_S), toDate(now)], tickformat: "%H:%M", tickfont: { size: 13 } },
      yaxis: { ...c.axis, tickfont: { size: 13 } },
      shapes,
      annotations,
      font: { family: "system-ui, sans-serif", size: 14 },
      uirevision: c.id,
    };
    void Plotly.react($(c.id), traces, layout, { displayModeBar: false, responsive: true });
  }
}

// ---------------------------------------------------------------- stream

/** @param {Sample[]} list */
function trim(list) {
  const last = list.length ? list[list.length - 1].t : 0;
  return list.filter((p) => p.t >= last - HISTORY_S);
}

/** @param {Snapshot} snap */
function render(snap) {
  const last = samples[samples.length - 1];
  const fresh = snap.sample !== null && (!last || snap.sample.t > last.t);
  if (fresh && snap.sample) samples = trim([...samples, snap.sample]);
  const shading = JSON.stringify(snap.windows);
  const reshade = shading !== lastShading;
  lastShading = shading;
  windows = snap.windows;
  links = snap.links;
  setText($("backend"), `backend: ${snap.backend}`);
  const note = $("view-note");
  note.hidden = snap.view.kind !== "run";
  setText(note, snap.view.kind === "run" ? `Run view: ${snap.view.why ?? "the run's own mesh"}` : "");
  if (snap.sample) renderClients(snap.sample);
  if (fresh) renderJourneys(snap);
  renderDiagram(snap.nodes, snap.links);
  renderNodes(snap.nodes);
  renderLinks(snap.links);
  fillFaultLinks();
  renderRun(snap.run);
  renderMatrix(snap.matrix);
  renderAudit(snap.audit);
  // Charts cost the most: redrawn only for a new sample or a fault window, never hidden.
  if ((fresh || reshade) && !document.hidden) scheduleCharts();
  document.body.dataset.lastSnapshot = String(snap.t);
}

/** @param {string} state */
function setConn(state) {
  const el = $("conn");
  setText(el, state);
  el.dataset.state = state;
}

/** @param {string} what @param {(data: any) => void} handle @returns {(ev: MessageEvent) => void} */
function onEvent(what, handle) {
  return (ev) => {
    try {
      handle(JSON.parse(ev.data));
    } catch (e) {
      showError(`bad ${what} event: ${e instanceof Error ? e.message : String(e)}`);
    }
  };
}

/** @type {Record<string, (data: any) => void>} */
const HANDLERS = {
  history: (/** @type {History} */ d) => {
    samples = trim(d.samples);
    windows = d.windows;
    if (samples.length) renderClients(samples[samples.length - 1]);
    renderCharts();
  },
  snapshot: render,
};

/**
 * The live feed: a WebSocket on /live carrying `{"event", "data"}` messages (`history`
 * once, then `snapshot`s). Not server-sent events: a browser holds six HTTP connections
 * per host across all its tabs, so a seventh tab's stream would never open.
 */
function connect() {
  const ws = new WebSocket(`${location.protocol === "https:" ? "wss" : "ws"}://${location.host}/live`);
  ws.onopen = () => setConn("live");
  ws.onclose = () => {
    setConn("reconnecting");
    setTimeout(connect, 2000);
  };
  ws.onmessage = onEvent("feed", (/** @type {{event: string, data: unknown}} */ m) => HANDLERS[m.event]?.(m.data));
}

async function loadMeta() {
  for (;;) {
    try {
      const res = await fetch("/api/meta");
      const data = await res.json();
      if (!res.ok) throw new Error(data?.error ?? res.statusText);
      return /** @type {Meta} */ (data);
    } catch (e) {
      showError(`${e instanceof Error ? e.message : String(e)} (retrying)`, "GET /api/meta:");
      await new Promise((r) => setTimeout(r, 2000));
    }
  }
}

async function main() {
  $("error-dismiss").addEventListener("click", clearError);
  $("reset").addEventListener("click", async () => {
    const r = await api("POST", "/api/reset");
    if (r) notice(`reset ${r.reset?.length ?? 0} link(s)`);
  });
  meta = await loadMeta();
  clearError();
  setText($("backend"), `backend: ${meta.backend}`);
  if (meta.token_required && !token) showError("this console needs the admin token: open it with #token=… in the URL");
  setupFaultForm();
  setupRuns();
  renderRun(null);
  fillFaultTypes();
  document.addEventListener("visibilitychange", () => {
    if (!document.hidden) renderCharts();
  });
  connect();
}

void main();
