//! The wire protocol: request parsing (RESP arrays and inline commands, with limits) and reply
//! encoding (RESP2 or RESP3 per connection).

pub mod reply;
pub mod request;

pub use reply::{format_double, Reply};
pub use request::{parse_request, Limits, ProtocolError, RequestParser};

/// Writes `args` as a RESP array of bulk strings: the form of every log payload and of commands
/// sent to another server.
pub fn encode_command<A: AsRef<[u8]>>(out: &mut Vec<u8>, args: &[A]) {
    // On the write path for every command: integers without `fmt`, and one reservation.
    let mut n = itoa::Buffer::new();
    let size: usize = args.iter().map(|a| a.as_ref().len() + 16).sum();
    out.reserve(size + 16);
    out.push(b'*');
    out.extend_from_slice(n.format(args.len()).as_bytes());
    out.extend_from_slice(b"\r\n");
    for a in args {
        let a = a.as_ref();
        out.push(b'$');
        out.extend_from_slice(n.format(a.len()).as_bytes());
        out.extend_from_slice(b"\r\n");
        out.extend_from_slice(a);
        out.extend_from_slice(b"\r\n");
    }
}

/// Splits a log payload (RESP arrays of bulk strings back to back) into commands. Returns
/// `None` if the payload is not a well-formed sequence of such arrays.
pub fn decode_commands(payload: &[u8]) -> Option<Vec<Vec<bytes::Bytes>>> {
    let mut buf = bytes::BytesMut::from(payload);
    let mut out = Vec::new();
    while !buf.is_empty() {
        if buf[0] != b'*' {
            return None;
        }
        match parse_request(&mut buf, Limits::new(u64::MAX)) {
            Ok(Some(args)) if !args.is_empty() => out.push(args),
            _ => return None,
        }
    }
    Some(out)
}
