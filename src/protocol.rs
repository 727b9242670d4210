//! The wire contract (`../shared/PROTOCOL.md`, described in `docs/protocol.md`):
//! what a frame means, never how it moves.
//!
//! Parsing turns one text frame into a [`ClientMessage`] or a [`ProtocolError`];
//! the server's replies are built by the small `*_frame` functions at the end.
//! Nothing here knows about sockets, the clock or the Workers runtime, so every
//! rule is unit-tested natively with plain strings.
//!
//! Two design points matter for speed: a `signal` frame's `data` is kept as the
//! raw JSON text the sender wrote ([`RawValue`]) and pasted into the outgoing
//! frame unchanged, so a 4 KB SDP offer is scanned once and never re-encoded;
//! and the frames clients send most (`state`, `chat`, `leave`, and signals
//! with short `data` such as ICE candidates: objects of plain strings,
//! booleans and numbers) are read by a small scanner of their own
//! ([`scan_flat`]), with serde_json for everything else.

use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;
use std::borrow::Cow;

/// Largest text frame the room accepts, in bytes (UTF-8).
pub const MAX_FRAME_BYTES: usize = 65_536;
/// A display name is 1 to 32 Unicode scalar values after trimming.
pub const MAX_NAME_CHARS: usize = 32;
/// A chat message is 1 to 2000 Unicode scalar values.
pub const MAX_CHAT_CHARS: usize = 2000;

/// The server-assigned identity of one connection inside a room.
pub type PeerId = String;

/// Every error the contract names. The one place that maps each to its wire
/// `code`, its human message and, for the fatal ones, the close code.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ProtocolError {
    BadJson,
    BadMessage,
    NotJoined,
    AlreadyJoined,
    NameInvalid,
    TextInvalid,
    UnknownPeer,
    RateLimited,
    TooLarge,
    /// Carries the room's limit, sent as the frame's `maxPeers` so the page
    /// can say how many a meeting holds (the operator may have changed it).
    RoomFull { max_peers: usize },
}

impl ProtocolError {
    /// The contract's `code` string.
    pub fn code(self) -> &'static str {
        match self {
            Self::BadJson => "bad_json",
            Self::BadMessage => "bad_message",
            Self::NotJoined => "not_joined",
            Self::AlreadyJoined => "already_joined",
            Self::NameInvalid => "name_invalid",
            Self::TextInvalid => "text_invalid",
            Self::UnknownPeer => "unknown_peer",
            Self::RateLimited => "rate_limited",
            Self::TooLarge => "too_large",
            Self::RoomFull { .. } => "room_full",
        }
    }

    /// A sentence a person can act on.
    pub fn message(self) -> &'static str {
        match self {
            Self::BadJson => "frame is not a JSON object",
            Self::BadMessage => "unknown type, wrong or missing field, or binary frame",
            Self::NotJoined => "send join first",
            Self::AlreadyJoined => "this connection has already joined",
            Self::NameInvalid => "name must be 1 to 32 characters with no control characters",
            Self::TextInvalid => "chat text must be 1 to 2000 characters and not only whitespace",
            Self::UnknownPeer => "no such peer in this room",
            Self::RateLimited => "too many messages; this one was dropped",
            Self::TooLarge => "frame is larger than 65536 bytes",
            Self::RoomFull { .. } => "the room is full",
        }
    }

    /// `Some(close code)` when the error ends the connection.
    pub fn close_code(self) -> Option<u16> {
        match self {
            Self::TooLarge => Some(1009),
            Self::RoomFull { .. } => Some(4001),
            _ => None,
        }
    }
}

/// A peer's media and hand state: the four booleans of the contract.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct MediaState {
    pub audio: bool,
    pub video: bool,
    pub screen: bool,
    pub hand: bool,
}

/// A partial state update: only the booleans the client sent.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct StatePatch {
    pub audio: Option<bool>,
    pub video: Option<bool>,
    pub screen: Option<bool>,
    pub hand: Option<bool>,
}

impl MediaState {
    /// Merges a patch; returns whether anything changed.
    pub fn apply(&mut self, patch: StatePatch) -> bool {
        let before = *self;
        self.audio = patch.audio.unwrap_or(self.audio);
        self.video = patch.video.unwrap_or(self.video);
        self.screen = patch.screen.unwrap_or(self.screen);
        self.hand = patch.hand.unwrap_or(self.hand);
        before != *self
    }
}

/// A peer as the contract shows it: `{"id","name","audio","video","screen","hand"}`.
/// Read through [`PeerFields`]: serde's `flatten` would buffer every field in
/// a generic map, and that machinery is a few KB of WebAssembly. Writing with
/// `flatten` needs no such buffer (and the hot frames are written by hand).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(from = "PeerFields")]
pub struct Peer {
    pub id: PeerId,
    pub name: String,
    #[serde(flatten)]
    pub state: MediaState,
}

/// [`Peer`] as one flat record, the way it is written.
#[derive(Deserialize)]
struct PeerFields {
    id: PeerId,
    name: String,
    audio: bool,
    video: bool,
    screen: bool,
    hand: bool,
}

impl From<PeerFields> for Peer {
    fn from(PeerFields { id, name, audio, video, screen, hand }: PeerFields) -> Self {
        Peer { id, name, state: MediaState { audio, video, screen, hand } }
    }
}

/// One chat message as stored in history (the `chat` frame without `type`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChatEntry {
    pub from: PeerId,
    pub name: String,
    pub text: String,
    pub ts: u64,
}

/// A validated message from a client.
#[derive(Debug)]
pub enum ClientMessage<'a> {
    Join { name: String, public: bool, state: MediaState },
    Chat { text: String },
    /// `data` is the raw JSON text of the value, as the sender wrote it;
    /// `to` is borrowed from the frame too, unless it had escapes.
    Signal { to: Cow<'a, str>, data: &'a str },
    State(StatePatch),
    Leave,
    /// Who is in the room, asked before or after joining (an extension of the contract).
    Peek,
}

