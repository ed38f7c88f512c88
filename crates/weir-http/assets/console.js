// Weir console: a small single-page app over the broker's /api/v1 (no framework, no build step).
"use strict";

const main = document.getElementById("main");
const rates = []; // [time ms, messages in total] samples for the throughput chart
let topicSamples = []; // the last two [time ms, Map(topic -> messages in total)] samples
const RATE_WINDOW_MS = 5 * 60 * 1000;

function esc(s) {
  return String(s).replace(/[&<>"']/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" }[c]));
}

function bytes(n) {
  if (n < 1024) return n + " B";
  const units = ["KiB", "MiB", "GiB", "TiB"];
  let i = -1;
  do { n /= 1024; i++; } while (n >= 1024 && i < units.length - 1);
  return n.toFixed(1) + " " + units[i];
}

// Absolute URLs on the page's origin: when the page was opened as http://user:password@host/
// (a console login), a relative URL would carry the credentials, which fetch() refuses; the
// browser sends the login it remembers for the origin instead.
const here = (path) => new URL(path, location.origin);

async function api(path, options) {
  const r = await fetch(here(path), options);
  const body = await r.json().catch(() => ({ error: r.statusText }));
  if (!r.ok) throw new Error(body.error || r.statusText);
  return body;
}

function setActive(name) {
  document.querySelectorAll("header nav a").forEach((a) => a.classList.toggle("active", a.dataset.nav === name));
}

function card(label, value, bad) {
  return `<div class="card${bad ? " bad" : ""}"><div class="label">${esc(label)}</div><div class="value">${esc(value)}</div></div>`;
}

// Throughput: sum of kafka_server_brokertopicmetrics_messagesin_total over topics, from /metrics.
async function sampleRate() {
  try {
    const text = await (await fetch(here("/metrics"))).text();
    let total = 0;
    const perTopic = new Map();
    for (const line of text.split("\n")) {
      if (line.startsWith("kafka_server_brokertopicmetrics_messagesin_total")) {
        const n = Number(line.slice(line.lastIndexOf(" ") + 1)) || 0;
        total += n;
        const m = line.match(/topic="((?:[^"\\]|\\.)*)"/);
        if (m) perTopic.set(m[1], n);
      }
    }
    const now = Date.now();
    topicSamples = [...topicSamples.slice(-1), [now, perTopic]];
    rates.push([now, total]);
    while (rates.length && rates[0][0] < now - RATE_WINDOW_MS) rates.shift();
  } catch (e) { /* the next sample will tell */ }
}

function chart() {
  const w = 600, h = 120;
  const points = [];
  for (let i = 1; i < rates.length; i++) {
    const dt = (rates[i][0] - rates[i - 1][0]) / 1000;
    points.push([rates[i][0], dt > 0 ? Math.max(0, (rates[i][1] - rates[i - 1][1]) / dt) : 0]);
  }
  const max = Math.max(1, ...points.map((p) => p[1]));
  const now = Date.now();
  const xy = points.map(([t, v]) => `${(w - ((now - t) / RATE_WINDOW_MS) * w).toFixed(1)},${(h - (v / max) * (h - 10)).toFixed(1)}`).join(" ");
  const last = points.length ? points[points.length - 1][1].toFixed(1) : "0";
  return `<svg class="chart" width="${w}" height="${h}" viewBox="0 0 ${w} ${h}">
    <polyline fill="none" stroke="#1f6fb2" stroke-width="2" points="${xy}"/>
    <text x="8" y="16" font-size="12" fill="#6b7280">messages in/s (this broker, last 5 min) — now ${last}, max ${max.toFixed(1)}</text>
  </svg>`;
}

async function overview() {
  setActive("overview");
  const o = await api("/api/v1/overview");
  document.getElementById("node").textContent = `node ${o.node_id} · cluster ${o.cluster_id} · v${o.version}`;
  const brokers = o.brokers.map((b) => `<tr data-broker="${b.id}"><td>${b.id}</td><td>${esc(b.endpoint)}</td><td>${esc(b.rack || "")}</td>
      <td>${b.fenced ? '<span class="pill bad">fenced</span>' : '<span class="pill">alive</span>'}${o.controller === b.id ? ' <span class="pill">controller</span>' : ""}</td></tr>`).join("");
  main.innerHTML = `<h1>Overview</h1>
    <div class="cards">
      ${card("Brokers", o.brokers.length)}${card("Controller", o.controller ?? "none", o.controller == null)}
      ${card("Topics", o.topics)}${card("Partitions", o.partitions)}
      ${card("Under-replicated", o.under_replicated, o.under_replicated > 0)}${card("Offline", o.offline, o.offline > 0)}
    </div>
    <h2>Throughput</h2><div id="chart">${chart()}</div>
    <h2>Brokers</h2>
    <table id="brokers-table"><tr><th>Id</th><th>Endpoint</th><th>Rack</th><th>State</th></tr>${brokers}</table>`;
}

