// The meeting's keyboard shortcuts, as a plain function of the key press so
// they can be checked without a page. The keys are Google Meet's, so hands
// that know one know the other.

/**
 * What a key press asks for in a meeting, or null for none of ours:
 * - 'close-reactions': Escape while the reaction bar is open (as any open menu);
 * - 'close-panel': Escape while a side panel is open and the bar is not (as it
 *   would close a sheet);
 * - 'hand': Ctrl+Alt+H, or ⌘+Ctrl+H on a Mac (⌘+Alt+H hides windows there).
 *   Read by key position (`code`), since Alt changes `key` on a Mac;
 * - 'mic': Ctrl+D or ⌘+D; 'camera': Ctrl+E or ⌘+E.
 * @param {{key: string, code: string, ctrlKey: boolean, metaKey: boolean, altKey: boolean, shiftKey: boolean, defaultPrevented?: boolean}} event
 * @param {{panelOpen: boolean, reactionsOpen?: boolean}} page
 * @returns {'close-reactions'|'close-panel'|'hand'|'mic'|'camera'|null}
 */
export function shortcutFor(event, { panelOpen, reactionsOpen = false }) {
  if (event.key === 'Escape') {
    if (reactionsOpen) return 'close-reactions';
    return panelOpen && !event.defaultPrevented ? 'close-panel' : null;
  }
  if (event.code === 'KeyH' && event.ctrlKey && (event.altKey || event.metaKey) && !event.shiftKey) return 'hand';
  if (!(event.ctrlKey || event.metaKey) || event.altKey || event.shiftKey) return null;
  const key = event.key.toLowerCase();
  if (key === 'd') return 'mic';
  if (key === 'e') return 'camera';
  return null;
}

/** Elements with a use of their own for Space: typing, pressing, choosing. */
const OWNS_SPACE = 'input, textarea, select, button, a[href], [contenteditable=""], [contenteditable="true"]';

/**
 * Whether a key event is push-to-talk's key: Space with no modifier, away
 * from any element that uses Space itself (so a focused button still
 * presses and the chat still types spaces).
 * @param {{code: string, ctrlKey: boolean, metaKey: boolean, altKey: boolean, shiftKey: boolean, target?: {closest?: (selector: string) => unknown}}} event
 */
export function isPushToTalk(event) {
  return event.code === 'Space' && !event.ctrlKey && !event.metaKey && !event.altKey && !event.shiftKey
    && !event.target?.closest?.(OWNS_SPACE);
}