/// The top-level fields the contract uses, each kept as the raw JSON text the
/// client wrote, so `data` is never decoded and fields a message type does not
/// use are ignored whatever they hold. One pass over the frame, no allocation:
/// any other field is skipped, and a repeated key keeps its last value (as
/// `JSON.parse` does).
#[derive(Default, Debug, PartialEq)]
struct Fields<'a> {
    kind: Option<&'a str>,
    name: Option<&'a str>,
    text: Option<&'a str>,
    to: Option<&'a str>,
    data: Option<&'a str>,
    public: Option<&'a str>,
    audio: Option<&'a str>,
    video: Option<&'a str>,
    screen: Option<&'a str>,
    hand: Option<&'a str>,
}

impl<'a> Fields<'a> {
    /// Where the value of a key goes (`None`: a key the contract does not use).
    fn slot(&mut self, key: Key) -> Option<&mut Option<&'a str>> {
        Some(match key {
            Key::Kind => &mut self.kind,
            Key::Name => &mut self.name,
            Key::Text => &mut self.text,
            Key::To => &mut self.to,
            Key::Data => &mut self.data,
            Key::Public => &mut self.public,
            Key::Audio => &mut self.audio,
            Key::Video => &mut self.video,
            Key::Screen => &mut self.screen,
            Key::Hand => &mut self.hand,
            Key::Other => return None,
        })
    }
}

/// A top-level key, as far as [`Fields`] cares.
enum Key {
    Kind,
    Name,
    Text,
    To,
    Data,
    Public,
    Audio,
    Video,
    Screen,
    Hand,
    Other,
}

impl Key {
    fn of(key: &[u8]) -> Key {
        match key {
            b"type" => Key::Kind,
            b"name" => Key::Name,
            b"text" => Key::Text,
            b"to" => Key::To,
            b"data" => Key::Data,
            b"public" => Key::Public,
            b"audio" => Key::Audio,
            b"video" => Key::Video,
            b"screen" => Key::Screen,
            b"hand" => Key::Hand,
            _ => Key::Other,
        }
    }
}

impl<'de> Deserialize<'de> for Key {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct KeyVisitor;
        impl serde::de::Visitor<'_> for KeyVisitor {
            type Value = Key;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("a field name")
            }
            // Escaped keys arrive here unescaped, so `"typ\u0065"` is `type`.
            fn visit_str<E: serde::de::Error>(self, key: &str) -> Result<Key, E> {
                Ok(Key::of(key.as_bytes()))
            }
        }
        deserializer.deserialize_identifier(KeyVisitor)
    }
}

impl<'de> Deserialize<'de> for Fields<'de> {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct FieldsVisitor;
        impl<'de> serde::de::Visitor<'de> for FieldsVisitor {
            type Value = Fields<'de>;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("a JSON object")
            }
            fn visit_map<A: serde::de::MapAccess<'de>>(self, mut map: A) -> Result<Fields<'de>, A::Error> {
                let mut fields = Fields::default();
                while let Some(key) = map.next_key::<Key>()? {
                    match fields.slot(key) {
                        Some(slot) => *slot = Some(map.next_value::<&RawValue>()?.get()),
                        None => _ = map.next_value::<serde::de::IgnoredAny>()?,
                    }
                }
                Ok(fields)
            }
        }
        deserializer.deserialize_map(FieldsVisitor)
    }
}

/// Parses one text frame. The size check comes first: an oversized frame is
/// `too_large` whatever it contains.
pub fn parse_client_frame(frame: &str) -> Result<ClientMessage<'_>, ProtocolError> {
    if frame.len() > MAX_FRAME_BYTES {
        return Err(ProtocolError::TooLarge);
    }
    let fields = match scan_flat(frame) {
        Some(fields) => fields,
        None => serde_json::from_str::<Fields>(frame).map_err(|_| ProtocolError::BadJson)?,
    };
    let kind = string(fields.kind)?;
    match &*kind {
        "join" => Ok(ClientMessage::Join {
            name: string(fields.name)?.into_owned(),
            public: boolean(fields.public)?.unwrap_or(false),
            state: MediaState {
                audio: boolean(fields.audio)?.unwrap_or(false),
                video: boolean(fields.video)?.unwrap_or(false),
                screen: false,
                hand: false,
            },
        }),
        "chat" => Ok(ClientMessage::Chat { text: string(fields.text)?.into_owned() }),
        "signal" => Ok(ClientMessage::Signal {
            to: string(fields.to)?,
            data: fields.data.ok_or(ProtocolError::BadMessage)?,
        }),
        "state" => Ok(ClientMessage::State(StatePatch {
            audio: boolean(fields.audio)?,
            video: boolean(fields.video)?,
            screen: boolean(fields.screen)?,
            hand: boolean(fields.hand)?,
        })),
        "leave" => Ok(ClientMessage::Leave),
        "peek" => Ok(ClientMessage::Peek),
        _ => Err(ProtocolError::BadMessage),
    }
}