// Messages in per second of `topic` on this broker between the last two samples ("—" before two).
function topicRate(topic) {
  if (topicSamples.length < 2) return "—";
  const [[t0, a], [t1, b]] = topicSamples;
  const dt = (t1 - t0) / 1000;
  return dt > 0 ? Math.max(0, ((b.get(topic) || 0) - (a.get(topic) || 0)) / dt).toFixed(1) : "—";
}

async function topicsPage() {
  setActive("topics");
  const topics = await api("/api/v1/topics");
  const rows = topics.map((t) => `<tr data-topic="${esc(t.name)}">
      <td><a href="#/topics/${encodeURIComponent(t.name)}">${esc(t.name)}</a>${t.internal ? ' <span class="muted">internal</span>' : ""}</td>
      <td class="num">${t.partitions}</td><td class="num">${t.replication_factor}</td>
      <td class="num">${t.under_replicated ? `<span class="pill bad">${t.under_replicated}</span>` : 0}</td>
      <td class="num">${t.local_records}</td><td class="num">${bytes(t.local_bytes)}</td>
      <td class="num rate">${topicRate(t.name)}</td></tr>`).join("");
  main.innerHTML = `<h1>Topics</h1>
    <table id="topics-table"><tr><th>Name</th><th class="num">Partitions</th><th class="num">Replication</th>
    <th class="num">Under-replicated</th><th class="num">Records (local)</th><th class="num">Size (local)</th>
    <th class="num">Messages in/s (this broker)</th></tr>${rows}</table>`;
}

async function topicPage(name) {
  setActive("topics");
  const t = await api(`/api/v1/topics/${encodeURIComponent(name)}`);
  const parts = t.partitions.map((p) => {
    const o = p.offsets;
    return `<tr data-partition="${p.partition}"><td class="num">${p.partition}</td><td class="num">${p.leader}</td>
      <td>${p.replicas.join(", ")}</td><td>${p.isr.join(", ")}${p.isr.length < p.replicas.length ? ' <span class="pill bad">under-replicated</span>' : ""}</td>
      <td class="num">${o ? o.start : "—"}</td><td class="num">${o ? o.high_watermark : "—"}</td><td class="num">${o ? o.end : "—"}</td>
      <td class="num">${o ? bytes(o.bytes) : "—"}</td>
      <td>${o ? `<a class="browse" href="#/topics/${encodeURIComponent(name)}/messages/${p.partition}">browse</a>` : '<span class="muted">no local replica</span>'}</td></tr>`;
  }).join("");
  const configs = t.configs.map((c) => `<tr><td>${esc(c.name)}</td>
      <td><input data-config="${esc(c.name)}" value="${esc(c.value)}" size="28"></td>
      <td>${c.overridden ? '<span class="pill">topic</span>' : '<span class="muted">default</span>'}</td>
      <td><button data-save="${esc(c.name)}">Save</button></td></tr>`).join("");
  main.innerHTML = `<h1>Topic ${esc(t.name)}</h1><p class="muted">id ${esc(t.id)}</p>
    <h2>Partitions</h2>
    <table id="partitions-table"><tr><th class="num">Partition</th><th class="num">Leader</th><th>Replicas</th><th>ISR</th>
      <th class="num">Start</th><th class="num">High watermark</th><th class="num">End</th><th class="num">Size</th><th></th></tr>${parts}</table>
    <h2>Configs</h2><p id="config-status" class="muted">Edit a value and save it; the change goes through the metadata quorum like IncrementalAlterConfigs.</p>
    <table id="configs-table"><tr><th>Name</th><th>Value</th><th>Source</th><th></th></tr>${configs}</table>`;
  main.querySelectorAll("button[data-save]").forEach((b) => b.addEventListener("click", async () => {
    const key = b.dataset.save;
    const value = main.querySelector(`input[data-config="${CSS.escape(key)}"]`).value;
    const status = document.getElementById("config-status");
    try {
      await api(`/api/v1/topics/${encodeURIComponent(name)}/configs`, {
        method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ [key]: value }),
      });
      await topicPage(name);
      const s = document.getElementById("config-status");
      s.className = "ok";
      s.textContent = `${key} = ${value} applied`;
    } catch (e) {
      status.className = "error";
      status.textContent = `${key}: ${e.message}`;
    }
  }));
}

