// The chat page: conversations in localStorage, answers streamed from /v1/chat/completions (SSE),
// Stop aborts the request (the server then cancels the generation), the status panel polls /props.
// Model text reaches the page only through Markdown.render / textContent: never as HTML.
"use strict";

(() => {
  const $ = id => document.getElementById(id);
  const STORE = "sluice.conversations", CURRENT = "sluice.current", SETTINGS = "sluice.settings";
  const DEFAULTS = { system: "", temperature: 0.8, top_p: 0.95, top_k: 40, min_p: 0.05, repeat_penalty: 1.0, max_tokens: "", seed: "", api_key: "" };
  const NUMERIC = ["temperature", "top_p", "top_k", "min_p", "repeat_penalty", "max_tokens", "seed"];

  let conversations = load(STORE, []);
  let currentId = localStorage.getItem(CURRENT);
  let settings = Object.assign({}, DEFAULTS, load(SETTINGS, {}));
  let streaming = null; // { controller, conversation, message } while an answer streams

  function load(key, fallback) {
    try {
      const v = JSON.parse(localStorage.getItem(key));
      return v === null || v === undefined ? fallback : v;
    } catch (e) {
      return fallback;
    }
  }

  function save() {
    localStorage.setItem(STORE, JSON.stringify(conversations));
    if (currentId) localStorage.setItem(CURRENT, currentId);
  }

  function current() {
    return conversations.find(c => c.id === currentId) || null;
  }

  function newConversation() {
    const c = { id: "c" + Date.now().toString(36) + Math.random().toString(36).slice(2, 7), title: "New chat", messages: [], updated: Date.now() };
    conversations.unshift(c);
    currentId = c.id;
    save();
    return c;
  }

  // ---- rendering ----

  function el(tag, cls, text) {
    const e = document.createElement(tag);
    if (cls) e.className = cls;
    if (text !== undefined) e.textContent = text;
    return e;
  }

  function renderList() {
    const ul = $("conversations");
    ul.replaceChildren();
    for (const c of conversations) {
      const li = el("li", "conv" + (c.id === currentId ? " active" : ""));
      const title = el("button", "conv-title", c.title);
      title.type = "button";
      title.addEventListener("click", () => { if (!streaming) { currentId = c.id; save(); renderAll(); } });
      const del = el("button", "conv-delete", "×");
      del.type = "button";
      del.title = "Delete this conversation";
      del.addEventListener("click", () => {
        if (streaming && streaming.conversation === c) stop();
        conversations = conversations.filter(x => x !== c);
        if (currentId === c.id) currentId = conversations.length ? conversations[0].id : null;
        save();
        renderAll();
      });
      li.append(title, del);
      ul.appendChild(li);
    }
  }

  /** Splits "<think>...</think>answer" (models whose server does not separate reasoning) into its parts. */
  function splitThink(content) {
    const m = /^\s*<think>([\s\S]*?)(<\/think>|$)/.exec(content);
    if (!m) return { reasoning: "", content };
    return { reasoning: m[1], content: content.slice(m[0].length), thinking: m[2] === "" };
  }

  function messageNode(msg) {
    const box = el("div", "msg " + msg.role);
    box.appendChild(el("div", "role", msg.role === "user" ? "You" : "Assistant"));
    fillMessage(box, msg);
    return box;
  }

  function fillMessage(box, msg) {
    while (box.childNodes.length > 1) box.removeChild(box.lastChild);
    if (msg.role === "user") {
      box.appendChild(el("div", "content plain", msg.content));
      return;
    }
    const think = splitThink(msg.content || "");
    const reasoning = (msg.reasoning || "") + think.reasoning;
    if (reasoning) {
      const d = el("details", "reasoning");
      if (streaming && streaming.message === msg && (!msg.content || think.thinking)) d.open = true;
      d.appendChild(el("summary", null, "Reasoning"));
      d.appendChild(el("div", "reasoning-text", reasoning));
      box.appendChild(d);
    }
    const content = el("div", "content");
    Markdown.render(think.content, content);
    box.appendChild(content);
    if (msg.error) box.appendChild(el("div", "error", msg.error));
    if (msg.stats) box.appendChild(el("div", "stats", msg.stats));
  }

  function renderMessages() {
    const box = $("messages");
    box.replaceChildren();
    const c = current();
    if (!c || !c.messages.length) {
      box.appendChild(el("div", "empty", "Ask anything. Enter sends, Shift+Enter adds a line."));
      return;
    }
    for (const m of c.messages) box.appendChild(messageNode(m));
    box.scrollTop = box.scrollHeight;
  }

  function renderAll() {
    renderList();
    renderMessages();
    $("send").hidden = !!streaming;
    $("stop").hidden = !streaming;
  }

  // ---- settings ----

  function showSettings() {
    $("set-system").value = settings.system;
    for (const k of NUMERIC.concat(["api_key"])) $("set-" + k).value = settings[k];
  }

  function readSettings() {
    settings.system = $("set-system").value;
    settings.api_key = $("set-api_key").value.trim();
    for (const k of NUMERIC) {
      const v = $("set-" + k).value.trim();
      settings[k] = v === "" ? "" : Number(v);
    }
    localStorage.setItem(SETTINGS, JSON.stringify(settings));
  }

  function headers() {
    const h = { "Content-Type": "application/json" };
    if (settings.api_key) h["Authorization"] = "Bearer " + settings.api_key;
    return h;
  }

  // ---- sending and streaming ----

  function send() {
    const input = $("input");
    const text = input.value;
    if (!text.trim() || streaming) return;
    readSettings();
    const c = current() || newConversation();
    c.messages.push({ role: "user", content: text });
    if (c.title === "New chat") c.title = text.trim().replace(/\s+/g, " ").slice(0, 48);
    const answer = { role: "assistant", content: "", reasoning: "" };
    c.messages.push(answer);
    c.updated = Date.now();
    input.value = "";
    autosize();
    save();
    stream(c, answer);
  }

  function requestBody(c) {
    const messages = [];
    if (settings.system.trim()) messages.push({ role: "system", content: settings.system });
    for (const m of c.messages) {
      if (m === streaming.message) continue;
      if (m.role === "assistant" && m.error && !m.content) continue; // a failed turn is not part of the conversation
      messages.push({ role: m.role, content: m.role === "assistant" ? splitThink(m.content).content : m.content });
    }
    const body = { messages, stream: true, stream_options: { include_usage: true } };
    for (const k of NUMERIC) {
      if (settings[k] === "" || Number.isNaN(settings[k])) continue;
      if (k === "repeat_penalty") body.repeat_penalty = settings[k];
      else body[k] = settings[k];
    }
    return body;
  }

  async function stream(c, msg) {
    const controller = new AbortController();
    streaming = { controller, conversation: c, message: msg };
    renderAll();
    const node = $("messages").lastChild;
    let frame = 0;
    const redraw = () => {
      if (frame) return;
      frame = requestAnimationFrame(() => {
        frame = 0;
        fillMessage(node, msg);
        const box = $("messages");
        box.scrollTop = box.scrollHeight;
      });
    };
    const t0 = performance.now();
    let first = 0, chunks = 0, usage = null;
    try {
      const res = await fetch("/v1/chat/completions", { method: "POST", headers: headers(), body: JSON.stringify(requestBody(c)), signal: controller.signal });
      if (!res.ok) {
        let detail = res.status + " " + res.statusText;
        try { detail = (await res.json()).error.message || detail; } catch (e) { /* not JSON */ }
        throw new Error(detail);
      }
      const reader = res.body.getReader();
      const decoder = new TextDecoder();
      let buf = "";
      let done = false;
      while (!done) {
        const r = await reader.read();
        if (r.done) break;
        buf += decoder.decode(r.value, { stream: true });
        let cut;
        while ((cut = buf.indexOf("\n\n")) >= 0) {
          const event = buf.slice(0, cut);
          buf = buf.slice(cut + 2);
          for (const line of event.split("\n")) {
            if (!line.startsWith("data:")) continue;
            const data = line.slice(5).trim();
            if (data === "[DONE]") { done = true; break; }
            const j = JSON.parse(data);
            if (j.error) throw new Error(j.error.message || "the server reported an error");
            if (j.usage) usage = j.usage;
            const delta = j.choices && j.choices[0] && j.choices[0].delta;
            if (!delta) continue;
            if (delta.reasoning_content) msg.reasoning += delta.reasoning_content;
            if (delta.content) msg.content += delta.content;
            if (delta.content || delta.reasoning_content) {
              if (!first) first = performance.now();
              chunks++;
              redraw();
            }
          }
        }
      }
    } catch (e) {
      if (e.name === "AbortError") msg.stopped = true;
      else msg.error = "Error: " + e.message;
    }
    const t1 = performance.now();
    const tokens = usage ? usage.completion_tokens : chunks;
    const secs = first ? (t1 - first) / 1000 : 0;
    const rate = tokens > 1 && secs > 0 ? (tokens - 1) / secs : 0;
    msg.stats = tokens + " tokens" + (rate ? ", " + rate.toFixed(1) + " tok/s" : "")
      + (first ? ", first token after " + ((first - t0) / 1000).toFixed(2) + " s" : "") + (msg.stopped ? " (stopped)" : "");
    $("status-speed").textContent = rate ? rate.toFixed(1) + " tok/s (" + tokens + " tokens)" : tokens + " tokens";
    streaming = null;
    if (frame) cancelAnimationFrame(frame);
    c.updated = Date.now();
    save();
    renderAll();
    refreshStatus();
  }

  function stop() {
    if (streaming) streaming.controller.abort();
  }

  // ---- status ----

  async function refreshStatus() {
    try {
      const res = await fetch("/props", { headers: headers() });
      if (!res.ok) {
        $("status-model").textContent = res.status === 503 ? "loading…" : res.status === 401 ? "API key needed (Settings)" : "error " + res.status;
        return;
      }
      const p = await res.json();
      $("status-model").textContent = p.model;
      $("status-context").textContent = p.context_length + " tokens";
      const kv = p.kv_cache;
      const pct = kv.blocks_total ? Math.round(100 * kv.blocks_used / kv.blocks_total) : 0;
      $("status-kv").textContent = pct + "% (" + kv.blocks_used + " of " + kv.blocks_total + " blocks of " + kv.block_size + ", " + kv.type + ")";
      $("status-requests").textContent = p.requests.running + " running, " + p.requests.waiting + " waiting";
    } catch (e) {
      $("status-model").textContent = "server unreachable";
    }
  }

  // ---- wiring ----

  function autosize() {
    const t = $("input");
    t.style.height = "auto";
    t.style.height = Math.min(t.scrollHeight, 240) + "px";
  }

  $("composer").addEventListener("submit", e => { e.preventDefault(); send(); });
  $("input").addEventListener("keydown", e => {
    if (e.key === "Enter" && !e.shiftKey && !e.isComposing) {
      e.preventDefault();
      send();
    }
  });
  $("input").addEventListener("input", autosize);
  $("stop").addEventListener("click", stop);
  $("new-chat").addEventListener("click", () => {
    if (streaming) return;
    const c = current();
    if (!c || c.messages.length) newConversation();
    renderAll();
    $("input").focus();
  });
  $("reset-settings").addEventListener("click", () => {
    settings = Object.assign({}, DEFAULTS, { api_key: settings.api_key });
    localStorage.setItem(SETTINGS, JSON.stringify(settings));
    showSettings();
  });
  document.querySelectorAll("#settings input, #settings textarea").forEach(i => i.addEventListener("change", readSettings));

  // An answer that was streaming when the page went away ends as far as it got.
  for (const c of conversations) {
    for (const m of c.messages) if (m.role === "assistant" && !m.stats && !m.error) m.stats = "(interrupted)";
  }
  showSettings();
  renderAll();
  refreshStatus();
  setInterval(() => { if (!document.hidden) refreshStatus(); }, 3000);
  $("input").focus();
})();
