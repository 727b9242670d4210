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
//! after a wake-up, [`RoomObject::live`] rebuilds the pure [`Room`] from those.
//! All rules live in [`crate::core`]; this file only moves bytes and storage.

use crate::api::{random_bytes, var};
use crate::codes::{self, PEER_ID_LEN};
use crate::config;
use crate::core::{Attachment, Effect, Incoming, Room};
use crate::listing::{RoomReport, HEARTBEAT_MS};
use crate::protocol::{self, ChatEntry};
use std::cell::{RefCell, RefMut};
use std::collections::HashMap;
use worker::{
    durable_object, worker_sys::WebSocketRequestResponsePair, Date, DurableObject, Env, Error, Request, Response,
    Result, SqlStorage, SqlStorageValue, State, WebSocket, WebSocketIncomingMessage, WebSocketPair,
};

/// Chat rows kept in storage beyond the 100 served, trimmed in batches so a
/// chat costs one INSERT most of the time.
const TRIM_EVERY: u32 = 50;

/// The room as it is in memory: the pure state machine and the sockets it talks to.
struct Live {
    room: Room,
    sockets: HashMap<String, WebSocket>,
}

#[durable_object]
pub struct RoomObject {
    state: State,
    env: Env,
    sql: SqlStorage,
    /// Rebuilt lazily after construction (which happens again after hibernation).
    live: RefCell<Option<Live>>,
    inserts_since_trim: RefCell<u32>,
}

impl DurableObject for RoomObject {
    fn new(state: State, env: Env) -> Self {
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
        Self { state, env, sql, live: RefCell::new(None), inserts_since_trim: RefCell::new(0) }
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
        {
            let mut live = self.live(Some(&name));
            let id = fresh_peer_id(&live.room);
            self.state.accept_websocket_with_tags(&pair.server, &[id.as_str()]);
            live.room.connect(id.clone(), now());
            if let Some(attachment) = live.room.attachment(&id) {
                pair.server.serialize_attachment(&attachment)?;
            }
            live.sockets.insert(id, pair.server);
        }
        Response::from_websocket(pair.client)
    }

    async fn websocket_message(&self, ws: WebSocket, message: WebSocketIncomingMessage) -> Result<()> {
        let Some(id) = self.peer_id(&ws) else { return Ok(()) };
        let effects = {
            let mut live = self.live(None);
            if !live.room.has_connection(&id) {
                // Accepted before a restart of this object but not in its attachments: adopt it.
                live.room.connect(id.clone(), now());
                live.sockets.insert(id.clone(), ws);
            }
            let incoming = match &message {
                WebSocketIncomingMessage::String(text) => Incoming::Text(text),
                WebSocketIncomingMessage::Binary(_) => Incoming::Binary,
            };
            live.room.receive(now(), &id, incoming)
        };
        self.carry_out(effects).await
    }

    async fn websocket_close(&self, ws: WebSocket, _code: usize, _reason: String, _was_clean: bool) -> Result<()> {
        // Finish the closing handshake; the socket may already be closed.
        let _ = ws.close(Some(1000), Some("closed"));
        self.forget(&ws).await
    }

    async fn websocket_error(&self, ws: WebSocket, error: Error) -> Result<()> {
        worker::console_warn!("websocket error: {error}");
        self.forget(&ws).await
    }

    /// History expiry (24 hours after the room was last left) and, while a
    /// public room is occupied, a heartbeat to the lobby.
    async fn alarm(&self) -> Result<Response> {
        let now = now();
        let (peers, public, name) = {
            let live = self.live(None);
            (live.room.peer_count(), live.room.is_public(), live.room.name().to_owned())
        };
        if peers > 0 {
            if public {
                self.report(RoomReport { room: name, peers, public }).await;
                self.state.storage().set_alarm(now_plus(now, HEARTBEAT_MS)).await?;
            }
            return Response::ok("occupied");
        }
        let last_left: u64 = self.meta("last_left").and_then(|v| v.parse().ok()).unwrap_or(0);
        let expires = last_left.saturating_add(self.history_ttl_ms());
        if now + 1000 >= expires {
            self.sql.exec("DELETE FROM chat", None)?;
            *self.live.borrow_mut() = None;
            if !name.is_empty() {
                self.report(RoomReport { room: name, peers: 0, public: true }).await;
            }
            Response::ok("history deleted")
        } else {
            self.state.storage().set_alarm(now_plus(expires, 0)).await?;
            Response::ok("waiting")
        }
    }
}

