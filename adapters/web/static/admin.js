// The instructor's page: reads the JSON API under /admin/api and draws it with DOM nodes.
// Everything that comes from the server (questions, course and file names, messages) is
// set as text, never parsed as HTML.
"use strict";

(() => {
  const TOKEN_KEY = "mentor-admin-token";
  const token = readToken();
  const following = new Set();

  function readToken() {
    const fromUrl = new URLSearchParams(location.search).get("token");
    try {
      if (fromUrl) sessionStorage.setItem(TOKEN_KEY, fromUrl);
      return fromUrl || sessionStorage.getItem(TOKEN_KEY) || "";
    } catch (error) {
      return fromUrl || "";
    }
  }

  function headers(extra) {
    const result = Object.assign({}, extra);
    if (token) result.Authorization = "Bearer " + token;
    return result;
  }

  // --- DOM helpers -------------------------------------------------------------------------

  function el(tag, options, ...children) {
    const node = document.createElement(tag);
    const { className, text, title, dataset } = options || {};
    if (className) node.className = className;
    if (title) node.title = title;
    if (text !== undefined && text !== null) node.textContent = String(text);
    if (dataset) Object.assign(node.dataset, dataset);
    for (const child of children) {
      if (child === null || child === undefined) continue;
      node.append(child instanceof Node ? child : document.createTextNode(String(child)));
    }
    return node;
  }

  function when(iso) {
    if (!iso) return "—";
    const date = new Date(iso);
    return Number.isNaN(date.getTime()) ? String(iso) : date.toLocaleString();
  }

  function link(citation) {
    const label = citation.label || citation.url || "source";
    let url = null;
    try {
      url = citation.url ? new URL(citation.url, location.href) : null;
    } catch (error) {
      url = null;
    }
    if (!url || (url.protocol !== "http:" && url.protocol !== "https:")) return el("span", { text: label });
    const anchor = el("a", { text: label });
    anchor.href = url.href;
    anchor.target = "_blank";
    anchor.rel = "noopener noreferrer";
    return anchor;
  }

  function sources(citations) {
    if (!citations || citations.length === 0) return "—";
    const cell = document.createDocumentFragment();
    citations.forEach((citation) => cell.append(link(citation), " "));
    return cell;
  }

  function fillTable(id, rows, columns, emptyText) {
    const body = document.querySelector(`#${id} tbody`);
    const cells = columns.length;
    body.replaceChildren();
    if (rows.length === 0) {
      const cell = el("td", { className: "empty", text: emptyText });
      cell.colSpan = cells;
      body.append(el("tr", {}, cell));
      return;
    }
    for (const row of rows) {
      const tr = el("tr");
      for (const column of columns) {
        const value = column.cell(row);
        const td = el("td", { className: column.className ? column.className(row) : "" });
        td.append(value instanceof Node ? value : document.createTextNode(value === null || value === undefined ? "—" : String(value)));
        tr.append(td);
      }
      body.append(tr);
    }
  }

  function notice(message) {
    const box = document.getElementById("notice");
    box.textContent = message || "";
    box.hidden = !message;
  }

  // --- the API -------------------------------------------------------------------------------

  async function readError(response) {
    const type = response.headers.get("Content-Type") || "";
    try {
      if (type.includes("application/json")) return (await response.json()).error || response.statusText;
      return (await response.text()) || response.statusText;
    } catch (error) {
      return response.statusText;
    }
  }

  async function getJson(path) {
    const response = await fetch(path, { headers: headers({ Accept: "application/json" }), cache: "no-store" });
    if (!response.ok) throw new Error(await readError(response));
    return response.json();
  }

  function courseQuery(extra) {
    const params = new URLSearchParams(extra || {});
    const course = document.getElementById("course-filter").value;
    if (course) params.set("course", course);
    const text = params.toString();
    return text ? "?" + text : "";
  }

  // --- verified answers ----------------------------------------------------------------------

  async function changeVerified(method, id, body) {
    const response = await fetch("/admin/api/verified/" + encodeURIComponent(id), {
      method,
      headers: headers({ Accept: "application/json", "Content-Type": "application/json" }),
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    if (!response.ok) throw new Error(await readError(response));
    await refresh({ keepRuns: true });
  }

  function verifiedActions(verified) {
    const edit = el("button", { text: "Edit", className: "verified-edit" });
    edit.type = "button";
    edit.addEventListener("click", () => {
      const text = prompt("The new answer:", verified.answer);
      if (text !== null) changeVerified("POST", verified.id, { answer: text }).catch((error) => notice(error.message));
    });
    const remove = el("button", { text: "Delete", className: "verified-delete" });
    remove.type = "button";
    remove.addEventListener("click", () => {
      if (confirm(`Delete this verified answer? It will no longer be cited.`)) {
        changeVerified("DELETE", verified.id).catch((error) => notice(error.message));
      }
    });
    return el("span", {}, edit, " ", remove);
  }

  function took(seconds) {
    if (seconds === null || seconds === undefined) return "—";
    return seconds < 60 ? `${seconds} s` : seconds < 3600 ? `${Math.floor(seconds / 60)} min` : `${(seconds / 3600).toFixed(1)} h`;
  }

  // --- courses -------------------------------------------------------------------------------

  function lastRunText(run) {
    if (!run) return "never";
    const who = run.trigger === "schedule" ? "schedule" : `${run.trigger} by ${run.requested_by}`;
    let text = `${when(run.started_at)} (${who}): ${run.outcome}`;
    if (run.error) text += `: ${run.error}`;
    return text;
  }

  function reportNotes(report) {
    if (!report) return null;
    const notes = [];
    for (const failure of report.failed || []) notes.push(`${failure.source}: ${failure.reason}`);
    for (const warning of report.warnings || []) notes.push(warning);
    if (notes.length === 0) return null;
    return el("ul", { className: "warning" }, ...notes.map((note) => el("li", { text: note })));
  }

  function nextRelease(release) {
    if (!release) return "everything is released";
    const files = release.files || [];
    return `${when(release.at)}: ${files.slice(0, 3).join(", ")}${files.length > 3 ? ` and ${files.length - 3} more` : ""}`;
  }

  function courseCard(course) {
    const card = el("article", { className: "course", dataset: { course: course.course, state: "idle" } });
    const details = el("dl");
    const facts = [
      ["Documents", course.documents],
      ["Chunks", course.chunks],
      ["Last ingest", when(course.last_ingest)],
      ["Last reindex", lastRunText(course.last_run)],
      ["Next reindex", when(course.next_run)],
      ["Next release", nextRelease(course.next_release)],
      ["Running now", course.running || "no"],
      ["Sources", (course.sources || []).join(", ") || "—"],
    ];
    if (course.repository) facts.push(["Repository", course.repository]);
    if (course.base_url) facts.push(["Links to", course.base_url]);
    for (const [name, value] of facts) details.append(el("dt", { text: name }), el("dd", { text: value }));

    const button = el("button", { className: "primary reindex-button", text: "Reindex now" });
    button.type = "button";
    const bar = el("progress", { className: "reindex-progress" });
    bar.hidden = true;
    const status = el("p", { className: "reindex-status" });
    status.setAttribute("aria-live", "polite");
    button.addEventListener("click", () => startReindex(course.course));

    card.append(el("h3", { text: course.course }), details);
    const notes = reportNotes(course.last_report);
    if (notes) card.append(el("p", { text: "Files the last ingest could not read, and warnings:" }), notes);
    card.append(el("div", { className: "reindex" }, button, bar), status);
    return card;
  }

  function cardOf(course) {
    // Looked up each time: a refresh redraws the cards while a run is being followed.
    return [...document.querySelectorAll("#courses .course")].find((card) => card.dataset.course === course) || null;
  }

  function setRun(course, state, message, progress) {
    const card = cardOf(course);
    if (!card) return;
    card.dataset.state = state;
    card.querySelector(".reindex-button").disabled = state === "running";
    card.querySelector(".reindex-status").textContent = message || "";
    const bar = card.querySelector(".reindex-progress");
    bar.hidden = state !== "running";
    if (progress && progress.total > 0) {
      bar.max = progress.total;
      bar.value = progress.done;
    } else if (state === "running") {
      bar.removeAttribute("value");
    }
  }

  function progressText(progress) {
    const files = `${progress.done} of ${progress.total} changed files read`;
    return progress.source ? `${files}: ${progress.source}` : files;
  }

  async function startReindex(course) {
    setRun(course, "running", "Starting the reindex…");
    let response;
    try {
      response = await fetch(`/admin/api/reindex/${encodeURIComponent(course)}`, {
        method: "POST",
        headers: headers({ Accept: "application/json", "Content-Type": "application/json" }),
        body: "{}",
      });
    } catch (error) {
      setRun(course, "error", `The server cannot be reached: ${error.message}`);
      return;
    }
    if (response.status === 202) {
      const run = await response.json();
      follow(course, run.events);
      return;
    }
    const message = await readError(response);
    if (response.status === 409) {
      // Already running: show who started it and follow that run instead of starting another.
      setRun(course, "running", message);
      const body = await safeJson(response);
      if (body && body.following) follow(course, body.following.events, message);
      return;
    }
    setRun(course, "error", message);
  }

  async function safeJson(response) {
    try {
      return await response.clone().json();
    } catch (error) {
      return null;
    }
  }

  async function follow(course, events, firstMessage) {
    if (following.has(course)) return;
    following.add(course);
    setRun(course, "running", firstMessage || "Reindexing…");
    try {
      const response = await fetch(events, { headers: headers({ Accept: "text/event-stream" }), cache: "no-store" });
      if (!response.ok) {
        setRun(course, "error", await readError(response));
        return;
      }
      let finished = false;
      await readEvents(response, (event, data) => {
        if (event === "progress") setRun(course, "running", progressText(data), data);
        else if (event === "done") {
          finished = true;
          setRun(course, "done", `Finished: ${data.summary}`);
        } else if (event === "error") {
          finished = true;
          setRun(course, "error", data.message);
        }
      });
      if (!finished) setRun(course, "error", "The progress stream ended early; see the reindex history.");
    } catch (error) {
      setRun(course, "error", `Lost the progress stream: ${error.message}`);
    } finally {
      following.delete(course);
      refresh({ keepRuns: true });
    }
  }

  async function readEvents(response, onEvent) {
    // Server-sent events over fetch, so the bearer header goes along (EventSource cannot send one).
    const reader = response.body.pipeThrough(new TextDecoderStream()).getReader();
    let buffer = "";
    for (;;) {
      const { value, done } = await reader.read();
      if (done) return;
      buffer += value.replace(/\r\n?/g, "\n");
      let end;
      while ((end = buffer.indexOf("\n\n")) >= 0) {
        const block = buffer.slice(0, end);
        buffer = buffer.slice(end + 2);
        let event = "message";
        const data = [];
        for (const line of block.split("\n")) {
          if (line.startsWith(":")) continue;
          const colon = line.indexOf(":");
          const field = colon < 0 ? line : line.slice(0, colon);
          const text = colon < 0 ? "" : line.slice(colon + 1).replace(/^ /, "");
          if (field === "event") event = text;
          else if (field === "data") data.push(text);
        }
        if (data.length) onEvent(event, JSON.parse(data.join("\n")));
      }
    }
  }

  // --- the rest of the page ------------------------------------------------------------------

  function showModel(model) {
    const line = document.getElementById("model");
    let text = `Answering with ${model.name}`;
    if (model.demo) text += ": the small demo model, not the production one";
    if (model.problem) text += `. Not ready: ${model.problem}`;
    line.textContent = text;
    line.className = model.demo || model.problem ? "demo" : "";
    line.hidden = false;
  }

  function showCourses(courses, keepRuns) {
    const box = document.getElementById("courses");
    const filter = document.getElementById("course-filter");
    const chosen = filter.value;
    filter.replaceChildren(el("option", { text: "All courses" }));
    filter.firstChild.value = "";
    for (const course of courses) {
      const option = el("option", { text: course.course });
      option.value = course.course;
      filter.append(option);
    }
    filter.value = courses.some((course) => course.course === chosen) ? chosen : "";

    const previous = new Map([...box.querySelectorAll(".course")].map((card) => [card.dataset.course, card]));
    box.replaceChildren();
    for (const course of courses) {
      box.append(courseCard(course));
      const old = previous.get(course.course);
      if (keepRuns && old && old.dataset.state !== "idle") {
        // Keep what the last click said (progress, "Finished: …") across a refresh.
        setRun(course.course, old.dataset.state, old.querySelector(".reindex-status").textContent);
      }
      if (course.following) follow(course.course, course.following.events, course.running);
    }
    if (courses.length === 0) box.append(el("p", { className: "muted", text: "No courses are configured." }));
  }

  function outcomeClass(value) {
    return "outcome-" + String(value).replace(/\s+/g, "-");
  }

  function changes(run) {
    if (!run.report) return run.error || "—";
    const report = run.report;
    const parts = [
      `${report.added.length} added`,
      `${report.changed.length} changed`,
      `${report.removed.length} removed`,
      `${report.failed.length} failed`,
      `${report.chunks_written} chunks written`,
    ];
    return parts.join(", ") + (report.rebuilt ? " (index rebuilt)" : "");
  }

  async function refresh(options) {
    const keepRuns = Boolean(options && options.keepRuns);
    const button = document.getElementById("refresh");
    button.disabled = true;
    try {
      const status = await getJson("/admin/api/status");
      showModel(status.model);
      showCourses(status.courses, keepRuns);
      const [history, gaps, repeats, questions, feedback, waiting, answered, verified] = await Promise.all([
        getJson("/admin/api/history" + courseQuery({ limit: 20 })),
        getJson("/admin/api/gaps" + courseQuery()),
        getJson("/admin/api/repeats" + courseQuery()),
        getJson("/admin/api/questions" + courseQuery({ limit: 30 })),
        getJson("/admin/api/feedback" + courseQuery()),
        getJson("/admin/api/escalations" + courseQuery({ limit: 30 })),
        getJson("/admin/api/escalations" + courseQuery({ answered: 1, limit: 30 })),
        getJson("/admin/api/verified" + courseQuery()),
      ]);
      fillTable("waiting", waiting.escalations, [
        { cell: (escalation) => when(escalation.created_at) },
        { cell: (escalation) => escalation.course },
        { cell: (escalation) => escalation.question },
        { cell: (escalation) => escalation.platform },
        { cell: (escalation) => escalation.reason },
        { cell: (escalation) => took(escalation.waiting_s), className: () => "number" },
      ], "No question is waiting for a TA.");
      fillTable("answered", answered.escalations, [
        { cell: (escalation) => when(escalation.created_at) },
        { cell: (escalation) => escalation.course },
        { cell: (escalation) => escalation.question },
        { cell: (escalation) => escalation.answered_by || "—" },
        { cell: (escalation) => took(escalation.human_answer_s), className: () => "number" },
      ], "No question has been answered by a TA yet.");
      fillTable("verified", verified.verified, [
        { cell: (answer) => answer.label + (answer.ta ? `, ${answer.ta}` : "") },
        { cell: (answer) => answer.course },
        { cell: (answer) => answer.question },
        { cell: (answer) => answer.answer },
        { cell: verifiedActions },
      ], "No verified answers yet.");
      fillTable("gaps", gaps.gaps, [
        { cell: (gap) => gap.question },
        { cell: (gap) => gap.course },
        { cell: (gap) => gap.count, className: () => "number" },
        { cell: (gap) => when(gap.last_asked) },
      ], "No question has gone unanswered.");
      fillTable("repeats", repeats.repeats, [
        { cell: (repeat) => repeat.wordings.join(" · ") },
        { cell: (repeat) => repeat.course },
        { cell: (repeat) => repeat.count, className: () => "number" },
        { cell: (repeat) => when(repeat.last_asked) },
        { cell: (repeat) => repeat.pages.map((page) => `${page.label} (${page.cited})`).join(", ") },
      ], "No question has been asked twice yet.");
      fillTable("questions", questions.questions, [
        { cell: (question) => when(question.asked_at) },
        { cell: (question) => question.course },
        { cell: (question) => question.platform },
        { cell: (question) => question.question },
        { cell: (question) => question.kind.replace("_", " "), className: (question) => outcomeClass(question.kind) },
        { cell: (question) => sources(question.citations) },
      ], "No questions yet.");
      fillTable("feedback", feedback.feedback, [
        { cell: (vote) => when(vote.at) },
        { cell: (vote) => (vote.vote === "up" ? "👍 helpful" : "👎 not helpful"), className: (vote) => `vote-${vote.vote}` },
        { cell: (vote) => vote.platform },
        { cell: (vote) => vote.course },
        { cell: (vote) => vote.question },
        { cell: (vote) => sources(vote.citations) },
      ], "No feedback yet.");
      fillTable("history", history.runs, [
        { cell: (run) => when(run.started_at) },
        { cell: (run) => run.course },
        { cell: (run) => run.trigger },
        { cell: (run) => run.requested_by },
        { cell: (run) => run.outcome, className: (run) => outcomeClass(run.outcome) },
        { cell: (run) => (run.seconds === null ? "—" : run.seconds.toFixed(1)), className: () => "number" },
        { cell: changes },
      ], "No reindex has run yet.");
      notice("");
      document.getElementById("updated").textContent = `Updated ${new Date().toLocaleTimeString()}`;
      document.body.dataset.loaded = "true";
    } catch (error) {
      notice(error.message);
    } finally {
      button.disabled = false;
    }
  }

  document.getElementById("refresh").addEventListener("click", () => refresh({ keepRuns: true }));
  document.getElementById("course-filter").addEventListener("change", () => refresh({ keepRuns: true }));
  refresh();
})();
