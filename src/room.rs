//! The Room Durable Object: one per meeting, holding its sockets.
//!
//! Why a Durable Object: every socket of a room must reach the same single
//! piece of code, so chat has one order and signaling one switchboard. Why the
//! hibernation API: a meeting is mostly quiet on the server (media flows peer to
//! peer), so between messages the object may be evicted from memory while the
//! runtime keeps the sockets open, and nothing is billed for the idle time.
//!
//! What survives that: each socket carries a tag (its peer id, fixed at accept)
//! and an attachment ([`Attachment`]: room name, peer, public flag) rewritten
//! whenever the peer changes; chat history lives in SQLite. On the first event
//! after a wake-up, `RoomInner::live` rebuilds the pure [`Room`] from those.
//! All rules live in [`crate::core`]; this file only moves bytes and storage.

use crate::api::{random_bytes, var};
use crate::codes::{self, PEER_ID_LEN};
use crate::config::RoomSettings;
use crate::core::{Attachment, ConnId, Effect, Incoming, Room};
use crate::listing::{RoomReport, HEARTBEAT_MS};
use crate::protocol::{self, ChatEntry};
use std::cell::{Cell, RefCell, RefMut};
use std::collections::{HashMap, HashSet};
use std::rc::{Rc, Weak};
use worker::wasm_bindgen::{closure::Closure, prelude::wasm_bindgen, JsCast, JsValue};
use worker::wasm_bindgen_futures::future_to_promise;
use worker::worker_sys::{web_sys, DurableObjectState, WebSocketRequestResponsePair};
use worker::{
    js_sys, Env, Error, Request, Response, Result, ScheduledTime, SqlStorage, State, WebSocket,
    WebSocketPair,
};

#[wasm_bindgen]
extern "C" {
    /// The runtime's `DurableObjectState`, for the one method the `worker`
    /// crate does not wrap yet.
    type HibernationState;
    /// When the runtime last answered this socket's `ping` on our behalf
    /// (a `Date`, or `null` if never).
    #[wasm_bindgen(method, catch, js_name = getWebSocketAutoResponseTimestamp)]
    fn auto_response_timestamp(this: &HibernationState, ws: &JsValue) -> std::result::Result<JsValue, JsValue>;

    /// A WebSocket seen only for `send`, taking a string already in JavaScript,
    /// and for its attachment (see `save_attachment`; no serde layer in between).
    type OutgoingSocket;
    #[wasm_bindgen(method, catch)]
    fn send(this: &OutgoingSocket, text: &JsValue) -> std::result::Result<(), JsValue>;
    /// `send` for a frame with one recipient: the glue decodes it into a
    /// JavaScript string and sends it in one call out of WebAssembly.
    #[wasm_bindgen(method, catch, js_name = send)]
    fn send_str(this: &OutgoingSocket, text: &str) -> std::result::Result<(), JsValue>;
    #[wasm_bindgen(method, catch, js_name = serializeAttachment)]
    fn serialize_attachment(this: &OutgoingSocket, bytes: &js_sys::Uint8Array) -> std::result::Result<(), JsValue>;
    #[wasm_bindgen(method, catch, js_name = deserializeAttachment)]
    fn deserialize_attachment(this: &OutgoingSocket) -> std::result::Result<JsValue, JsValue>;

    /// A WebSocket seen for the peer id this object wrote on it (see `peer_id`).
    type MarkedSocket;
    #[wasm_bindgen(method, getter = __noomPeer)]
    fn marked_peer(this: &MarkedSocket) -> Option<String>;
    #[wasm_bindgen(method, setter = __noomPeer)]
    fn mark_peer(this: &MarkedSocket, id: &str);
    /// The start of every `signal` frame from this socket, up to its `data`.
    #[wasm_bindgen(method, setter = __noomSignalHead)]
    fn mark_signal_head(this: &MarkedSocket, head: &str);
    /// `src/entry.js`'s marker for the number it passes for this socket (see
    /// `SocketNumbers`): it writes down this instance's id beside the number.
    #[wasm_bindgen(js_name = __noomMarkNumber)]
    fn mark_number(ws: &MarkedSocket, number: u32);

    /// `src/entry.js`'s forwarder for [`Effect::Forward`]: sends `to` the
    /// signal head written on the socket the frame came from, then UTF-16
    /// units `start..end` of the frame, then `}`, all from strings already in
    /// JavaScript. Byte offsets are UTF-16 offsets only in an ASCII frame,
    /// and a frame is ASCII exactly when its UTF-16 length equals its UTF-8
    /// length `bytes`: entry.js compares the two, so no one scans the frame.
    /// False, having sent nothing, for a frame that is not ASCII, or that
    /// entry.js is not holding with its socket (a frame that came another way).
    #[wasm_bindgen(js_name = __noomForwardSignal)]
    fn forward_signal(to: &JsValue, start: u32, end: u32, bytes: u32) -> bool;

    /// The runtime's `ctx.storage.sql`, for the one statement run per chat
    /// message: bound directly, four arguments, no array of converted values.
    type ChatTable;
    #[wasm_bindgen(method, catch, js_name = exec)]
    fn insert(this: &ChatTable, query: &JsValue, ts: f64, from: &str, name: &str, text: &str) -> std::result::Result<(), JsValue>;

    /// The runtime's timer, for writing attachments behind (see `AttachmentWriter`).
    #[wasm_bindgen(js_name = setTimeout)]
    fn set_timeout(callback: &js_sys::Function, ms: f64) -> JsValue;
}

/// The runtime's WebSocket behind the `worker` crate's wrapper, seen as one of
/// the narrow bindings above.
fn raw_socket<T: JsCast>(ws: &WebSocket) -> &T {
    let socket: &JsValue = ws.as_ref().as_ref();
    socket.unchecked_ref()
}