function show(data, mode) {
  if (data == null) return '<span class="muted">null</span>';
  if (mode === "hex") return esc(data.hex);
  if (data.text == null) return esc(data.hex) + ' <span class="muted">(hex: not UTF-8)</span>';
  if (mode === "json") {
    try { return esc(JSON.stringify(JSON.parse(data.text), null, 2)); } catch (e) { /* not JSON */ }
  }
  return esc(data.text);
}

async function messagesPage(name, partition, params) {
  setActive("topics");
  const offset = params.get("offset");
  const timestamp = params.get("timestamp");
  const limit = params.get("limit") || "50";
  const mode = params.get("mode") || "json";
  const q = new URLSearchParams({ partition, limit });
  if (offset !== null && offset !== "") q.set("offset", offset);
  else if (timestamp !== null && timestamp !== "") {
    const ms = /^\d+$/.test(timestamp) ? Number(timestamp) : Date.parse(timestamp);
    q.set("timestamp", Number.isNaN(ms) ? timestamp : String(ms));
  }
  let page, error = null;
  try { page = await api(`/api/v1/topics/${encodeURIComponent(name)}/messages?${q}`); } catch (e) { error = e.message; }
  const rows = page ? page.records.map((m) => `<tr data-offset="${m.offset}"><td class="num">${m.offset}</td>
      <td>${esc(new Date(m.timestamp).toISOString())}</td><td class="data key">${show(m.key, mode)}</td>
      <td class="data value">${show(m.value, mode)}</td>
      <td class="data">${m.headers.map(([k, v]) => esc(k) + ": " + show(v, mode)).join("<br>")}</td></tr>`).join("") : "";
  const base = `#/topics/${encodeURIComponent(name)}/messages/${partition}`;
  main.innerHTML = `<h1><a href="#/topics/${encodeURIComponent(name)}">${esc(name)}</a> · partition ${esc(partition)}</h1>
    <form class="inline" id="browse-form">
      <label>Offset<input name="offset" value="${esc(offset ?? "")}" placeholder="log start" size="10"></label>
      <label>or timestamp<input name="timestamp" value="${esc(timestamp ?? "")}" placeholder="2026-01-01T00:00:00Z or ms" size="24"></label>
      <label>Limit<input name="limit" value="${esc(limit)}" size="5"></label>
      <label>Show as<select name="mode">${["json", "utf8", "hex"].map((m) => `<option${m === mode ? " selected" : ""}>${m}</option>`).join("")}</select></label>
      <button>Read</button>
    </form>
    ${error ? `<p class="error" id="browse-error">${esc(error)}</p>` : `<p class="muted">offsets ${page.log_start} … ${page.high_watermark - 1} (high watermark ${page.high_watermark})${page.skipped_compressed ? ` · ${page.skipped_compressed} records in compressed batches not shown` : ""}</p>
    <table id="messages-table"><tr><th class="num">Offset</th><th>Timestamp</th><th>Key</th><th>Value</th><th>Headers</th></tr>${rows}</table>
    ${page.next_offset < page.high_watermark ? `<p><a id="next-page" href="${base}?offset=${page.next_offset}&limit=${limit}&mode=${mode}">next ${limit} →</a></p>` : '<p class="muted">end of the partition</p>'}`}
    <h2>Produce a test message</h2>
    <form class="inline" id="produce-form">
      <label>Key<input name="key" size="16" placeholder="(null)"></label>
      <label>Value<input name="value" size="40"></label>
      <label>Header<input name="header" size="16" placeholder="name=value"></label>
      <button>Send to partition ${esc(partition)}</button>
    </form><p id="produce-status" class="muted"></p>`;
  document.getElementById("produce-form").addEventListener("submit", async (e) => {
    e.preventDefault();
    const f = new FormData(e.target);
    const msg = { partition: Number(partition), value: f.get("value") };
    if (f.get("key")) msg.key = f.get("key");
    const h = f.get("header");
    if (h) { const i = h.indexOf("="); msg.headers = { [i < 0 ? h : h.slice(0, i)]: i < 0 ? "" : h.slice(i + 1) }; }
    const status = document.getElementById("produce-status");
    try {
      const r = await api(`/api/v1/topics/${encodeURIComponent(name)}/messages`, {
        method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(msg),
      });
      location.hash = `${base}?offset=${r.offset}&limit=${limit}&mode=${mode}`;
    } catch (err) {
      status.className = "error";
      status.textContent = err.message;
    }
  });
  document.getElementById("browse-form").addEventListener("submit", (e) => {
    e.preventDefault();
    const f = new FormData(e.target);
    location.hash = `${base}?${new URLSearchParams(f)}`;
  });
}

