// The meeting's look: tiles in a grid, the people list, toasts, the status pill.
//
// A tile's state lives in its data attributes (data-audio, data-video, ...);
// the CSS draws the muted mark, camera-off avatar and raised hand from them, so
// the code only ever sets the facts.

import { el, icon, setIcon } from './dom.js';
import { galleryFit } from './spotlight.js';

const SPEAKING_LEVEL = 0.08;

/** A name as shown: cut short with "…" when long, but never its "(you)". */
const nameParts = (name, self) => [el('span', { text: name }), self ? ' (you)' : ''];

function initials(name) {
  const words = String(name).trim().split(/\s+/).filter(Boolean);
  const letters = words.slice(0, 2).map((w) => [...w][0]).join('');
  return (letters || '?').toUpperCase();
}

/**
 * One participant's tile.
 * @param {{id: string, name: string, self?: boolean, onPin?: () => void}} opts
 *   `onPin`: the tile's pin button was pressed (pin it, or unpin it)
 */
export function createTile({ id, name, self = false, onPin = () => {} }) {
  const video = el('video', { autoplay: true, playsinline: true, class: 'tile-video' });
  video.muted = true; // sound plays through `audio` (remote) or not at all (self)
  const audio = self ? null : el('audio', { autoplay: true, class: 'tile-audio' });
  const avatar = el('div', { class: 'tile-avatar', 'aria-hidden': 'true' }, el('span', { text: initials(name) }));
  const nameLabel = el('span', { class: 'tile-name' });
  const status = el('div', { class: 'tile-status', text: self ? '' : 'Connecting…' });
  const pin = el('button', { class: 'tile-pin', type: 'button', 'data-testid': 'pin', 'aria-pressed': 'false', on: { click: onPin } }, icon('pin'));
  let label = '';
  const root = el('div', {
    class: 'tile',
    role: 'group',
    'data-testid': 'tile',
    'data-peer-id': id,
    'data-self': self,
    dataset: { audio: 'false', video: 'false', screen: 'false', hand: 'false', connection: self ? 'connected' : 'new', pinned: 'false', featured: 'false' },
    // A double click fills the screen with this video (a shared screen, mostly); another, or Esc, ends it.
    on: { dblclick: () => toggleFullscreen(root) },
  },
  video,
  audio,
  avatar,
  status,
  el('div', { class: 'tile-hand', title: 'Hand raised' }, icon('hand')),
  pin,
  el('div', { class: 'tile-label' },
    el('span', { class: 'tile-muted', title: 'Microphone off' }, icon('micOff')),
    el('span', { class: 'tile-camoff', title: 'Camera off' }, icon('camOff')),
    nameLabel));

  const tile = {
    root,
    video,
    audio,
    setId(peerId) { root.dataset.peerId = peerId; },
    setName(value) {
      label = self ? `${value} (you)` : value;
      nameLabel.replaceChildren(...nameParts(value, self));
      root.setAttribute('aria-label', label);
      avatar.firstChild.textContent = initials(value);
      tile.setPinned(root.dataset.pinned === 'true');
    },
    setPinned(pinned) {
      root.dataset.pinned = String(pinned);
      pin.setAttribute('aria-pressed', String(pinned));
      pin.setAttribute('aria-label', `${pinned ? 'Unpin' : 'Pin'} ${label}`);
      pin.title = pinned ? 'Unpin' : 'Pin to the main view';
    },
    /** Applies a peer's state: any of audio, video, screen, hand. */
    setState(peerState) {
      for (const key of ['audio', 'video', 'screen', 'hand']) {
        if (typeof peerState[key] === 'boolean') root.dataset[key] = String(peerState[key]);
      }
      // Muted: the ring goes out now, not at the meter's next reading.
      if (peerState.audio === false) tile.setLevel(0);
    },
    setVideoStream(stream) {
      if (video.srcObject !== stream) video.srcObject = stream;
      video.play().catch(() => {});
    },
    /** Plays this tile's sound on that output device (see `canChooseSpeaker`). */
    setSpeaker(deviceId) {
      audio?.setSinkId?.(deviceId).catch((err) => console.warn('noom: speaker', err));
    },
    /** Plays remote sound; resolves false when the browser wants a click first. */
    setAudioStream(stream) {
      if (!audio) return Promise.resolve(true);
      if (audio.srcObject !== stream) audio.srcObject = stream;
      return audio.play().then(() => true, (err) => err?.name !== 'NotAllowedError');
    },
    setLevel(level) { root.classList.toggle('speaking', level > SPEAKING_LEVEL); },
    setConnection(state) {
      root.dataset.connection = state;
      status.textContent = state === 'connected' ? ''
        : state === 'failed' ? 'Connection failed, retrying…'
          : state === 'disconnected' ? 'Reconnecting…' : 'Connecting…';
    },
    remove() {
      video.srcObject = null;
      if (audio) audio.srcObject = null;
      root.remove();
    },
  };
  tile.setName(name);
  return tile;
}

