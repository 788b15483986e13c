//! Replies and their encoding in RESP2 or RESP3, chosen per connection by HELLO.
//!
//! Commands build one `Reply` value; the connection encodes it for the protocol the client
//! negotiated, so a map is a flat array in RESP2 and `%` in RESP3, a null is `$-1`/`*-1` or `_`.

use bytes::{BufMut, Bytes, BytesMut};

#[derive(Clone, Debug, PartialEq)]
pub enum Reply {
    Ok,
    Simple(String),
    /// The whole error line without the leading '-', e.g. "ERR syntax error".
    Error(String),
    Int(i64),
    Bulk(Bytes),
    /// Missing value: `$-1` in RESP2.
    Nil,
    /// Missing array: `*-1` in RESP2.
    NilArray,
    Array(Vec<Reply>),
    Double(f64),
    Map(Vec<(Reply, Reply)>),
    /// Pairs such as ZRANGE WITHSCORES: a flat array in RESP2, an array of 2-element arrays in
    /// RESP3.
    Pairs(Vec<(Reply, Reply)>),
    Set(Vec<Reply>),
    Bool(bool),
    /// Verbatim text (`=` in RESP3, bulk in RESP2), e.g. INFO and CLIENT LIST.
    Verbatim(String),
}

impl Reply {
    pub fn err(msg: impl Into<String>) -> Reply {
        Reply::Error(msg.into())
    }

    pub fn bulk(b: impl Into<Bytes>) -> Reply {
        Reply::Bulk(b.into())
    }

    pub fn is_error(&self) -> bool {
        matches!(self, Reply::Error(_))
    }

    pub fn encode(&self, resp3: bool, out: &mut BytesMut) {
        match self {
            Reply::Ok => out.put_slice(b"+OK\r\n"),
            Reply::Simple(s) => line(out, b'+', s.as_bytes()),
            Reply::Error(s) => line(out, b'-', s.as_bytes()),
            Reply::Int(i) => {
                out.put_u8(b':');
                put_int(out, *i);
                out.put_slice(b"\r\n");
            }
            Reply::Bulk(b) => bulk(out, b),
            Reply::Nil => out.put_slice(if resp3 { b"_\r\n" } else { b"$-1\r\n" }),
            Reply::NilArray => out.put_slice(if resp3 { b"_\r\n" } else { b"*-1\r\n" }),
            Reply::Array(items) => {
                header(out, b'*', items.len());
                for i in items {
                    i.encode(resp3, out);
                }
            }
            Reply::Set(items) => {
                header(out, if resp3 { b'~' } else { b'*' }, items.len());
                for i in items {
                    i.encode(resp3, out);
                }
            }
            Reply::Map(pairs) => {
                if resp3 {
                    header(out, b'%', pairs.len());
                } else {
                    header(out, b'*', pairs.len() * 2);
                }
                for (k, v) in pairs {
                    k.encode(resp3, out);
                    v.encode(resp3, out);
                }
            }
            Reply::Pairs(pairs) => {
                if resp3 {
                    header(out, b'*', pairs.len());
                } else {
                    header(out, b'*', pairs.len() * 2);
                }
                for (k, v) in pairs {
                    if resp3 {
                        header(out, b'*', 2);
                    }
                    k.encode(resp3, out);
                    v.encode(resp3, out);
                }
            }
            Reply::Double(d) => {
                let s = format_double(*d);
                if resp3 {
                    line(out, b',', s.as_bytes());
                } else {
                    bulk(out, s.as_bytes());
                }
            }
            Reply::Bool(b) => {
                if resp3 {
                    out.put_slice(if *b { b"#t\r\n" } else { b"#f\r\n" });
                } else {
                    out.put_slice(if *b { b":1\r\n" } else { b":0\r\n" });
                }
            }
            Reply::Verbatim(s) => {
                if resp3 {
                    header(out, b'=', s.len() + 4);
                    out.put_slice(b"txt:");
                    out.put_slice(s.as_bytes());
                    out.put_slice(b"\r\n");
                } else {
                    bulk(out, s.as_bytes());
                }
            }
        }
    }
}

fn line(out: &mut BytesMut, prefix: u8, s: &[u8]) {
    out.put_u8(prefix);
    // A simple string or error must not contain CR or LF.
    for &c in s {
        out.put_u8(if c == b'\r' || c == b'\n' { b' ' } else { c });
    }
    out.put_slice(b"\r\n");
}

fn header(out: &mut BytesMut, prefix: u8, n: usize) {
    out.put_u8(prefix);
    put_int(out, n as i64);
    out.put_slice(b"\r\n");
}

fn bulk(out: &mut BytesMut, b: &[u8]) {
    header(out, b'$', b.len());
    out.put_slice(b);
    out.put_slice(b"\r\n");
}

fn put_int(out: &mut BytesMut, i: i64) {
    out.put_slice(itoa::Buffer::new().format(i).as_bytes());
}

/// Formats a double as Redis does in replies: integers without a fraction, `inf`/`-inf`, and
/// otherwise the shortest representation that round-trips (Redis uses %.17g; the shortest
/// round-trip form reads back to the same value).
pub fn format_double(d: f64) -> String {
    if d.is_infinite() {
        return if d > 0.0 { "inf".into() } else { "-inf".into() };
    }
    if d.is_nan() {
        return "nan".into();
    }
    if d == 0.0 && d.is_sign_negative() {
        return "-0".into();
    }
    if d == d.trunc() && d.abs() < 1e17 {
        return format!("{}", d as i64);
    }
    let s = format!("{d}");
    if s.contains('e') || s.len() <= 24 {
        return s;
    }
    format!("{d:e}")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn enc(r: &Reply, resp3: bool) -> String {
        let mut b = BytesMut::new();
        r.encode(resp3, &mut b);
        String::from_utf8_lossy(&b).into_owned()
    }

    #[test]
    fn resp2_and_resp3_forms() {
        assert_eq!(enc(&Reply::Nil, false), "$-1\r\n");
        assert_eq!(enc(&Reply::Nil, true), "_\r\n");
        assert_eq!(enc(&Reply::Int(-42), false), ":-42\r\n");
        let m = Reply::Map(vec![(Reply::bulk("a"), Reply::Int(1))]);
        assert_eq!(enc(&m, false), "*2\r\n$1\r\na\r\n:1\r\n");
        assert_eq!(enc(&m, true), "%1\r\n$1\r\na\r\n:1\r\n");
        assert_eq!(enc(&Reply::Double(1.5), true), ",1.5\r\n");
        let p = Reply::Pairs(vec![(Reply::bulk("m"), Reply::Double(2.0))]);
        assert_eq!(enc(&p, false), "*2\r\n$1\r\nm\r\n$1\r\n2\r\n");
        assert_eq!(enc(&p, true), "*1\r\n*2\r\n$1\r\nm\r\n,2\r\n");
        assert_eq!(enc(&Reply::Double(3.0), false), "$1\r\n3\r\n");
        assert_eq!(
            enc(&Reply::Int(i64::MIN), false),
            ":-9223372036854775808\r\n"
        );
    }
}
