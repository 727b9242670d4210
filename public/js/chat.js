// The chat panel: history from `welcome`, new messages, unread badge, sending.
//
// Messages are shown as text (the server relays whatever people type); only
// an http(s) address becomes a link, built as a node, opening in a new tab
// without telling the other page who opened it.

import { el, show } from './dom.js';
import { charCount } from './names.js';

/** The contract's limit, in characters (code points), not UTF-16 units. */
const TEXT_MAX = 2000;

/** An address as people paste it; punctuation that ends a sentence is cut off below. */
const LINK = /\bhttps?:\/\/[^\s<>"/][^\s<>"]*/gi;
const TRAILING = /[.,;:!?')\]}]+$/;

/**
 * Splits a message into text and links: `[{text}, {text, href}, ...]`. Only
 * http and https addresses with a host that `URL` parses become links; a
 * closing bracket stays in the link when the link opened one (`…/Foo_(bar)`).
 */
export function splitLinks(text) {
  const parts = [];
  let last = 0;
  for (const match of text.matchAll(LINK)) {
    let link = match[0].replace(TRAILING, '');
    const rest = match[0].slice(link.length);
    const count = (c) => link.split(c).length - 1;
    if (rest.startsWith(')') && count('(') > count(')')) link += ')';
    let href;
    try { href = new URL(link).href; } catch { continue; /* not an address after all: stays text */ }
    if (match.index > last) parts.push({ text: text.slice(last, match.index) });
    parts.push({ text: link, href });
    last = match.index + link.length;
  }
  if (last < text.length) parts.push({ text: text.slice(last) });
  return parts;
}

/** A message shortened to one line for a notice: `PREVIEW_MAX` characters at most. */
const PREVIEW_MAX = 80;
export function previewText(text) {
  const line = text.replace(/\s+/g, ' ').trim();
  const chars = [...line];
  return chars.length > PREVIEW_MAX ? `${chars.slice(0, PREVIEW_MAX - 1).join('')}…` : line;
}

function formatTime(ts) {
  const date = new Date(ts);
  return Number.isFinite(date.getTime())
    ? date.toLocaleTimeString([], { hour: '2-digit', minute: '2-digit' })
    : '';
}

/**
 * The chat panel over its `log`, `form` and `input` (Enter sends,
 * Shift+Enter: a new line). `badge`: the unread count, hidden at zero;
 * `isVisible()`: the panel open and the page in view; `send(text)`: false
 * when it could not go out; `onUnseen(entry)`: someone else's message came
 * while the panel was closed; `onUnread(count)`.
 */
export function createChat({ log, form, input, badge, isVisible, send, onUnseen, onUnread = () => {} }) {
  // `mine`: your ids, one per (re)connect: what you said stays yours.
  const chat = { unread: 0, mine: new Set() };

  function setUnread(count) {
    if (count === chat.unread) return;
    chat.unread = count;
    onUnread(count);
    badge.textContent = count > 99 ? '99+' : String(count);
    show(badge, count > 0);
  }

  function entryNode({ from, name, text, ts }) {
    const mine = chat.mine.has(from);
    const time = formatTime(ts);
    return el('li', { class: mine ? 'chat-entry mine' : 'chat-entry', dataset: { from: String(from ?? '') } },
      el('div', { class: 'chat-meta' },
        el('span', { class: 'chat-name', text: mine ? `${name} (you)` : String(name ?? '') }),
        time ? el('time', { class: 'chat-time', datetime: new Date(ts).toISOString(), text: time }) : null),
      el('p', { class: 'chat-text' }, splitLinks(String(text ?? '')).map((part) => (part.href
        ? el('a', { href: part.href, target: '_blank', rel: 'noopener noreferrer', text: part.text })
        : part.text))));
  }

  function append(entry) {
    const nearBottom = log.scrollHeight - log.scrollTop - log.clientHeight < 60;
    log.append(entryNode(entry));
    if (nearBottom || chat.mine.has(entry.from)) log.scrollTop = log.scrollHeight;
  }

  form.addEventListener('submit', (event) => {
    event.preventDefault();
    const text = input.value;
    if (!text.trim()) return;
    if (charCount(text) > TEXT_MAX) {
      input.setCustomValidity(`At most ${TEXT_MAX} characters.`);
      input.reportValidity();
      return;
    }
    if (send(text)) {
      input.value = '';
      fitInput();
    }
  });
  input.addEventListener('input', () => {
    input.setCustomValidity('');
    fitInput();
  });
  // Enter sends, as in other chats; Shift+Enter is a new line, and so is
  // Enter while an input method is still composing a word.
  input.addEventListener('keydown', (event) => {
    if (event.key !== 'Enter' || event.shiftKey || event.isComposing) return;
    event.preventDefault();
    form.requestSubmit();
  });

  /** The box as tall as its text, up to its CSS max-height (then it scrolls). */
  function fitInput() {
    input.style.height = 'auto';
    input.style.height = `${input.scrollHeight + input.offsetHeight - input.clientHeight}px`;
  }

  return {
    /** Replaces the log with `history` (a fresh `welcome`, after a reconnect too). */
    setHistory(history, selfId) {
      chat.mine.add(selfId);
      log.replaceChildren();
      for (const entry of Array.isArray(history) ? history : []) append(entry);
      log.scrollTop = log.scrollHeight;
    },
    /** Adds one incoming `chat` frame. */
    add(entry) {
      append(entry);
      if (!isVisible() && !chat.mine.has(entry.from)) {
        setUnread(chat.unread + 1);
        onUnseen({ name: String(entry.name ?? ''), text: String(entry.text ?? '') });
      }
    },
    /** The panel was opened, or the page came back into view with it open. */
    markRead() { setUnread(0); },
  };
}
