// Bastion audit page: talks only to this server's /v1/audit/* API with the officer's key.
// The key lives in sessionStorage (this tab only); it is never put in a URL or a cookie.
// Every value from the server is written with textContent, never parsed as HTML.
"use strict";

(() => {
  const KEY = "bastion.audit.key";
  const $ = (id) => document.getElementById(id);
  const state = { cursor: null, previous: [], next: null, page: 1 };

  function key() {
    return sessionStorage.getItem(KEY);
  }

  class ApiError extends Error {
    constructor(status, message) {
      super(message);
      this.status = status;
    }
  }

  async function call(path, params) {
    const query = new URLSearchParams();
    for (const [name, value] of Object.entries(params || {})) {
      if (value !== null && value !== undefined && value !== "") query.set(name, value);
    }
    const url = query.toString() ? `${path}?${query}` : path;
    const response = await fetch(url, {
      headers: { Authorization: `Bearer ${key()}` },
      credentials: "omit",
      cache: "no-store",
    });
    if (!response.ok) {
      let message = `request failed (HTTP ${response.status})`;
      try {
        const body = await response.json();
        if (body && body.error && body.error.message) message = body.error.message;
      } catch (_) {
        // not JSON: keep the generic message
      }
      throw new ApiError(response.status, message);
    }
    return response;
  }

  function say(text, isError) {
    const el = $("message");
    el.textContent = text;
    el.classList.toggle("error", Boolean(isError));
  }

  function failed(err) {
    if (err instanceof ApiError && err.status === 401) {
      signOut("Your key was not accepted any more; sign in again.");
      return;
    }
    say(err.message, true);
  }

  // -- sign in / out ------------------------------------------------------------------------
  async function signIn(candidate) {
    sessionStorage.setItem(KEY, candidate);
    try {
      const status = await (await call("/v1/audit/status")).json();
      showApp(status);
    } catch (err) {
      sessionStorage.removeItem(KEY);
      const reason =
        err instanceof ApiError && err.status === 401
          ? "The key was not accepted."
          : err instanceof ApiError && err.status === 403
            ? "This key does not have the auditor role."
            : err.message;
      showLogin(reason);
    }
  }

  function signOut(reason) {
    sessionStorage.removeItem(KEY);
    $("records").tBodies[0].replaceChildren();
    showLogin(reason);
  }

  function showLogin(reason) {
    $("app").hidden = true;
    $("who").hidden = true;
    $("login").hidden = false;
    $("api-key").value = "";
    $("login-error").textContent = reason || "";
    $("login-error").hidden = !reason;
    $("api-key").focus();
  }

  function showApp(status) {
    $("login").hidden = true;
    $("app").hidden = false;
    $("who").hidden = false;
    const scope = status.tenant_scope ? `tenant ${status.tenant_scope}` : "all tenants";
    $("who-text").textContent =
      `${status.principal.role} · tenant ${status.principal.tenant} · sees ${scope}`;
    const tenant = $("f-tenant");
    if (status.tenant_scope) {
      tenant.value = status.tenant_scope;
      tenant.readOnly = true;
    } else {
      tenant.readOnly = false;
    }
    const select = $("f-event");
    if (select.options.length === 1) {
      for (const type of status.event_types) select.add(new Option(type, type));
    }
    renderStatus(status);
    search();
  }

  // -- integrity ----------------------------------------------------------------------------
  function renderStatus(status) {
    const health = $("health");
    health.textContent = status.healthy ? "Healthy" : `Unhealthy: ${status.error || "unknown"}`;
    health.className = `badge ${status.healthy ? "ok" : "bad"}`;
    const cp = status.latest_checkpoint || {};
    $("log-size").textContent = String(status.tree_size);
    $("cp-size").textContent = cp.tree_size === null || cp.tree_size === undefined ? "–" : String(cp.tree_size);
    $("cp-time").textContent = cp.time || "no checkpoint yet";
    $("cp-key").textContent = cp.key_id || "–";
    $("cp-root").textContent = cp.root_hash || "–";
    $("hint-key").textContent = cp.key_id || "KEY_ID";
  }

  async function refreshStatus() {
    try {
      renderStatus(await (await call("/v1/audit/status")).json());
    } catch (err) {
      failed(err);
    }
  }

  // -- records ------------------------------------------------------------------------------
  function utc(id) {
    const value = $(id).value; // "YYYY-MM-DDTHH:MM[:SS]", entered as UTC
    if (!value) return null;
    return value.length === 16 ? `${value}:00Z` : `${value}Z`;
  }

  function filters() {
    return {
      from: utc("f-from"),
      to: utc("f-to"),
      tenant: $("f-tenant").value.trim(),
      event_type: $("f-event").value,
    };
  }

  function cell(text, className) {
    const td = document.createElement("td");
    td.textContent = text === undefined || text === null ? "" : String(text);
    if (className) td.className = className;
    return td;
  }

  function row(item) {
    const r = item.record;
    const actor = r.actor || {};
    const res = r.resource || {};
    const tr = document.createElement("tr");
    tr.dataset.index = String(item.index);
    const model = res.model ? `${res.model}${res.version ? `@${res.version}` : ""}` : "";
    tr.append(
      cell(item.index),
      cell(r.time),
      cell(r.event_type, "event"),
      cell(r.outcome, `outcome outcome-${r.outcome}`),
      cell(actor.tenant, "tenant"),
      cell([actor.role, actor.key_id].filter(Boolean).join(" · ")),
      cell([model, res.site].filter(Boolean).join(" · ")),
      cell(r.status_code),
      cell(r.request_id, "mono request-id"),
    );
    const details = document.createElement("details");
    const summary = document.createElement("summary");
    summary.textContent = "record";
    const pre = document.createElement("pre");
    pre.textContent = JSON.stringify(r, null, 2);
    details.append(summary, pre);
    const td = document.createElement("td");
    td.append(details);
    if (r.content) td.append(contentAction(item.index));
    tr.append(td);
    return tr;
  }

  // -- captured content (redacted text; every read is audited as audit.content_read) -------
  function contentText(view) {
    const c = view.content || {};
    if (!("input" in c) && !("output" in c)) return String(c.text === undefined ? "" : c.text);
    const lines = ["Input (redacted):"];
    for (const [n, text] of (c.input || []).entries()) lines.push(`[${n + 1}] ${text}`);
    lines.push("", "Answer (redacted):", c.output === null || c.output === undefined ? "–" : String(c.output));
    return lines.join("\n");
  }

  function contentAction(index) {
    const box = document.createElement("div");
    box.className = "content-action";
    const button = document.createElement("button");
    button.type = "button";
    button.className = "view-content";
    button.textContent = "view content";
    const out = document.createElement("pre");
    out.className = "content-text";
    out.hidden = true;
    button.addEventListener("click", async () => {
      button.disabled = true;
      try {
        const view = await (await call(`/v1/audit/records/${encodeURIComponent(index)}/content`)).json();
        out.textContent = contentText(view); // text only: never parsed as HTML
        out.classList.remove("error");
      } catch (err) {
        if (err instanceof ApiError && err.status === 401) {
          failed(err);
          return;
        }
        out.textContent = err.message;
        out.classList.add("error");
      } finally {
        out.hidden = false;
        button.disabled = false;
      }
    });
    box.append(button, out);
    return box;
  }

  async function load() {
    say("Loading…");
    try {
      const params = {
        ...filters(),
        outcome: $("f-outcome").value,
        limit: $("f-limit").value,
        cursor: state.cursor,
      };
      const page = await (await call("/v1/audit/records", params)).json();
      $("records").tBodies[0].replaceChildren(...page.data.map(row));
      $("empty").hidden = page.data.length > 0;
      state.next = page.next_cursor;
      $("next").disabled = state.next === null;
      $("prev").disabled = state.previous.length === 0;
      const count = page.data.length;
      $("page-info").textContent = `page ${state.page} · ${count} record${count === 1 ? "" : "s"}`;
      say("");
    } catch (err) {
      failed(err);
    }
  }

  function search() {
    state.cursor = null;
    state.previous = [];
    state.page = 1;
    load();
    loadSummary();
  }

  // -- summary panel and chart (counted in the store by /v1/audit/summary) -------------------
  const OUTCOMES = ["success", "failure", "denied"];

  function counts(id, entries, empty) {
    const rows = entries.map(([label, count]) => {
      const tr = document.createElement("tr");
      tr.dataset.key = label;
      tr.append(cell(label, "label"), cell(count, "count"));
      return tr;
    });
    if (rows.length === 0) {
      const tr = document.createElement("tr");
      tr.append(cell(empty, "muted"));
      rows.push(tr);
    }
    $(id).tBodies[0].replaceChildren(...rows);
  }

  function svg(name, attributes, text) {
    const el = document.createElementNS($("sum-svg").namespaceURI, name);
    for (const [k, v] of Object.entries(attributes)) el.setAttribute(k, String(v));
    if (text !== undefined) el.textContent = text;
    return el;
  }

  function drawChart(series, from, to) {
    const points = series.points;
    const bucket = series.bucket_s * 1000;
    const times = points.map((p) => Date.parse(p.start));
    const first = times.length ? Math.min(...times) : Date.now();
    const start = from ? Date.parse(from) : first;
    const end = to ? Date.parse(to) : (times.length ? Math.max(...times) : first) + bucket;
    const root = $("sum-svg"); // in the page, so its namespace comes from the HTML parser
    const W = Math.max(320, Math.round(root.getBoundingClientRect().width) || 800);
    const H = 180, left = 44, bottom = 20, top = 8;
    const plotW = W - left - 8, plotH = H - top - bottom;
    const max = Math.max(1, ...points.map((p) => p.records));
    root.setAttribute("viewBox", `0 0 ${W} ${H}`); // one unit a pixel: text is not stretched
    root.replaceChildren(
      svg("line", { class: "axis", x1: left, y1: top + plotH, x2: left + plotW, y2: top + plotH }),
      svg("text", { x: 2, y: top + 10 }, String(max)),
      svg("text", { x: 2, y: top + plotH }, "0"),
      svg("text", { x: left, y: H - 4 }, new Date(start).toISOString().slice(0, 16) + "Z"),
      svg("text", { x: left + plotW, y: H - 4, "text-anchor": "end" },
        new Date(end).toISOString().slice(0, 16) + "Z"),
    );
    const span = Math.max(end - start, bucket);
    const width = Math.max(1, (plotW * bucket) / span - 1);
    points.forEach((p, i) => {
      const x = Math.max(left, left + (plotW * (times[i] - start)) / span); // bucket began earlier
      const group = svg("g", { class: "chart-bar" });
      group.dataset.start = p.start;
      group.dataset.records = String(p.records);
      let y = top + plotH;
      for (const outcome of OUTCOMES) {
        const h = (plotH * p[outcome]) / max;
        if (h <= 0) continue;
        y -= h;
        const seg = svg("rect", { class: `seg-${outcome}`, x, y, width, height: h });
        seg.dataset.outcome = outcome;
        seg.dataset.count = String(p[outcome]);
        group.append(seg);
      }
      const detail = OUTCOMES.map((o) => `${p[o]} ${o}`).join(", ");
      group.append(svg("title", {}, `${p.start}: ${p.records} records (${detail}), ${p.tokens} tokens`));
      root.append(group);
    });
  }

  let summaryCall = 0; // only the latest search's answer is shown

  async function loadSummary() {
    const f = filters();
    const mine = ++summaryCall;
    try {
      const s = await (await call("/v1/audit/summary", f)).json();
      if (mine !== summaryCall) return;
      counts("sum-outcomes", OUTCOMES.map((o) => [o, s.by_outcome[o] || 0]), "");
      counts("sum-classes", Object.entries(s.data_classes), "no data class");
      counts("sum-denials", Object.entries(s.denials_by_rule), "no denial");
      const verdicts = [];
      for (const [guard, byVerdict] of Object.entries(s.guardrails)) {
        for (const [verdict, n] of Object.entries(byVerdict)) verdicts.push([`${guard} · ${verdict}`, n]);
      }
      counts("sum-guardrails", verdicts, "no guardrail verdict");
      counts("sum-tokens", ["prompt", "completion", "cached"].map((k) => [k, s.tokens[k]]), "");
      drawChart(s.series, f.from, f.to);
      const scope = s.tenant_scope ? `tenant ${s.tenant_scope}` : "all tenants";
      const minutes = s.series.bucket_s / 60;
      const width = minutes >= 1440 ? `${minutes / 1440} d` : minutes >= 60 ? `${minutes / 60} h` : `${minutes} min`;
      $("summary-info").textContent = `${s.records} records · ${scope} · bars of ${width}`;
    } catch (err) {
      if (mine !== summaryCall) return;
      $("summary-info").textContent = "";
      failed(err);
    }
  }

  function nextPage() {
    if (state.next === null) return;
    state.previous.push(state.cursor);
    state.cursor = state.next;
    state.page += 1;
    load();
  }

  function previousPage() {
    if (state.previous.length === 0) return;
    state.cursor = state.previous.pop();
    state.page -= 1;
    load();
  }

  // -- export -------------------------------------------------------------------------------
  function filename(response) {
    const header = response.headers.get("content-disposition") || "";
    const match = /filename="?([A-Za-z0-9._-]+)"?/.exec(header);
    return match ? match[1] : "bastion-audit.zip";
  }

  async function download() {
    const button = $("download");
    button.disabled = true;
    say("Preparing the bundle…");
    try {
      const response = await call("/v1/audit/export", { ...filters(), format: $("f-format").value });
      const blob = await response.blob();
      const name = filename(response);
      const link = document.createElement("a");
      link.href = URL.createObjectURL(blob);
      link.download = name;
      document.body.append(link);
      link.click();
      link.remove();
      setTimeout(() => URL.revokeObjectURL(link.href), 60000);
      const records = response.headers.get("x-bastion-audit-records");
      const digest = response.headers.get("x-bastion-audit-bundle-sha256");
      say(`Downloaded ${name}: ${records} records (bundle ${digest}).`);
      refreshStatus();
    } catch (err) {
      failed(err);
    } finally {
      button.disabled = false;
    }
  }

  // -- wiring -------------------------------------------------------------------------------
  document.addEventListener("DOMContentLoaded", () => {
    $("login-form").addEventListener("submit", (event) => {
      event.preventDefault();
      const candidate = $("api-key").value.trim();
      if (candidate) signIn(candidate);
    });
    $("signout").addEventListener("click", () => signOut(""));
    $("filters").addEventListener("submit", (event) => {
      event.preventDefault();
      search();
    });
    $("next").addEventListener("click", nextPage);
    $("prev").addEventListener("click", previousPage);
    $("download").addEventListener("click", download);
    $("refresh-status").addEventListener("click", refreshStatus);
    const saved = key();
    if (saved) signIn(saved);
    else showLogin("");
  });
})();