/// [`Fields`] of a frame in the shape clients send, or `None` for the
/// serde_json path to decide: a JSON object (with JSON whitespace anywhere
/// between tokens) whose keys are plain strings and whose values are plain
/// strings, `true`, `false`, `null`, numbers, or objects and arrays of those
/// nested up to [`SCAN_DEPTH`] deep (a browser's ICE candidate is two). Plain:
/// no backslash and no control character, so the text between the quotes is
/// the string itself. Whatever this accepts, serde_json reads the same way
/// (the unit tests and `tests/fuzz.rs` compare the two); anything else
/// (escapes, deeper nesting, bad JSON) it leaves alone. Costs a fraction of
/// serde_json's generic path in WebAssembly, where every frame is parsed.
fn scan_flat(frame: &str) -> Option<Fields<'_>> {
    let bytes = frame.as_bytes();
    let mut fields = Fields::default();
    let mut at = skip_space(bytes, 0);
    if bytes.get(at) != Some(&b'{') {
        return None;
    }
    at = skip_space(bytes, at + 1);
    if bytes.get(at) == Some(&b'}') {
        at += 1;
    } else {
        // The frame's own object, read here rather than by `scan_value`: most
        // frames are only this, and the loop inlined is the fast path.
        loop {
            let key_end = plain_string_end(bytes, at)?;
            let key = Key::of(&bytes[at + 1..key_end - 1]);
            at = skip_space(bytes, key_end);
            if bytes.get(at) != Some(&b':') {
                return None;
            }
            let start = skip_space(bytes, at + 1);
            at = match bytes.get(start)? {
                b'"' => plain_string_end(bytes, start)?,
                b't' if bytes[start..].starts_with(b"true") => start + 4,
                b'f' if bytes[start..].starts_with(b"false") => start + 5,
                b'n' if bytes[start..].starts_with(b"null") => start + 4,
                _ => scan_value(bytes, start, SCAN_DEPTH)?,
            };
            if let Some(slot) = fields.slot(key) {
                // Every index here is at an ASCII byte: a character boundary.
                *slot = Some(frame.get(start..at)?);
            }
            at = skip_space(bytes, at);
            match bytes.get(at)? {
                b',' => at = skip_space(bytes, at + 1),
                b'}' => {
                    at += 1;
                    break;
                }
                _ => return None,
            }
        }
    }
    (skip_space(bytes, at) == bytes.len()).then_some(fields)
}

/// How deep [`scan_flat`] follows objects and arrays inside a field's value.
const SCAN_DEPTH: usize = 4;

/// The index after the JSON whitespace starting at `at`.
#[inline(always)]
fn skip_space(bytes: &[u8], mut at: usize) -> usize {
    while matches!(bytes.get(at), Some(b' ' | b'\t' | b'\n' | b'\r')) {
        at += 1;
    }
    at
}

/// The end (after the closing quote) of the plain string starting at `at`.
#[inline(always)]
fn plain_string_end(bytes: &[u8], at: usize) -> Option<usize> {
    if bytes.get(at) != Some(&b'"') {
        return None;
    }
    let len = bytes.get(at + 1..)?.iter().position(|&b| b == b'"' || b == b'\\' || b < 0x20)?;
    (bytes[at + 1 + len] == b'"').then_some(at + 2 + len)
}

/// The end of the value in [`scan_flat`]'s shape starting at `at`, with at
/// most `depth` levels of objects and arrays in it.
fn scan_value(bytes: &[u8], at: usize, depth: usize) -> Option<usize> {
    let word = |word: &[u8]| bytes[at..].starts_with(word).then_some(at + word.len());
    match *bytes.get(at)? {
        b'"' => plain_string_end(bytes, at),
        b't' => word(b"true"),
        b'f' => word(b"false"),
        b'n' => word(b"null"),
        b'-' | b'0'..=b'9' => scan_number(bytes, at),
        open @ (b'{' | b'[') if depth > 0 => {
            let close = if open == b'{' { b'}' } else { b']' };
            let mut at = skip_space(bytes, at + 1);
            if bytes.get(at) == Some(&close) {
                return Some(at + 1);
            }
            loop {
                if open == b'{' {
                    at = skip_space(bytes, plain_string_end(bytes, at)?);
                    if bytes.get(at) != Some(&b':') {
                        return None;
                    }
                    at = skip_space(bytes, at + 1);
                }
                at = skip_space(bytes, scan_value(bytes, at, depth - 1)?);
                match *bytes.get(at)? {
                    b',' => at = skip_space(bytes, at + 1),
                    b if b == close => return Some(at + 1),
                    _ => return None,
                }
            }
        }
        _ => None,
    }
}

/// The end of the JSON number starting at `at`: `-`, then `0` or digits not
/// starting with `0`, then maybe `.digits`, then maybe `e`/`E`, a sign and digits.
fn scan_number(bytes: &[u8], mut at: usize) -> Option<usize> {
    let digits = |at: usize| at + bytes[at..].iter().take_while(|b| b.is_ascii_digit()).count();
    at += usize::from(bytes[at] == b'-');
    at = match *bytes.get(at)? {
        b'0' => at + 1,
        b'1'..=b'9' => digits(at),
        _ => return None,
    };
    if bytes.get(at) == Some(&b'.') {
        let end = digits(at + 1);
        if end == at + 1 {
            return None;
        }
        at = end;
    }
    if matches!(bytes.get(at), Some(b'e' | b'E')) {
        at += 1;
        at += usize::from(matches!(bytes.get(at), Some(b'+' | b'-')));
        let end = digits(at);
        if end == at {
            return None;
        }
        at = end;
    }
    Some(at)
}

/// A required field that must be a JSON string. The raw text is already valid
/// JSON, so a string literal without a backslash is its own content: borrowed
/// as is.
fn string(raw: Option<&str>) -> Result<Cow<'_, str>, ProtocolError> {
    let text = raw.ok_or(ProtocolError::BadMessage)?;
    match text.strip_prefix('"').and_then(|t| t.strip_suffix('"')) {
        Some(inner) if !inner.contains('\\') => Ok(Cow::Borrowed(inner)),
        _ => serde_json::from_str::<String>(text).map(Cow::Owned).map_err(|_| ProtocolError::BadMessage),
    }
}

