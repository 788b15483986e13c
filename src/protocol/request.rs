//! Request parsing: RESP multibulk arrays and inline commands, with Redis' limits enforced as
//! soon as a header is read, before any body is buffered.
//!
//! Why not the redis-protocol crate here: a server must refuse a declared bulk length above
//! `proto-max-bulk-len` before buffering it, and must accept inline commands (what telnet and
//! redis-cli's inline mode send); a request is always an array of bulk strings, so a small
//! zero-copy parser over `BytesMut` does both and hands out `Bytes` slices of the read buffer.

use bytes::{Bytes, BytesMut};

/// Longest inline request or multibulk/bulk header line, as in Redis (PROTO_INLINE_MAX_SIZE).
pub const INLINE_MAX: usize = 64 * 1024;
/// Most arguments one request may carry (Redis accepts up to INT_MAX; 1M bounds memory).
pub const MAX_MULTIBULK_LEN: i64 = 1024 * 1024;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProtocolError(pub String);

impl ProtocolError {
    fn new(msg: impl Into<String>) -> ProtocolError {
        ProtocolError(format!("Protocol error: {}", msg.into()))
    }
}

/// Most arguments, and longest argument, of a request from a client that has not
/// authenticated while a password is required (Redis' limits for such clients).
const UNAUTH_MULTIBULK_LEN: i64 = 10;
const UNAUTH_BULK_LEN: u64 = 16 * 1024;
/// Argument slots, and bytes of a body, reserved before they arrive: a declared count or
/// length is not trusted that far.
const MAX_PREALLOCATED_ARGS: usize = 1024;
const MAX_BODY_RESERVE: usize = 64 << 20;

/// What a request may declare: `max_bulk_len` (proto-max-bulk-len), and whether the client
/// still has to authenticate, which caps a request at [`UNAUTH_MULTIBULK_LEN`] arguments of
/// [`UNAUTH_BULK_LEN`] bytes as Redis does, so a stranger cannot make the server reserve
/// memory.
#[derive(Clone, Copy, Debug)]
pub struct Limits {
    pub max_bulk_len: u64,
    pub unauthenticated: bool,
}

impl Limits {
    pub fn new(max_bulk_len: u64) -> Limits {
        Limits {
            max_bulk_len,
            unauthenticated: false,
        }
    }
}

/// Parses one request from the front of `buf`. Returns `Ok(None)` when more bytes are needed
/// (nothing is consumed), `Ok(Some(args))` with the request removed from `buf` (an empty vector
/// for a blank line or an empty array, which Redis ignores), or a protocol error after which the
/// connection must be closed. For a buffer that grows between calls, [`RequestParser`] does
/// not scan again what it already read.
pub fn parse_request(
    buf: &mut BytesMut,
    limits: Limits,
) -> Result<Option<Vec<Bytes>>, ProtocolError> {
    RequestParser::default().parse(buf, limits)
}

/// Where a multibulk request that has not fully arrived stands: the arguments found so far
/// (offsets into the buffer, whose front does not move until the request is complete) and
/// where the next one starts. Without it every read of a large request scanned it again from
/// its start: quadratic in its argument count.
#[derive(Debug, Default)]
pub struct RequestParser {
    partial: Option<Partial>,
}

#[derive(Debug)]
struct Partial {
    count: usize,
    spans: Vec<(usize, usize)>,
    pos: usize,
}

impl RequestParser {
    /// [`parse_request`], resuming a request an earlier call left incomplete in `buf`.
    pub fn parse(
        &mut self,
        buf: &mut BytesMut,
        limits: Limits,
    ) -> Result<Option<Vec<Bytes>>, ProtocolError> {
        if buf.is_empty() {
            return Ok(None);
        }
        if self.partial.is_none() && buf[0] != b'*' {
            return parse_inline(buf);
        }
        parse_multibulk(buf, limits, &mut self.partial)
    }
}

fn find_crlf(buf: &[u8], from: usize) -> Option<usize> {
    let hay = &buf[from..];
    let mut i = 0;
    while let Some(p) = memchr(b'\r', &hay[i..]) {
        let at = i + p;
        if at + 1 < hay.len() {
            if hay[at + 1] == b'\n' {
                return Some(from + at);
            }
            i = at + 1;
        } else {
            return None;
        }
    }
    None
}

fn memchr(needle: u8, hay: &[u8]) -> Option<usize> {
    hay.iter().position(|&b| b == needle)
}

fn parse_int(s: &[u8]) -> Option<i64> {
    if s.is_empty() || s.len() > 20 {
        return None;
    }
    std::str::from_utf8(s).ok()?.parse().ok()
}

