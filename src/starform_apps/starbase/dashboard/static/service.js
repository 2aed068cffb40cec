// Stardeck-lite: the live parts of a service page. No framework, no build step.
// Everything shown from data is set with textContent (never parsed as HTML); the only HTML
// swapped in is the server's own rendering of the panels (escaped by Jinja2).
(function () {
  "use strict";
  const root = document.getElementById("service");
  if (!root) return;
  const serviceId = root.dataset.serviceId;
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
    await Promise.all([loadAdoptions(), loadObjects(), loadReconcileRequests()]);
  }

  // --- pending adoptions -------------------------------------------------------------------
  async function loadAdoptions() {
    const box = document.getElementById("adoptions");
    const result = await call("GET", "/services/" + serviceId + "/adoptions");
    if (!result.ok) {
      box.replaceChildren(el("p", { class: "muted", text: "Adoptions unavailable: " + reason(result.data, result.status) }));
      return;
    }
    const pending = asList(result.data, "adoptions").filter((a) => !a.status || a.status === "pending");
    if (pending.length === 0) {
      box.replaceChildren(el("p", { class: "muted", id: "no-adoptions", text: "No pending adoptions." }));
      return;
    }
    const rows = pending.map(function (a) {
      const actions = el("td", {}, [
        el("button", { type: "button", class: "small", text: "Approve", dataset: { action: "approve", adoption: a.id } }),
        " ",
        el("button", { type: "button", class: "small secondary", text: "Reject", dataset: { action: "reject", adoption: a.id } }),
      ]);
      return el("tr", { dataset: { adoption: a.id } }, [
        el("td", {}, [el("code", { text: shown(a.field || a.path) })]),
        el("td", { text: shown(a.desired_value !== undefined ? a.desired_value : a.desired) }),
        el("td", { text: shown(a.live_value !== undefined ? a.live_value : a.live) }),
        el("td", { class: "muted", text: shown(a.manager || a.detected_by || "") }),
        actions,
      ]);
    });
    const head = el("tr", {}, ["Field", "Desired", "Live", "Changed by", ""].map((t) => el("th", { text: t })));
    box.replaceChildren(el("table", {}, [el("thead", {}, [head]), el("tbody", {}, rows)]));
  }

  // --- observed objects by UID --------------------------------------------------------------
  function snapshotText(observed) {
    if (!observed || typeof observed !== "object") return "";
    return Object.entries(observed)
      .filter(([, v]) => v === null || typeof v !== "object")
      .map(([k, v]) => k + " " + shown(v))
      .join(", ");
  }

  function fillComparison(objects) {
    const workload = objects.find((o) => ["Deployment", "StatefulSet", "CronJob"].includes(o.kind));
    if (!workload) return;
    const observed = workload.observed || workload.snapshot || {};
    const setRow = function (field, value, desired) {
      const row = document.querySelector('#comparison tr[data-field="' + field + '"]');
      if (!row || value === undefined || value === null) return;
      row.querySelector(".observed").textContent = String(value);
      const same = desired(row.querySelector(".desired").textContent, String(value));
      row.className = same ? "state-in-sync" : "state-differs";
      row.querySelector(".state").textContent = same ? "in sync" : "differs";
    };
    const ready = observed.ready_replicas !== undefined ? observed.ready_replicas : observed.readyReplicas;
    const replicas = observed.replicas;
    if (replicas !== undefined) {
      setRow("replicas", (ready !== undefined ? ready + " ready of " : "") + replicas, function (want, got) {
        return want.split(" ")[0] === got.split(" ").pop() || want.indexOf("autoscaled") >= 0;
      });
    }
    const image = observed.image || (observed.images && observed.images[0]);
    if (image !== undefined) setRow("image", image, function (want, got) { return want === got; });
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
      return el("tr", { dataset: { uid: shown(o.uid), kind: shown(o.kind) } }, [
        el("td", { text: shown(o.kind) }),
        el("td", {}, [el("code", { text: shown(o.name) })]),
        el("td", {}, [el("code", { text: shown(o.uid) })]),
        el("td", { class: "muted", text: shown(o.last_seen_at) }),
        el("td", { text: snapshotText(o.observed || o.snapshot) }),
      ]);
    });
    const head = el("tr", {}, ["Kind", "Name", "UID", "Last seen", "Observed"].map((t) => el("th", { text: t })));
    box.replaceChildren(el("table", {}, [el("thead", {}, [head]), el("tbody", {}, rows)]));
    fillComparison(objects);
  }

  // --- reconcile now ------------------------------------------------------------------------
  async function loadReconcileRequests() {
    const button = document.getElementById("reconcile-now");
    if (!button || !button.dataset.requested) return;
    const result = await call("GET", "/services/" + serviceId + "/reconcile-requests");
    if (!result.ok) return;
    const mine = asList(result.data, "requests").find((r) => r.id === button.dataset.requested);
    if (mine && mine.status) notify("Reconcile " + mine.status + ".", "ok");
  }

  async function reconcileNow(button) {
    button.disabled = true;
    const result = await call("POST", "/services/" + serviceId + "/reconcile");
    button.disabled = false;
    if (result.ok) {
      button.dataset.requested = result.data && result.data.id ? String(result.data.id) : "";
      notify("Reconcile requested: the cluster's agent reconciles this service now.", "ok");
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

  Promise.all([loadAdoptions(), loadObjects()]);
})();