/// An optional field that, when present, must be `true` or `false` (the raw
/// text of a JSON boolean is exactly one of those words).
fn boolean(raw: Option<&str>) -> Result<Option<bool>, ProtocolError> {
    match raw {
        None => Ok(None),
        Some("true") => Ok(Some(true)),
        Some("false") => Ok(Some(false)),
        Some(_) => Err(ProtocolError::BadMessage),
    }
}

/// Trims a display name and checks the contract's rule; returns the name to use.
pub fn validate_name(name: &str) -> Result<String, ProtocolError> {
    let name = name.trim();
    let chars = name.chars().count();
    if chars == 0 || chars > MAX_NAME_CHARS || name.chars().any(char::is_control) {
        return Err(ProtocolError::NameInvalid);
    }
    Ok(name.to_owned())
}

/// Checks a chat text: 1 to 2000 scalar values, not only whitespace.
pub fn validate_chat_text(text: &str) -> Result<(), ProtocolError> {
    let chars = text.chars().count();
    if chars == 0 || chars > MAX_CHAT_CHARS || text.trim().is_empty() {
        return Err(ProtocolError::TextInvalid);
    }
    Ok(())
}

/// A room name: 1 to 64 of `[A-Za-z0-9_-]`, case-sensitive.
pub fn is_valid_room_name(name: &str) -> bool {
    (1..=64).contains(&name.len())
        && name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
}

// ---- Server frames ------------------------------------------------------------
// Each builder returns the finished JSON text, so a broadcast serializes once.

fn to_json<T: Serialize>(value: &T) -> String {
    // Serializing these plain structs cannot fail: no maps with non-string keys,
    // no custom Serialize impls that error.
    serde_json::to_string(value).unwrap_or_default()
}

/// `{"type":"welcome",...}`: the answer to a valid join.
pub fn welcome_frame(id: &str, room: &str, peers: &[&Peer], history: &[ChatEntry], max_peers: usize) -> String {
    room_frame("welcome", id, room, peers, history, max_peers)
}

/// `{"type":"peek",...}`: who is in the room, for the pre-join screen ("Ann
/// and Bob are here", "this meeting is full"). The shape of `welcome` with
/// no history, so one serializer writes both; `id` is the id the asker
/// would join with.
pub fn peek_frame(id: &str, room: &str, peers: &[&Peer], max_peers: usize) -> String {
    room_frame("peek", id, room, peers, &[], max_peers)
}