/// Stores a socket's attachment: its JSON as UTF-8 bytes in a `Uint8Array`.
/// One value for the runtime to keep, instead of an object built field by
/// field across the WebAssembly boundary; bytes rather than a string because
/// a string from WebAssembly goes through workerd's `TextDecoder` (about
/// 2 µs), and this runs on every state change. The array is a copy, never a
/// view: the runtime's structured clone would take the whole wasm memory.
fn save_attachment(ws: &WebSocket, json: &str) -> Result<()> {
    let bytes = js_sys::Uint8Array::from(json.as_bytes());
    Ok(raw_socket::<OutgoingSocket>(ws).serialize_attachment(&bytes)?)
}

/// Rewrites a connection's attachment from the room as it is now.
fn write_attachment(live: &mut Live, id: &str) {
    let at = live.last_seen.get(id).map_or(0, |h| h.at);
    if let (Some(ws), Some(json)) = (live.sockets.get(id), live.room.attachment_json(id, at)) {
        match save_attachment(ws, &json) {
            Ok(()) => {
                if let Some(heard) = live.last_seen.get_mut(id) {
                    heard.kept = at;
                }
            }
            Err(e) => worker::console_error!("attachment: {e}"),
        }
    }
}

/// The attachment saved by [`save_attachment`], if it is there and readable.
/// Attachments written as JSON strings (before they were bytes) still load.
fn load_attachment(ws: &WebSocket) -> Option<Attachment> {
    let stored = raw_socket::<OutgoingSocket>(ws).deserialize_attachment().ok()?;
    let text = match stored.dyn_ref::<js_sys::Uint8Array>() {
        Some(bytes) => String::from_utf8(bytes.to_vec()).ok()?,
        None => stored.as_string()?,
    };
    serde_json::from_str(&text).ok()
}

/// FNV-1a, taking eight bytes at a time, for the maps keyed by peer id. The
/// ids are random strings the room made itself, so nobody can choose keys
/// that collide, and the default SipHash showed up in profiles of the
/// per-frame path (as did byte-at-a-time FNV, once per recipient).
struct Fnv(u64);

impl Default for Fnv {
    fn default() -> Self {
        Fnv(0xcbf2_9ce4_8422_2325)
    }
}

impl std::hash::Hasher for Fnv {
    fn write(&mut self, bytes: &[u8]) {
        const PRIME: u64 = 0x0100_0000_01b3;
        let mut words = bytes.chunks_exact(8);
        for word in &mut words {
            let word = u64::from_le_bytes(word.try_into().unwrap_or_default());
            self.0 = (self.0 ^ word).wrapping_mul(PRIME);
        }
        for &byte in words.remainder() {
            self.0 = (self.0 ^ u64::from(byte)).wrapping_mul(PRIME);
        }
    }

    fn finish(&self) -> u64 {
        self.0
    }
}

/// A map from peer id to something about that connection.
type PeerMap<V> = HashMap<String, V, std::hash::BuildHasherDefault<Fnv>>;
/// A set of peer ids.
type PeerSet = HashSet<ConnId, std::hash::BuildHasherDefault<Fnv>>;

/// How long a write to a socket attachment or to the chat table may wait.
///
/// Both are written behind: each changed socket's attachment is written once
/// (however often its peer changed meanwhile) and the waiting chat lines are
/// inserted together, by the first frame handled a whole window after the last
/// write (that event is happening anyway), or else by a runtime timer: for
/// chat at the end of the window, for attachments after
/// [`ATTACHMENT_BACKSTOP_MS`].
/// - Attachments: writing one (a structured clone kept by the runtime) was
///   about a tenth of the server's work per `state` message, and it only
///   matters after hibernation. The runtime never hibernates an object with a
///   `setTimeout` pending, so every change is on record before it could be needed.
///   A change after a quiet spell is written at once, as a chat line is: at a
///   meeting's pace each change would otherwise wake a timer of its own, and
///   a timer firing costs the runtime more than the write it saves (counted
///   with `bench/count.mjs`).
/// - Chat, only while a room chats faster than one line per window: storage
///   commits once per event that wrote, and that commit was the largest part
///   of a chat message's cost. A line after a quiet spell is written at once,
///   in its own event, so the runtime's output gate holds its delivery until
///   it is stored. Lines that follow it within the window are committed
///   together by the next frame or the timer, at most one window later, and
///   are delivered without waiting for that. The price, under such a burst only: if the process dies within
///   the window, those lines were delivered but are missing from the history
///   served afterwards.
///
/// Whenever someone joins or leaves, everything waiting is written at once, in
/// that same event: a chat followed by a leave is on record before the leave
/// is told to anyone.
const WRITE_BEHIND_MS: f64 = 100.0;

/// How long a changed attachment may wait for a frame to carry its write
/// before the timer writes it. A timer firing costs the runtime several times
/// a write (counted with `bench/count.mjs`); while frames keep coming they do
/// the writes and this timer fires at most once per this long, where one for
/// every window fired ten times a second in a busy room. Safe because the
/// runtime never hibernates an object with a timer pending.
const ATTACHMENT_BACKSTOP_MS: f64 = 1000.0;

/// Whether a write last made at `written_at` is a whole [`WRITE_BEHIND_MS`] ago.
fn quiet_since(written_at: u64, now: u64) -> bool {
    now.saturating_sub(written_at) >= WRITE_BEHIND_MS as u64
}

/// Chat rows kept in storage beyond the 100 served, trimmed in batches so a
/// chat costs one INSERT most of the time.
const TRIM_EVERY: u32 = 50;

/// A changed number of joined peers, to tell the lobby about.
struct HeadCount {
    room: String,
    peers: usize,
    public: bool,
}

/// When a connection was last heard from (a frame), and the time its
/// attachment keeps (see `RoomSettings::heard_after_wake_up`).
#[derive(Debug, Clone, Copy)]
struct Heard {
    at: u64,
    kept: u64,
}

/// The room as it is in memory: the pure state machine and the sockets it talks to.
struct Live {
    room: Room,
    sockets: PeerMap<WebSocket>,
    /// When each connection last sent a frame. Its attachment keeps the time
    /// too, at most a quarter timeout behind, so silence is still counted
    /// after a wake-up (a room whose pages only ping sleeps between sweeps).
    last_seen: PeerMap<Heard>,
    /// Connections whose attachment is behind their peer (see [`WRITE_BEHIND_MS`]).
    unsaved: PeerSet,
}

