// Passing a meeting's link on: the share sheet on a phone, the clipboard
// elsewhere, and a notice to copy from when neither works.

import { roomPath } from './names.js';

/** A touch screen whose browser has a share sheet (phones, tablets). */
export function canShareSheet() {
  return typeof navigator.share === 'function' && window.matchMedia('(hover: none)').matches;
}

/** The address that brings someone to `room`'s pre-join screen. */
export function inviteLink(room, origin = window.location.origin) {
  return `${origin}${roomPath(room)}`;
}

/**
 * Passes the room's link on: to the share sheet on a touch screen (a phone
 * has one, and "copied" helps little there), else to the clipboard, else
 * shown in a notice to copy by hand.
 * @param {string} room
 * @param {(message: string, ms?: number) => void} notify
 */
export async function shareInvite(room, notify) {
  const link = inviteLink(room);
  if (canShareSheet()) {
    try {
      await navigator.share({ title: `Join ${room} on Noom`, url: link });
      return;
    } catch (err) {
      if (err?.name === 'AbortError') return; // the person closed the sheet
    }
  }
  try {
    await navigator.clipboard.writeText(link);
    notify('Invite link copied');
  } catch {
    notify(`Invite link: ${link}`, 10000);
  }
}
