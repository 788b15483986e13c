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

/// Parses one request from the front of `buf`. Returns `Ok(None)` when more bytes are needed
/// (nothing is consumed), `Ok(Some(args))` with the request removed from `buf` (an empty vector
/// for a blank line or an empty array, which Redis ignores), or a protocol error after which the
/// connection must be closed.
pub fn parse_request(
    buf: &mut BytesMut,
    max_bulk_len: u64,
) -> Result<Option<Vec<Bytes>>, ProtocolError> {
    if buf.is_empty() {
        return Ok(None);
    }
    if buf[0] == b'*' {
        parse_multibulk(buf, max_bulk_len)
    } else {
        parse_inline(buf)
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

fn parse_multibulk(
    buf: &mut BytesMut,
    max_bulk_len: u64,
) -> Result<Option<Vec<Bytes>>, ProtocolError> {
    let Some(eol) = find_crlf(buf, 0) else {
        if buf.len() > INLINE_MAX {
            return Err(ProtocolError::new("too big mbulk count string"));
        }
        return Ok(None);
    };
    let count = parse_int(&buf[1..eol])
        .filter(|&n| n <= MAX_MULTIBULK_LEN)
        .ok_or_else(|| ProtocolError::new("invalid multibulk length"))?;
    if count <= 0 {
        let _ = buf.split_to(eol + 2);
        return Ok(Some(Vec::new()));
    }
    // First pass: find where each argument lies without consuming anything.
    let mut spans = Vec::with_capacity(count as usize);
    let mut pos = eol + 2;
    for _ in 0..count {
        if pos >= buf.len() {
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
            return Ok(None);
        };
        let len = parse_int(&buf[pos + 1..eol])
            .filter(|&n| n >= 0 && (n as u64) <= max_bulk_len)
            .ok_or_else(|| ProtocolError::new("invalid bulk length"))? as usize;
        let start = eol + 2;
        let end = start + len;
        if buf.len() < end + 2 {
            // Reserve for the body so a large value arrives without repeated regrowth.
            buf.reserve(end + 2 - buf.len());
            return Ok(None);
        }
        if &buf[end..end + 2] != b"\r\n" {
            return Err(ProtocolError::new("invalid bulk terminator"));
        }
        spans.push((start, end));
        pos = end + 2;
    }
    let frame = buf.split_to(pos).freeze();
    Ok(Some(
        spans.into_iter().map(|(s, e)| frame.slice(s..e)).collect(),
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

/// Splits an inline command line as Redis' sdssplitargs does: whitespace separated, with
/// "double quotes" (supporting \n \r \t \b \a \\ \" \xHH) and 'single quotes'.
pub fn split_args(line: &[u8]) -> Option<Vec<Vec<u8>>> {
    let mut out = Vec::new();
    let mut i = 0;
    let n = line.len();
    loop {
        while i < n && line[i].is_ascii_whitespace() {
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
                if c == b'\\' && i + 3 < n && line[i + 1] == b'x' {
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
                    if i + 1 < n && !line[i + 1].is_ascii_whitespace() {
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
                    if i + 1 < n && !line[i + 1].is_ascii_whitespace() {
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
                    b' ' | b'\n' | b'\r' | b'\t' | 0 => break,
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
        parse_request(&mut b, 512 * 1024 * 1024)
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
        let e = parse_request(&mut b, 1024).expect_err("too long");
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
}
