//! The room's rules as a pure state machine.
//!
//! The Durable Object feeds it events — a connection arrived, a frame came in
//! at time `now`, a connection went away — and carries out the [`Effect`]s it
//! returns: frames to deliver, sockets to close, chat to store, attachments to
//! rewrite, a new head count to publish. Time is always passed in and never
//! read here, so the tests below need no runtime, no clock and no sockets.
//!
//! Everything a peer is (id, name, media state) is also written to its socket's
//! attachment by the glue, so after hibernation the room is rebuilt with
//! [`Room::restore`] and carries on as if it had never slept.

use crate::limits::{ConnectionLimits, Verdict};
use crate::protocol::{
    self, chat_frame, error_frame, joined_frame, left_frame, parse_client_frame, peek_frame, state_frame,
    welcome_frame, ChatEntry, ClientMessage, Peer, PeerId, ProtocolError,
};
use std::collections::VecDeque;
use std::fmt::Write;
use std::rc::Rc;

/// How many chat entries a room keeps and sends in `welcome`.
pub const HISTORY_LIMIT: usize = 100;
/// Default `maxPeers` (the `MAX_PEERS` var overrides it).
pub const DEFAULT_MAX_PEERS: usize = 8;

/// What came in on a socket.
#[derive(Debug, Clone, Copy)]
pub enum Incoming<'a> {
    Text(&'a str),
    /// A frame, text or binary, the glue already knows is over the size cap
    /// (it did not copy it in).
    Oversized,
    /// A binary frame within the cap (the contract has no binary messages).
    Binary,
}

/// A connection's id as the room hands it around: shared, so a frame for
/// seven peers copies no id (the copies were a tenth of a `state` message's
/// WebAssembly work, counted with `bench/count.mjs`).
pub type ConnId = Rc<str>;

/// Something the glue must do, in order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Effect {
    /// Send this text frame to that connection. A broadcast shares one `Rc<str>`.
    Send { to: ConnId, frame: Rc<str> },
    /// Send `to` a `signal` from `from` whose `data` is the bytes `data` of the
    /// frame being handled, exactly as the sender wrote them: the frame is
    /// [`protocol::signal_frame`]`(from, &frame[data])`. A separate effect so
    /// the glue can assemble it from the runtime's own copy of the incoming
    /// frame instead of copying it out of WebAssembly (see src/room.rs).
    Forward { to: ConnId, from: ConnId, data: std::ops::Range<usize> },
    /// Close that connection. The core has already forgotten it.
    Close { id: ConnId, code: u16, reason: &'static str },
    /// Append this entry to the stored history.
    StoreChat(ChatEntry),
    /// This peer's attachment is out of date: rewrite it from [`Room::attachment_json`].
    SaveAttachment(ConnId),
    /// The number of joined peers changed (publish it to the lobby).
    HeadCount { peers: usize, public: bool },
}

impl Effect {
    /// This effect with an [`Effect::Forward`] made into the [`Effect::Send`]
    /// it stands for, given `frame`, the frame that was being handled. Every
    /// other effect is returned as it is.
    pub fn into_send(self, frame: &str) -> Effect {
        match self {
            Effect::Forward { to, from, data } => {
                let data = frame.get(data).unwrap_or("null");
                Effect::Send { to, frame: protocol::signal_frame(&from, data).into() }
            }
            other => other,
        }
    }
}

/// One open connection: joined or still waiting to join.
#[derive(Debug, Clone)]
struct Connection {
    id: ConnId,
    /// `Some` once the connection has joined.
    peer: Option<Peer>,
    limits: ConnectionLimits,
}

/// What the glue stores on each socket so the room survives hibernation.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Attachment {
    pub id: PeerId,
    /// The room's name (the Durable Object does not otherwise know it after a wake-up).
    pub room: String,
    /// `Some` once joined.
    pub peer: Option<Peer>,
    /// Whether the room was public when this peer joined. The flag only changes
    /// when the room is empty, so every member's copy agrees.
    #[serde(default)]
    pub public: bool,
    /// When the connection was last heard from (a frame), as of this write,
    /// in ms since the epoch; 0 if not known. Silence is counted from it
    /// across a wake-up, when the room's memory of the connection is gone.
    #[serde(default)]
    pub heard: u64,
}

/// One room: its connections, its recent chat and its rules.
#[derive(Debug)]
pub struct Room {
    name: String,
    max_peers: usize,
    /// In arrival order, so `welcome` lists peers in the order they came.
    connections: Vec<Connection>,
    history: VecDeque<ChatEntry>,
    /// The last chat timestamp handed out: the next is strictly greater.
    last_ts: u64,
    /// Set by the peer that joins an empty room.
    public: bool,
}