impl RoomObject {
    /// The in-memory room, rebuilt from storage and socket attachments if this
    /// object has just been constructed (first use, or after hibernation).
    fn live(&self, name_hint: Option<&str>) -> RefMut<'_, Live> {
        RefMut::map(self.live.borrow_mut(), |slot| slot.get_or_insert_with(|| self.rebuild(name_hint)))
    }

    fn rebuild(&self, name_hint: Option<&str>) -> Live {
        let mut sockets = HashMap::new();
        let mut attachments = Vec::new();
        for ws in self.state.get_websockets() {
            let Some(id) = self.peer_id(&ws) else { continue };
            match ws.deserialize_attachment::<Attachment>() {
                Ok(Some(a)) => attachments.push(a),
                _ => attachments.push(Attachment { id: id.clone(), room: String::new(), peer: None, public: false }),
            }
            sockets.insert(id, ws);
        }
        let name = name_hint
            .map(str::to_owned)
            .or_else(|| attachments.iter().map(|a| a.room.clone()).find(|r| !r.is_empty()))
            .or_else(|| self.meta("room"))
            .unwrap_or_default();
        let max_peers = config::max_peers(var(&self.env, "MAX_PEERS").as_deref());
        let room = Room::restore(&name, max_peers, self.load_history(), attachments, now());
        Live { room, sockets }
    }

    /// Carries out what the core decided, in order. Frames and closes first
    /// (synchronously, while nothing else can run), then the slower I/O.
    async fn carry_out(&self, effects: Vec<Effect>) -> Result<()> {
        let mut head_count = None;
        {
            let mut live = self.live(None);
            let live = &mut *live;
            for effect in effects {
                match effect {
                    Effect::Send { to, frame } => {
                        if let Some(ws) = live.sockets.get(&to) {
                            let _ = ws.send_with_str(&*frame);
                        }
                    }
                    Effect::Close { id, code, reason } => {
                        if let Some(ws) = live.sockets.remove(&id) {
                            let _ = ws.close(Some(code), Some(reason));
                        }
                    }
                    Effect::StoreChat(entry) => self.store_chat(&entry),
                    Effect::SaveAttachment(id) => {
                        if let (Some(ws), Some(a)) = (live.sockets.get(&id), live.room.attachment(&id)) {
                            if let Err(e) = ws.serialize_attachment(&a) {
                                worker::console_error!("attachment: {e}");
                            }
                        }
                    }
                    Effect::HeadCount { peers, public } => head_count = Some((peers, public, live.room.name().to_owned())),
                }
            }
        }
        if let Some((peers, public, room)) = head_count {
            self.on_head_count(room, peers, public).await?;
        }
        Ok(())
    }

    /// Tells the lobby (public rooms only) and schedules the alarm.
    async fn on_head_count(&self, room: String, peers: usize, public: bool) -> Result<()> {
        let now = now();
        if public {
            self.report(RoomReport { room, peers, public }).await;
        }
        if peers == 0 {
            self.set_meta("last_left", &now.to_string());
            self.state.storage().set_alarm(now_plus(now, self.history_ttl_ms())).await?;
        } else if public {
            self.state.storage().set_alarm(now_plus(now, HEARTBEAT_MS)).await?;
        }
        Ok(())
    }

    /// A socket closed or failed: the core tells the others.
    async fn forget(&self, ws: &WebSocket) -> Result<()> {
        let Some(id) = self.peer_id(ws) else { return Ok(()) };
        let effects = {
            let mut live = self.live(None);
            live.sockets.remove(&id);
            live.room.disconnect(&id)
        };
        self.carry_out(effects).await
    }

    fn peer_id(&self, ws: &WebSocket) -> Option<String> {
        self.state.get_tags(ws).into_iter().next()
    }

    /// Best effort: the list is a convenience, a meeting never fails because of it.
    async fn report(&self, report: RoomReport) {
        let result = async {
            let lobby = self.env.durable_object("LOBBY")?.get_by_name(crate::lobby::LOBBY_NAME)?;
            let body = serde_json::to_string(&report).map_err(|e| Error::RustError(e.to_string()))?;
            let mut init = worker::RequestInit::new();
            init.with_method(worker::Method::Post).with_body(Some(body.into()));
            let req = Request::new_with_init("https://lobby/report", &init)?;
            lobby.fetch_with_request(req).await
        }
        .await;
        if let Err(e) = result {
            worker::console_warn!("lobby report failed: {e}");
        }
    }

    fn history_ttl_ms(&self) -> u64 {
        var(&self.env, "HISTORY_TTL_SECONDS").and_then(|v| v.trim().parse::<u64>().ok()).unwrap_or(86_400) * 1000
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

    fn store_chat(&self, entry: &ChatEntry) {
        let ts = SqlStorageValue::try_from_i64(i64::try_from(entry.ts).unwrap_or(i64::MAX)).unwrap_or(SqlStorageValue::Null);
        let result = self.sql.exec(
            "INSERT INTO chat (ts, from_id, name, text) VALUES (?, ?, ?, ?)",
            vec![ts, entry.from.as_str().into(), entry.name.as_str().into(), entry.text.as_str().into()],
        );
        if let Err(e) = result {
            worker::console_error!("storing chat: {e}");
        }
        let mut count = self.inserts_since_trim.borrow_mut();
        *count += 1;
        if *count >= TRIM_EVERY {
            *count = 0;
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

fn now() -> u64 {
    Date::now().as_millis()
}

fn now_plus(now: u64, ms: u64) -> i64 {
    i64::try_from(now.saturating_add(ms)).unwrap_or(i64::MAX)
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