impl Live {
    /// Lets go of a connection's socket and its timeout bookkeeping (the
    /// core is told separately, or has already let go itself).
    fn forget_socket(&mut self, id: &str) -> Option<WebSocket> {
        self.last_seen.remove(id);
        self.unsaved.remove(id);
        self.sockets.remove(id)
    }
}

/// The room object's state and behaviour. [`RoomObject`] (at the end of this
/// file) is the class the runtime sees; it shares this through an `Rc` so the
/// occasional async follow-up (lobby report, alarm) can outlive a sync call.
struct RoomInner {
    state: State,
    /// The same state object, typed for `getWebSocketAutoResponseTimestamp`.
    hibernation: HibernationState,
    env: Env,
    settings: RoomSettings,
    sql: SqlStorage,
    /// The INSERT for one chat message, made a JavaScript string once.
    insert_chat: JsValue,
    /// Rebuilt lazily after construction (which happens again after hibernation).
    live: RefCell<Option<Live>>,
    inserts_since_trim: Cell<u32>,
    /// The alarm this instance last set (memory only; `None` after a wake-up).
    alarm_at: Cell<Option<u64>>,
    /// When this instance last told the lobby its head count.
    reported_at: Cell<u64>,
    /// Chat lines delivered but not yet stored (see [`WRITE_BEHIND_MS`]).
    unstored_chat: RefCell<Vec<ChatEntry>>,
    /// When chat lines were last written.
    chat_stored_at: Cell<u64>,
    /// When an attachment was last written.
    attachments_saved_at: Cell<u64>,
    /// Runs [`RoomInner::write_pending`] from the runtime's timer.
    write_later: Closure<dyn FnMut()>,
    /// When the earliest `write_later` not yet fired is due, if one is set.
    write_due_at: Cell<Option<u64>>,
    /// The numbers `src/entry.js` passes instead of peer ids.
    numbers: RefCell<SocketNumbers>,
}

/// A number for each socket whose peer id is written on it (see
/// `RoomInner::peer_id`), so `src/entry.js` can name the sender of a frame
/// with a number instead of a string that would be copied into WebAssembly.
/// Memory only, like the marks on the sockets (both are gone after a wake-up),
/// and never reused within an instance: a number that has been forgotten
/// names nobody, and its frame takes the slow path with the socket itself.
/// A reset of the WebAssembly instance (after a crash) starts the numbers
/// again from 0 while the sockets keep their marks, so entry.js stamps each
/// number with the instance that gave it and ignores numbers of an old one.
/// `tests/glue/fake-build.mjs` copies these rules to test entry.js without
/// a build: a change here goes there too.
#[derive(Default)]
struct SocketNumbers {
    ids: HashMap<u32, ConnId, std::hash::BuildHasherDefault<Fnv>>,
    next: u32,
}

impl SocketNumbers {
    /// A fresh number for this peer id.
    fn number(&mut self, id: &str) -> u32 {
        let number = self.next;
        self.next = self.next.wrapping_add(1);
        self.ids.insert(number, id.into());
        number
    }

    /// The peer id behind a number (shared: taking it copies no string).
    fn id(&self, number: u32) -> Option<ConnId> {
        self.ids.get(&number).cloned()
    }

    /// The socket of this peer id is gone (a handful of entries: a scan is fine).
    fn forget(&mut self, id: &str) {
        self.ids.retain(|_, known| **known != *id);
    }
}

impl RoomInner {
    fn new(raw: DurableObjectState, env: Env, this: Weak<RoomInner>) -> Self {
        let hibernation: HibernationState = JsValue::from(raw.clone()).unchecked_into();
        let state = State::from(raw);
        let settings = RoomSettings::from_vars(
            var(&env, "MAX_PEERS").as_deref(),
            var(&env, "HISTORY_TTL_SECONDS").as_deref(),
            var(&env, "PEER_TIMEOUT_SECONDS").as_deref(),
        );
        let sql = state.storage().sql();
        for statement in [
            "CREATE TABLE IF NOT EXISTS chat (seq INTEGER PRIMARY KEY AUTOINCREMENT, ts INTEGER NOT NULL, from_id TEXT NOT NULL, name TEXT NOT NULL, text TEXT NOT NULL)",
            "CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)",
        ] {
            if let Err(e) = sql.exec(statement, None) {
                worker::console_error!("room schema: {e}");
            }
        }
        // `ping` is answered by the runtime itself: keeping a socket alive
        // never wakes the object.
        if let Ok(pair) = WebSocketRequestResponsePair::new("ping", "pong") {
            state.set_websocket_auto_response(&pair);
        }
        Self {
            state,
            hibernation,
            env,
            settings,
            sql,
            insert_chat: JsValue::from_str("INSERT INTO chat (ts, from_id, name, text) VALUES (?, ?, ?, ?)"),
            live: RefCell::new(None),
            inserts_since_trim: Cell::new(0),
            alarm_at: Cell::new(None),
            reported_at: Cell::new(0),
            unstored_chat: RefCell::new(Vec::new()),
            chat_stored_at: Cell::new(0),
            attachments_saved_at: Cell::new(0),
            write_later: Closure::new(move || {
                if let Some(inner) = this.upgrade() {
                    // Every timer writes everything waiting, so whichever
                    // fires first leaves none behind it to wait for.
                    inner.write_due_at.set(None);
                    inner.write_pending();
                }
            }),
            write_due_at: Cell::new(None),
            numbers: RefCell::new(SocketNumbers::default()),
        }
    }

