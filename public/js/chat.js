// The chat panel: history from `welcome`, new messages, unread badge, sending.
//
// Messages are shown as plain text: a URL stays text, markup stays text. The
// server relays whatever people type, so nothing here ever parses it.

import { el, show } from './dom.js';

const TEXT_MAX = 2000;

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
 * @param {object} opts
 * @param {HTMLElement} opts.log  the list that holds messages
 * @param {HTMLFormElement} opts.form
 * @param {HTMLInputElement} opts.input
 * @param {HTMLElement} opts.badge  unread count, hidden when zero
 * @param {() => boolean} opts.isVisible  whether the panel is open
 * @param {(text: string) => boolean} opts.send  false when the message could not go out
 * @param {(entry: {name: string, text: string}) => void} opts.onUnseen  someone else's message came while the panel was closed
 */
export function createChat({ log, form, input, badge, isVisible, send, onUnseen }) {
  const chat = { unread: 0, selfId: null };

  function setUnread(count) {
    chat.unread = count;
    badge.textContent = count > 99 ? '99+' : String(count);
    show(badge, count > 0);
  }

  function entryNode({ from, name, text, ts }) {
    const mine = from === chat.selfId;
    const time = formatTime(ts);
    return el('li', { class: mine ? 'chat-entry mine' : 'chat-entry', dataset: { from: String(from ?? '') } },
      el('div', { class: 'chat-meta' },
        el('span', { class: 'chat-name', text: mine ? `${name} (you)` : String(name ?? '') }),
        time ? el('time', { class: 'chat-time', datetime: new Date(ts).toISOString(), text: time }) : null),
      el('p', { class: 'chat-text', text: String(text ?? '') }));
  }

  function append(entry) {
    const nearBottom = log.scrollHeight - log.scrollTop - log.clientHeight < 60;
    log.append(entryNode(entry));
    if (nearBottom || entry.from === chat.selfId) log.scrollTop = log.scrollHeight;
  }

  form.addEventListener('submit', (event) => {
    event.preventDefault();
    const text = input.value;
    if (!text.trim()) return;
    if (text.length > TEXT_MAX) {
      input.setCustomValidity(`At most ${TEXT_MAX} characters.`);
      input.reportValidity();
      return;
    }
    if (send(text)) input.value = '';
  });
  input.addEventListener('input', () => input.setCustomValidity(''));

  return {
    /** Replaces the log with `history` (a fresh `welcome`, after a reconnect too). */
    setHistory(history, selfId) {
      chat.selfId = selfId;
      log.replaceChildren();
      for (const entry of Array.isArray(history) ? history : []) append(entry);
      log.scrollTop = log.scrollHeight;
    },
    /** Adds one incoming `chat` frame. */
    add(entry) {
      append(entry);
      if (!isVisible() && entry.from !== chat.selfId) {
        setUnread(chat.unread + 1);
        onUnseen({ name: String(entry.name ?? ''), text: String(entry.text ?? '') });
      }
    },
    /** The panel was opened. */
    markRead() { setUnread(0); },
  };
}
