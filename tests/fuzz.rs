//! Fuzzing the message parser and the room core, against a reference model.
//!
//! Two phases share one time budget (`NOOM_FUZZ_SECONDS`, default 20; `make fuzz`
//! runs 300):
//!
//! 1. **Parser.** Frames made of random bytes, mutated corpus entries
//!    (`fuzz/corpus/`), structured JSON with wrong types in every field, deep
//!    nesting and huge numbers go through `parse_client_frame`. It must never
//!    panic and must agree with [`classify`], a small reading of the contract
//!    written here independently of `src/protocol.rs`.
//! 2. **Room.** Several connections feed such frames (and binary frames) into a
//!    `Room` on a clock that moves forward, stands still, jumps and goes back;
//!    they connect, disconnect, flood, and the room hibernates (it is rebuilt
//!    with `Room::restore` from the attachments the glue would have stored, the
//!    way `src/room.rs` does). [`Model`] predicts, from the contract alone, every
//!    frame each connection must receive, every close, every stored chat entry
//!    and every head count, and each input's effects are compared with it.
//!
//! Invariants checked on every input: no panic; every error frame's code is one
//! of the contract's; every bad input is answered with exactly the contract's
//! error; no frame to a connection the room does not hold; close codes are the
//! contract's; history never above 100 (the `welcome` history is exactly the
//! last 100 entries); chat `ts` strictly increasing; at most `maxPeers` joined;
//! effects per input and frame sizes bounded; nothing about a peer lives only
//! in memory (after a restore the room is the same room).
//!
//! A failing input is written to `target/fuzz-failures/` and the seed is
//! printed; `NOOM_FUZZ_SEED=<seed>` replays the same run. With
//! `NOOM_FUZZ_DOC=docs/reliability.md` the figures are written into that file.

use noom::core::{Attachment, Effect, Incoming, Room, HISTORY_LIMIT};
use noom::protocol::{parse_client_frame, ChatEntry, ClientMessage, MediaState, Peer, ProtocolError, MAX_FRAME_BYTES};
use serde_json::value::RawValue;
use serde_json::{json, Value};
use std::collections::{BTreeMap, HashMap, VecDeque};
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

/// Every error code in the contract's table.
const CODES: [&str; 10] = [
    "bad_json", "bad_message", "not_joined", "already_joined", "name_invalid", "text_invalid", "unknown_peer",
    "rate_limited", "too_large", "room_full",
];
/// Every close code the contract names (1001: a silent connection timed out,
/// the extension in docs/protocol.md).
const CLOSE_CODES: [u16; 5] = [1000, 1001, 1008, 1009, 4001];
/// Connections the driver keeps open in one room at most (pending and joined).
const MAX_CONNECTIONS: usize = 12;
/// A clock near the present, in ms since the epoch.
const T0: u64 = 1_732_400_000_000;

// ---- a small deterministic random source ---------------------------------------

struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        // xorshift64*
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }
    fn chance(&mut self, percent: usize) -> bool {
        self.below(100) < percent
    }
    fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len())]
    }
}

// ---- frame generators ---------------------------------------------------------

const TYPES: [&str; 11] = ["join", "chat", "signal", "state", "leave", "peek", "dance", "", "Join", "chat ", "\u{0}"];
const FIELDS: [&str; 12] = ["type", "name", "text", "to", "data", "public", "audio", "video", "screen", "hand", "from", "__proto__"];

fn random_string(rng: &mut Rng) -> String {
    match rng.below(16) {
        0 => String::new(),
        1 => " \t\n ".into(),
        2 => "Ann".into(),
        3 => "x".repeat(2000),
        4 => "x".repeat(2001),
        5 => "é".repeat(rng.below(40)),
        6 => "😀".repeat(rng.below(40)),
        7 => format!("a{}b", char::from_u32(rng.below(0x20) as u32).unwrap_or('\0')),
        8 => "\u{7f}\u{9b}".into(),
        9 => "\u{3000}\u{2028}\u{feff}".into(),
        10 => "a".repeat(33),
        11 => format!("  {}  ", "a".repeat(32)),
        12 => "<script>alert(1)</script>".into(),
        13 => "peer0001".into(),
        14 => (0..rng.below(12)).map(|_| char::from_u32(rng.below(0xD7FF) as u32).unwrap_or('?')).collect(),
        _ => "hello".into(),
    }
}

