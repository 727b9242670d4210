// Who is shown large and who is listed first: the meeting's rules for
// attention, as plain functions over its state (no page, no DOM).

/**
 * The tile that takes the stage, by key ('self' or a peer id): the one you
 * pinned; else a shared screen, since a screen in a small tile cannot be
 * read (the latest presenter's while they share, else the last-listed peer
 * sharing); else null, and everyone gets an equal tile. Your own screen
 * never takes the stage unpinned: you already see your screen.
 * @param {{pinned: string|null, presenter: string|null, peers: Map<string, {screen: boolean}>}} state
 * @returns {string|null}
 */
export function featuredKey({ pinned, presenter, peers }) {
  if (pinned === 'self' || peers.has(pinned)) return pinned;
  if (peers.get(presenter)?.screen) return presenter;
  const sharing = [...peers].filter(([, peer]) => peer.screen).map(([id]) => id);
  return sharing.at(-1) ?? null;
}

/**
 * The raised hands in the order they went up, after `key`'s hand went up or
 * down (a new array; a hand already up keeps its place).
 * @param {string[]} queue
 */
export function withHand(queue, key, raised) {
  const rest = queue.filter((k) => k !== key);
  return raised ? (queue.includes(key) ? queue : [...rest, key]) : rest;
}

/**
 * The people list's order: raised hands first, in the order they went up
 * (who asked first); the rest as given (you, then the others as they came).
 * @template {{key: string}} T
 * @param {T[]} people
 * @param {string[]} queue  from `withHand`
 * @returns {T[]}
 */
export function handsFirst(people, queue) {
  const rank = (person) => {
    const at = queue.indexOf(person.key);
    return at < 0 ? queue.length : at;
  };
  return [...people].sort((a, b) => rank(a) - rank(b));
}

/**
 * The gallery for `count` equal tiles in a `width` × `height` box: the
 * columns that give the largest tiles, each no wider than 16:9 and no
 * narrower than 4:3 (3:4 in a tall box), so a video is cropped little.
 */
export function galleryFit(count, width, height, gap) {
  const narrowest = width < height ? 3 / 4 : 4 / 3;
  let best = { columns: 1, width: 0, height: 0 };
  for (let columns = 1; columns <= count; columns += 1) {
    const rows = Math.ceil(count / columns);
    let w = (width - gap * (columns - 1)) / columns;
    let h = (height - gap * (rows - 1)) / rows;
    w = Math.min(w, h * 16 / 9);
    h = Math.min(h, w / narrowest);
    if (w > 0 && h > 0 && w * h > best.width * best.height) best = { columns, width: Math.floor(w), height: Math.floor(h) };
  }
  return best;
}