    /// Only the Worker calls this, with a checked WebSocket upgrade.
    async fn fetch(&self, req: Request) -> Result<Response> {
        let path = req.path();
        let name = path.split('/').nth(3).unwrap_or_default().to_owned();
        if !protocol::is_valid_room_name(&name) {
            return crate::api::json_error(400, "bad_room");
        }
        self.remember_name(&name);
        let pair = WebSocketPair::new()?;
        let now = now();
        {
            let mut live = self.live(Some(&name));
            let id = fresh_peer_id(&live.room);
            self.state.accept_websocket_with_tags(&pair.server, &[id.as_str()]);
            live.room.connect(id.clone(), now);
            if let Some(json) = live.room.attachment_json(&id, now) {
                save_attachment(&pair.server, &json)?;
            }
            live.last_seen.insert(id.clone(), Heard { at: now, kept: now });
            live.sockets.insert(id, pair.server);
        }
        // Silent connections must be found even if this one never joins.
        let due = self.settings.next_sweep_at(now, [now]);
        self.schedule_sweep(due).await?;
        Response::from_websocket(pair.client)
    }

    /// One frame from a socket, handled synchronously: parse, apply the rules,
    /// send. Only a change of head count leaves async work, returned to the caller.
    /// `id` is the sending peer's; `ws` its socket, if the caller has it,
    /// needed only to adopt a peer the room does not know ([`NeedSocket`]
    /// otherwise, with nothing done).
    fn handle_frame(&self, ws: Option<WebSocket>, id: &str, now: u64, incoming: Incoming<'_>) -> Result<Option<HeadCount>, NeedSocket> {
        let effects = {
            let mut live = self.live(None);
            if !live.room.has_connection(id) {
                // Accepted before a restart of this object but not in its attachments: adopt it.
                let ws = ws.ok_or(NeedSocket)?;
                live.room.connect(id.to_owned(), now);
                live.sockets.insert(id.to_owned(), ws);
            }
            let keep_heard = match live.last_seen.get_mut(id) {
                Some(heard) => {
                    heard.at = now;
                    now.saturating_sub(heard.kept) >= self.settings.heard_kept_every_ms()
                }
                None => {
                    live.last_seen.insert(id.to_owned(), Heard { at: now, kept: 0 });
                    true
                }
            };
            // Already waiting to be written: that write reads the time anew.
            if keep_heard && !live.unsaved.contains(id) {
                self.save_attachment_soon(&mut live, id.into());
            }
            live.room.receive(now, id, incoming)
        };
        let frame = match incoming {
            Incoming::Text(text) => Some(text),
            _ => None,
        };
        let head_count = self.carry_out_now(effects, frame);
        // A changed head count has written everything already.
        if head_count.is_none() && self.writes_due(now) {
            self.write_pending();
        }
        Ok(head_count)
    }

    async fn websocket_close(&self, ws: WebSocket, _code: usize, _reason: String, _was_clean: bool) -> Result<()> {
        // Finish the closing handshake; the socket may already be closed.
        let _ = ws.close(Some(1000), Some("closed"));
        self.forget(&ws).await
    }

    async fn websocket_error(&self, ws: WebSocket, error: JsValue) -> Result<()> {
        worker::console_warn!("websocket error: {error:?}");
        self.forget(&ws).await
    }

    /// While anyone is connected: drop silent connections and, for a public
    /// room, refresh the lobby. Once the room is empty: delete the chat
    /// history when it has been empty for `HISTORY_TTL_SECONDS`.
    async fn alarm(&self) -> Result<Response> {
        let now = now();
        self.alarm_at.set(None);
        let (effects, next_sweep) = self.sweep(now);
        self.carry_out(effects).await?;
        let (connections, peers, public, name) = {
            let live = self.live(None);
            (live.room.connection_count(), live.room.peer_count(), live.room.is_public(), live.room.name().to_owned())
        };
        if connections > 0 {
            if public && peers > 0 && now.saturating_sub(self.reported_at.get()) >= HEARTBEAT_MS {
                self.report(RoomReport { room: name, peers, public }).await;
            }
            self.schedule_sweep(next_sweep).await?;
            return Response::ok("occupied");
        }
        let Some(last_left) = self.meta("last_left").and_then(|v| v.parse::<u64>().ok()) else {
            return Response::ok("never used");
        };
        let expires = last_left.saturating_add(self.settings.history_ttl_ms);
        if now + 1000 >= expires {
            // Lines still waiting to be written belong to the history being deleted.
            self.unstored_chat.borrow_mut().clear();
            self.sql.exec("DELETE FROM chat", None)?;
            self.sql.exec("DELETE FROM meta WHERE key = 'last_left'", None)?;
            *self.live.borrow_mut() = None;
            if !name.is_empty() {
                self.report(RoomReport { room: name, peers: 0, public: true }).await;
            }
            Response::ok("history deleted")
        } else {
            self.set_alarm(expires).await?;
            Response::ok("waiting")
        }
    }