/// Reads a multibulk request, from where `partial` left off if it is set; leaves `partial`
/// set exactly when more bytes are needed.
fn parse_multibulk(
    buf: &mut BytesMut,
    limits: Limits,
    partial: &mut Option<Partial>,
) -> Result<Option<Vec<Bytes>>, ProtocolError> {
    let mut p = match partial.take() {
        Some(p) => p,
        None => {
            let Some(eol) = find_crlf(buf, 0) else {
                if buf.len() > INLINE_MAX {
                    return Err(ProtocolError::new("too big mbulk count string"));
                }
                return Ok(None);
            };
            let count = parse_int(&buf[1..eol])
                .filter(|&n| n <= MAX_MULTIBULK_LEN)
                .ok_or_else(|| ProtocolError::new("invalid multibulk length"))?;
            if limits.unauthenticated && count > UNAUTH_MULTIBULK_LEN {
                return Err(ProtocolError::new("unauthenticated multibulk length"));
            }
            if count <= 0 {
                let _ = buf.split_to(eol + 2);
                return Ok(Some(Vec::new()));
            }
            let count = count as usize;
            Partial {
                count,
                spans: Vec::with_capacity(count.min(MAX_PREALLOCATED_ARGS)),
                pos: eol + 2,
            }
        }
    };
    // Find where each argument lies without consuming anything.
    while p.spans.len() < p.count {
        let pos = p.pos;
        if pos >= buf.len() {
            *partial = Some(p);
            return Ok(None);
        }
        if buf[pos] != b'$' {
            return Err(ProtocolError::new(format!(
                "expected '$', got '{}'",
                buf[pos] as char
            )));
        }
        let Some(eol) = find_crlf(buf, pos) else {
            if buf.len() - pos > INLINE_MAX {
                return Err(ProtocolError::new("too big bulk count string"));
            }
            *partial = Some(p);
            return Ok(None);
        };
        let len = parse_int(&buf[pos + 1..eol])
            .filter(|&n| n >= 0 && (n as u64) <= limits.max_bulk_len)
            .ok_or_else(|| ProtocolError::new("invalid bulk length"))?;
        if limits.unauthenticated && len as u64 > UNAUTH_BULK_LEN {
            return Err(ProtocolError::new("unauthenticated bulk length"));
        }
        let start = eol + 2;
        let end = start + len as usize;
        if buf.len() < end + 2 {
            // Reserve for the body so a large value arrives without repeated regrowth (up to
            // a bound: the declared length is only a claim until the bytes arrive).
            buf.reserve((end + 2 - buf.len()).min(MAX_BODY_RESERVE));
            *partial = Some(p);
            return Ok(None);
        }
        if &buf[end..end + 2] != b"\r\n" {
            return Err(ProtocolError::new("invalid bulk terminator"));
        }
        p.spans.push((start, end));
        p.pos = end + 2;
    }
    let frame = buf.split_to(p.pos).freeze();
    Ok(Some(
        p.spans
            .into_iter()
            .map(|(s, e)| frame.slice(s..e))
            .collect(),
    ))
}

fn parse_inline(buf: &mut BytesMut) -> Result<Option<Vec<Bytes>>, ProtocolError> {
    let Some(nl) = memchr(b'\n', buf) else {
        if buf.len() > INLINE_MAX {
            return Err(ProtocolError::new("too big inline request"));
        }
        return Ok(None);
    };
    let line = buf.split_to(nl + 1);
    let mut end = nl;
    if end > 0 && line[end - 1] == b'\r' {
        end -= 1;
    }
    let args = split_args(&line[..end])
        .ok_or_else(|| ProtocolError::new("unbalanced quotes in request"))?;
    Ok(Some(args.into_iter().map(Bytes::from).collect()))
}

/// C's `isspace`, which sdssplitargs uses (Rust's ASCII whitespace leaves out \v).
fn is_space(c: u8) -> bool {
    matches!(c, b' ' | b'\t' | b'\n' | 0x0b | 0x0c | b'\r')
}

