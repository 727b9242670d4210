// Reactions: an emoji that rises over someone's video for a moment, seen by
// everyone in the call. They travel as `signal` data (`{"reaction":"👍"}`),
// one signal to each peer, so the server relays them like any other signal
// and the contract needs no new message.

import { el } from './dom.js';

/** The reactions on offer, with the names a screen reader says. */
export const REACTIONS = {
  '👍': 'Thumbs up', '❤️': 'Heart', '😂': 'Laughing', '😮': 'Surprised', '👏': 'Clapping', '🎉': 'Celebrate',
};

const SHOW_MS = 3000;
/** At most this many over one tile at once, so a burst of clicks stays readable. */
const MAX_PER_TILE = 4;

/** The reaction a signal's `data` carries, or null when it is anything else (an offer, a candidate). */
export function reactionIn(data) {
  const reaction = data?.reaction;
  return typeof reaction === 'string' && Object.hasOwn(REACTIONS, reaction) ? reaction : null;
}

/** Shows `emoji` rising over a tile for a few seconds, a little left or right of the middle. */
export function showReaction(tileRoot, emoji) {
  const shown = tileRoot.querySelectorAll('.reaction');
  if (shown.length >= MAX_PER_TILE) shown[0].remove();
  const node = el('span', { class: 'reaction', 'data-testid': 'reaction', 'aria-hidden': 'true', text: emoji });
  node.style.setProperty('--drift', `${Math.round((Math.random() - 0.5) * 80)}px`);
  tileRoot.append(node);
  setTimeout(() => node.remove(), SHOW_MS);
}

/** Fills `bar` with one button per reaction; `onPick(emoji)` when one is pressed. */
export function fillReactionBar(bar, onPick) {
  bar.replaceChildren(...Object.entries(REACTIONS).map(([emoji, label]) => el('button', {
    class: 'reaction-pick', type: 'button', 'aria-label': label, title: label, text: emoji, on: { click: () => onPick(emoji) },
  })));
}
