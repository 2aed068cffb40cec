// Stardeck-lite: the live parts of a service page. No framework, no build step.
// Everything shown from data is set with textContent (never parsed as HTML); the only HTML
// swapped in is the server's own rendering of the panels (escaped by Jinja2).
(function () {
  "use strict";
  const root = document.getElementById("service");
  if (!root) return;
  const serviceId = root.dataset.serviceId;
  const canDeploy = root.dataset.canDeploy === "yes"; // the API decides again on every call
  const container = root.dataset.container || ""; // the container running the release's image
  const csrf = document.querySelector('meta[name="csrf-token"]').content;
  const MAX_EVENTS = 200;
  let lastSeq = Number(root.dataset.lastSeq || "0");

  function el(tag, props, children) {
    const node = document.createElement(tag);
    for (const [key, value] of Object.entries(props || {})) {
      if (key === "text") node.textContent = String(value);
      else if (key === "dataset") Object.assign(node.dataset, value);
      else node.setAttribute(key, String(value));
    }
    for (const child of children || []) node.append(child);
    return node;
  }

  function reason(data, status) {
    if (data && typeof data.detail === "string") return data.detail;
    if (data && Array.isArray(data.detail)) return data.detail.map((d) => d.msg).join("; ");
    return "HTTP " + status;
  }

  async function call(method, path, body) {
    const response = await fetch("/ui/api/v1" + path, {
      method: method,
      credentials: "same-origin",
      headers: { "Accept": "application/json", "Content-Type": "application/json", "X-CSRF-Token": csrf },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    let data = null;
    try { data = await response.json(); } catch (_) { data = null; }
    if (response.status === 401) location.assign("/ui/login?next=" + encodeURIComponent(location.pathname));
    return { ok: response.ok, status: response.status, data: data };
  }

  function notify(text, kind) {
    const notice = document.getElementById("notice");
    notice.textContent = text;
    notice.className = "notice " + (kind || "");
  }

  function asList(data, key) {
    if (Array.isArray(data)) return data;
    if (data && Array.isArray(data[key])) return data[key];
    return [];
  }

  function shown(value) {
    if (value === null || value === undefined) return "—";
    return typeof value === "string" ? value : JSON.stringify(value);
  }

  // --- the live panels (server-rendered) ---------------------------------------------------
  let refreshTimer = null;
  function scheduleRefresh() {
    if (refreshTimer !== null) return;
    refreshTimer = setTimeout(function () { refreshTimer = null; refresh(); }, 250);
  }

  async function refresh() {
    const response = await fetch("/ui/services/" + serviceId + "/panels", { credentials: "same-origin" });
    if (response.ok) document.getElementById("panels").innerHTML = await response.text();
    await Promise.all([loadObservedThenAdoptions(), loadReconcileRequests()]);
  }

  // the objects fill the image and replicas (or schedule) rows; a pending adoption then marks
  // its row (it has the last word)
  async function loadObservedThenAdoptions() {
    await loadObjects();
    await loadAdoptions();
  }

  // --- pending adoptions (GET /v1/services/{id}/adoptions) ---------------------------------
  function comparisonRow(field) {
    return document.querySelector('#comparison tr[data-field="' + CSS.escape(field) + '"]');
  }

  // an adoption names its spec field by JSON pointer ("/replicas"); rows are keyed without the
  // leading slash ("replicas", "resources/memory_limit")
  function rowKey(adoption) {
    return (adoption.spec_field || adoption.field).replace(/^\//, "");
  }

  function markRow(field, observed, inSync, desired) {
    let row = comparisonRow(field);
    if (!row) {
      row = el("tr", { dataset: { field: field } }, [
        el("th", { scope: "row", text: field.replace(/\//g, "/\u200b") }), // may wrap after a slash
        el("td", { class: "desired", text: desired === undefined ? "—" : desired }),
        el("td", { class: "observed" }),
        el("td", { class: "state" }),
      ]);
      document.querySelector("#comparison tbody").append(row);
    }
    row.querySelector(".observed").textContent = observed;
    row.className = inSync ? "state-in-sync" : "state-differs";
    row.querySelector(".state").textContent = inSync ? "in sync" : "differs";
  }

  function adoptionRow(a) {
    const pending = a.status === "pending";
    const rules = a.within_rules === false
      ? "outside the rules: " + a.problems.map((p) => p.reason).join("; ")
      : (a.within_rules ? "within the template's rules" : "");
    const last = pending && !canDeploy
      ? el("td", { class: "muted", text: "pending: deciding needs the deploy role" })
      : pending
      ? el("td", {}, [
          el("button", { type: "button", class: "small", text: "Approve", dataset: { action: "approve", adoption: a.id } }),
          " ",
          el("button", { type: "button", class: "small secondary", text: "Reject", dataset: { action: "reject", adoption: a.id } }),
        ])
      : el("td", { class: "muted", text: a.status + (a.decided_by ? " by " + a.decided_by : "") });
    return el("tr", { dataset: { adoption: a.id, status: a.status } }, [
      el("td", {}, [el("code", { text: a.spec_field || a.field }), el("div", { class: "muted", text: a.kind + " " + a.name + " " + a.field })]),
      el("td", {}, [el("code", { text: shown(a.desired) })]),
      el("td", {}, [el("code", { text: shown(a.live) })]),
      el("td", { class: "muted", text: [a.manager || "", rules].filter(Boolean).join(" · ") }),
      last,
    ]);
  }

  async function loadAdoptions() {
    const box = document.getElementById("adoptions");
    const result = await call("GET", "/services/" + serviceId + "/adoptions");
    if (!result.ok) {
      box.replaceChildren(el("p", { class: "muted", text: "Adoptions unavailable: " + reason(result.data, result.status) }));
      return;
    }
    const adoptions = asList(result.data, "adoptions");
    const pending = adoptions.filter((a) => a.status === "pending");
    for (const a of pending) markRow(rowKey(a), a.live + " (changed out of band, pending)", false, shown(a.desired));
    if (adoptions.length === 0) {
      box.replaceChildren(el("p", { class: "muted", id: "no-adoptions", text: "No pending adoptions." }));
      return;
    }
    const head = el("tr", {}, ["Field", "Desired", "Live", "Changed by", ""].map((t) => el("th", { text: t })));
    const parts = [];
    if (pending.length === 0) parts.push(el("p", { class: "muted", id: "no-adoptions", text: "No pending adoptions." }));
    parts.push(el("table", { class: "adoptions" }, [el("thead", {}, [head]), el("tbody", {}, adoptions.map(adoptionRow))]));
    box.replaceChildren(...parts);
  }

  // --- observed objects by UID (GET /v1/services/{id}/objects) -------------------------------
  function imagesText(images) {
    return Object.entries(images).map(([name, image]) => name + ": " + shown(image)).join(", ");
  }

  function snapshotText(observed) {
    if (!observed || typeof observed !== "object") return "";
    const parts = Object.entries(observed)
      .filter(([k]) => k !== "conditions" && k !== "images")
      .map(([k, v]) => k + " " + shown(v));
    for (const c of observed.conditions || []) parts.push(c.type + "=" + c.status + (c.reason ? " (" + c.reason + ")" : ""));
    if (observed.images && typeof observed.images === "object") parts.push("images " + imagesText(observed.images));
    return parts.join(", ");
  }

  // the service's workload: its current Deployment, StatefulSet or CronJob
  function workloadOf(objects) {
    return objects.find((o) => o.current !== false && ["Deployment", "StatefulSet", "CronJob"].includes(o.kind));
  }

  function desiredOf(row) {
    return row.querySelector(".desired").textContent;
  }

  // the release's image runs in the service's own container; other containers are listed after it
  function fillImage(workload) {
    const row = comparisonRow("image");
    const images = workload && workload.observed ? workload.observed.images : undefined;
    if (!row || !images || typeof images !== "object" || Object.keys(images).length === 0) return;
    const names = Object.keys(images);
    const main = names.includes(container) ? container : names.length === 1 ? names[0] : null;
    const others = {};
    for (const name of names) if (name !== main) others[name] = images[name];
    const shownImage = main === null ? imagesText(others)
      : shown(images[main]) + (names.length > 1 ? " (also " + imagesText(others) + ")" : "");
    markRow("image", shownImage, main !== null && images[main] === desiredOf(row));
  }

  function fillReplicas(workload) {
    const row = comparisonRow("replicas");
    if (!workload || !row || workload.kind === "CronJob") return;
    const observed = workload.observed || {};
    const set = observed.spec_replicas !== undefined ? observed.spec_replicas : observed.replicas;
    if (set === undefined) return;
    const ready = observed.readyReplicas || 0;
    const want = desiredOf(row);
    const range = want.match(/^(\d+) to (\d+)/);
    const inSync = range ? set >= Number(range[1]) && set <= Number(range[2]) : String(set) === want.split(" ")[0];
    markRow("replicas", set + " (" + ready + " ready)", inSync);
  }

  // a cron job has no replicas: its schedule, time zone and whether it is suspended
  function fillSchedule(workload) {
    const row = comparisonRow("schedule");
    if (!workload || !row || workload.kind !== "CronJob") return;
    const observed = workload.observed || {};
    if (observed.spec_schedule === undefined) return;
    const text = observed.spec_schedule + " (" + (observed.spec_timeZone || "UTC") + ")" + (observed.spec_suspend ? " (suspended)" : "");
    const active = observed.active ? " · " + observed.active + " job(s) running" : "";
    markRow("schedule", text + active, text === desiredOf(row));
  }

  async function loadObjects() {
    const box = document.getElementById("objects");
    const result = await call("GET", "/services/" + serviceId + "/objects");
    if (!result.ok) {
      box.replaceChildren(el("p", { class: "muted", text: "Observed objects unavailable: " + reason(result.data, result.status) }));
      return;
    }
    const objects = asList(result.data, "objects");
    if (objects.length === 0) {
      box.replaceChildren(el("p", { class: "muted", text: "No object reported yet." }));
      return;
    }
    const rows = objects.map(function (o) {
      const flags = [o.current === false ? "replaced" : "", o.present === false ? "gone" : "", o.stale ? "stale" : ""].filter(Boolean);
      return el("tr", { dataset: { uid: shown(o.uid), kind: shown(o.kind), name: shown(o.name) }, class: o.stale ? "stale" : "" }, [
        el("td", { text: shown(o.kind) }),
        el("td", {}, [el("code", { text: shown(o.name) })]),
        el("td", {}, [el("code", { text: shown(o.uid) })]),
        el("td", { class: "muted", text: shown(o.last_seen_at) + (flags.length ? " · " + flags.join(", ") : "") }),
        el("td", { text: snapshotText(o.observed) }),
      ]);
    });
    const head = el("tr", {}, ["Kind", "Name", "UID", "Last seen", "Observed"].map((t) => el("th", { text: t })));
    box.replaceChildren(el("table", {}, [el("thead", {}, [head]), el("tbody", {}, rows)]));
    const workload = workloadOf(objects);
    fillImage(workload);
    fillReplicas(workload);
    fillSchedule(workload);
  }

  // --- reconcile now ------------------------------------------------------------------------
  async function loadReconcileRequests() {
    const button = document.getElementById("reconcile-now");
    if (!button || !button.dataset.requested) return;
    const result = await call("GET", "/services/" + serviceId + "/reconcile-requests");
    if (!result.ok) return;
    const mine = asList(result.data, "requests").find((r) => r.id === button.dataset.requested);
    if (mine && mine.served_at) {
      notify("Reconciled: the agent served the request at " + mine.served_at + ".", "ok");
      button.dataset.requested = "";
    }
  }

  async function reconcileNow(button) {
    button.disabled = true;
    const result = await call("POST", "/services/" + serviceId + "/reconcile");
    button.disabled = false;
    if (result.ok) {
      button.dataset.requested = result.data && result.data.id ? String(result.data.id) : "";
      notify("Reconcile requested: the cluster's agent reconciles this service now.", "ok");
      let looks = 0;
      const follow = setInterval(function () {
        looks += 1;
        if (!button.dataset.requested || looks > 120) clearInterval(follow);
        else loadReconcileRequests();
      }, 500);
    } else {
      notify("Reconcile refused: " + reason(result.data, result.status), "error");
    }
  }

  // --- rollback (two clicks) and adoption decisions -----------------------------------------
  async function rollback(button) {
    if (button.dataset.armed !== "1") {
      button.dataset.armed = "1";
      button.dataset.label = button.textContent;
      button.textContent = "Confirm rollback to " + button.dataset.version;
      setTimeout(function () {
        if (button.isConnected && button.dataset.armed === "1") {
          button.dataset.armed = "";
          button.textContent = button.dataset.label;
        }
      }, 5000);
      return;
    }
    button.disabled = true;
    const result = await call("POST", "/services/" + serviceId + "/rollback", { version: Number(button.dataset.version) });
    if (result.ok) notify("Rolled back: version " + result.data.version + " deploys " + result.data.image + ".", "ok");
    else notify("Rollback refused: " + reason(result.data, result.status), "error");
    await refresh();
  }

  async function decide(button) {
    button.disabled = true;
    const verb = button.dataset.action;
    const result = await call("POST", "/adoptions/" + encodeURIComponent(button.dataset.adoption) + "/" + verb);
    if (result.ok) notify(verb === "approve" ? "Adopted: the live value is now the desired state." : "Rejected: enforce reverts it.", "ok");
    else notify((verb === "approve" ? "Approval" : "Rejection") + " refused: " + reason(result.data, result.status), "error");
    await refresh();
  }

  document.addEventListener("click", function (event) {
    const button = event.target.closest("button[data-action]");
    if (!button || !root.contains(button)) return;
    const action = button.dataset.action;
    if (action === "rollback") rollback(button);
    else if (action === "approve" || action === "reject") decide(button);
    else if (action === "reconcile") reconcileNow(button);
  });

  // --- the live events stream ---------------------------------------------------------------
  const list = document.getElementById("events");
  const live = document.getElementById("live");

  function addEvent(event) {
    if (event.seq <= lastSeq) return;
    lastSeq = event.seq;
    const when = new Date(event.occurred_at);
    const item = el("li", { dataset: { seq: String(event.seq), type: event.type } }, [
      el("span", { class: "etype etype-" + event.type, text: event.type }),
      " ",
      el("time", { datetime: event.occurred_at, text: when.toISOString().replace("T", " ").slice(0, 19) }),
      " ",
      el("span", { class: "emsg", text: event.message }),
    ]);
    if (event.reason) item.append(" ", el("span", { class: "muted", text: "(" + event.reason + ")" }));
    list.prepend(item);
    while (list.children.length > MAX_EVENTS) list.lastElementChild.remove();
  }

  const source = new EventSource("/ui/api/v1/services/" + serviceId + "/events/stream?after=" + lastSeq);
  source.onopen = function () { live.textContent = "live"; live.className = "badge live"; };
  source.onerror = function () { live.textContent = "reconnecting…"; live.className = "badge"; };
  source.onmessage = function (message) { addEvent(JSON.parse(message.data)); scheduleRefresh(); };
  source.addEventListener("shutdown", function () { live.textContent = "Starbase restarting…"; live.className = "badge"; });
  source.addEventListener("unavailable", function () { live.textContent = "events unavailable, retrying…"; live.className = "badge"; });

  // status reports (health, objects) arrive without an event: look again now and then
  setInterval(function () { if (document.visibilityState === "visible") scheduleRefresh(); }, 10000);
  loadObservedThenAdoptions();
})();