async function groupsPage() {
  setActive("groups");
  const groups = await api("/api/v1/groups");
  const rows = groups.map((g) => `<tr data-group="${esc(g.group)}"><td>${esc(g.group)}</td><td>${esc(g.group_type)}</td><td>${esc(g.state)}</td>
      <td class="members">${g.members.map((m) => `${esc(m.client_id)} @ ${esc(m.host)}: ${esc(m.assigned.join(", ") || "—")}`).join("<br>") || '<span class="muted">none</span>'}</td>
      <td class="num lag">${g.total_lag}</td>
      <td>${g.offsets.map((o) => `${esc(o.topic)}-${o.partition}: ${g.group_type === "share" ? "start" : "committed"} ${o.committed}, lag ${o.lag ?? "?"}`).join("<br>")}</td>
      <td><form class="reset" data-group="${esc(g.group)}" data-type="${esc(g.group_type)}">
        <select name="topic">${[...new Set(g.offsets.map((o) => o.topic))].map((t) => `<option>${esc(t)}</option>`).join("")}</select>
        <select name="to"><option>earliest</option><option>latest</option></select>
        <button class="secondary"${g.offsets.length ? "" : " disabled"}>Reset…</button></form></td></tr>`).join("");
  main.innerHTML = `<h1>Consumer groups</h1><p class="muted">Classic, consumer (KIP-848) and share (KIP-932) groups this broker coordinates; lag = high watermark − committed offset, for a share group the share-partition start offset and its lag (records not yet delivered).</p>
    <p id="reset-status" class="muted">Offsets can be reset while a group has no members (stop its consumers first).</p>
    <table id="groups-table"><tr><th>Group</th><th>Type</th><th>State</th><th>Members: assigned partitions</th><th class="num">Lag</th><th>Committed / start offsets</th><th>Reset offsets</th></tr>${rows}</table>`;
  main.querySelectorAll("form.reset").forEach((f) => f.addEventListener("submit", async (e) => {
    e.preventDefault();
    const group = f.dataset.group, topic = f.elements.topic.value, to = f.elements.to.value;
    const kind = f.dataset.type === "share" ? "share-partition start offsets" : "committed offsets";
    if (!confirm(`Reset the ${kind} of group ${group} on topic ${topic} to ${to}?`)) return;
    const status = document.getElementById("reset-status");
    try {
      await api(`/api/v1/groups/${encodeURIComponent(group)}/offsets`, {
        method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ topic, to }),
      });
      await groupsPage();
      const s = document.getElementById("reset-status");
      s.className = "ok";
      s.textContent = `${group}: ${topic} reset to ${to}`;
    } catch (err) {
      status.className = "error";
      status.textContent = `${group}: ${err.message}`;
    }
  }));
}

async function route() {
  const hash = location.hash;
  delete main.dataset.loaded; // set again once this view is rendered (tests wait for it)
  const [path, query] = hash.replace(/^#/, "").split("?");
  const params = new URLSearchParams(query || "");
  const parts = path.split("/").filter(Boolean).map(decodeURIComponent);
  try {
    if (parts[0] === "topics" && parts.length === 1) await topicsPage();
    else if (parts[0] === "topics" && parts[2] === "messages") await messagesPage(parts[1], parts[3] || "0", params);
    else if (parts[0] === "topics") await topicPage(parts[1]);
    else if (parts[0] === "groups") await groupsPage();
    else await overview();
  } catch (e) {
    main.innerHTML = `<p class="error">${esc(e.message)}</p>`;
  }
  if (location.hash === hash) main.dataset.loaded = hash;
}

window.addEventListener("hashchange", route);
sampleRate().then(route);
setInterval(async () => {
  await sampleRate();
  const c = document.getElementById("chart");
  if (c) c.innerHTML = chart();
  document.querySelectorAll("#topics-table tr[data-topic]").forEach((tr) => {
    tr.querySelector("td.rate").textContent = topicRate(tr.dataset.topic);
  });
}, 2000);