    /// The in-memory room, rebuilt from storage and socket attachments if this
    /// object has just been constructed (first use, or after hibernation).
    fn live(&self, name_hint: Option<&str>) -> RefMut<'_, Live> {
        RefMut::map(self.live.borrow_mut(), |slot| slot.get_or_insert_with(|| self.rebuild(name_hint)))
    }

    fn rebuild(&self, name_hint: Option<&str>) -> Live {
        let mut sockets = PeerMap::default();
        let mut attachments = Vec::new();
        for ws in self.state.get_websockets() {
            let Some(id) = self.peer_id(&ws) else { continue };
            match load_attachment(&ws) {
                Some(a) => attachments.push(a),
                None => attachments.push(Attachment { id: id.clone(), room: String::new(), peer: None, public: false, heard: 0 }),
            }
            sockets.insert(id, ws);
        }
        let name = name_hint
            .map(str::to_owned)
            .or_else(|| attachments.iter().map(|a| a.room.clone()).find(|r| !r.is_empty()))
            .or_else(|| self.meta("room"))
            .unwrap_or_default();
        let now = now();
        let last_seen = attachments
            .iter()
            .map(|a| (a.id.clone(), Heard { at: self.settings.heard_after_wake_up(a.heard, now), kept: a.heard }))
            .collect();
        let room = Room::restore(&name, self.settings.max_peers, self.load_history(), attachments, now);
        Live { room, sockets, last_seen, unsaved: PeerSet::default() }
    }

    /// Carries out what the core decided, then publishes a changed head count.
    async fn carry_out(&self, effects: Vec<Effect>) -> Result<()> {
        match self.carry_out_now(effects, None) {
            Some(head_count) => self.on_head_count(head_count).await,
            None => Ok(()),
        }
    }

    /// Carries out the effects that need no waiting, in order: frames, closes,
    /// storage writes (SQLite calls are synchronous). Returns the head count
    /// to publish, if it changed.
    /// `frame` is the text frame being handled, if any (for [`Effect::Forward`]).
    fn carry_out_now(&self, effects: Vec<Effect>, frame: Option<&str>) -> Option<HeadCount> {
        let mut head_count = None;
        // A broadcast is one `Rc<str>` sent to several peers: turn it into a
        // JavaScript string once, not once per recipient.
        let mut outgoing: Option<(Rc<str>, JsValue)> = None;
        {
            let mut live = self.live(None);
            let live = &mut *live;
            for effect in effects {
                match effect {
                    Effect::Send { to, frame } => {
                        let Some(ws) = live.sockets.get(&*to) else { continue };
                        let socket = raw_socket::<OutgoingSocket>(ws);
                        // No other effect holds this frame: it has one recipient
                        // (a signal, a reply), so it crosses in the send itself.
                        if Rc::strong_count(&frame) == 1 {
                            let _ = socket.send_str(&frame);
                            continue;
                        }
                        if !matches!(&outgoing, Some((last, _)) if Rc::ptr_eq(last, &frame)) {
                            let text = JsValue::from_str(&frame);
                            outgoing = Some((frame, text));
                        }
                        if let Some((_, text)) = &outgoing {
                            let _ = socket.send(text);
                        }
                    }
                    Effect::Forward { to, from, data } => {
                        let Some(ws) = live.sockets.get(&*to) else { continue };
                        let Some(frame) = frame else { continue };
                        // In an ASCII frame, byte offsets are also UTF-16 offsets
                        // into the runtime's own copy of it: slice that, and no
                        // frame is built here or decoded out of WebAssembly.
                        if forward_signal(ws.as_ref(), data.start as u32, data.end as u32, frame.len() as u32) {
                            continue;
                        }
                        let Some(data) = frame.get(data) else { continue };
                        let _ = raw_socket::<OutgoingSocket>(ws).send_str(&protocol::signal_frame(&from, data));
                    }
                    Effect::Close { id, code, reason } => {
                        if let Some(ws) = self.let_go(live, &id) {
                            let _ = ws.close(Some(code), Some(reason));
                        }
                    }
                    Effect::StoreChat(entry) => self.store_chat_soon(entry),
                    Effect::SaveAttachment(id) => self.save_attachment_soon(live, id),
                    Effect::HeadCount { peers, public } => {
                        head_count = Some(HeadCount { room: live.room.name().to_owned(), peers, public })
                    }
                }
            }
        }
        // Someone joined or left: write what is waiting (see `WRITE_BEHIND_MS`).
        if head_count.is_some() {
            self.write_pending();
        }
        head_count
    }

    /// Makes sure `write_later` runs within `delay` ms of `now`.
    fn schedule_write_behind(&self, now: u64, delay: f64) {
        let due = now.saturating_add(delay as u64);
        if self.write_due_at.get().is_some_and(|at| at <= due) {
            return;
        }
        self.write_due_at.set(Some(due));
        set_timeout(self.write_later.as_ref().unchecked_ref(), delay);
    }

    /// Whether a write left for later may be done now, in this event: a whole
    /// [`WRITE_BEHIND_MS`] after the last write of its kind.
    fn writes_due(&self, now: u64) -> bool {
        let chat = !self.unstored_chat.borrow().is_empty() && quiet_since(self.chat_stored_at.get(), now);
        chat || (quiet_since(self.attachments_saved_at.get(), now)
            && self.live.borrow().as_ref().is_some_and(|live| !live.unsaved.is_empty()))
    }

    /// Writes a connection's attachment now, or with the others that change
    /// around it if the room is changing faster than one write per
    /// [`WRITE_BEHIND_MS`].
    fn save_attachment_soon(&self, live: &mut Live, id: ConnId) {
        let now = now();
        if !quiet_since(self.attachments_saved_at.get(), now) || !live.unsaved.is_empty() {
            live.unsaved.insert(id);
            self.schedule_write_behind(now, ATTACHMENT_BACKSTOP_MS);
            return;
        }
        self.attachments_saved_at.set(now);
        write_attachment(live, &id);
    }

    /// Lets go of a connection's socket: its number and its bookkeeping.
    fn let_go(&self, live: &mut Live, id: &str) -> Option<WebSocket> {
        self.numbers.borrow_mut().forget(id);
        live.forget_socket(id)
    }

    /// Stores a chat line now, or with the lines around it if the room is
    /// chatting faster than one line per [`WRITE_BEHIND_MS`].
    fn store_chat_soon(&self, entry: ChatEntry) {
        let now = now();
        let mut unstored = self.unstored_chat.borrow_mut();
        if unstored.is_empty() && quiet_since(self.chat_stored_at.get(), now) {
            self.chat_stored_at.set(now);
            self.store_chat(&entry);
        } else {
            unstored.push(entry);
            self.schedule_write_behind(now, WRITE_BEHIND_MS);
        }
    }

    /// Does the writes that were left for later (see [`WRITE_BEHIND_MS`]): the
    /// attachment of every connection whose peer changed, and the chat lines.
    fn write_pending(&self) {
        let unstored = self.unstored_chat.take();
        if !unstored.is_empty() {
            self.chat_stored_at.set(now());
        }
        for entry in unstored {
            self.store_chat(&entry);
        }
        // Called outside `carry_out_now`'s borrow, and timers run between events.
        let mut live = self.live.borrow_mut();
        let Some(live) = live.as_mut() else { return };
        if !live.unsaved.is_empty() {
            self.attachments_saved_at.set(now());
        }
        for id in std::mem::take(&mut live.unsaved) {
            write_attachment(live, &id);
        }
    }

    /// Tells the lobby (public rooms only); when the room empties, starts the
    /// history's countdown.
    async fn on_head_count(&self, HeadCount { room, peers, public }: HeadCount) -> Result<()> {
        let now = now();
        if public {
            self.report(RoomReport { room, peers, public }).await;
        }
        if peers == 0 {
            self.set_meta("last_left", &now.to_string());
            let connections = self.live(None).room.connection_count();
            if connections == 0 {
                self.set_alarm(now.saturating_add(self.settings.history_ttl_ms)).await?;
            }
        }
        Ok(())
    }

    /// Makes sure an alarm comes by `due` (an earlier one is kept).
    async fn schedule_sweep(&self, due: Option<u64>) -> Result<()> {
        let Some(due) = due else { return Ok(()) };
        match self.alarm_at.get() {
            Some(at) if at <= due => Ok(()),
            _ => self.set_alarm(due).await,
        }
    }

    /// Sets the alarm for an absolute time (ms since the epoch). The `worker`
    /// crate reads a bare integer as an offset from now, so pass a `Date`.
    async fn set_alarm(&self, at: u64) -> Result<()> {
        self.alarm_at.set(Some(at));
        let when = js_sys::Date::new(&JsValue::from_f64(at as f64));
        self.state.storage().set_alarm(ScheduledTime::new(when)).await
    }

    /// Times out every connection that has been silent (no frame, no `ping`)
    /// for longer than `PEER_TIMEOUT_SECONDS`, and says when to look again
    /// (`None`: no one is left).
    fn sweep(&self, now: u64) -> (Vec<Effect>, Option<u64>) {
        let mut live = self.live(None);
        let live = &mut *live;
        let mut effects = Vec::new();
        let mut still_heard = Vec::new();
        for id in live.room.connection_ids() {
            let pinged = live.sockets.get(&id).map_or(0, |ws| self.last_ping(ws));
            let seen = live.last_seen.get(&id).map_or(now, |h| h.at).max(pinged);
            if now.saturating_sub(seen) > self.settings.peer_timeout_ms {
                effects.extend(live.room.time_out(&id));
            } else {
                still_heard.push(seen);
            }
        }
        (effects, self.settings.next_sweep_at(now, still_heard))
    }

    /// When the runtime last answered this socket's `ping` (0 if never).
    fn last_ping(&self, ws: &WebSocket) -> u64 {
        match self.hibernation.auto_response_timestamp(raw_socket(ws)) {
            Ok(value) => value.dyn_into::<js_sys::Date>().map_or(0, |d| d.get_time() as u64),
            Err(_) => 0,
        }
    }

    /// A socket closed or failed: the core tells the others.
    async fn forget(&self, ws: &WebSocket) -> Result<()> {
        let Some(id) = self.peer_id(ws) else { return Ok(()) };
        let effects = {
            let mut live = self.live(None);
            self.let_go(&mut live, &id);
            live.room.disconnect(&id)
        };
        self.carry_out(effects).await
    }

    /// The socket's peer id: its hibernation tag, fixed at accept. Asking the
    /// runtime for the tags costs an array and a string per frame, so the id is
    /// also written on the socket object itself the first time it is read. That
    /// copy can never be wrong (a socket's tag never changes) and is simply gone
    /// when the runtime hands over fresh socket objects after hibernation.
    fn peer_id(&self, ws: &WebSocket) -> Option<String> {
        let marked: &MarkedSocket = raw_socket(ws);
        if let Some(id) = marked.marked_peer() {
            return Some(id);
        }
        let id = self.state.get_tags(ws).into_iter().next()?;
        marked.mark_peer(&id);
        marked.mark_signal_head(&protocol::signal_head(&id));
        mark_number(marked, self.numbers.borrow_mut().number(&id));
        Some(id)
    }

    /// Best effort: the list is a convenience, a meeting never fails because of it.
    async fn report(&self, report: RoomReport) {
        self.reported_at.set(now());
        let result = async {
            let lobby = self.env.durable_object("LOBBY")?.get_by_name(crate::lobby::LOBBY_NAME)?;
            let body = serde_json::to_string(&report).map_err(|e| Error::RustError(e.to_string()))?;
            lobby.fetch_with_request(crate::api::post_request("https://lobby/report", &body, &[])?).await
        }
        .await;
        if let Err(e) = result {
            worker::console_warn!("lobby report failed: {e}");
        }
    }

    // ---- storage -------------------------------------------------------------

    fn load_history(&self) -> Vec<ChatEntry> {
        let rows = self.sql.exec(
            "SELECT ts, from_id AS \"from\", name, text FROM (SELECT * FROM chat ORDER BY seq DESC LIMIT 100) ORDER BY seq",
            None,
        );
        match rows.and_then(|cursor| cursor.to_array::<ChatEntry>()) {
            Ok(entries) => entries,
            Err(e) => {
                worker::console_error!("loading history: {e}");
                Vec::new()
            }
        }
    }

    /// One INSERT per message (the hot storage path); old rows are trimmed in batches.
    fn store_chat(&self, entry: &ChatEntry) {
        let table: &ChatTable = self.sql.as_ref().unchecked_ref();
        // Milliseconds since the epoch: exact in an f64 for the next 285,000 years.
        if let Err(e) = table.insert(&self.insert_chat, entry.ts as f64, &entry.from, &entry.name, &entry.text) {
            worker::console_error!("storing chat: {:?}", e);
        }
        let count = self.inserts_since_trim.get() + 1;
        self.inserts_since_trim.set(count);
        if count >= TRIM_EVERY {
            self.inserts_since_trim.set(0);
            let _ = self.sql.exec("DELETE FROM chat WHERE seq <= (SELECT MAX(seq) FROM chat) - 100", None);
        }
    }

    fn meta(&self, key: &str) -> Option<String> {
        #[derive(serde::Deserialize)]
        struct Row {
            value: String,
        }
        let cursor = self.sql.exec("SELECT value FROM meta WHERE key = ?", vec![key.into()]).ok()?;
        cursor.to_array::<Row>().ok()?.into_iter().next().map(|r| r.value)
    }

    fn set_meta(&self, key: &str, value: &str) {
        if let Err(e) = self.sql.exec("INSERT OR REPLACE INTO meta (key, value) VALUES (?, ?)", vec![key.into(), value.into()]) {
            worker::console_error!("meta: {e}");
        }
    }

    /// Stores the room's name once per object lifetime, for the alarm that
    /// may run when no socket is left to tell it.
    fn remember_name(&self, name: &str) {
        if self.live.borrow().is_none() && self.meta("room").as_deref() != Some(name) {
            self.set_meta("room", name);
        }
    }
}