/** Shows `element` full screen, or leaves full screen if it already is. */
function toggleFullscreen(element) {
  if (document.fullscreenElement === element) document.exitFullscreen?.().catch(() => {});
  else element.requestFullscreen?.().catch(() => {});
}

/**
 * Lays out the grid: every tile the same size, or `featured` (a tile's root)
 * large on the stage with the others in a strip beside it or below. The CSS
 * reads `data-layout`, `data-strip`, `--strip` and each tile's `data-featured`.
 * @param {HTMLElement} grid
 * @param {HTMLElement|null} featured
 */
export function layoutGrid(grid, featured = null) {
  const tiles = [...grid.querySelectorAll('[data-testid="tile"]')];
  // A stage needs someone beside it: alone, the one tile is the whole gallery.
  const stage = tiles.length > 1 && tiles.includes(featured);
  // Two people: the other one fills the view, you are a small picture in its corner.
  const duo = !stage && tiles.length === 2 && tiles.some((tile) => tile.hasAttribute('data-self'));
  grid.style.setProperty('--strip', Math.max(3, tiles.length - 1));
  grid.dataset.layout = stage ? 'stage' : duo ? 'duo' : 'grid';
  for (const tile of tiles) tile.dataset.featured = String(stage && tile === featured);
  fitGallery(grid);
  if (!fitted.has(grid)) {
    fitted.add(grid);
    new ResizeObserver(() => fitGallery(grid)).observe(grid, { box: 'border-box' });
  }
}

const fitted = new WeakSet();

/** Sizes the gallery's tiles (`galleryFit`); the padding keeps each row to that many. */
function fitGallery(grid) {
  const { layout } = grid.dataset;
  const { clientWidth: w, clientHeight: h } = grid;
  if (layout === 'stage') {
    // The stage's strip beside (15rem, a gap) or below (22%): whichever leaves it wider.
    grid.dataset.strip = Math.min(w - 248, h * 1.78) > Math.min(w, h * 1.39) ? '' : 'below';
    return;
  }
  const gap = parseFloat(getComputedStyle(grid).columnGap) || 0;
  const count = layout === 'duo' ? 1 : grid.querySelectorAll('[data-testid="tile"]').length;
  const { columns, width, height } = galleryFit(count, w, h, gap);
  const row = columns * width + (columns - 1) * gap;
  grid.style.setProperty('--tile-w', `${width}px`);
  grid.style.setProperty('--tile-h', `${height}px`);
  grid.style.setProperty('--gallery-pad', `${Math.max(0, Math.floor((w - row) / 2))}px`);
}

/** The people panel: one row per participant with their state. */
export function renderPeople(list, people) {
  list.replaceChildren(...people.map((p) => el('li', { class: 'person', dataset: {
    audio: String(p.audio), video: String(p.video), hand: String(p.hand), screen: String(p.screen),
  } },
  el('span', { class: 'person-avatar', 'aria-hidden': 'true', text: initials(p.name) }),
  el('span', { class: 'person-name' }, nameParts(p.name, p.self)),
  el('span', { class: 'person-icons' },
    el('span', { class: 'person-hand', title: 'Hand raised' }, icon('hand')),
    el('span', { class: 'person-screen', title: 'Sharing screen' }, icon('screen')),
    el('span', { class: 'person-mic', title: p.audio ? 'Microphone on' : 'Microphone off' }, icon(p.audio ? 'mic' : 'micOff')),
    el('span', { class: 'person-cam', title: p.video ? 'Camera on' : 'Camera off' }, icon(p.video ? 'cam' : 'camOff'))))));
}

/** Shows a notice for a few seconds; returns a function taking it back early (a hand lowered). */
export function toast(container, message, ms = 4000) {
  const node = el('div', { class: 'toast', text: message });
  container.append(node);
  while (container.children.length > 4) container.firstChild.remove();
  setTimeout(() => node.remove(), ms);
  return () => node.remove();
}

/** Fills a device picker, keeping `selectedId` selected. */
export function fillDeviceSelect(select, devices, selectedId) {
  const options = devices.map((d) => el('option', { value: d.id, text: d.label }));
  if (options.length === 0) options.push(el('option', { value: '', text: 'None found' }));
  select.replaceChildren(...options);
  select.disabled = devices.length === 0;
  if (selectedId && devices.some((d) => d.id === selectedId)) select.value = selectedId;
}

/** Sets a control's look, icon and label; `pressed` for one whose label stays (raise hand). */
export function setToggle(button, { on, iconName, label, pressed }) {
  button.dataset.on = String(on);
  if (pressed !== undefined) button.setAttribute('aria-pressed', String(pressed));
  button.setAttribute('aria-label', label);
  button.title = label;
  setIcon(button, iconName);
}
