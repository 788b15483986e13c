//! Replicas' claims on the log, kept across restarts of this node.
//!
//! A claim ([`super::Hold`]: the oldest offset a replica still needs) keeps retention from
//! deleting the segments a connected, or recently seen, replica will ask for. Claims live in
//! memory and are refreshed by every ACK; without this file a restart of this node forgot the
//! replicas that were down at that moment, and the first retention pass after it could delete
//! what they need to continue with a partial sync. The file is rewritten by the retention pass
//! when the claims changed, and read at start-up as claims of disconnected replicas, which
//! expire `repl-backlog-ttl` after they were last seen, as in memory.

use std::collections::HashMap;
use std::path::Path;

use serde::{Deserialize, Serialize};

use super::Hold;
use crate::types::LogOffset;

const FILE: &str = "replica-holds.json";

#[derive(Serialize, Deserialize)]
struct Saved {
    holds: Vec<SavedHold>,
}

#[derive(Serialize, Deserialize)]
struct SavedHold {
    replica: String,
    offset: u64,
    seen_ms: u64,
}

/// The claims saved by the last run, as claims of disconnected replicas; none if the file is
/// missing or unreadable (logged: retention then only keeps what its limits keep).
pub fn load(dir: &Path) -> HashMap<String, Hold> {
    let path = dir.join(FILE);
    let saved: Saved = match std::fs::read(&path) {
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return HashMap::new(),
        read => match read
            .map_err(|e| e.to_string())
            .and_then(|b| serde_json::from_slice(&b).map_err(|e| e.to_string()))
        {
            Ok(s) => s,
            Err(e) => {
                tracing::warn!(file = %path.display(), error = %e, "replica claims on the log unreadable; ignored");
                return HashMap::new();
            }
        },
    };
    saved
        .holds
        .into_iter()
        .map(|h| {
            let hold = Hold {
                offset: LogOffset(h.offset),
                seen_ms: h.seen_ms,
                connected: false,
            };
            (h.replica, hold)
        })
        .collect()
}

/// Writes `holds` if the replicas or their offsets differ from what `last` says was written.
pub fn save_if_changed(dir: &Path, holds: &HashMap<String, Hold>, last: &mut Vec<(String, u64)>) {
    let mut now: Vec<(String, u64)> = holds
        .iter()
        .map(|(who, h)| (who.clone(), h.offset.0))
        .collect();
    now.sort();
    if now == *last {
        return;
    }
    let saved = Saved {
        holds: holds
            .iter()
            .map(|(who, h)| SavedHold {
                replica: who.clone(),
                offset: h.offset.0,
                seen_ms: h.seen_ms,
            })
            .collect(),
    };
    match crate::datadir::write_json_atomically(&dir.join(FILE), &saved) {
        Ok(()) => *last = now,
        Err(e) => tracing::warn!(error = %e, "could not save replicas' claims on the log"),
    }
}