/// Milliseconds since the epoch (`Date.now()`, without building a `Date`).
fn now() -> u64 {
    js_sys::Date::now() as u64
}

/// A random peer id not already used in this room.
fn fresh_peer_id(room: &Room) -> String {
    loop {
        let mut random = [0u8; PEER_ID_LEN];
        random_bytes(&mut random);
        let id = codes::peer_id(&random);
        if !room.has_connection(&id) {
            return id;
        }
    }
}

// ---- The class the runtime calls ---------------------------------------------
//
// Written by hand instead of with `#[durable_object]` for one reason: speed on
// the hot path. The macro makes every handler `async`, so each incoming frame
// costs a Promise, a microtask and an async proxy call before any Rust runs,
// and copies the frame into WebAssembly with a JavaScript loop over every
// character. Here `webSocketMessage` is a plain synchronous method (it returns
// a Promise only in the rare case that a join or leave left async work), and
// frames are copied with the runtime's native `TextEncoder.encodeInto`.
//
// The runtime reaches this class through `src/entry.js` (its comments are
// kept short because they ship in the bundle; the reasons are here):
// - worker-build wraps each Rust class in a Proxy that can reset the
//   WebAssembly instance after a crash. Every method looked up on it builds a
//   new Proxy, and every field the glue reads on it goes through a trap: on
//   every frame. So entry.js calls the Rust methods on a plain handle holding
//   the two fields the glue reads (`__wbg_ptr`, `__wbg_inst`), read through
//   the wrapper again whenever the instance changed. Crash recovery stays: the
//   room is built through the wrapper (rebuilt on a fresh instance after a
//   reset), a frame that meets a crashed instance goes through the wrapper
//   (which resets it first), a frame that crashes it marks it so.
// - Short text frames from a socket with a number written on it
//   (`SocketNumbers`) are encoded by entry.js into Rust's frame buffer and go
//   to `webSocketText` as three numbers: length, socket number, time.
// - While Rust handles a text frame, entry.js holds the frame and its socket,
//   so `__noomForwardSignal` can relay a signal by slicing the runtime's own
//   string: nothing is built in Rust or decoded out of WebAssembly (about 2%
//   of an idle signal's CPU went to that decoding, see BENCHMARKS.md).

