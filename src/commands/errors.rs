//! Every client-visible error string in one place, word for word as Redis sends them.

pub const WRONGTYPE: &str = "WRONGTYPE Operation against a key holding the wrong kind of value";
pub const NOT_INTEGER: &str = "ERR value is not an integer or out of range";
pub const NOT_FLOAT: &str = "ERR value is not a valid float";
pub const SYNTAX: &str = "ERR syntax error";
pub const NO_SUCH_KEY: &str = "ERR no such key";
pub const OVERFLOW: &str = "ERR increment or decrement would overflow";
pub const NAN_OR_INF: &str = "ERR increment would produce NaN or Infinity";
pub const OFFSET_RANGE: &str = "ERR offset is out of range";
pub const STRING_TOO_LONG: &str = "ERR string exceeds maximum allowed size (proto-max-bulk-len)";
pub const NOAUTH: &str = "NOAUTH Authentication required.";
pub const WRONGPASS: &str = "WRONGPASS invalid username-password pair or user is disabled.";
pub const AUTH_NOT_CONFIGURED: &str = "ERR AUTH <password> called without any password configured for the default user. Are you sure your configuration is correct?";
pub const DB_INDEX: &str = "ERR DB index is out of range";
pub const MAX_CLIENTS: &str = "ERR max number of clients reached";
pub const INVALID_CURSOR: &str = "ERR invalid cursor";
pub const NO_SCRIPTS: &str = "ERR durakv does not run scripts or functions (Lua is not supported)";

pub fn wrong_arity(name: &str) -> String {
    format!(
        "ERR wrong number of arguments for '{}' command",
        name.to_ascii_lowercase()
    )
}

pub fn invalid_expire(cmd: &str) -> String {
    format!(
        "ERR invalid expire time in '{}' command",
        cmd.to_ascii_lowercase()
    )
}

/// Redis' text: arguments are quoted until the quoted text reaches 128 bytes, each cut to
/// what is left of them (and, as C strings, at a NUL byte).
pub fn unknown_command(name: &[u8], args: &[bytes::Bytes]) -> String {
    let mut quoted: Vec<u8> = Vec::new();
    for a in args {
        if quoted.len() >= 128 {
            break;
        }
        let room = 128 - quoted.len();
        quoted.push(b'\'');
        quoted.extend_from_slice(c_str(a, room));
        quoted.extend_from_slice(b"' ");
    }
    format!(
        "ERR unknown command '{}', with args beginning with: {}",
        String::from_utf8_lossy(c_str(name, 128)),
        String::from_utf8_lossy(&quoted)
    )
}

/// `%.*s` of `b`: at most `max` bytes, up to the first NUL.
fn c_str(b: &[u8], max: usize) -> &[u8] {
    let end = b.iter().position(|&c| c == 0).unwrap_or(b.len()).min(max);
    &b[..end]
}

pub fn unknown_subcommand(sub: &[u8], cmd: &str) -> String {
    format!(
        "ERR unknown subcommand '{}'. Try {} HELP.",
        truncate(sub, 128),
        cmd.to_ascii_uppercase()
    )
}

fn truncate(b: &[u8], n: usize) -> String {
    String::from_utf8_lossy(&b[..b.len().min(n)]).into_owned()
}

/// Failures inside the storage layer while executing a command. The writer turns these into
/// a sticky error (see writer.rs).
pub type ExecResult<T> = Result<T, crate::storage::StorageError>;