impl Room {
    /// A fresh room with the given stored history (oldest first).
    pub fn new(name: &str, max_peers: usize, history: Vec<ChatEntry>) -> Self {
        let last_ts = history.last().map_or(0, |e| e.ts);
        let mut history: VecDeque<ChatEntry> = history.into();
        while history.len() > HISTORY_LIMIT {
            history.pop_front();
        }
        Self { name: name.to_owned(), max_peers: max_peers.max(1), connections: Vec::new(), history, last_ts, public: false }
    }

    /// Rebuilds a room after hibernation from its sockets' attachments.
    pub fn restore(name: &str, max_peers: usize, history: Vec<ChatEntry>, attachments: Vec<Attachment>, now: u64) -> Self {
        let mut room = Self::new(name, max_peers, history);
        for a in attachments {
            if a.peer.is_some() && a.public {
                room.public = true;
            }
            room.connections.push(Connection { id: a.id.into(), peer: a.peer, limits: ConnectionLimits::new(now) });
        }
        room
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    pub fn is_public(&self) -> bool {
        self.public
    }

    /// How many peers have joined.
    pub fn peer_count(&self) -> usize {
        self.connections.iter().filter(|c| c.peer.is_some()).count()
    }

    /// Whether this connection is known (joined or not).
    pub fn has_connection(&self, id: &str) -> bool {
        self.connections.iter().any(|c| &*c.id == id)
    }

    /// The [`Attachment`] to store for a connection, as JSON, with `heard`
    /// (the glue keeps that time). Written by hand straight from the
    /// connection: it is rewritten on every state change, and serde's
    /// `flatten` (for the peer) goes through a generic map. Read back with
    /// serde (`Deserialize`), which only happens after a wake-up.
    pub fn attachment_json(&self, id: &str, heard: u64) -> Option<String> {
        let c = self.connections.iter().find(|c| &*c.id == id)?;
        let mut out = String::with_capacity(160);
        out.push_str(r#"{"id":"#);
        protocol::push_json_string(&mut out, &c.id);
        out.push_str(r#","room":"#);
        protocol::push_json_string(&mut out, &self.name);
        out.push_str(r#","peer":"#);
        match &c.peer {
            Some(peer) => protocol::push_peer(&mut out, peer),
            None => out.push_str("null"),
        }
        // A String's `write!` cannot fail.
        let _ = write!(out, r#","heard":{heard}"#);
        out.push_str(if self.public { r#","public":true}"# } else { r#","public":false}"# });
        Some(out)
    }

    /// How many connections are open, joined or not.
    pub fn connection_count(&self) -> usize {
        self.connections.len()
    }

    /// Every open connection's id, joined or not, in arrival order.
    pub fn connection_ids(&self) -> Vec<PeerId> {
        self.connections.iter().map(|c| c.id.to_string()).collect()
    }

    /// A connection went silent for too long (no frame and no `ping`): it is
    /// closed with 1001 and, if it had joined, the others hear `left`. This is
    /// how a peer that vanished without a close frame leaves the room.
    pub fn time_out(&mut self, id: &str) -> Vec<Effect> {
        let mut out = Vec::new();
        if self.has_connection(id) {
            self.close(id, 1001, "timed out", &mut out);
        }
        out
    }

    /// A new socket arrived; it must join before anything else.
    pub fn connect(&mut self, id: PeerId, now: u64) {
        if !self.has_connection(&id) {
            self.connections.push(Connection { id: id.into(), peer: None, limits: ConnectionLimits::new(now) });
        }
    }

    /// A socket closed or failed. Tells the others if it had joined.
    pub fn disconnect(&mut self, id: &str) -> Vec<Effect> {
        let mut out = Vec::new();
        self.remove(id, &mut out);
        out
    }

    /// One frame from a connection.
    pub fn receive(&mut self, now: u64, from: &str, incoming: Incoming<'_>) -> Vec<Effect> {
        // A broadcast's effects, and a few more, without growing the vector.
        let mut out = Vec::with_capacity(self.connections.len() + 3);
        let Some(index) = self.connections.iter().position(|c| &*c.id == from) else {
            return out; // a socket the room has already let go of
        };
        match self.connections[index].limits.check_any(now) {
            Verdict::Allow => {}
            Verdict::Drop => {
                send_error(&mut out, from, ProtocolError::RateLimited);
                return out;
            }
            Verdict::Disconnect => {
                self.close(from, 1008, "flooding", &mut out);
                return out;
            }
        }
        let text = match incoming {
            Incoming::Text(text) => text,
            Incoming::Oversized => {
                let error = ProtocolError::TooLarge;
                send_error(&mut out, from, error);
                self.close(from, error.close_code().unwrap_or(1009), error.code(), &mut out);
                return out;
            }
            Incoming::Binary => {
                send_error(&mut out, from, ProtocolError::BadMessage);
                return out;
            }
        };
        let result = parse_client_frame(text).and_then(|message| self.apply(now, index, text, message, &mut out));
        if let Err(error) = result {
            send_error(&mut out, from, error);
            if let Some(code) = error.close_code() {
                self.close(from, code, error.code(), &mut out);
            }
        }
        out
    }

    /// Carries out one valid message from the connection at `index`.
    fn apply(&mut self, now: u64, index: usize, frame: &str, message: ClientMessage<'_>, out: &mut Vec<Effect>) -> Result<(), ProtocolError> {
        let from = self.connections[index].id.clone();
        let joined = self.connections[index].peer.is_some();
        match message {
            ClientMessage::Join { name, public, state } => {
                if joined {
                    return Err(ProtocolError::AlreadyJoined);
                }
                let name = protocol::validate_name(&name)?;
                let count = self.peer_count();
                if count >= self.max_peers {
                    return Err(ProtocolError::RoomFull { max_peers: self.max_peers });
                }
                if count == 0 {
                    self.public = public;
                }
                let peer = Peer { id: from.to_string(), name, state };
                let others = self.peers_except(&from);
                let history: Vec<ChatEntry> = self.history.iter().cloned().collect();
                let welcome = welcome_frame(&from, &self.name, &others, &history, self.max_peers);
                let joined = Rc::<str>::from(joined_frame(&peer));
                self.connections[index].peer = Some(peer);
                out.push(Effect::SaveAttachment(from.clone()));
                out.push(Effect::Send { to: from.clone(), frame: welcome.into() });
                self.broadcast(joined, Some(&from), out);
                out.push(Effect::HeadCount { peers: count + 1, public: self.public });
            }
            ClientMessage::Peek => {
                let frame = peek_frame(&from, &self.name, &self.peers_except(&from), self.max_peers);
                out.push(Effect::Send { to: from, frame: frame.into() });
            }
            _ if !joined => return Err(ProtocolError::NotJoined),
            ClientMessage::Chat { text } => {
                protocol::validate_chat_text(&text)?;
                match self.connections[index].limits.check_chat(now) {
                    Verdict::Allow => {}
                    Verdict::Drop => return Err(ProtocolError::RateLimited),
                    Verdict::Disconnect => {
                        self.close(&from, 1008, "flooding", out);
                        return Ok(());
                    }
                }
                let name = self.connections[index].peer.as_ref().map(|p| p.name.clone()).unwrap_or_default();
                // Strictly increasing even when the clock stands still or goes back.
                let ts = now.max(self.last_ts + 1);
                self.last_ts = ts;
                let entry = ChatEntry { from: from.to_string(), name, text, ts };
                let frame = Rc::<str>::from(chat_frame(&entry));
                self.history.push_back(entry.clone());
                if self.history.len() > HISTORY_LIMIT {
                    self.history.pop_front();
                }
                out.push(Effect::StoreChat(entry));
                self.broadcast(frame, None, out);
            }
            ClientMessage::Signal { to, data } => {
                if *to == *from {
                    return Err(ProtocolError::BadMessage);
                }
                let Some(to) = self.connections.iter().find(|c| *c.id == *to && c.peer.is_some()).map(|c| c.id.clone()) else {
                    return Err(ProtocolError::UnknownPeer);
                };
                // The parser borrows `data` from the frame, so it has a place there.
                let data = protocol::span_in(frame, data).ok_or(ProtocolError::BadMessage)?;
                out.push(Effect::Forward { to, from, data });
            }
            ClientMessage::State(patch) => {
                let Some(peer) = self.connections[index].peer.as_mut() else {
                    return Err(ProtocolError::NotJoined);
                };
                if peer.state.apply(patch) {
                    let frame = Rc::<str>::from(state_frame(&from, peer.state));
                    out.push(Effect::SaveAttachment(from.clone()));
                    self.broadcast(frame, Some(&from), out);
                }
            }
            ClientMessage::Leave => self.close(&from, 1000, "left", out),
        }
        Ok(())
    }

    /// Every joined peer but `id` (who is joining, or asking who is there).
    fn peers_except(&self, id: &str) -> Vec<&Peer> {
        self.connections.iter().filter(|c| *c.id != *id).filter_map(|c| c.peer.as_ref()).collect()
    }

    /// Sends one frame to every joined peer, except `skip`.
    fn broadcast(&self, frame: Rc<str>, skip: Option<&str>, out: &mut Vec<Effect>) {
        for c in &self.connections {
            if c.peer.is_some() && Some(&*c.id) != skip {
                out.push(Effect::Send { to: c.id.clone(), frame: frame.clone() });
            }
        }
    }

    /// Forgets a connection and asks the glue to close its socket.
    fn close(&mut self, id: &str, code: u16, reason: &'static str, out: &mut Vec<Effect>) {
        self.remove(id, out);
        out.push(Effect::Close { id: id.into(), code, reason });
    }

    fn remove(&mut self, id: &str, out: &mut Vec<Effect>) {
        let Some(index) = self.connections.iter().position(|c| &*c.id == id) else { return };
        let connection = self.connections.remove(index);
        if connection.peer.is_some() {
            self.broadcast(left_frame(id).into(), None, out);
            out.push(Effect::HeadCount { peers: self.peer_count(), public: self.public });
        }
    }
}

fn send_error(out: &mut Vec<Effect>, to: &str, error: ProtocolError) {
    out.push(Effect::Send { to: to.into(), frame: error_frame(error).into() });
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::Value;

    const T0: u64 = 1_732_400_000_000;

    fn room() -> Room {
        Room::new("test-room", DEFAULT_MAX_PEERS, Vec::new())
    }

    /// What the room does with one text frame; a forwarded signal as the frame sent.
    fn text(room: &mut Room, now: u64, from: &str, frame: &str) -> Vec<Effect> {
        room.receive(now, from, Incoming::Text(frame)).into_iter().map(|e| e.into_send(frame)).collect()
    }

    /// The attachment as the glue stores it and reads it back after a wake-up.
    fn stored(r: &Room, id: &str) -> Attachment {
        serde_json::from_str(&r.attachment_json(id, 0).unwrap()).unwrap()
    }

    /// Frames sent to `to`, parsed.
    fn sent_to(effects: &[Effect], to: &str) -> Vec<Value> {
        effects
            .iter()
            .filter_map(|e| match e {
                Effect::Send { to: t, frame } if **t == *to => Some(serde_json::from_str(frame).unwrap()),
                _ => None,
            })
            .collect()
    }

    /// The code of the first `error` frame sent to `to`.
    fn error_code(effects: &[Effect], to: &str) -> Option<String> {
        sent_to(effects, to).iter().find(|v| v["type"] == "error").map(|v| v["code"].as_str().unwrap().to_owned())
    }

    /// Connects `id` and joins it as `name`, with its microphone on.
    fn join(room: &mut Room, id: &str, name: &str) -> Vec<Effect> {
        room.connect(id.to_owned(), T0);
        text(room, T0, id, &format!(r#"{{"type":"join","name":"{name}","audio":true}}"#))
    }

    #[test]
    fn attachment_json_reads_back_as_written() {
        let peer = Peer { id: "aaaaaaaa".into(), name: "Ann \"the\" \u{1}".into(), state: Default::default() };
        for a in [
            Attachment { id: "aaaaaaaa".into(), room: "r-1".into(), peer: Some(peer), public: true, heard: 1_732_400_000_123 },
            Attachment { id: "bbbbbbbb".into(), room: String::new(), peer: None, public: false, heard: 0 },
        ] {
            let room = Room::restore(&a.room, 8, Vec::new(), vec![a.clone()], 0);
            let text = room.attachment_json(&a.id, a.heard).unwrap();
            assert_eq!(serde_json::from_str::<Attachment>(&text).unwrap(), a, "{text}");
            assert_eq!(serde_json::from_str::<Value>(&text).unwrap(), serde_json::to_value(&a).unwrap());
        }
    }

    #[test]
    fn join_gets_welcome_and_others_get_joined() {
        let mut r = room();
        join(&mut r, "aaaaaaaa", "Ann");
        let out = join(&mut r, "bbbbbbbb", "  Bob ");
        let welcome = &sent_to(&out, "bbbbbbbb")[0];
        assert_eq!(welcome["type"], "welcome");
        assert_eq!(welcome["id"], "bbbbbbbb");
        assert_eq!(welcome["room"], "test-room");
        assert_eq!(welcome["maxPeers"], 8);
        assert_eq!(welcome["peers"].as_array().unwrap().len(), 1);
        assert_eq!(welcome["peers"][0]["name"], "Ann");
        let joined = &sent_to(&out, "aaaaaaaa")[0];
        assert_eq!(joined["type"], "joined");
        assert_eq!(joined["peer"]["name"], "Bob");
        assert_eq!(joined["peer"]["audio"], true);
        assert!(out.contains(&Effect::HeadCount { peers: 2, public: false }));
        assert!(out.contains(&Effect::SaveAttachment("bbbbbbbb".into())));
    }

    #[test]
    fn anything_before_join_is_not_joined() {
        let mut r = room();
        r.connect("aaaaaaaa".into(), T0);
        for frame in [r#"{"type":"chat","text":"hi"}"#, r#"{"type":"state","hand":true}"#, r#"{"type":"leave"}"#, r#"{"type":"signal","to":"x","data":1}"#] {
            let out = text(&mut r, T0, "aaaaaaaa", frame);
            assert_eq!(error_code(&out, "aaaaaaaa").as_deref(), Some("not_joined"), "{frame}");
        }
        assert!(r.has_connection("aaaaaaaa"));
    }

    #[test]
    fn peek_tells_who_is_in_the_room_and_changes_nothing() {
        let mut r = room();
        join(&mut r, "aaaaaaaa", "Ann");
        join(&mut r, "bbbbbbbb", "Bob");
        r.connect("cccccccc".into(), T0);
        // Before joining: everyone joined, and only the asker hears of it.
        let out = text(&mut r, T0, "cccccccc", r#"{"type":"peek"}"#);
        assert_eq!(out.len(), 1, "{out:?}");
        let peek = &sent_to(&out, "cccccccc")[0];
        assert_eq!(peek["type"], "peek");
        assert_eq!(peek["room"], "test-room");
        assert_eq!(peek["maxPeers"], 8);
        assert_eq!(peek["history"], serde_json::json!([]));
        let names: Vec<&str> = peek["peers"].as_array().unwrap().iter().map(|p| p["name"].as_str().unwrap()).collect();
        assert_eq!(names, ["Ann", "Bob"]);
        assert_eq!(r.peer_count(), 2);
        // Joined: the others, without oneself.
        let peek = &sent_to(&text(&mut r, T0, "aaaaaaaa", r#"{"type":"peek","x":1}"#), "aaaaaaaa")[0];
        assert_eq!(peek["peers"].as_array().unwrap().len(), 1);
        assert_eq!(peek["peers"][0]["id"], "bbbbbbbb");
        // An empty room says so.
        let mut empty = room();
        empty.connect("dddddddd".into(), T0);
        let peek = &sent_to(&text(&mut empty, T0, "dddddddd", r#"{"type":"peek"}"#), "dddddddd")[0];
        assert_eq!(peek["peers"], serde_json::json!([]));
    }

    #[test]
    fn second_join_is_already_joined() {
        let mut r = room();
        join(&mut r, "aaaaaaaa", "Ann");
        let out = text(&mut r, T0, "aaaaaaaa", r#"{"type":"join","name":"Ann"}"#);
        assert_eq!(error_code(&out, "aaaaaaaa").as_deref(), Some("already_joined"));
        assert_eq!(r.peer_count(), 1);
    }

    #[test]
    fn bad_name_may_join_again() {
        let mut r = room();
        r.connect("aaaaaaaa".into(), T0);
        let out = text(&mut r, T0, "aaaaaaaa", r#"{"type":"join","name":"   "}"#);
        assert_eq!(error_code(&out, "aaaaaaaa").as_deref(), Some("name_invalid"));
        let out = text(&mut r, T0, "aaaaaaaa", r#"{"type":"join","name":"Ann"}"#);
        assert_eq!(sent_to(&out, "aaaaaaaa")[0]["type"], "welcome");
    }

    #[test]
    fn join_past_max_peers_is_room_full_and_closed_4001() {
        let mut r = Room::new("r", 2, Vec::new());
        join(&mut r, "aaaaaaaa", "A");
        join(&mut r, "bbbbbbbb", "B");
        let out = join(&mut r, "cccccccc", "C");
        assert_eq!(error_code(&out, "cccccccc").as_deref(), Some("room_full"));
        assert_eq!(sent_to(&out, "cccccccc")[0]["maxPeers"], 2, "the page can say how many a room holds");
        assert!(out.contains(&Effect::Close { id: "cccccccc".into(), code: 4001, reason: "room_full" }));
        assert!(sent_to(&out, "aaaaaaaa").is_empty(), "nobody else hears of it");
        assert_eq!(r.peer_count(), 2);
        assert!(!r.has_connection("cccccccc"));
    }

    #[test]
    fn chat_goes_to_everyone_sender_included_and_is_stored() {
        let mut r = room();
        join(&mut r, "aaaaaaaa", "Ann");
        join(&mut r, "bbbbbbbb", "Bob");
        let out = text(&mut r, T0 + 5, "aaaaaaaa", r#"{"type":"chat","text":"hi"}"#);
        for id in ["aaaaaaaa", "bbbbbbbb"] {
            let m = &sent_to(&out, id)[0];
            assert_eq!(m["type"], "chat");
            assert_eq!(m["from"], "aaaaaaaa");
            assert_eq!(m["name"], "Ann");
            assert_eq!(m["text"], "hi");
            assert_eq!(m["ts"], T0 + 5);
        }
        assert!(matches!(&out[0], Effect::StoreChat(e) if e.text == "hi"));
    }

    #[test]
    fn chat_frame_is_serialized_once_per_broadcast() {
        let mut r = room();
        join(&mut r, "aaaaaaaa", "Ann");
        join(&mut r, "bbbbbbbb", "Bob");
        let out = text(&mut r, T0, "aaaaaaaa", r#"{"type":"chat","text":"hi"}"#);
        let frames: Vec<&Rc<str>> = out.iter().filter_map(|e| if let Effect::Send { frame, .. } = e { Some(frame) } else { None }).collect();
        assert_eq!(frames.len(), 2);
        assert!(Rc::ptr_eq(frames[0], frames[1]));
    }

    #[test]
    fn timestamps_strictly_increase_when_clock_stands_still_or_goes_back() {
        let mut r = room();
        join(&mut r, "aaaaaaaa", "Ann");
        let mut last = 0;
        for now in [T0, T0, T0, T0 - 1000, T0 + 1, T0 - 5] {
            let out = text(&mut r, now, "aaaaaaaa", r#"{"type":"chat","text":"x"}"#);
            let ts = sent_to(&out, "aaaaaaaa")[0]["ts"].as_u64().unwrap();
            assert!(ts > last, "{ts} after {last}");
            last = ts;
        }
    }

    #[test]
    fn timestamps_continue_after_restored_history() {
        let entry = ChatEntry { from: "x".into(), name: "X".into(), text: "old".into(), ts: T0 + 10_000 };
        let mut r = Room::new("r", 8, vec![entry]);
        join(&mut r, "aaaaaaaa", "Ann");
        let out = text(&mut r, T0, "aaaaaaaa", r#"{"type":"chat","text":"new"}"#);
        assert_eq!(sent_to(&out, "aaaaaaaa")[0]["ts"], T0 + 10_001);
    }

    #[test]
    fn history_keeps_the_last_100_oldest_first() {
        let mut r = room();
        join(&mut r, "aaaaaaaa", "Ann");
        for i in 0..130u64 {
            // 2 chats per second are allowed: space them 500 ms apart.
            text(&mut r, T0 + i * 500, "aaaaaaaa", &format!(r#"{{"type":"chat","text":"m{i}"}}"#));
        }
        let out = join(&mut r, "bbbbbbbb", "Bob");
        let history = sent_to(&out, "bbbbbbbb")[0]["history"].as_array().unwrap().clone();
        assert_eq!(history.len(), HISTORY_LIMIT);
        assert_eq!(history[0]["text"], "m30");
        assert_eq!(history[99]["text"], "m129");
        assert!(history[0].get("type").is_none());
    }

    #[test]
    fn invalid_chat_text_is_text_invalid_and_not_stored() {
        let mut r = room();
        join(&mut r, "aaaaaaaa", "Ann");
        let long = format!(r#"{{"type":"chat","text":"{}"}}"#, "x".repeat(2001));
        for frame in [r#"{"type":"chat","text":"  "}"#, r#"{"type":"chat","text":""}"#, long.as_str()] {
            let out = text(&mut r, T0, "aaaaaaaa", frame);
            assert_eq!(error_code(&out, "aaaaaaaa").as_deref(), Some("text_invalid"));
            assert!(!out.iter().any(|e| matches!(e, Effect::StoreChat(_))));
        }
    }

    #[test]
    fn signal_reaches_only_the_addressee_with_data_unchanged() {
        let mut r = room();
        join(&mut r, "aaaaaaaa", "Ann");
        join(&mut r, "bbbbbbbb", "Bob");
        join(&mut r, "cccccccc", "Cy");
        let frame = r#"{"type":"signal","to":"bbbbbbbb", "data" : {"sdp":"v=0","x":[1.50]} ,"y":1}"#;
        let out = r.receive(T0, "aaaaaaaa", Incoming::Text(frame));
        assert_eq!(out.len(), 1);
        match &out[0] {
            // Forwarded as a part of the frame: the glue need not rebuild it.
            Effect::Forward { to, from, data } => {
                assert_eq!((&**to, &**from), ("bbbbbbbb", "aaaaaaaa"));
                assert_eq!(&frame[data.clone()], r#"{"sdp":"v=0","x":[1.50]}"#);
            }
            other => panic!("{other:?}"),
        }
        let sent = out[0].clone().into_send(frame);
        let expected = r#"{"type":"signal","from":"aaaaaaaa","data":{"sdp":"v=0","x":[1.50]}}"#;
        assert_eq!(sent, Effect::Send { to: "bbbbbbbb".into(), frame: expected.into() });
    }

    #[test]
    fn signal_to_oneself_is_bad_message_and_to_a_stranger_unknown_peer() {
        let mut r = room();
        join(&mut r, "aaaaaaaa", "Ann");
        r.connect("pending1".into(), T0);
        let out = text(&mut r, T0, "aaaaaaaa", r#"{"type":"signal","to":"aaaaaaaa","data":{}}"#);
        assert_eq!(error_code(&out, "aaaaaaaa").as_deref(), Some("bad_message"));
        let out = text(&mut r, T0, "aaaaaaaa", r#"{"type":"signal","to":"nobody99","data":{}}"#);
        assert_eq!(error_code(&out, "aaaaaaaa").as_deref(), Some("unknown_peer"));
        let out = text(&mut r, T0, "aaaaaaaa", r#"{"type":"signal","to":"pending1","data":{}}"#);
        assert_eq!(error_code(&out, "aaaaaaaa").as_deref(), Some("unknown_peer"), "not joined yet");
    }

    #[test]
    fn state_merges_and_tells_the_others_the_full_state() {
        let mut r = room();
        join(&mut r, "aaaaaaaa", "Ann");
        join(&mut r, "bbbbbbbb", "Bob");
        let out = text(&mut r, T0, "aaaaaaaa", r#"{"type":"state","hand":true}"#);
        assert!(sent_to(&out, "aaaaaaaa").is_empty());
        let m = &sent_to(&out, "bbbbbbbb")[0];
        assert_eq!(m["type"], "state");
        assert_eq!(m["id"], "aaaaaaaa");
        assert_eq!((m["audio"].as_bool(), m["video"].as_bool(), m["screen"].as_bool(), m["hand"].as_bool()), (Some(true), Some(false), Some(false), Some(true)));
        assert!(stored(&r, "aaaaaaaa").peer.unwrap().state.hand);
        // Same state again changes nothing and sends nothing.
        let out = text(&mut r, T0, "aaaaaaaa", r#"{"type":"state","hand":true}"#);
        assert!(out.is_empty());
    }

    #[test]
    fn leave_closes_with_1000_and_tells_the_others() {
        let mut r = room();
        join(&mut r, "aaaaaaaa", "Ann");
        join(&mut r, "bbbbbbbb", "Bob");
        let out = text(&mut r, T0, "aaaaaaaa", r#"{"type":"leave"}"#);
        assert_eq!(sent_to(&out, "bbbbbbbb")[0], serde_json::json!({"type":"left","id":"aaaaaaaa"}));
        assert!(out.contains(&Effect::Close { id: "aaaaaaaa".into(), code: 1000, reason: "left" }));
        assert!(out.contains(&Effect::HeadCount { peers: 1, public: false }));
        assert_eq!(r.peer_count(), 1);
    }

    #[test]
    fn disconnect_of_a_joined_peer_sends_left_and_of_a_pending_one_nothing() {
        let mut r = room();
        join(&mut r, "aaaaaaaa", "Ann");
        join(&mut r, "bbbbbbbb", "Bob");
        r.connect("pending1".into(), T0);
        assert!(r.disconnect("pending1").is_empty());
        let out = r.disconnect("bbbbbbbb");
        assert_eq!(sent_to(&out, "aaaaaaaa")[0]["type"], "left");
        assert!(r.disconnect("bbbbbbbb").is_empty(), "twice is harmless");
    }

    #[test]
    fn the_peer_joining_an_empty_room_decides_if_it_is_public() {
        let mut r = room();
        r.connect("aaaaaaaa".into(), T0);
        let out = text(&mut r, T0, "aaaaaaaa", r#"{"type":"join","name":"A","public":true}"#);
        assert!(out.contains(&Effect::HeadCount { peers: 1, public: true }));
        r.connect("bbbbbbbb".into(), T0);
        text(&mut r, T0, "bbbbbbbb", r#"{"type":"join","name":"B","public":false}"#);
        assert!(r.is_public(), "a later joiner does not change it");
        r.disconnect("aaaaaaaa");
        let out = r.disconnect("bbbbbbbb");
        assert!(out.contains(&Effect::HeadCount { peers: 0, public: true }));
        r.connect("cccccccc".into(), T0);
        text(&mut r, T0, "cccccccc", r#"{"type":"join","name":"C"}"#);
        assert!(!r.is_public());
    }

    #[test]
    fn bad_frames_get_their_error_and_the_room_keeps_working() {
        let mut r = room();
        join(&mut r, "aaaaaaaa", "Ann");
        join(&mut r, "bbbbbbbb", "Bob");
        assert_eq!(error_code(&text(&mut r, T0, "aaaaaaaa", "nope"), "aaaaaaaa").as_deref(), Some("bad_json"));
        assert_eq!(error_code(&text(&mut r, T0, "aaaaaaaa", r#"{"type":"x"}"#), "aaaaaaaa").as_deref(), Some("bad_message"));
        assert_eq!(error_code(&r.receive(T0, "aaaaaaaa", Incoming::Binary), "aaaaaaaa").as_deref(), Some("bad_message"));
        let out = text(&mut r, T0, "aaaaaaaa", r#"{"type":"chat","text":"still here"}"#);
        assert_eq!(sent_to(&out, "bbbbbbbb")[0]["text"], "still here");
    }

    #[test]
    fn oversized_frame_is_too_large_and_closed_1009() {
        let mut r = room();
        join(&mut r, "aaaaaaaa", "Ann");
        join(&mut r, "bbbbbbbb", "Bob");
        let big = format!(r#"{{"type":"chat","text":"{}"}}"#, "x".repeat(70_000));
        let out = text(&mut r, T0, "aaaaaaaa", &big);
        assert_eq!(error_code(&out, "aaaaaaaa").as_deref(), Some("too_large"));
        assert!(out.contains(&Effect::Close { id: "aaaaaaaa".into(), code: 1009, reason: "too_large" }));
        assert_eq!(sent_to(&out, "bbbbbbbb")[0]["type"], "left");
    }

    #[test]
    fn oversized_frame_known_to_the_glue_is_too_large_too() {
        let mut r = room();
        join(&mut r, "aaaaaaaa", "Ann");
        let out = r.receive(T0, "aaaaaaaa", Incoming::Oversized);
        assert_eq!(error_code(&out, "aaaaaaaa").as_deref(), Some("too_large"));
        assert!(out.contains(&Effect::Close { id: "aaaaaaaa".into(), code: 1009, reason: "too_large" }));
    }

    #[test]
    fn chat_flood_is_rate_limited_then_recovers() {
        let mut r = room();
        join(&mut r, "aaaaaaaa", "Ann");
        let chat = r#"{"type":"chat","text":"x"}"#;
        for _ in 0..10 {
            assert!(error_code(&text(&mut r, T0, "aaaaaaaa", chat), "aaaaaaaa").is_none());
        }
        assert_eq!(error_code(&text(&mut r, T0, "aaaaaaaa", chat), "aaaaaaaa").as_deref(), Some("rate_limited"));
        assert!(error_code(&text(&mut r, T0 + 500, "aaaaaaaa", chat), "aaaaaaaa").is_none());
    }

    #[test]
    fn any_message_flood_is_rate_limited_then_closed_1008() {
        let mut r = room();
        join(&mut r, "aaaaaaaa", "Ann");
        join(&mut r, "bbbbbbbb", "Bob");
        let state = r#"{"type":"state","hand":true}"#;
        let mut limited = 0;
        let mut closed = None;
        for i in 0..1300 {
            let out = text(&mut r, T0, "aaaaaaaa", state);
            if error_code(&out, "aaaaaaaa").as_deref() == Some("rate_limited") {
                limited += 1;
            }
            if out.iter().any(|e| matches!(e, Effect::Close { code: 1008, .. })) {
                closed = Some(i);
                break;
            }
        }
        // The join used 1 of the 200 tokens; then 999 drops answered, the 1000th closes.
        assert_eq!(limited, 999);
        assert_eq!(closed, Some(199 + 1000 - 1));
        assert_eq!(r.peer_count(), 1);
    }

    #[test]
    fn restore_rebuilds_members_from_attachments() {
        let mut r = room();
        r.connect("aaaaaaaa".into(), T0);
        text(&mut r, T0, "aaaaaaaa", r#"{"type":"join","name":"Ann","public":true}"#);
        join(&mut r, "bbbbbbbb", "Bob");
        r.connect("pending1".into(), T0);
        let attachments: Vec<Attachment> = ["aaaaaaaa", "bbbbbbbb", "pending1"].iter().map(|id| stored(&r, id)).collect();
        let mut woken = Room::restore("test-room", 8, Vec::new(), attachments, T0 + 60_000);
        assert_eq!(woken.peer_count(), 2);
        assert!(woken.is_public());
        let out = woken.receive(T0 + 60_000, "pending1", Incoming::Text(r#"{"type":"join","name":"Cy"}"#));
        let welcome = &sent_to(&out, "pending1")[0];
        let names: Vec<&str> = welcome["peers"].as_array().unwrap().iter().map(|p| p["name"].as_str().unwrap()).collect();
        assert_eq!(names, ["Ann", "Bob"]);
    }

    #[test]
    fn timed_out_peer_is_closed_1001_and_announced_as_left() {
        let mut r = room();
        join(&mut r, "aaaaaaaa", "Ann");
        join(&mut r, "bbbbbbbb", "Bob");
        let out = r.time_out("bbbbbbbb");
        assert_eq!(sent_to(&out, "aaaaaaaa")[0]["type"], "left");
        assert!(out.contains(&Effect::Close { id: "bbbbbbbb".into(), code: 1001, reason: "timed out" }));
        assert!(r.time_out("bbbbbbbb").is_empty());
        assert_eq!(r.connection_ids(), vec!["aaaaaaaa".to_owned()]);
        assert_eq!(r.connection_count(), 1);
    }

    #[test]
    fn unknown_connection_is_ignored() {
        let mut r = room();
        assert!(text(&mut r, T0, "ghost123", r#"{"type":"join","name":"G"}"#).is_empty());
    }
}