#[wasm_bindgen]
extern "C" {
    type TextEncoder;
    #[wasm_bindgen(constructor)]
    fn new() -> TextEncoder;
    #[wasm_bindgen(method, js_name = encodeInto)]
    fn encode_into(this: &TextEncoder, text: &js_sys::JsString, into: &js_sys::Uint8Array) -> EncodeIntoResult;
    type EncodeIntoResult;
    #[wasm_bindgen(method, getter)]
    fn written(this: &EncodeIntoResult) -> u32;
}

thread_local! {
    static ENCODER: TextEncoder = TextEncoder::new();
    /// Where `src/entry.js` writes a short frame for `webSocketText`: room for
    /// [`SHORT_FRAME_UNITS`] UTF-16 units as UTF-8. Allocated once, so its
    /// address never changes (growing the memory moves no allocation).
    static FRAME_BUFFER: RefCell<Vec<u8>> = RefCell::new(vec![0; SHORT_FRAME_UNITS * 3]);
}

/// A frame from a peer the room does not know, handed over without its
/// socket, which the room needs to adopt it (see `webSocketText`).
struct NeedSocket;

/// What a socket delivered, as far as the room cares.
enum Frame {
    Text(String),
    /// Over the cap (for text: longer than the cap in UTF-16 units, so longer
    /// in UTF-8 bytes too): not copied.
    Oversized,
    Binary,
}

/// Up to this many UTF-16 units a text frame is copied by wasm-bindgen's own
/// JavaScript loop: as the argument of `webSocketText`, or with `as_string`
/// in `read_frame`. Longer ones go through the native encoder.
const SHORT_FRAME_UNITS: usize = 256;

/// Copies a text frame into WebAssembly memory with the runtime's native
/// UTF-8 encoder (a frame is at most 3 bytes per UTF-16 unit).
fn read_frame(message: &JsValue) -> Frame {
    let Some(text) = message.dyn_ref::<js_sys::JsString>() else {
        let bytes = message.dyn_ref::<js_sys::ArrayBuffer>().map_or(0, |b| b.byte_length() as usize);
        return if bytes > protocol::MAX_FRAME_BYTES { Frame::Oversized } else { Frame::Binary };
    };
    let units = text.length() as usize;
    if units > protocol::MAX_FRAME_BYTES {
        return Frame::Oversized;
    }
    // Short frames (state, chat, most signals) cross faster through
    // wasm-bindgen's own copy, a JavaScript loop that is cheap for a few dozen
    // characters; long ones (SDP) through the native encoder below.
    if units <= SHORT_FRAME_UNITS {
        return Frame::Text(text.as_string().unwrap_or_default());
    }
    let capacity = units * 3;
    let mut bytes: Vec<u8> = Vec::with_capacity(capacity);
    // SAFETY: the view covers only the vector's own allocation, and nothing
    // allocates in WebAssembly memory (which could move it) while
    // `encodeInto` writes; `written` bytes are then initialized.
    let written = ENCODER.with(|encoder| {
        let view = unsafe { js_sys::Uint8Array::view_mut_raw(bytes.as_mut_ptr(), capacity) };
        encoder.encode_into(text, &view).written() as usize
    });
    unsafe { bytes.set_len(written.min(capacity)) };
    // SAFETY: `encodeInto` writes whole characters of valid UTF-8 only (lone
    // surrogates become U+FFFD; a character that does not fit is not
    // written), so checking it again would only cost a pass over the frame
    // (about 7k instructions for a 4 KB offer).
    Frame::Text(unsafe { String::from_utf8_unchecked(bytes) })
}