/// JSON text of a random value: every JSON type, plus the awkward ones.
fn random_value(rng: &mut Rng, depth: usize) -> String {
    match rng.below(if depth > 3 { 12 } else { 16 }) {
        0 => "null".into(),
        1 => "true".into(),
        2 => "false".into(),
        3 => rng.pick(&["0", "-0", "1.5", "-1", "1e308", "1e400", "-1e400", "123456789012345678901234567890", "9007199254740993", "1E-400", "0.0000000000000000000000001"]).to_string(),
        4..=6 => serde_json::to_string(&random_string(rng)).unwrap_or_default(),
        7 => rng.pick(&[r#""\ud800""#, r#""\udc00x""#, r#""\u006aoin""#, r#""\u0000""#, r#""a\/b""#, r#""\uD83D\uDE00""#]).to_string(),
        8 => {
            let n = rng.pick(&[10usize, 127, 128, 129, 500, 5000, 30_000]);
            let (open, close) = if rng.chance(50) { ("[", "]") } else { ("{\"a\":", "}") };
            format!("{}1{}", open.repeat(*n), close.repeat(*n))
        }
        9 => rng.pick(&["[", "{", "\"unterminated", "tru", "01", "+1", "NaN", "Infinity", "'x'", "1.", ".5"]).to_string(),
        10 | 11 => format!("[{}]", (0..rng.below(4)).map(|_| random_value(rng, depth + 1)).collect::<Vec<_>>().join(",")),
        _ => {
            let n = rng.below(4);
            let body: Vec<String> = (0..n).map(|_| format!("\"{}\":{}", rng.pick(&FIELDS), random_value(rng, depth + 1))).collect();
            format!("{{{}}}", body.join(","))
        }
    }
}

/// A JSON object with a `type` (or not) and random fields of random types.
fn structured_frame(rng: &mut Rng, ids: &[String]) -> String {
    let mut fields: Vec<String> = Vec::new();
    if !rng.chance(10) {
        let ty = if rng.chance(85) { serde_json::to_string(rng.pick(&TYPES)).unwrap_or_default() } else { random_value(rng, 0) };
        fields.push(format!("\"type\":{ty}"));
    }
    for _ in 0..rng.below(6) {
        let key = *rng.pick(&FIELDS);
        let value = match (key, rng.below(3)) {
            ("to", 0) if !ids.is_empty() => serde_json::to_string(rng.pick(ids)).unwrap_or_default(),
            ("name" | "text", 0) => serde_json::to_string(&random_string(rng)).unwrap_or_default(),
            ("public" | "audio" | "video" | "screen" | "hand", 0) => rng.pick(&["true", "false"]).to_string(),
            _ => random_value(rng, 0),
        };
        fields.push(format!("\"{key}\":{value}"));
    }
    let sep = if rng.chance(10) { " , " } else { "," };
    format!("{{{}}}", fields.join(sep))
}

/// A message that is valid on the wire (the room may still refuse it).
fn valid_frame(rng: &mut Rng, ids: &[String]) -> String {
    let b = |rng: &mut Rng| rng.chance(50);
    match rng.below(21) {
        0..=3 => json!({"type":"join","name":random_string(rng),"public":b(rng),"audio":b(rng),"video":b(rng)}).to_string(),
        4 => json!({"type":"join","name":format!("Peer {}", rng.below(100))}).to_string(),
        5..=10 => json!({"type":"chat","text": if rng.chance(70) { format!("m{}", rng.next() % 1000) } else { random_string(rng) }}).to_string(),
        11..=14 => {
            let to = if ids.is_empty() || rng.chance(10) { "nobody99".to_owned() } else { rng.pick(ids).clone() };
            format!(r#"{{"type":"signal","to":{},"data":{}}}"#, serde_json::to_string(&to).unwrap_or_default(), random_value(rng, 0))
        }
        15..=18 => {
            let mut m = serde_json::Map::new();
            m.insert("type".into(), "state".into());
            for key in ["audio", "video", "screen", "hand"] {
                if rng.chance(50) {
                    m.insert(key.into(), b(rng).into());
                }
            }
            Value::Object(m).to_string()
        }
        19 => r#"{"type":"peek"}"#.into(),
        _ => r#"{"type":"leave"}"#.into(),
    }
}

/// A few random edits of a corpus entry.
fn mutate(rng: &mut Rng, seed: &[u8]) -> String {
    let mut bytes = seed.to_vec();
    for _ in 0..1 + rng.below(4) {
        let len = bytes.len();
        match rng.below(8) {
            0 if len > 0 => { let i = rng.below(len); bytes[i] ^= 1 << rng.below(8); }
            1 => { let i = rng.below(len + 1); bytes.insert(i, rng.next() as u8); }
            2 if len > 0 => { let i = rng.below(len); let j = (i + 1 + rng.below(8)).min(len); bytes.drain(i..j); }
            3 if len > 0 => { let i = rng.below(len); let j = (i + 1 + rng.below(16)).min(len); let chunk = bytes[i..j].to_vec(); bytes.splice(i..i, chunk); }
            4 => {
                let token = rng.pick(&["{", "}", "[", "]", "\"", ":", ",", "1e999", "null", "\\u0000", "\\", "\u{feff}"]);
                let i = rng.below(len + 1);
                bytes.splice(i..i, token.bytes());
            }
            5 if len > 0 => bytes.truncate(rng.below(len)),
            _ => {}
        }
    }
    String::from_utf8_lossy(&bytes).into_owned()
}

fn random_bytes_frame(rng: &mut Rng) -> String {
    let len = if rng.chance(3) { MAX_FRAME_BYTES - 10 + rng.below(20) } else { rng.below(64) };
    let bytes: Vec<u8> = (0..len).map(|_| rng.next() as u8).collect();
    String::from_utf8_lossy(&bytes).into_owned()
}

/// A frame just under, at, or just over 65536 bytes.
fn boundary_frame(rng: &mut Rng) -> String {
    let base = r#"{"type":"chat","text":""}"#.len();
    let pad = MAX_FRAME_BYTES - base + rng.below(3) - 1; // 65535, 65536 or 65537 bytes
    let filler = if rng.chance(50) { "x" } else { " " };
    format!(r#"{{"type":"chat","text":"{}"}}"#, filler.repeat(pad))
}

fn any_frame(rng: &mut Rng, corpus: &[Vec<u8>], ids: &[String]) -> String {
    match rng.below(40) {
        0..=3 => random_bytes_frame(rng),
        4..=11 if !corpus.is_empty() => {
            let seed = rng_pick_seed(rng, corpus);
            mutate(rng, seed)
        }
        12..=13 if !corpus.is_empty() => String::from_utf8_lossy(rng_pick_seed(rng, corpus)).into_owned(),
        14 => boundary_frame(rng),
        15..=25 => structured_frame(rng, ids),
        _ => valid_frame(rng, ids),
    }
}

fn rng_pick_seed<'a>(rng: &mut Rng, corpus: &'a [Vec<u8>]) -> &'a [u8] {
    &corpus[rng.below(corpus.len())]
}

// ---- the contract, read independently -----------------------------------------

/// A message as the contract defines it.
#[derive(Debug, Clone, PartialEq)]
enum Msg {
    Join { name: String, public: bool, audio: bool, video: bool },
    Chat { text: String },
    /// `data` as the raw JSON text the sender wrote.
    Signal { to: String, data: String },
    State([Option<bool>; 4]),
    Leave,
    Peek,
}

/// What a field holds, as far as the contract cares.
enum Field {
    Missing,
    Str(String),
    Bool(bool),
    /// Anything else, including values serde_json's `Value` cannot hold (too deep, 1e400).
    Other,
}

/// The contract's reading of one text frame, independent of `src/protocol.rs`.
fn classify(frame: &str) -> Result<Msg, &'static str> {
    if frame.len() > MAX_FRAME_BYTES {
        return Err("too_large");
    }
    let Ok(top) = serde_json::from_str::<HashMap<String, Box<RawValue>>>(frame) else {
        return Err("bad_json");
    };
    let field = |key: &str| match top.get(key) {
        None => Field::Missing,
        Some(raw) => match serde_json::from_str::<Value>(raw.get()) {
            Ok(Value::String(s)) => Field::Str(s),
            Ok(Value::Bool(b)) => Field::Bool(b),
            _ => Field::Other,
        },
    };
    let string = |key: &str| match field(key) {
        Field::Str(s) => Ok(s),
        _ => Err("bad_message"),
    };
    let flag = |key: &str| match field(key) {
        Field::Missing => Ok(None),
        Field::Bool(b) => Ok(Some(b)),
        _ => Err("bad_message"),
    };
    match string("type")?.as_str() {
        "join" => Ok(Msg::Join {
            name: string("name")?,
            public: flag("public")?.unwrap_or(false),
            audio: flag("audio")?.unwrap_or(false),
            video: flag("video")?.unwrap_or(false),
        }),
        "chat" => Ok(Msg::Chat { text: string("text")? }),
        "signal" => {
            let to = string("to")?;
            let data = top.get("data").ok_or("bad_message")?.get().to_owned();
            Ok(Msg::Signal { to, data })
        }
        "state" => Ok(Msg::State([flag("audio")?, flag("video")?, flag("screen")?, flag("hand")?])),
        "leave" => Ok(Msg::Leave),
        "peek" => Ok(Msg::Peek),
        _ => Err("bad_message"),
    }
}

fn name_ok(name: &str) -> Option<String> {
    let name = name.trim();
    let n = name.chars().count();
    ((1..=32).contains(&n) && !name.chars().any(char::is_control)).then(|| name.to_owned())
}

fn text_ok(text: &str) -> bool {
    let n = text.chars().count();
    (1..=2000).contains(&n) && !text.trim().is_empty()
}

/// The contract's token bucket at millisecond resolution.
#[derive(Debug, Clone)]
struct Bucket {
    burst: u64,
    per_second: u64,
    milli: u64,
    at: u64,
}

impl Bucket {
    fn new(burst: u64, per_second: u64, now: u64) -> Self {
        Self { burst, per_second, milli: burst * 1000, at: now }
    }
    fn take(&mut self, now: u64) -> bool {
        if now > self.at {
            self.milli = (self.milli + (now - self.at) * self.per_second).min(self.burst * 1000);
            self.at = now;
        }
        if self.milli >= 1000 {
            self.milli -= 1000;
            true
        } else {
            false
        }
    }
}

#[derive(Debug, Clone)]
struct Conn {
    id: String,
    peer: Option<Peer>,
    any: Bucket,
    chat: Bucket,
    dropped: u32,
    /// The attachment as the glue last stored it on the socket.
    stored: Attachment,
}

/// What one input must do.
#[derive(Default, Debug)]
struct Expected {
    /// Per recipient, in order: an exact JSON value, or exact text for `signal`.
    frames: Vec<(String, Frame)>,
    closes: Vec<(String, u16)>,
    store: Option<ChatEntry>,
    head_count: Option<(usize, bool)>,
    saves: Vec<String>,
}

#[derive(Debug, PartialEq)]
enum Frame {
    Json(Value),
    Text(String),
}

/// The room as the contract describes it.
struct Model {
    name: String,
    max_peers: usize,
    conns: Vec<Conn>,
    history: VecDeque<ChatEntry>,
    last_ts: u64,
    public: bool,
}

fn peer_json(p: &Peer) -> Value {
    json!({"id":p.id,"name":p.name,"audio":p.state.audio,"video":p.state.video,"screen":p.state.screen,"hand":p.state.hand})
}

fn error_json(code: &str) -> Value {
    json!({"type":"error","code":code})
}

impl Model {
    fn index(&self, id: &str) -> Option<usize> {
        self.conns.iter().position(|c| c.id == id)
    }
    fn joined(&self) -> usize {
        self.conns.iter().filter(|c| c.peer.is_some()).count()
    }
    fn broadcast(&self, value: &Value, skip: Option<&str>, e: &mut Expected) {
        for c in &self.conns {
            if c.peer.is_some() && Some(c.id.as_str()) != skip {
                e.frames.push((c.id.clone(), Frame::Json(value.clone())));
            }
        }
    }
    /// Removes a connection; the others hear `left` if it had joined.
    fn remove(&mut self, id: &str, e: &mut Expected) {
        let Some(i) = self.index(id) else { return };
        let c = self.conns.remove(i);
        if c.peer.is_some() {
            self.broadcast(&json!({"type":"left","id":id}), None, e);
            e.head_count = Some((self.joined(), self.public));
        }
    }
    fn close(&mut self, id: &str, code: u16, e: &mut Expected) {
        self.remove(id, e);
        e.closes.push((id.to_owned(), code));
    }
    fn drop_one(&mut self, i: usize, e: &mut Expected) {
        self.conns[i].dropped += 1;
        let id = self.conns[i].id.clone();
        if self.conns[i].dropped >= 1000 {
            self.close(&id, 1008, e);
        } else {
            e.frames.push((id, Frame::Json(error_json("rate_limited"))));
        }
    }

    fn receive(&mut self, now: u64, from: &str, frame: Option<&str>) -> Expected {
        let mut e = Expected::default();
        let Some(i) = self.index(from) else { return e };
        if !self.conns[i].any.take(now) {
            self.drop_one(i, &mut e);
            return e;
        }
        let Some(frame) = frame else {
            e.frames.push((from.to_owned(), Frame::Json(error_json("bad_message"))));
            return e;
        };
        let fail = |e: &mut Expected, code: &str| e.frames.push((from.to_owned(), Frame::Json(error_json(code))));
        let msg = match classify(frame) {
            Ok(msg) => msg,
            Err(code) => {
                fail(&mut e, code);
                if code == "too_large" {
                    self.close(from, 1009, &mut e);
                }
                return e;
            }
        };
        let joined = self.conns[i].peer.is_some();
        match msg {
            // Before or after joining: the others who joined, to the asker only.
            Msg::Peek => {
                let mut others: Vec<Value> =
                    self.conns.iter().filter(|c| c.id != from).filter_map(|c| c.peer.as_ref()).map(peer_json).collect();
                others.sort_by(|a, b| a["id"].as_str().cmp(&b["id"].as_str()));
                e.frames.push((
                    from.to_owned(),
                    Frame::Json(json!({"type":"peek","id":from,"room":self.name,"peers":others,"history":[],"maxPeers":self.max_peers})),
                ));
            }
            Msg::Join { .. } if joined => fail(&mut e, "already_joined"),
            Msg::Join { name, public, audio, video } => {
                let Some(name) = name_ok(&name) else {
                    fail(&mut e, "name_invalid");
                    return e;
                };
                let count = self.joined();
                if count >= self.max_peers {
                    let mut full = error_json("room_full");
                    full["maxPeers"] = json!(self.max_peers);
                    e.frames.push((from.to_owned(), Frame::Json(full)));
                    self.close(from, 4001, &mut e);
                    return e;
                }
                if count == 0 {
                    self.public = public;
                }
                let peer = Peer { id: from.to_owned(), name, state: MediaState { audio, video, screen: false, hand: false } };
                let mut others: Vec<Value> = self.conns.iter().filter_map(|c| c.peer.as_ref()).map(peer_json).collect();
                others.sort_by(|a, b| a["id"].as_str().cmp(&b["id"].as_str()));
                let history: Vec<Value> = self.history.iter().map(|h| json!({"from":h.from,"name":h.name,"text":h.text,"ts":h.ts})).collect();
                e.frames.push((
                    from.to_owned(),
                    Frame::Json(json!({"type":"welcome","id":from,"room":self.name,"peers":others,"history":history,"maxPeers":self.max_peers})),
                ));
                self.broadcast(&json!({"type":"joined","peer":peer_json(&peer)}), Some(from), &mut e);
                self.conns[i].peer = Some(peer);
                e.saves.push(from.to_owned());
                e.head_count = Some((count + 1, self.public));
            }
            _ if !joined => fail(&mut e, "not_joined"),
            Msg::Chat { text } => {
                if !text_ok(&text) {
                    fail(&mut e, "text_invalid");
                    return e;
                }
                if !self.conns[i].chat.take(now) {
                    self.drop_one(i, &mut e);
                    return e;
                }
                let ts = now.max(self.last_ts + 1);
                self.last_ts = ts;
                let name = self.conns[i].peer.as_ref().map(|p| p.name.clone()).unwrap_or_default();
                let entry = ChatEntry { from: from.to_owned(), name, text, ts };
                self.broadcast(&json!({"type":"chat","from":entry.from,"name":entry.name,"text":entry.text,"ts":ts}), None, &mut e);
                self.history.push_back(entry.clone());
                while self.history.len() > HISTORY_LIMIT {
                    self.history.pop_front();
                }
                e.store = Some(entry);
            }
            Msg::Signal { to, data } => {
                if to == from {
                    fail(&mut e, "bad_message");
                } else if !self.conns.iter().any(|c| c.id == to && c.peer.is_some()) {
                    fail(&mut e, "unknown_peer");
                } else {
                    e.frames.push((to, Frame::Text(format!(r#"{{"type":"signal","from":"{from}","data":{data}}}"#))));
                }
            }
            Msg::State(patch) => {
                let Some(peer) = self.conns[i].peer.as_mut() else { unreachable!() };
                let s = &mut peer.state;
                let before = *s;
                for (slot, value) in [&mut s.audio, &mut s.video, &mut s.screen, &mut s.hand].into_iter().zip(patch) {
                    if let Some(v) = value {
                        *slot = v;
                    }
                }
                if *s != before {
                    let p = peer.clone();
                    let mut state = peer_json(&p);
                    state.as_object_mut().map(|o| o.remove("name"));
                    state["type"] = "state".into();
                    self.broadcast(&state, Some(from), &mut e);
                    e.saves.push(from.to_owned());
                }
            }
            Msg::Leave => self.close(from, 1000, &mut e),
        }
        e
    }
}

// ---- checking one input ---------------------------------------------------------

/// Largest frame the room may send: a welcome with 100 entries of 2000
/// characters that each take 6 bytes escaped, plus 8 peers.
const MAX_OUT_FRAME: usize = HISTORY_LIMIT * (2000 * 6 + 32 * 6 + 200) + 64 * (32 * 6 + 200) + 1000;

/// Compares what the room did with what the model expected; `Err` says how they differ.
fn check(before_ids: &[String], effects: &[Effect], expected: &Expected) -> Result<(), String> {
    if effects.len() > before_ids.len() + 4 {
        return Err(format!("{} effects for one input with {} connections", effects.len(), before_ids.len()));
    }
    let mut closed: Vec<&str> = Vec::new();
    let mut frames: Vec<(String, Frame)> = Vec::new();
    let mut closes = Vec::new();
    let mut stores = Vec::new();
    let mut heads = Vec::new();
    for effect in effects {
        match effect {
            Effect::Send { to, frame } => {
                if !before_ids.iter().any(|id| **id == **to) {
                    return Err(format!("frame to a connection the room does not hold: {to} <- {frame}"));
                }
                if closed.contains(&&**to) {
                    return Err(format!("frame to {to} after closing it: {frame}"));
                }
                if frame.len() > MAX_OUT_FRAME {
                    return Err(format!("frame of {} bytes", frame.len()));
                }
                let top: BTreeMap<String, Box<RawValue>> =
                    serde_json::from_str(frame).map_err(|err| format!("frame is not a JSON object ({err}): {frame}"))?;
                let ty = top.get("type").map(|t| t.get().to_owned()).unwrap_or_default();
                if ty == r#""signal""# {
                    frames.push((to.to_string(), Frame::Text(frame.to_string())));
                    continue;
                }
                let mut v: Value = serde_json::from_str(frame).map_err(|err| format!("{err}: {frame}"))?;
                if v["type"] == "error" {
                    let code = v["code"].as_str().unwrap_or_default();
                    if !CODES.contains(&code) {
                        return Err(format!("error code outside the contract: {frame}"));
                    }
                    if !v["message"].is_string() {
                        return Err(format!("error without a message: {frame}"));
                    }
                    v.as_object_mut().map(|o| o.remove("message"));
                }
                if v["type"] == "welcome" || v["type"] == "peek" {
                    if let Some(peers) = v["peers"].as_array_mut() {
                        peers.sort_by(|a, b| a["id"].as_str().cmp(&b["id"].as_str()));
                    }
                    let history = v["history"].as_array().map_or(0, Vec::len);
                    if history > HISTORY_LIMIT {
                        return Err(format!("welcome with {history} history entries"));
                    }
                }
                frames.push((to.to_string(), Frame::Json(v)));
            }
            Effect::Close { id, code, .. } => {
                if !CLOSE_CODES.contains(code) {
                    return Err(format!("close code {code} is not the contract's"));
                }
                if !before_ids.iter().any(|known| **known == **id) {
                    return Err(format!("close of a connection the room does not hold: {id}"));
                }
                closed.push(id);
                closes.push((id.to_string(), *code));
            }
            Effect::StoreChat(entry) => stores.push(entry.clone()),
            Effect::SaveAttachment(id) => {
                if !before_ids.iter().any(|known| **known == **id) {
                    return Err(format!("attachment for unknown connection {id}"));
                }
            }
            Effect::HeadCount { peers, public } => heads.push((*peers, *public)),
            Effect::Forward { to, .. } => return Err(format!("a Forward to {to} that is not for a received frame")),
        }
    }
    // Frames compared recipient by recipient: the order between recipients is free.
    let mut recipients: Vec<&String> = frames.iter().map(|(to, _)| to).chain(expected.frames.iter().map(|(to, _)| to)).collect();
    recipients.sort();
    recipients.dedup();
    for r in recipients {
        let got: Vec<&Frame> = frames.iter().filter(|(to, _)| to == r).map(|(_, f)| f).collect();
        let want: Vec<&Frame> = expected.frames.iter().filter(|(to, _)| to == r).map(|(_, f)| f).collect();
        if got != want {
            return Err(format!("frames to {r}:\n  got  {got:?}\n  want {want:?}"));
        }
    }
    if closes != expected.closes {
        return Err(format!("closes: got {closes:?}, want {:?}", expected.closes));
    }
    if stores.last() != expected.store.as_ref() || stores.len() > 1 {
        return Err(format!("stored chat: got {stores:?}, want {:?}", expected.store));
    }
    if heads.last().copied() != expected.head_count || heads.len() > 1 {
        return Err(format!("head count: got {heads:?}, want {:?}", expected.head_count));
    }
    for id in &expected.saves {
        if !effects.iter().any(|e| matches!(e, Effect::SaveAttachment(s) if **s == **id)) {
            return Err(format!("peer {id} changed but its attachment was not saved"));
        }
    }
    Ok(())
}

// ---- the run --------------------------------------------------------------------

#[derive(Default)]
struct Stats {
    parser_execs: u64,
    room_inputs: u64,
    rooms: u64,
    restores: u64,
    connects: u64,
    disconnects: u64,
    timeouts: u64,
    outcomes: BTreeMap<String, u64>,
}

fn load_corpus() -> Vec<Vec<u8>> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("fuzz/corpus");
    let mut entries: Vec<PathBuf> = std::fs::read_dir(&dir).map(|d| d.filter_map(|e| e.ok().map(|e| e.path())).collect()).unwrap_or_default();
    entries.sort();
    entries.iter().filter_map(|p| std::fs::read(p).ok()).collect()
}

fn fail_with(seed: u64, what: &str, input: &str, why: &str) -> ! {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("target/fuzz-failures");
    let _ = std::fs::create_dir_all(&dir);
    let file = dir.join(format!("seed-{seed}.txt"));
    let _ = std::fs::write(&file, input);
    let shown: String = input.chars().take(300).collect();
    panic!("fuzz failure (replay with NOOM_FUZZ_SEED={seed}; input saved to {}):\n{what}\ninput ({} bytes): {shown:?}\n{why}", file.display(), input.len());
}

fn parser_phase(rng: &mut Rng, seed: u64, corpus: &[Vec<u8>], deadline: Instant, stats: &mut Stats) {
    let ids = vec!["peer0001".to_owned(), "peer0002".to_owned()];
    while Instant::now() < deadline {
        for _ in 0..256 {
            let frame = any_frame(rng, corpus, &ids);
            let got = catch_unwind(AssertUnwindSafe(|| parse_client_frame(&frame).map(|m| describe(&m))));
            let got = got.unwrap_or_else(|_| fail_with(seed, "parse_client_frame panicked", &frame, ""));
            let want = classify(&frame);
            let agree = match (&got, &want) {
                (Ok(g), Ok(w)) => g == w,
                (Err(g), Err(w)) => g.code() == *w,
                _ => false,
            };
            if !agree {
                fail_with(seed, "parser disagrees with the contract", &frame, &format!("parser: {got:?}\ncontract: {want:?}"));
            }
            if let Err(e) = got {
                if !matches!(e, ProtocolError::BadJson | ProtocolError::BadMessage | ProtocolError::TooLarge) {
                    fail_with(seed, "parser returned a room-level error", &frame, &format!("{e:?}"));
                }
            }
            stats.parser_execs += 1;
        }
    }
}

/// The parser's message in the model's terms.
fn describe(m: &ClientMessage<'_>) -> Msg {
    match m {
        ClientMessage::Join { name, public, state } => Msg::Join { name: name.clone(), public: *public, audio: state.audio, video: state.video },
        ClientMessage::Chat { text } => Msg::Chat { text: text.clone() },
        ClientMessage::Signal { to, data } => Msg::Signal { to: to.to_string(), data: (*data).to_owned() },
        ClientMessage::State(p) => Msg::State([p.audio, p.video, p.screen, p.hand]),
        ClientMessage::Leave => Msg::Leave,
        ClientMessage::Peek => Msg::Peek,
    }
}

fn room_phase(rng: &mut Rng, seed: u64, corpus: &[Vec<u8>], deadline: Instant, stats: &mut Stats) {
    while Instant::now() < deadline {
        one_room(rng, seed, corpus, deadline, stats);
    }
}

fn one_room(rng: &mut Rng, seed: u64, corpus: &[Vec<u8>], deadline: Instant, stats: &mut Stats) {
    stats.rooms += 1;
    let max_peers = *rng.pick(&[1usize, 2, 3, 8, 8]);
    let name = format!("fuzz-{}", stats.rooms);
    let mut now = T0 + rng.below(1_000_000) as u64;
    // Sometimes the room starts with stored history, more than 100 entries included.
    let initial: Vec<ChatEntry> = (0..if rng.chance(30) { rng.below(150) } else { 0 })
        .map(|i| ChatEntry { from: "old00000".into(), name: "Old".into(), text: format!("old {i}"), ts: now - 100_000 + i as u64 })
        .collect();
    let mut room = Room::new(&name, max_peers, initial.clone());
    let mut model = Model { name: name.clone(), max_peers, conns: Vec::new(), history: initial.iter().cloned().collect(), last_ts: initial.last().map_or(0, |e| e.ts), public: false };
    while model.history.len() > HISTORY_LIMIT {
        model.history.pop_front();
    }
    let mut next_id = 0u32;
    let steps = 200 + rng.below(1500);
    let mut log: Vec<String> = Vec::new();
    for _ in 0..steps {
        if Instant::now() >= deadline {
            return;
        }
        let action = rng.below(100);
        match action {
            0..=7 if model.conns.len() < MAX_CONNECTIONS => {
                next_id += 1;
                let id = format!("peer{next_id:04}{}", ["", "_x", "-Y9"][rng.below(3)]);
                room.connect(id.clone(), now);
                let stored = stored_attachment(&room, &id).unwrap_or_else(|| fail_with(seed, "connect", &id, "no attachment after connect"));
                model.conns.push(Conn { id: id.clone(), peer: None, any: Bucket::new(200, 50, now), chat: Bucket::new(10, 2, now), dropped: 0, stored });
                stats.connects += 1;
                log.push(format!("connect {id}"));
            }
            8..=10 => {
                // A socket closes, or (one time in four) goes silent and is timed out.
                let id = pick_id(rng, &model);
                let silent = rng.chance(25);
                let before: Vec<String> = model.conns.iter().map(|c| c.id.clone()).collect();
                let effects = catch_unwind(AssertUnwindSafe(|| if silent { room.time_out(&id) } else { room.disconnect(&id) }))
                    .unwrap_or_else(|_| fail_with(seed, "disconnect panicked", &id, &log.join("\n")));
                let mut expected = Expected::default();
                if silent {
                    if model.index(&id).is_some() {
                        model.close(&id, 1001, &mut expected);
                    }
                } else {
                    model.remove(&id, &mut expected);
                }
                if let Err(why) = check(&before, &effects, &expected) {
                    fail_with(seed, "disconnect", &id, &format!("{why}\nafter:\n{}", tail(&log)));
                }
                apply_saves(&room, &mut model, &effects);
                stats.disconnects += 1;
                stats.timeouts += u64::from(silent);
                log.push(format!("{} {id}", if silent { "time out" } else { "disconnect" }));
            }
            11..=25 => {
                now = match rng.below(10) {
                    0 => now.saturating_sub(rng.below(5_000) as u64), // the clock goes back
                    1 => now + rng.below(3_600_000) as u64,          // a long quiet spell
                    _ => now + rng.below(600) as u64,
                };
            }
            26 => {
                restore(rng, seed, &mut room, &mut model, now, &log);
                stats.restores += 1;
                log.push("restore".into());
            }
            27 => {
                // A flood: the same frame many times at one instant.
                let id = pick_id(rng, &model);
                let frame = if rng.chance(50) { r#"{"type":"chat","text":"flood"}"#.to_owned() } else { any_frame(rng, corpus, &[]) };
                let n = if rng.chance(15) { 900 + rng.below(400) } else { 20 + rng.below(250) };
                for _ in 0..n {
                    feed(seed, &mut room, &mut model, now, &id, Some(&frame), stats, &log);
                }
                log.push(format!("flood {id} {}", short(&frame)));
            }
            _ => {
                let id = pick_id(rng, &model);
                let ids: Vec<String> = model.conns.iter().map(|c| c.id.clone()).collect();
                let frame = if rng.chance(4) { None } else { Some(any_frame(rng, corpus, &ids)) };
                feed(seed, &mut room, &mut model, now, &id, frame.as_deref(), stats, &log);
                log.push(format!("{id} @{now}: {}", frame.as_deref().map_or("<binary>".into(), short)));
            }
        }
        if model.joined() > max_peers || room.peer_count() != model.joined() {
            fail_with(seed, "peer count", "", &format!("room {} model {} max {max_peers}\n{}", room.peer_count(), model.joined(), tail(&log)));
        }
    }
}

fn short(s: &str) -> String {
    s.chars().take(120).collect()
}

fn tail(log: &[String]) -> String {
    log[log.len().saturating_sub(15)..].join("\n")
}

fn pick_id(rng: &mut Rng, model: &Model) -> String {
    if model.conns.is_empty() || rng.chance(5) {
        "ghost000".to_owned()
    } else {
        model.conns[rng.below(model.conns.len())].id.clone()
    }
}

#[allow(clippy::too_many_arguments)]
fn feed(seed: u64, room: &mut Room, model: &mut Model, now: u64, id: &str, frame: Option<&str>, stats: &mut Stats, log: &[String]) {
    let before: Vec<String> = model.conns.iter().map(|c| c.id.clone()).collect();
    let incoming = frame.map_or(Incoming::Binary, Incoming::Text);
    let effects = catch_unwind(AssertUnwindSafe(|| room.receive(now, id, incoming)))
        .unwrap_or_else(|_| fail_with(seed, "Room::receive panicked", frame.unwrap_or("<binary>"), &tail(log)));
    // A forwarded signal must point into the frame; it is then checked as the frame it stands for.
    for effect in &effects {
        if let Effect::Forward { data, .. } = effect {
            if frame.and_then(|f| f.get(data.clone())).is_none() {
                fail_with(seed, "Forward outside the frame", frame.unwrap_or("<binary>"), &format!("{data:?}\nafter:\n{}", tail(log)));
            }
        }
    }
    let effects: Vec<Effect> = effects.into_iter().map(|e| e.into_send(frame.unwrap_or_default())).collect();
    let expected = model.receive(now, id, frame);
    if let Err(why) = check(&before, &effects, &expected) {
        fail_with(seed, &format!("input from {id} at {now}"), frame.unwrap_or("<binary>"), &format!("{why}\nafter:\n{}", tail(log)));
    }
    apply_saves(room, model, &effects);
    stats.room_inputs += 1;
    let outcome = expected
        .frames
        .iter()
        .find_map(|(to, f)| match f {
            Frame::Json(v) if to == id && v["type"] == "error" => v["code"].as_str().map(str::to_owned),
            _ => None,
        })
        .or_else(|| expected.closes.first().map(|(_, code)| format!("closed {code}")))
        .unwrap_or_else(|| if before.iter().any(|b| b == id) { "accepted".into() } else { "ignored (unknown connection)".into() });
    *stats.outcomes.entry(outcome).or_default() += 1;
}

/// What the glue stores for a socket: the room's JSON, as serde reads it back
/// after a wake-up (a JSON mistake would show up as a wrong restored room).
fn stored_attachment(room: &Room, id: &str) -> Option<Attachment> {
    room.attachment_json(id, 0).map(|json| serde_json::from_str(&json).expect("attachment JSON reads back"))
}

/// The glue rewrites a socket's attachment when the core asks: mirror that.
fn apply_saves(room: &Room, model: &mut Model, effects: &[Effect]) {
    for e in effects {
        if let Effect::SaveAttachment(id) = e {
            if let (Some(a), Some(i)) = (stored_attachment(room, id), model.index(id)) {
                model.conns[i].stored = a;
            }
        }
    }
}

/// Hibernation: the room is rebuilt from storage and the sockets' attachments only.
fn restore(rng: &mut Rng, seed: u64, room: &mut Room, model: &mut Model, now: u64, log: &[String]) {
    for c in &model.conns {
        if c.stored.peer != c.peer {
            fail_with(seed, "attachment out of date", &c.id, &format!("stored {:?}\nin memory {:?}\n{}", c.stored.peer, c.peer, tail(log)));
        }
    }
    // The runtime hands the sockets back in no particular order; attachments go through JSON.
    let mut order: Vec<usize> = (0..model.conns.len()).collect();
    for i in (1..order.len()).rev() {
        order.swap(i, rng.below(i + 1));
    }
    model.conns = order.iter().map(|&i| model.conns[i].clone()).collect();
    let attachments: Vec<Attachment> = model
        .conns
        .iter()
        .map(|c| serde_json::from_str(&serde_json::to_string(&c.stored).unwrap_or_default()).unwrap_or_else(|e| fail_with(seed, "attachment JSON", &c.id, &e.to_string())))
        .collect();
    let history: Vec<ChatEntry> = model.history.iter().cloned().collect();
    *room = catch_unwind(AssertUnwindSafe(|| Room::restore(&model.name, model.max_peers, history, attachments, now)))
        .unwrap_or_else(|_| fail_with(seed, "Room::restore panicked", "", &tail(log)));
    model.public = model.conns.iter().any(|c| c.stored.peer.is_some() && c.stored.public);
    for c in &mut model.conns {
        c.any = Bucket::new(200, 50, now);
        c.chat = Bucket::new(10, 2, now);
        c.dropped = 0;
    }
}

fn write_figures(doc: &Path, seed: u64, corpus: usize, stats: &Stats, elapsed: Duration) {
    let mut s = String::new();
    s.push_str(&format!(
        "Last `make fuzz`: {} s (seed {seed}), corpus of {corpus} entries.\n\n\
         | what | count |\n|---|---|\n\
         | parser executions (each checked against the contract's reading) | {} |\n\
         | room inputs (each checked against the reference model) | {} |\n\
         | rooms driven | {} |\n| connections opened / dropped (of which timed out as silent) | {} / {} ({}) |\n| hibernations (restore from attachments) | {} |\n\n\
         Outcomes of the room inputs:\n\n| outcome | inputs |\n|---|---|\n",
        elapsed.as_secs(),
        stats.parser_execs, stats.room_inputs, stats.rooms, stats.connects, stats.disconnects, stats.timeouts, stats.restores,
    ));
    for (outcome, n) in &stats.outcomes {
        s.push_str(&format!("| {outcome} | {n} |\n"));
    }
    splice(doc, "fuzz", &s);
}

/// Replaces the text between `<!-- figures:NAME:begin -->` and `<!-- figures:NAME:end -->`.
fn splice(doc: &Path, name: &str, body: &str) {
    let begin = format!("<!-- figures:{name}:begin -->");
    let end = format!("<!-- figures:{name}:end -->");
    let Ok(text) = std::fs::read_to_string(doc) else { return eprintln!("cannot read {}", doc.display()) };
    let (Some(b), Some(e)) = (text.find(&begin), text.find(&end)) else { return eprintln!("no {begin} in {}", doc.display()) };
    let updated = format!("{}{begin}\n{body}{}", &text[..b], &text[e..]);
    if let Err(err) = std::fs::write(doc, updated) {
        eprintln!("cannot write {}: {err}", doc.display());
    }
}

#[test]
fn fuzz_parser_and_room_core_against_the_contract() {
    let seconds: u64 = std::env::var("NOOM_FUZZ_SECONDS").ok().and_then(|s| s.parse().ok()).unwrap_or(20);
    let seed: u64 = std::env::var("NOOM_FUZZ_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| SystemTime::now().duration_since(UNIX_EPOCH).map_or(1, |d| d.as_nanos() as u64) | 1);
    let corpus = load_corpus();
    assert!(corpus.len() >= 10, "fuzz/corpus/ should hold the seed inputs");
    let mut rng = Rng(seed);
    let mut stats = Stats::default();
    let start = Instant::now();
    // Every corpus entry as it is, first.
    for entry in &corpus {
        let frame = String::from_utf8_lossy(entry);
        let got = parse_client_frame(&frame).map(|m| describe(&m)).map_err(|e| e.code());
        assert_eq!(got, classify(&frame), "corpus entry {frame:?}");
        stats.parser_execs += 1;
    }
    let budget = Duration::from_secs(seconds);
    parser_phase(&mut rng, seed, &corpus, start + budget * 3 / 10, &mut stats);
    room_phase(&mut rng, seed, &corpus, start + budget, &mut stats);
    let elapsed = start.elapsed();
    println!(
        "fuzz: seed {seed}, {} s, {} parser executions, {} room inputs in {} rooms, {} hibernations; outcomes {:?}",
        elapsed.as_secs(), stats.parser_execs, stats.room_inputs, stats.rooms, stats.restores, stats.outcomes
    );
    if let Ok(doc) = std::env::var("NOOM_FUZZ_DOC") {
        write_figures(&Path::new(env!("CARGO_MANIFEST_DIR")).join(doc), seed, corpus.len(), &stats, elapsed);
    }
    for code in ["bad_json", "bad_message", "not_joined", "name_invalid", "text_invalid", "unknown_peer", "rate_limited", "too_large"] {
        assert!(stats.outcomes.contains_key(code) || seconds < 5, "the run never produced {code}: the generators have drifted");
    }
}