fn room_frame(kind: &'static str, id: &str, room: &str, peers: &[&Peer], history: &[ChatEntry], max_peers: usize) -> String {
    #[derive(Serialize)]
    #[serde(rename_all = "camelCase")]
    struct RoomFrame<'a> {
        r#type: &'static str,
        id: &'a str,
        room: &'a str,
        peers: &'a [&'a Peer],
        history: &'a [ChatEntry],
        max_peers: usize,
    }
    to_json(&RoomFrame { r#type: kind, id, room, peers, history, max_peers })
}

/// `{"type":"joined","peer":{...}}`
pub fn joined_frame(peer: &Peer) -> String {
    #[derive(Serialize)]
    struct Joined<'a> {
        r#type: &'static str,
        peer: &'a Peer,
    }
    to_json(&Joined { r#type: "joined", peer })
}

/// `{"type":"left","id":"..."}`
pub fn left_frame(id: &str) -> String {
    #[derive(Serialize)]
    struct Left<'a> {
        r#type: &'static str,
        id: &'a str,
    }
    to_json(&Left { r#type: "left", id })
}

/// `{"type":"chat","from","name","text","ts"}`, written by hand like the
/// other frames sent to a whole room.
pub fn chat_frame(entry: &ChatEntry) -> String {
    let mut out = String::with_capacity(64 + entry.name.len() + entry.text.len());
    out.push_str(r#"{"type":"chat","from":"#);
    push_json_string(&mut out, &entry.from);
    out.push_str(r#","name":"#);
    push_json_string(&mut out, &entry.name);
    out.push_str(r#","text":"#);
    push_json_string(&mut out, &entry.text);
    out.push_str(r#","ts":"#);
    out.push_str(&entry.ts.to_string());
    out.push('}');
    out
}

/// Where `part`, a slice borrowed from `frame` (as the parser's raw values
/// are), lies in it, as byte offsets; `None` if it is not a part of `frame`.
pub fn span_in(frame: &str, part: &str) -> Option<std::ops::Range<usize>> {
    let start = (part.as_ptr() as usize).checked_sub(frame.as_ptr() as usize)?;
    let end = start.checked_add(part.len())?;
    (end <= frame.len()).then_some(start..end)
}

/// `{"type":"signal","from":"...","data":<as the sender wrote it>}`: one
/// allocation and a copy of `data`, which is already valid JSON (a part of
/// the frame the parser checked).
pub fn signal_frame(from: &str, data: &str) -> String {
    let mut out = signal_head(from);
    out.reserve(data.len() + 1);
    out.push_str(data);
    out.push('}');
    out
}

/// A signal frame up to its `data`: `{"type":"signal","from":"...","data":`.
pub fn signal_head(from: &str) -> String {
    let mut out = String::with_capacity(40 + from.len());
    out.push_str(r#"{"type":"signal","from":"#);
    push_json_string(&mut out, from);
    out.push_str(r#","data":"#);
    out
}

/// `{"type":"state","id",...the four booleans}`. Written by hand: it is the
/// most frequent broadcast, and serde's `flatten` goes through a generic map.
pub fn state_frame(id: &str, state: MediaState) -> String {
    let mut out = String::with_capacity(96);
    out.push_str(r#"{"type":"state","id":"#);
    push_json_string(&mut out, id);
    out.push(',');
    push_media_state(&mut out, state);
    out.push('}');
    out
}

/// Appends `s` as a JSON string literal: quotes, backslashes and control
/// characters escaped, everything else as it is (JSON text is UTF-8).
pub fn push_json_string(out: &mut String, s: &str) {
    out.push('"');
    let mut start = 0;
    for (i, b) in s.bytes().enumerate() {
        let escape = match b {
            b'"' => "\\\"",
            b'\\' => "\\\\",
            b'\n' => "\\n",
            b'\r' => "\\r",
            b'\t' => "\\t",
            0..=0x1f => "",
            _ => continue,
        };
        out.push_str(&s[start..i]);
        if escape.is_empty() {
            const HEX: &[u8; 16] = b"0123456789abcdef";
            out.push_str("\\u00");
            out.push(HEX[usize::from(b >> 4)] as char);
            out.push(HEX[usize::from(b & 0xf)] as char);
        } else {
            out.push_str(escape);
        }
        start = i + 1;
    }
    out.push_str(&s[start..]);
    out.push('"');
}

/// Appends `"audio":..,"video":..,"screen":..,"hand":..`.
pub fn push_media_state(out: &mut String, state: MediaState) {
    let index = usize::from(state.audio) << 3 | usize::from(state.video) << 2 | usize::from(state.screen) << 1 | usize::from(state.hand);
    out.push_str(MEDIA_STATES[index]);
}

/// The four booleans as JSON members, for each of the 16 states (audio,
/// video, screen, hand as the bits of the index, audio highest): one copy
/// into the frame instead of eight, each of which WebAssembly makes with a
/// call out to the runtime.
const MEDIA_STATES: [&str; 16] = [
    r#""audio":false,"video":false,"screen":false,"hand":false"#,
    r#""audio":false,"video":false,"screen":false,"hand":true"#,
    r#""audio":false,"video":false,"screen":true,"hand":false"#,
    r#""audio":false,"video":false,"screen":true,"hand":true"#,
    r#""audio":false,"video":true,"screen":false,"hand":false"#,
    r#""audio":false,"video":true,"screen":false,"hand":true"#,
    r#""audio":false,"video":true,"screen":true,"hand":false"#,
    r#""audio":false,"video":true,"screen":true,"hand":true"#,
    r#""audio":true,"video":false,"screen":false,"hand":false"#,
    r#""audio":true,"video":false,"screen":false,"hand":true"#,
    r#""audio":true,"video":false,"screen":true,"hand":false"#,
    r#""audio":true,"video":false,"screen":true,"hand":true"#,
    r#""audio":true,"video":true,"screen":false,"hand":false"#,
    r#""audio":true,"video":true,"screen":false,"hand":true"#,
    r#""audio":true,"video":true,"screen":true,"hand":false"#,
    r#""audio":true,"video":true,"screen":true,"hand":true"#,
];

/// Appends a peer as the contract shows it: `{"id","name",...the four booleans}`.
pub fn push_peer(out: &mut String, peer: &Peer) {
    out.push_str(r#"{"id":"#);
    push_json_string(out, &peer.id);
    out.push_str(r#","name":"#);
    push_json_string(out, &peer.name);
    out.push(',');
    push_media_state(out, peer.state);
    out.push('}');
}

/// `{"type":"error","code","message"}`, and `maxPeers` for `room_full`
/// (an optional field: the contract allows adding them). Written by hand:
/// codes and messages are fixed ASCII text with nothing to escape.
pub fn error_frame(error: ProtocolError) -> String {
    let mut out = String::with_capacity(128);
    out.push_str(r#"{"type":"error","code":""#);
    out.push_str(error.code());
    out.push_str(r#"","message":""#);
    out.push_str(error.message());
    out.push('"');
    if let ProtocolError::RoomFull { max_peers } = error {
        out.push_str(r#","maxPeers":"#);
        // As u64: the formatting `chat_frame` already has, not a second copy for usize.
        out.push_str(&(max_peers as u64).to_string());
    }
    out.push('}');
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::{json, Value};

    fn parse(frame: &str) -> Result<ClientMessage<'_>, ProtocolError> {
        parse_client_frame(frame)
    }

    #[test]
    fn every_media_state_is_written_as_serde_writes_it() {
        for bits in 0..16u8 {
            let state = MediaState { audio: bits & 8 != 0, video: bits & 4 != 0, screen: bits & 2 != 0, hand: bits & 1 != 0 };
            let mut out = String::from("{");
            push_media_state(&mut out, state);
            out.push('}');
            assert_eq!(out, serde_json::to_string(&state).unwrap(), "state {bits:04b}");
        }
    }

    #[test]
    fn span_in_finds_a_borrowed_part_and_nothing_else() {
        let frame = r#"{"type":"signal","to":"b","data":[1, 2]}"#;
        let Ok(ClientMessage::Signal { data, .. }) = parse(frame) else { panic!() };
        let span = span_in(frame, data).unwrap();
        assert_eq!(&frame[span], "[1, 2]");
        assert_eq!(span_in(frame, &frame[3..3]), Some(3..3));
        assert_eq!(span_in(frame, frame), Some(0..frame.len()));
        // Equal text elsewhere is not a part of the frame.
        let elsewhere = String::from("[1, 2]");
        assert_eq!(span_in(frame, &elsewhere), None);
    }

    #[test]
    fn signal_frame_is_head_data_brace() {
        assert_eq!(signal_frame("ab-C_9xy", r#"{"a": 1.50}"#), r#"{"type":"signal","from":"ab-C_9xy","data":{"a": 1.50}}"#);
        assert_eq!(signal_head("ab-C_9xy"), r#"{"type":"signal","from":"ab-C_9xy","data":"#);
    }

    #[test]
    fn join_with_defaults() {
        match parse(r#"{"type":"join","name":"Ann"}"#).unwrap() {
            ClientMessage::Join { name, public, state } => {
                assert_eq!(name, "Ann");
                assert!(!public);
                assert_eq!(state, MediaState::default());
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn join_with_all_fields_and_unknown_ones() {
        let msg = parse(r#"{"type":"join","name":"Ann","public":true,"audio":true,"video":false,"x":{"y":[1]}}"#).unwrap();
        match msg {
            ClientMessage::Join { public, state, .. } => {
                assert!(public);
                assert!(state.audio && !state.video);
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn unrelated_field_of_odd_type_is_ignored() {
        // `name` means nothing to chat, so its type does not matter.
        assert!(matches!(parse(r#"{"type":"chat","text":"hi","name":5}"#), Ok(ClientMessage::Chat { .. })));
    }

    #[test]
    fn not_an_object_is_bad_json() {
        for frame in ["", "hello", "[1,2]", "\"join\"", "42", "null", "{\"type\":\"chat\"", "{} x"] {
            assert_eq!(parse(frame).unwrap_err(), ProtocolError::BadJson, "{frame:?}");
        }
    }

    #[test]
    fn missing_or_wrong_type_is_bad_message() {
        for frame in [
            r#"{}"#,
            r#"{"type":5}"#,
            r#"{"type":"dance"}"#,
            r#"{"type":"join"}"#,
            r#"{"type":"join","name":7}"#,
            r#"{"type":"join","name":"a","public":"yes"}"#,
            r#"{"type":"join","name":"a","audio":null}"#,
            r#"{"type":"chat"}"#,
            r#"{"type":"chat","text":["hi"]}"#,
            r#"{"type":"signal","to":"abc"}"#,
            r#"{"type":"signal","data":{}}"#,
            r#"{"type":"signal","to":1,"data":{}}"#,
            r#"{"type":"state","hand":1}"#,
        ] {
            assert_eq!(parse(frame).unwrap_err(), ProtocolError::BadMessage, "{frame}");
        }
    }

    #[test]
    fn signal_data_is_kept_verbatim() {
        let frame = r#"{"type":"signal","to":"peer1234","data":{"sdp":"v=0\r\n","n":[1, 2.50]}}"#;
        match parse(frame).unwrap() {
            ClientMessage::Signal { to, data } => {
                assert_eq!(to, "peer1234");
                assert_eq!(data, r#"{"sdp":"v=0\r\n","n":[1, 2.50]}"#);
                let out = signal_frame("me", data);
                assert_eq!(out, r#"{"type":"signal","from":"me","data":{"sdp":"v=0\r\n","n":[1, 2.50]}}"#);
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn signal_data_may_be_any_json_value() {
        for data in ["null", "1", "\"x\"", "[]", "true"] {
            let frame = format!(r#"{{"type":"signal","to":"p","data":{data}}}"#);
            assert!(matches!(parse(&frame), Ok(ClientMessage::Signal { .. })), "{frame}");
        }
    }

    #[test]
    fn state_takes_any_subset() {
        match parse(r#"{"type":"state","hand":true}"#).unwrap() {
            ClientMessage::State(p) => assert_eq!(p, StatePatch { hand: Some(true), ..Default::default() }),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn frame_of_65536_bytes_is_parsed_and_65537_is_too_large() {
        let base = r#"{"type":"chat","text":""}"#;
        let pad = MAX_FRAME_BYTES - base.len();
        let exact = format!(r#"{{"type":"chat","text":"{}"}}"#, "a".repeat(pad));
        assert_eq!(exact.len(), MAX_FRAME_BYTES);
        assert!(matches!(parse(&exact), Ok(ClientMessage::Chat { .. })));
        let over = format!(r#"{{"type":"chat","text":"{}"}}"#, "a".repeat(pad + 1));
        assert_eq!(parse(&over).unwrap_err(), ProtocolError::TooLarge);
    }

    #[test]
    fn deep_nesting_is_an_error_not_a_crash() {
        // Values the room never decodes are skipped without recursion, so a
        // deep one in an unused field is simply ignored.
        let deep = format!(r#"{{"type":"state","x":{}{}}}"#, "[".repeat(5000), "]".repeat(5000));
        assert!(matches!(parse(&deep), Ok(ClientMessage::State(_))));
        // A decoded field past serde_json's recursion limit is rejected, not a stack overflow.
        let deep_type = format!(r#"{{"type":{}"x"{}}}"#, "[".repeat(5000), "]".repeat(5000));
        assert_eq!(parse(&deep_type).unwrap_err(), ProtocolError::BadMessage);
        let unclosed = "[".repeat(30000);
        assert_eq!(parse(&unclosed).unwrap_err(), ProtocolError::BadJson);
        // Signal data nested a little is fine.
        let nested = format!(r#"{{"type":"signal","to":"p","data":{}{}}}"#, "[".repeat(100), "]".repeat(100));
        assert!(parse(&nested).is_ok());
    }

    #[test]
    fn name_of_32_scalar_values_is_valid_and_33_is_name_invalid() {
        assert!(validate_name(&"a".repeat(32)).is_ok());
        assert_eq!(validate_name(&"a".repeat(33)), Err(ProtocolError::NameInvalid));
        // Emoji count as one scalar value each (4 bytes in UTF-8).
        assert!(validate_name(&"😀".repeat(32)).is_ok());
        assert_eq!(validate_name(&"😀".repeat(33)), Err(ProtocolError::NameInvalid));
    }

    #[test]
    fn name_is_trimmed_first() {
        assert_eq!(validate_name("  Ann  ").unwrap(), "Ann");
        assert!(validate_name(&format!("  {}  ", "a".repeat(32))).is_ok());
        assert_eq!(validate_name("   "), Err(ProtocolError::NameInvalid));
        assert_eq!(validate_name(""), Err(ProtocolError::NameInvalid));
    }

    #[test]
    fn name_with_control_characters_is_name_invalid() {
        for name in ["a\u{0}b", "a\nb", "a\tb", "a\u{7f}", "x\u{9b}"] {
            assert_eq!(validate_name(name), Err(ProtocolError::NameInvalid), "{name:?}");
        }
    }

    #[test]
    fn chat_of_2000_chars_is_valid_and_2001_is_text_invalid() {
        assert!(validate_chat_text(&"x".repeat(2000)).is_ok());
        assert_eq!(validate_chat_text(&"x".repeat(2001)), Err(ProtocolError::TextInvalid));
        assert!(validate_chat_text(&"é".repeat(2000)).is_ok());
    }

    #[test]
    fn empty_or_whitespace_only_chat_is_text_invalid() {
        for text in ["", " ", "\n\t  ", "\u{3000}"] {
            assert_eq!(validate_chat_text(text), Err(ProtocolError::TextInvalid), "{text:?}");
        }
        assert!(validate_chat_text(" hi ").is_ok());
    }

    #[test]
    fn room_names() {
        assert!(is_valid_room_name("abc-defg-hij"));
        assert!(is_valid_room_name("Team_Room-1"));
        assert!(is_valid_room_name(&"a".repeat(64)));
        assert!(!is_valid_room_name(&"a".repeat(65)));
        assert!(!is_valid_room_name(""));
        assert!(!is_valid_room_name("a b"));
        assert!(!is_valid_room_name("a.b"));
        assert!(!is_valid_room_name("é"));
    }

    #[test]
    fn every_error_has_a_code_and_message() {
        use ProtocolError::*;
        let full = RoomFull { max_peers: 4 };
        for e in [BadJson, BadMessage, NotJoined, AlreadyJoined, NameInvalid, TextInvalid, UnknownPeer, RateLimited, TooLarge, full] {
            let v: Value = serde_json::from_str(&error_frame(e)).unwrap();
            assert_eq!(v["type"], "error");
            assert_eq!(v["code"], e.code());
            assert!(!e.message().is_empty());
            // Only room_full says how many a room holds.
            assert_eq!(v.get("maxPeers").is_some(), e == full, "{e:?}");
        }
        assert_eq!(serde_json::from_str::<Value>(&error_frame(full)).unwrap()["maxPeers"], 4);
        assert_eq!(TooLarge.close_code(), Some(1009));
        assert_eq!(full.close_code(), Some(4001));
        assert_eq!(BadJson.close_code(), None);
    }

    #[test]
    fn server_frames_match_the_contract() {
        let peer = Peer { id: "p1".into(), name: "Ann".into(), state: MediaState { audio: true, ..Default::default() } };
        let v: Value = serde_json::from_str(&joined_frame(&peer)).unwrap();
        assert_eq!(v, json!({"type":"joined","peer":{"id":"p1","name":"Ann","audio":true,"video":false,"screen":false,"hand":false}}));
        let entry = ChatEntry { from: "p1".into(), name: "Ann".into(), text: "<b>hi</b>".into(), ts: 5 };
        let v: Value = serde_json::from_str(&chat_frame(&entry)).unwrap();
        assert_eq!(v, json!({"type":"chat","from":"p1","name":"Ann","text":"<b>hi</b>","ts":5}));
        let v: Value = serde_json::from_str(&welcome_frame("me", "room", &[&peer], &[entry], 8)).unwrap();
        assert_eq!(v["maxPeers"], 8);
        assert_eq!(v["history"][0], json!({"from":"p1","name":"Ann","text":"<b>hi</b>","ts":5}));
        assert_eq!(v["peers"][0]["id"], "p1");
        let v: Value = serde_json::from_str(&state_frame("p1", MediaState { hand: true, ..Default::default() })).unwrap();
        assert_eq!(v, json!({"type":"state","id":"p1","audio":false,"video":false,"screen":false,"hand":true}));
        assert_eq!(left_frame("p1"), r#"{"type":"left","id":"p1"}"#);
    }

    #[test]
    fn json_strings_are_escaped_like_serde_json() {
        let cases = ["", "plain", "quote \" and backslash \\", "line\nbreak\ttab\rcr", "\u{0}\u{1f}\u{7f}", "é ✓ 𝄞", "</script>"];
        for case in cases {
            let mut out = String::new();
            push_json_string(&mut out, case);
            assert_eq!(serde_json::from_str::<String>(&out).unwrap(), case, "{out}");
            assert_eq!(out, serde_json::to_string(case).unwrap());
        }
        let peer = Peer { id: "p\"1".into(), name: "A\u{1}n\\n".into(), state: MediaState { video: true, screen: true, ..Default::default() } };
        let mut out = String::new();
        push_peer(&mut out, &peer);
        assert_eq!(serde_json::from_str::<Peer>(&out).unwrap(), peer);
    }

    /// A random JSON-ish value for the scanner test: leaves inside and outside
    /// its shape (escapes, bad words, numbers good and bad), and objects and
    /// arrays nested past `SCAN_DEPTH`, with good and broken separators.
    fn random_value(pick: &mut impl FnMut(usize) -> usize, depth: usize, out: &mut String) {
        const LEAVES: [&str; 26] = [
            "\"state\"", "true", "false", "null", "\"\"", "\"a \\\"b\\\"\"", "\"é ü\"", "tru", "nul", "\"\u{1}\"", "\"open",
            "0", "-0", "17", "-2.5e3", "2.50E-07", "1e+400", "123456789012345678901234567890", "01", "1.", ".5", "-", "1e", "1E+", "+1", "0x1",
        ];
        const SPACES: [&str; 3] = ["", " ", "\n"];
        let kind = if depth >= SCAN_DEPTH + 2 { 2 } else { pick(5) };
        if kind >= 2 {
            out.push_str(LEAVES[pick(LEAVES.len())]);
            return;
        }
        let object = kind == 0;
        out.push(if object { '{' } else { '[' });
        for i in 0..pick(4) {
            if i > 0 {
                out.push_str([",", ", ", ",", ",,", ""][pick(5)]);
            }
            out.push_str(SPACES[pick(3)]);
            if object {
                out.push_str(["\"k\"", "\"sdpMid\"", "\"k\\n\"", "k"][pick(4)]);
                out.push_str([":", " : ", ":", ""][pick(4)]);
            }
            random_value(pick, depth + 1, out);
            out.push_str(SPACES[pick(3)]);
        }
        let close = if object { "}" } else { "]" };
        out.push_str([close, close, close, close, close, "", "}", "]"][pick(8)]);
    }

    /// The scanner either leaves a frame to serde_json or reads it exactly as
    /// serde_json does: checked over frames built from pieces that are inside
    /// and outside its shape, whole and cut short.
    #[test]
    fn scan_flat_reads_what_serde_reads_or_declines() {
        let keys = ["type", "hand", "text", "data", "x", "typ\\u0065", "h\\nd", "é", ""];
        let spaces = ["", " ", "\n\t", "\r", "\u{a0}"];
        let mut seed = 7u32;
        let mut pick = |n: usize| {
            seed = seed.wrapping_mul(1_103_515_245).wrapping_add(12_345);
            (seed >> 16) as usize % n
        };
        let (mut scanned, mut declined, mut nested) = (0, 0, 0);
        for _ in 0..40_000 {
            let mut frame = String::from(spaces[pick(spaces.len())]);
            frame.push('{');
            for i in 0..pick(4) {
                if i > 0 {
                    frame.push_str([",", " , ", ",,"][pick(3)]);
                }
                frame.push_str(spaces[pick(spaces.len())]);
                frame.push_str(&format!("\"{}\"", keys[pick(keys.len())]));
                frame.push_str([":", " : ", ""][pick(3)]);
                random_value(&mut pick, 0, &mut frame);
                frame.push_str(spaces[pick(spaces.len())]);
            }
            frame.push_str(["}", "} ", "", "}}", "},"][pick(5)]);
            let cut = if pick(4) == 0 { pick(frame.len() + 1) } else { frame.len() };
            let frame = frame.get(..cut).unwrap_or(&frame);
            let by_serde = serde_json::from_str::<Fields>(frame).ok();
            match scan_flat(frame) {
                Some(fields) => {
                    scanned += 1;
                    nested += usize::from(frame[1..].contains(['{', '[']));
                    assert_eq!(Some(fields), by_serde, "{frame:?}");
                }
                None => declined += 1,
            }
        }
        // Both ways are exercised, not just one, and nesting is.
        assert!(scanned > 2000 && declined > 2000 && nested > 1000, "{scanned} scanned ({nested} nested), {declined} declined");
        // The frames clients send are in its shape (a 4 KB offer's SDP has
        // escaped line breaks: it goes to serde_json, which skips strings fast).
        for frame in [
            r#"{"type":"state","hand":true}"#,
            r#"{"type":"chat","text":"hi there"}"#,
            r#" { "type" : "leave" } "#,
            r#"{"type":"signal","to":"p","data":{"type":"candidate","mark":"lat-1-x"}}"#,
            r#"{"type":"signal","to":"p","data":{"candidate":{"candidate":"candidate:1 1 udp 2122260223 127.0.0.1 50000 typ host generation 0","sdpMid":"0","sdpMLineIndex":0,"usernameFragment":"Ab+/"}}}"#,
            r#"{"type":"signal","to":"p","data":{"candidate":null}}"#,
        ] {
            assert!(scan_flat(frame).is_some(), "{frame}");
        }
        // Its recursion is bounded: deeper nesting is left to serde_json,
        // which skips values without recursing.
        let deep = |n: usize| format!(r#"{{"data":{}0{}}}"#, "[".repeat(n), "]".repeat(n));
        assert!(scan_flat(&deep(SCAN_DEPTH)).is_some());
        assert!(scan_flat(&deep(SCAN_DEPTH + 1)).is_none());
        assert!(scan_flat(&deep(100_000)).is_none());
    }

    #[test]
    fn repeated_keys_keep_the_last_value_and_escaped_keys_count() {
        match parse(r#"{"type":"chat","text":"first","text":"second"}"#).unwrap() {
            ClientMessage::Chat { text } => assert_eq!(text, "second"),
            other => panic!("{other:?}"),
        }
        match parse(r#"{"typ\u0065":"st\u0061te","h\u0061nd":true}"#).unwrap() {
            ClientMessage::State(patch) => assert_eq!(patch.hand, Some(true)),
            other => panic!("{other:?}"),
        }
        match parse(r#"{"type":"chat","text":"a \"quoted\" \u00e9"}"#).unwrap() {
            ClientMessage::Chat { text } => assert_eq!(text, "a \"quoted\" é"),
            other => panic!("{other:?}"),
        }
        assert_eq!(parse(r#"{"type":"state","hand":"true"}"#).unwrap_err(), ProtocolError::BadMessage);
        assert_eq!(parse(r#"{"type":"state","hand":null}"#).unwrap_err(), ProtocolError::BadMessage);
        assert_eq!(parse(r#"{"type":"state","hand": true }"#).map(|m| matches!(m, ClientMessage::State(p) if p.hand == Some(true))), Ok(true));
        assert_eq!(parse(r#"{"type":"state","hand":true"#).unwrap_err(), ProtocolError::BadJson);
    }
}