/// The Room Durable Object class, as the runtime sees it.
#[wasm_bindgen]
pub struct RoomObject {
    inner: Rc<RoomInner>,
}

#[wasm_bindgen]
impl RoomObject {
    #[wasm_bindgen(constructor)]
    pub fn new(state: DurableObjectState, env: Env) -> RoomObject {
        RoomObject { inner: Rc::new_cyclic(|this| RoomInner::new(state, env, this.clone())) }
    }

    /// The WebSocket upgrade, from the Worker.
    pub async fn fetch(&self, req: web_sys::Request) -> std::result::Result<JsValue, JsValue> {
        let inner = self.inner.clone();
        let response = inner.fetch(Request::from(req)).await.map_err(JsValue::from)?;
        Ok(web_sys::Response::from(response).into())
    }

    /// Synchronous on purpose (see above).
    #[wasm_bindgen(js_name = webSocketMessage)]
    pub fn web_socket_message(&self, ws: web_sys::WebSocket, message: JsValue) -> JsValue {
        let ws = WebSocket::from(ws);
        let Some(id) = self.inner.peer_id(&ws) else { return JsValue::UNDEFINED };
        let frame = read_frame(&message);
        let incoming = match &frame {
            Frame::Text(text) => Incoming::Text(text),
            Frame::Oversized => Incoming::Oversized,
            Frame::Binary => Incoming::Binary,
        };
        // With the socket at hand, an unknown peer is adopted: never NeedSocket.
        self.settle(self.inner.handle_frame(Some(ws), &id, now(), incoming).unwrap_or(None))
    }

    /// `webSocketMessage` for a short text frame (at most
    /// [`RoomObject::short_frame_units`] UTF-16 units) from a socket that
    /// carries a number (see `SocketNumbers`): most frames. entry.js has
    /// written the frame into [`RoomObject::frame_buffer`] with the runtime's
    /// native encoder; this gets its length, the socket's number and the
    /// time, all plain numbers: nothing is copied by a JavaScript loop (whose
    /// cost depended on whether V8 had optimized it yet: 4% of a message
    /// between two runs of one build, see bench/notes.md), and no object
    /// takes a slot in wasm-bindgen's table. Returns `false`, having done
    /// nothing, for a number this object does not know or a peer it has not
    /// adopted (it needs the socket for that): entry.js then calls
    /// `webSocketMessage`.
    #[wasm_bindgen(js_name = webSocketText)]
    pub fn web_socket_text(&self, len: u32, number: u32, now: f64) -> JsValue {
        let Some(id) = self.inner.numbers.borrow().id(number) else { return JsValue::FALSE };
        let handled = FRAME_BUFFER.with_borrow(|buffer| {
            // The encoder writes whole characters only: valid UTF-8.
            let text = buffer.get(..len as usize).and_then(|bytes| std::str::from_utf8(bytes).ok()).unwrap_or_default();
            self.inner.handle_frame(None, &id, now as u64, Incoming::Text(text))
        });
        match handled {
            Ok(head_count) => self.settle(head_count),
            Err(NeedSocket) => JsValue::FALSE,
        }
    }

    /// A view of the buffer `webSocketText` reads, for `src/entry.js` to
    /// write frames into. It goes stale when the memory grows (its length
    /// drops to 0) or the instance is replaced; entry.js asks again then.
    #[wasm_bindgen(js_name = frameBuffer)]
    pub fn frame_buffer() -> js_sys::Uint8Array {
        FRAME_BUFFER.with_borrow_mut(|buffer| {
            // SAFETY: a view of the buffer's own allocation, which lives as
            // long as the instance; only entry.js writes through it, and only
            // while no Rust code is borrowing the buffer.
            unsafe { js_sys::Uint8Array::view_mut_raw(buffer.as_mut_ptr(), buffer.len()) }
        })
    }

    /// The longest text frame `src/entry.js` sends to `webSocketText`.
    #[wasm_bindgen(js_name = shortFrameUnits)]
    pub fn short_frame_units() -> u32 {
        SHORT_FRAME_UNITS as u32
    }

    #[wasm_bindgen(js_name = webSocketClose)]
    pub async fn web_socket_close(&self, ws: web_sys::WebSocket, code: usize, reason: String, was_clean: bool) -> std::result::Result<JsValue, JsValue> {
        let inner = self.inner.clone();
        inner.websocket_close(WebSocket::from(ws), code, reason, was_clean).await.map_err(JsValue::from)?;
        Ok(JsValue::UNDEFINED)
    }

    #[wasm_bindgen(js_name = webSocketError)]
    pub async fn web_socket_error(&self, ws: web_sys::WebSocket, error: JsValue) -> std::result::Result<JsValue, JsValue> {
        let inner = self.inner.clone();
        inner.websocket_error(WebSocket::from(ws), error).await.map_err(JsValue::from)?;
        Ok(JsValue::UNDEFINED)
    }

    pub async fn alarm(&self) -> std::result::Result<JsValue, JsValue> {
        let inner = self.inner.clone();
        let response = inner.alarm().await.map_err(JsValue::from)?;
        Ok(web_sys::Response::from(response).into())
    }
}

impl RoomObject {
    /// What the runtime gets back from a frame: nothing, or the promise of the
    /// async work a change of head count left.
    fn settle(&self, head_count: Option<HeadCount>) -> JsValue {
        match head_count {
            None => JsValue::UNDEFINED,
            Some(head_count) => {
                let inner = self.inner.clone();
                future_to_promise(async move {
                    inner.on_head_count(head_count).await.map(|()| JsValue::UNDEFINED).map_err(JsValue::from)
                })
                .into()
            }
        }
    }
}
