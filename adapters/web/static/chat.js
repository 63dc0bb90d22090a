// The chat page: a course picker, one thread of questions and follow-ups, answers streamed
// as the model writes them. Every piece of text from the student, the model or the course
// materials goes into the page as text (textContent), never as HTML.
"use strict";

(() => {
  const LOOKING = "Looking through the course materials\u2026";
  const WRITING = "Writing\u2026";
  const KEPT_TURNS = 20; // the server keeps fewer; this only bounds the request
  const KIND_LABELS = {
    quote: "The course's own words, quoted: no model wrote this answer.",
    retrieval_only: "Passages from the course materials: the model could not write an answer just now.",
  };

  const $ = (id) => document.getElementById(id);
  const thread = $("thread");
  const form = $("ask");
  const input = $("question");
  const send = $("send");
  const courses = $("course");
  let history = [];
  let busy = false;
  let conversation = newConversationId(); // the TAs' answers come back to this id only
  let polling = null;
  const shownTaAnswers = new Set();
  const TA_POLL_MS = 15000;

  function node(tag, className, text) {
    const element = document.createElement(tag);
    if (className) element.className = className;
    if (text !== undefined) element.textContent = text;
    return element;
  }

  // Only http(s) links, or this server's own /files/ copies of the course materials.
  function safeHref(url) {
    if (typeof url !== "string" || url === "") return null;
    let parsed;
    try {
      parsed = new URL(url, window.location.origin);
    } catch (error) {
      return null;
    }
    if (parsed.origin === window.location.origin) {
      return parsed.pathname.startsWith("/files/") ? parsed.href : null;
    }
    return parsed.protocol === "http:" || parsed.protocol === "https:" ? parsed.href : null;
  }

  function link(href, text) {
    const anchor = node("a", "", text);
    anchor.href = href;
    anchor.target = "_blank";
    anchor.rel = "noopener noreferrer";
    return anchor;
  }

  function userId() {
    const key = "mentor.user";
    try {
      let id = window.localStorage.getItem(key);
      if (!id || !/^[A-Za-z0-9_-]{1,64}$/.test(id)) {
        const bytes = new Uint8Array(12);
        window.crypto.getRandomValues(bytes);
        id = "web-" + Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
        window.localStorage.setItem(key, id);
      }
      return id;
    } catch (error) {
      return "web-anonymous";
    }
  }

  // The answer's text with its [n] markers turned into links to the citations they name.
  function answerBody(text, citations) {
    const body = node("div", "body");
    const hrefs = new Map();
    for (const citation of citations) {
      const href = safeHref(citation.href);
      if (href) hrefs.set(String(citation.n), href);
    }
    const marker = /\[(\d+)\]/g;
    let last = 0;
    for (const match of text.matchAll(marker)) {
      const href = hrefs.get(match[1]);
      if (!href) continue;
      body.append(document.createTextNode(text.slice(last, match.index)));
      const sup = node("sup", "marker");
      sup.append(link(href, "[" + match[1] + "]"));
      body.append(sup);
      last = match.index + match[0].length;
    }
    body.append(document.createTextNode(text.slice(last)));
    return body;
  }

  function sources(citations) {
    const list = node("ol", "sources");
    for (const citation of citations) {
      const item = node("li", citation.see_also ? "see-also" : "");
      item.value = citation.n;
      const label = String(citation.label || citation.source || "source");
      const href = safeHref(citation.href);
      item.append(href ? link(href, label) : node("span", "", label));
      if (citation.see_also) item.append(document.createTextNode(" (see also)"));
      if (typeof citation.excerpt === "string" && Array.isArray(citation.quotes) && citation.quotes.length) {
        item.append(passage(citation.excerpt, citation.quotes.map(String)));
      }
      list.append(item);
    }
    return list;
  }

  // The passage a quote came from, the quoted sentences marked where they stand (text nodes only).
  function passage(text, quotes) {
    const box = node("details", "passage");
    box.append(node("summary", "", "In context"));
    const body = node("div", "excerpt");
    let rest = text;
    for (;;) {
      const found = quotes.map((quote) => [rest.indexOf(quote), quote]).filter(([at]) => at >= 0).sort((a, b) => a[0] - b[0])[0];
      if (!found) break;
      const [at, quote] = found;
      body.append(document.createTextNode(rest.slice(0, at)), node("mark", "", quote));
      rest = rest.slice(at + quote.length);
    }
    body.append(document.createTextNode(rest));
    box.append(body);
    return box;
  }

  function feedback(questionId) {
    const bar = node("div", "feedback");
    const note = node("span", "", "Was this helpful?");
    const buttons = [];
    for (const [vote, face, label] of [["up", "\u{1F44D}", "Helpful"], ["down", "\u{1F44E}", "Not helpful"]]) {
      const button = node("button", "vote-" + vote, face);
      button.type = "button";
      button.title = label;
      button.setAttribute("aria-label", label);
      button.setAttribute("aria-pressed", "false");
      button.addEventListener("click", async () => {
        const withdrawn = button.getAttribute("aria-pressed") === "true";
        buttons.forEach((b) => (b.disabled = true));
        try {
          const response = await fetch("/api/feedback", {
            method: "POST",
            headers: { "Content-Type": "application/json" },
            body: JSON.stringify({ question_id: questionId, vote, user: userId(), withdrawn }),
          });
          if (!response.ok) throw new Error(String(response.status));
          buttons.forEach((b) => b.setAttribute("aria-pressed", "false"));
          button.setAttribute("aria-pressed", withdrawn ? "false" : "true");
          note.textContent = withdrawn ? "Was this helpful?" : "Thanks for the feedback.";
        } catch (error) {
          note.textContent = "Your vote could not be recorded; try again.";
        } finally {
          buttons.forEach((b) => (b.disabled = false));
        }
      });
      buttons.push(button);
    }
    bar.append(note, ...buttons);
    return bar;
  }

  function newConversationId() {
    const bytes = new Uint8Array(16);
    window.crypto.getRandomValues(bytes);
    return "page-" + Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
  }

  // "Ask a TA": the conversation so far goes to the course's TA queue; their answer is fetched back.
  function askTa(button, turns) {
    const bar = node("div", "ask-ta");
    const press = node("button", "", "Ask a TA");
    press.type = "button";
    const note = node("span", "");
    press.addEventListener("click", async () => {
      press.disabled = true;
      try {
        const response = await fetch("/api/ask-ta", {
          method: "POST",
          headers: { "Content-Type": "application/json" },
          body: JSON.stringify({ conversation, button, history: turns }),
        });
        const reply = await response.json();
        note.textContent = String(reply.message || reply.error || "");
        if (["sent", "already", "kept"].includes(reply.outcome)) pollTaAnswers();
        else press.disabled = false;
      } catch (error) {
        note.textContent = "Your question could not be sent to the TAs; try again.";
        press.disabled = false;
      }
    });
    bar.append(press, note);
    return bar;
  }

  function pollTaAnswers() {
    if (polling !== null) return;
    const asked = conversation;
    polling = window.setInterval(async () => {
      if (asked !== conversation) return stopPolling();
      try {
        const response = await fetch("/api/ta-answers?conversation=" + encodeURIComponent(asked));
        if (!response.ok) return;
        const { answers, waiting } = await response.json();
        for (const answer of answers || []) {
          if (shownTaAnswers.has(answer.id)) continue;
          shownTaAnswers.add(answer.id);
          const box = node("div", "msg ta");
          box.append(node("div", "kind", String(answer.heading)), node("div", "body", String(answer.text)));
          thread.append(box);
          box.scrollIntoView({ block: "end" });
        }
        if (!waiting) stopPolling();
      } catch (error) {
        // the next round tries again
      }
    }, TA_POLL_MS);
  }

  function stopPolling() {
    window.clearInterval(polling);
    polling = null;
  }

  function showUser(text) {
    $("intro")?.remove();
    const box = node("div", "msg user");
    box.append(node("div", "body", text));
    thread.append(box);
  }

  function botMessage() {
    const box = node("div", "msg bot");
    box.dataset.state = "looking";
    const status = node("p", "status", LOOKING);
    const body = node("div", "body");
    box.append(status, body);
    thread.append(box);
    box.scrollIntoView({ block: "end" });
    return {
      queued(text) {
        box.dataset.state = "queued";
        status.textContent = text;
      },
      partial(text) {
        box.dataset.state = "streaming";
        status.textContent = WRITING;
        body.textContent = text;
      },
      answer(answer, turns) {
        const citations = Array.isArray(answer.citations) ? answer.citations : [];
        box.dataset.state = "done";
        box.dataset.kind = String(answer.kind);
        box.replaceChildren();
        if (KIND_LABELS[answer.kind]) box.append(node("div", "kind", KIND_LABELS[answer.kind]));
        box.append(answerBody(String(answer.text), citations));
        if (citations.length) box.append(sources(citations));
        if (Number.isInteger(answer.question_id)) box.append(feedback(answer.question_id));
        if (typeof answer.ask_ta === "string") box.append(askTa(answer.ask_ta, turns));
      },
      error(message) {
        box.dataset.state = "error";
        box.classList.add("error");
        box.replaceChildren(node("div", "body", String(message)));
      },
    };
  }

  // Server-sent events from a POST: read the body as it arrives and split it into events.
  async function* events(response) {
    const reader = response.body.getReader();
    const decoder = new TextDecoder();
    let buffer = "";
    for (;;) {
      const { value, done } = await reader.read();
      if (done) break;
      buffer += decoder.decode(value, { stream: true });
      let cut;
      while ((cut = buffer.indexOf("\n\n")) >= 0) {
        const parsed = parseEvent(buffer.slice(0, cut));
        buffer = buffer.slice(cut + 2);
        if (parsed) yield parsed;
      }
    }
  }

  function parseEvent(block) {
    let name = "message";
    const data = [];
    for (const line of block.split("\n")) {
      if (line.startsWith("event:")) name = line.slice(6).trim();
      else if (line.startsWith("data:")) data.push(line.slice(5).replace(/^ /, ""));
    }
    if (!data.length) return null; // a keep-alive comment
    try {
      return { name, data: JSON.parse(data.join("\n")) };
    } catch (error) {
      return null;
    }
  }

  async function ask(text) {
    const reply = botMessage();
    let response;
    try {
      response = await fetch("/api/ask", {
        method: "POST",
        headers: { "Content-Type": "application/json", Accept: "text/event-stream" },
        body: JSON.stringify({ question: text, course: courses.value || null, history, user: userId() }),
      });
    } catch (error) {
      reply.error("The mentor could not be reached. Is `mentor serve` still running?");
      return;
    }
    if (!response.ok) {
      let message = "The mentor refused the question (HTTP " + response.status + ").";
      try {
        message = (await response.json()).error || message;
      } catch (error) {
        // keep the generic line
      }
      reply.error(message);
      return;
    }
    try {
      for await (const { name, data } of events(response)) {
        if (name === "queued") reply.queued(String(data.text));
        else if (name === "partial") reply.partial(String(data.text));
        else if (name === "error") return reply.error(data.message);
        else if (name === "answer") {
          const turns = history.concat([{ role: "user", text }, { role: "assistant", text: String(data.text) }]).slice(-KEPT_TURNS);
          reply.answer(data, turns);
          if (data.kind !== "help") history = turns;
          return;
        }
      }
    } catch (error) {
      // the connection dropped mid-answer
    }
    reply.error("The answer was cut off before it finished. Please ask again.");
  }

  function newThread() {
    history = [];
    conversation = newConversationId();
    stopPolling();
    thread.replaceChildren(node("p", "intro", "New thread: ask a question about the course materials."));
    thread.firstChild.id = "intro";
    input.focus();
  }

  async function loadCourses() {
    try {
      const response = await fetch("/api/courses");
      const data = await response.json();
      let saved = null;
      try {
        saved = window.localStorage.getItem("mentor.course");
      } catch (error) {
        // no storage: use the default course
      }
      for (const name of data.courses) courses.append(new Option(name, name));
      courses.value = data.courses.includes(saved) ? saved : data.default;
      if (data.model && data.model.demo) {
        const notice = $("notice");
        notice.textContent =
          "Answers come from the small demo model (" + data.model.name + "), not the production one: " +
          "expect short or odd answers. Fetch the production one with `mentor models download mistral-7b-instruct`.";
        notice.hidden = false;
      }
    } catch (error) {
      courses.append(new Option("(courses unavailable)", ""));
    }
    document.body.dataset.ready = "true";
  }

  form.addEventListener("submit", async (submitted) => {
    submitted.preventDefault();
    if (busy) return;
    const text = input.value;
    busy = true;
    send.disabled = true;
    input.value = "";
    if (text.trim()) showUser(text);
    try {
      await ask(text);
    } finally {
      busy = false;
      send.disabled = false;
      input.focus();
    }
  });
  input.addEventListener("keydown", (key) => {
    if (key.key === "Enter" && !key.shiftKey && !key.isComposing) {
      key.preventDefault();
      form.requestSubmit();
    }
  });
  courses.addEventListener("change", () => {
    try {
      window.localStorage.setItem("mentor.course", courses.value);
    } catch (error) {
      // not remembered, that is all
    }
    newThread();
  });
  $("new-thread").addEventListener("click", newThread);
  loadCourses();
})();