/// Splits an inline command line as Redis' sdssplitargs does: whitespace separated, with
/// "double quotes" (supporting \n \r \t \b \a \\ \" \xHH) and 'single quotes'. Like
/// sdssplitargs, which reads a C string, the line ends at its first NUL byte.
pub fn split_args(line: &[u8]) -> Option<Vec<Vec<u8>>> {
    let line = &line[..line.iter().position(|&c| c == 0).unwrap_or(line.len())];
    let mut out = Vec::new();
    let mut i = 0;
    let n = line.len();
    loop {
        while i < n && is_space(line[i]) {
            i += 1;
        }
        if i >= n {
            return Some(out);
        }
        let mut cur = Vec::new();
        let mut in_dq = false;
        let mut in_sq = false;
        loop {
            if in_dq {
                if i >= n {
                    return None;
                }
                let c = line[i];
                if c == b'\\'
                    && i + 3 < n
                    && line[i + 1] == b'x'
                    && line[i + 2..i + 4].iter().all(u8::is_ascii_hexdigit)
                {
                    let hex = std::str::from_utf8(&line[i + 2..i + 4]).ok();
                    if let Some(v) = hex.and_then(|h| u8::from_str_radix(h, 16).ok()) {
                        cur.push(v);
                        i += 4;
                        continue;
                    }
                }
                if c == b'\\' && i + 1 < n {
                    let e = match line[i + 1] {
                        b'n' => b'\n',
                        b'r' => b'\r',
                        b't' => b'\t',
                        b'b' => 8,
                        b'a' => 7,
                        other => other,
                    };
                    cur.push(e);
                    i += 2;
                    continue;
                }
                if c == b'"' {
                    if i + 1 < n && !is_space(line[i + 1]) {
                        return None;
                    }
                    i += 1;
                    break;
                }
                cur.push(c);
                i += 1;
            } else if in_sq {
                if i >= n {
                    return None;
                }
                let c = line[i];
                if c == b'\\' && i + 1 < n && line[i + 1] == b'\'' {
                    cur.push(b'\'');
                    i += 2;
                    continue;
                }
                if c == b'\'' {
                    if i + 1 < n && !is_space(line[i + 1]) {
                        return None;
                    }
                    i += 1;
                    break;
                }
                cur.push(c);
                i += 1;
            } else {
                if i >= n {
                    break;
                }
                let c = line[i];
                match c {
                    b' ' | b'\n' | b'\r' | b'\t' => break,
                    b'"' => in_dq = true,
                    b'\'' => in_sq = true,
                    _ => cur.push(c),
                }
                i += 1;
            }
        }
        out.push(cur);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(s: &[u8]) -> Result<Option<Vec<Bytes>>, ProtocolError> {
        let mut b = BytesMut::from(s);
        parse_request(&mut b, Limits::new(512 * 1024 * 1024))
    }

    #[test]
    fn multibulk_and_partial() {
        let full = b"*2\r\n$3\r\nGET\r\n$1\r\nk\r\n";
        for cut in 0..full.len() {
            assert_eq!(parse(&full[..cut]).expect("ok"), None, "cut {cut}");
        }
        let args = parse(full).expect("ok").expect("complete");
        assert_eq!(args, vec![Bytes::from("GET"), Bytes::from("k")]);
    }

    #[test]
    fn limits_are_checked_on_the_header() {
        let mut b = BytesMut::from(&b"*1\r\n$2000\r\nab"[..]);
        let e = parse_request(&mut b, Limits::new(1024)).expect_err("too long");
        assert_eq!(e.0, "Protocol error: invalid bulk length");
        assert!(parse(b"*abc\r\n").is_err());
        assert!(parse(b"*1\r\n+OK\r\n").is_err());
    }

    #[test]
    fn inline_with_quotes() {
        let args = parse(b"SET \"a b\" 'c\\'d' \"\\x41\\n\"\r\n")
            .expect("ok")
            .expect("complete");
        assert_eq!(
            args,
            vec![
                Bytes::from("SET"),
                Bytes::from("a b"),
                Bytes::from("c'd"),
                Bytes::from("A\n")
            ]
        );
        assert!(parse(b"SET \"abc\r\n").is_err());
        assert_eq!(parse(b"\r\n").expect("ok"), Some(vec![]));
    }

    #[test]
    fn inline_splitting_follows_sdssplitargs() {
        let split = |s: &[u8]| split_args(s).expect("balanced");
        assert_eq!(split(b"a\0b c"), vec![b"a".to_vec()], "a NUL ends the line");
        assert_eq!(split(b"\x0ba \x0b b"), vec![b"a".to_vec(), b"b".to_vec()]);
        assert_eq!(split(b"\"\\x41\\x+f\""), vec![b"Ax+f".to_vec()]);
        assert_eq!(split(b"\0"), Vec::<Vec<u8>>::new());
    }

    #[test]
    fn a_request_arriving_in_pieces_is_resumed_not_rescanned() {
        let full = b"*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$5\r\nvalue\r\n*1\r\n$4\r\nPING\r\n";
        let limits = Limits::new(1024);
        for cut in 1..full.len() {
            let mut p = RequestParser::default();
            let mut b = BytesMut::from(&full[..cut]);
            let mut got = Vec::new();
            // Feed the rest one byte at a time, as a slow client would.
            let mut next = cut;
            loop {
                match p.parse(&mut b, limits).expect("valid") {
                    Some(args) => got.push(args),
                    None if next < full.len() => {
                        b.extend_from_slice(&full[next..next + 1]);
                        next += 1;
                    }
                    None => break,
                }
            }
            assert_eq!(
                got,
                vec![
                    vec![Bytes::from("SET"), Bytes::from("k"), Bytes::from("value")],
                    vec![Bytes::from("PING")],
                ],
                "cut at {cut}"
            );
            assert!(p.partial.is_none());
        }
    }
}
