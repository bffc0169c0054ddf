// Markdown to DOM for model output. Every piece of text becomes a text node (textContent), never HTML:
// whatever the model writes (tags, scripts, entities) is shown as the characters it is. Links keep only
// http(s) and mailto targets. Handles what chat answers use: paragraphs with line breaks, headings,
// fenced code (also unterminated while it streams), lists (nested by indentation), quotes, tables,
// rules, and inline code, bold, italic, strikethrough, links.
"use strict";

const Markdown = (() => {
  function el(tag, cls, text) {
    const e = document.createElement(tag);
    if (cls) e.className = cls;
    if (text !== undefined) e.textContent = text;
    return e;
  }

  function safeHref(url) {
    try {
      const u = new URL(url, "http://invalid.local/");
      if ((u.protocol === "http:" || u.protocol === "https:") && !url.startsWith("/")) return u.href;
      if (u.protocol === "mailto:") return u.href;
    } catch (e) { /* not a URL */ }
    return null;
  }

  // ---- inline ----
  const INLINE = [
    { re: /`([^`\n]+)`/y, make: m => el("code", null, m[1]) },
    { re: /\*\*(?=\S)([\s\S]*?\S)\*\*/y, make: m => wrap("strong", m[1]) },
    { re: /__(?=\S)([\s\S]*?\S)__(?![A-Za-z0-9])/y, make: m => wrap("strong", m[1]) },
    { re: /~~(?=\S)([\s\S]*?\S)~~/y, make: m => wrap("del", m[1]) },
    { re: /\*(?=[^\s*])([^*\n]*?[^\s*])\*/y, make: m => wrap("em", m[1]) },
    { re: /_(?=[^\s_])([^_\n]*?[^\s_])_(?![A-Za-z0-9])/y, make: m => wrap("em", m[1]) },
    { re: /\[([^\]\n]+)\]\(([^)\s]+)\)/y, make: m => link(m[1], m[2]) },
    { re: /(https?:\/\/[^\s<>()]+[^\s<>().,;:!?'"])/y, make: m => link(m[1], m[1]) },
  ];

  function wrap(tag, inner) {
    const e = el(tag);
    inline(inner, e);
    return e;
  }

  function link(text, url) {
    const href = safeHref(url);
    if (!href) return document.createTextNode(text + " (" + url + ")");
    const a = el("a");
    a.href = href;
    a.rel = "noopener noreferrer nofollow";
    a.target = "_blank";
    inline(text, a);
    return a;
  }

  function inline(text, parent) {
    let plain = "";
    let i = 0;
    const flush = () => { if (plain) { parent.appendChild(document.createTextNode(plain)); plain = ""; } };
    outer:
    while (i < text.length) {
      const c = text[i];
      if (c === "`" || c === "*" || c === "_" || c === "~" || c === "[" || c === "h") {
        // a word-inner '_' (snake_case) is text; an autolink needs a word start
        if ((c === "_" || c === "h") && i > 0 && /[A-Za-z0-9]/.test(text[i - 1])) { plain += c; i++; continue; }
        for (const rule of INLINE) {
          rule.re.lastIndex = i;
          const m = rule.re.exec(text);
          if (m) {
            flush();
            parent.appendChild(rule.make(m));
            i += m[0].length;
            continue outer;
          }
        }
      }
      if (c === "\\" && i + 1 < text.length && /[\\`*_{}\[\]()#+\-.!~|>]/.test(text[i + 1])) {
        plain += text[i + 1];
        i += 2;
        continue;
      }
      plain += c;
      i++;
    }
    flush();
  }

  // ---- code highlighting: a small generic lexer (comments, strings, numbers, keywords) ----
  const KEYWORDS = new Set(("abstract and as async await break case catch class const continue def default del do elif else enum export "
    + "extends false final finally fn for from func function if impl import in interface is let loop match mod mut new nil none not "
    + "null or package pass private protected pub public raise record return self static struct super switch this throw throws trait "
    + "true try type typeof use val var void while with yield True False None").split(" "));
  const TOKEN = /(\/\/[^\n]*|#[^\n]*|\/\*[\s\S]*?\*\/|--[^\n]*)|("(?:[^"\\\n]|\\.)*"|'(?:[^'\\\n]|\\.)*'|`(?:[^`\\]|\\.)*`)|(\b\d[\d_]*(?:\.\d+)?(?:[eE][+-]?\d+)?\b|\b0x[0-9a-fA-F]+\b)|([A-Za-z_][A-Za-z0-9_]*)/g;

  function highlight(code, lang, parent) {
    const hashComments = /^(py|python|sh|bash|shell|zsh|ruby|rb|r|yaml|yml|toml|perl|ini|conf|dockerfile|make|makefile)$/i.test(lang || "");
    const dashComments = /^(sql|lua|haskell|hs)$/i.test(lang || "");
    let last = 0;
    TOKEN.lastIndex = 0;
    let m;
    while ((m = TOKEN.exec(code)) !== null) {
      let cls = null;
      if (m[1]) {
        const t = m[1];
        if ((t[0] === "#" && !hashComments) || (t.startsWith("--") && !dashComments)) {
          // not a comment in this language: let the rest of the line be lexed normally
          TOKEN.lastIndex = m.index + 1;
          continue;
        }
        cls = "tok-comment";
      } else if (m[2]) cls = "tok-string";
      else if (m[3]) cls = "tok-number";
      else if (m[4] && KEYWORDS.has(m[4])) cls = "tok-keyword";
      if (!cls) continue;
      if (m.index > last) parent.appendChild(document.createTextNode(code.slice(last, m.index)));
      parent.appendChild(el("span", cls, m[0]));
      last = m.index + m[0].length;
    }
    if (last < code.length) parent.appendChild(document.createTextNode(code.slice(last)));
  }

  function codeBlock(code, lang) {
    const wrapper = el("div", "codeblock");
    const bar = el("div", "codebar");
    bar.appendChild(el("span", "lang", lang || "code"));
    const copy = el("button", "copy", "Copy");
    copy.type = "button";
    copy.addEventListener("click", () => {
      if (navigator.clipboard) navigator.clipboard.writeText(code).then(() => { copy.textContent = "Copied"; }, () => {});
    });
    bar.appendChild(copy);
    wrapper.appendChild(bar);
    const pre = el("pre");
    const c = el("code");
    if (lang) c.dataset.lang = lang;
    highlight(code, lang, c);
    pre.appendChild(c);
    wrapper.appendChild(pre);
    return wrapper;
  }

  // ---- blocks ----
  const FENCE = /^ {0,3}(`{3,}|~{3,})\s*([^\s`]*)[^`]*$/;
  const HEADING = /^ {0,3}(#{1,6})\s+(.*?)\s*#*\s*$/;
  const RULE = /^ {0,3}([-*_])(\s*\1){2,}\s*$/;
  const ITEM = /^(\s*)([-*+]|\d{1,9}[.)])\s+(.*)$/;
  const QUOTE = /^ {0,3}>\s?(.*)$/;
  const TABLE_SEP = /^\s*\|?\s*:?-{2,}:?\s*(\|\s*:?-{2,}:?\s*)*\|?\s*$/;

  function cells(line) {
    let t = line.trim();
    if (t.startsWith("|")) t = t.slice(1);
    if (t.endsWith("|") && !t.endsWith("\\|")) t = t.slice(0, -1);
    return t.split(/(?<!\\)\|/).map(s => s.trim().replace(/\\\|/g, "|"));
  }

  function render(text, parent) {
    const lines = text.replace(/\r\n?/g, "\n").split("\n");
    let i = 0;
    let para = [];
    const flushPara = () => {
      if (!para.length) return;
      const p = el("p");
      para.forEach((l, k) => {
        if (k > 0) p.appendChild(el("br"));
        inline(l, p);
      });
      parent.appendChild(p);
      para = [];
    };
    while (i < lines.length) {
      const line = lines[i];
      let m;
      if ((m = FENCE.exec(line))) {
        flushPara();
        const fence = m[1];
        const body = [];
        i++;
        while (i < lines.length && !(lines[i].trim().startsWith(fence[0].repeat(fence.length)) && lines[i].trim().replace(new RegExp("^\\" + fence[0] + "+"), "").trim() === "")) {
          body.push(lines[i]);
          i++;
        }
        i++; // the closing fence (or the end while streaming)
        parent.appendChild(codeBlock(body.join("\n"), m[2]));
        continue;
      }
      if (line.trim() === "") { flushPara(); i++; continue; }
      if ((m = HEADING.exec(line))) {
        flushPara();
        const h = el("h" + Math.min(6, m[1].length + 2)); // h3..h6: answers sit under the page's own headings
        inline(m[2], h);
        parent.appendChild(h);
        i++;
        continue;
      }
      if (RULE.test(line)) { flushPara(); parent.appendChild(el("hr")); i++; continue; }
      if (QUOTE.test(line)) {
        flushPara();
        const body = [];
        while (i < lines.length && (m = QUOTE.exec(lines[i]))) { body.push(m[1]); i++; }
        const q = el("blockquote");
        render(body.join("\n"), q);
        parent.appendChild(q);
        continue;
      }
      if (line.includes("|") && i + 1 < lines.length && TABLE_SEP.test(lines[i + 1])) {
        flushPara();
        const table = el("table");
        const head = el("tr");
        cells(line).forEach(c => { const th = el("th"); inline(c, th); head.appendChild(th); });
        table.appendChild(el("thead")).appendChild(head);
        const tbody = table.appendChild(el("tbody"));
        i += 2;
        while (i < lines.length && lines[i].includes("|") && lines[i].trim() !== "") {
          const tr = el("tr");
          cells(lines[i]).forEach(c => { const td = el("td"); inline(c, td); tr.appendChild(td); });
          tbody.appendChild(tr);
          i++;
        }
        parent.appendChild(table);
        continue;
      }
      if (ITEM.test(line)) {
        flushPara();
        i = list(lines, i, parent);
        continue;
      }
      para.push(line);
      i++;
    }
    flushPara();
  }

  /** A list starting at lines[i]; items indented deeper than its own become nested lists. */
  function list(lines, i, parent) {
    const first = ITEM.exec(lines[i]);
    const indent = first[1].length;
    const ordered = /\d/.test(first[2]);
    const listEl = el(ordered ? "ol" : "ul");
    if (ordered) {
      const start = parseInt(first[2], 10);
      if (start !== 1) listEl.start = start;
    }
    let li = null;
    while (i < lines.length) {
      const m = ITEM.exec(lines[i]);
      if (m && m[1].length === indent && /\d/.test(m[2]) === ordered) {
        li = el("li");
        inline(m[3], li);
        listEl.appendChild(li);
        i++;
      } else if (m && m[1].length > indent && li) {
        i = list(lines, i, li);
      } else if (!m && li && lines[i].trim() !== "" && /^\s+/.test(lines[i])) {
        li.appendChild(el("br"));
        inline(lines[i].trim(), li);
        i++;
      } else {
        break;
      }
    }
    parent.appendChild(listEl);
    return i;
  }

  return { render, inline, safeHref };
})();
