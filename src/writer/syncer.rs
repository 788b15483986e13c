//! The fsync thread of `appendfsync always`: the writer appends a group's records and applies
//! its batch, then hands the group's replies here and goes on with the next group while this
//! thread fsyncs. Replies leave only after the fsync that covers their records, so invariant 1
//! holds as before; what changes is that the writer's CPU work (executing, encoding, the
//! RocksDB batch) overlaps the disk flush instead of waiting for it. One fsync covers every
//! group queued behind it, so the flush rate adapts to the load by itself.
//!
//! As in Redis with `appendfsync always`, a write is visible to other clients' reads before it
//! is durable; its own client hears back only after. The published log end (what replicas
//! stream and WAIT counts) moves here, after the fsync, so replicas only see durable records.
//!
//! Any writer operation that resets or rewinds the log first waits for this thread to drain
//! ([`Syncer::barrier`]).

use std::fs::File;
use std::sync::atomic::Ordering;
use std::sync::mpsc;
use std::sync::Arc;

use super::{PendingReply, WriterState};
use crate::protocol::Reply;
use crate::types::LogOffset;

enum Job {
    /// Fsync `file` (covering the log up to `end`), publish `end`, then send `replies`.
    Group {
        file: Arc<File>,
        end: LogOffset,
        replies: Vec<PendingReply>,
    },
    /// Answered once every job before it is done.
    Barrier(mpsc::Sender<()>),
}

pub struct Syncer {
    tx: mpsc::Sender<Job>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Syncer {
    pub fn start(state: Arc<WriterState>) -> std::io::Result<Syncer> {
        let (tx, rx) = mpsc::channel();
        let thread = std::thread::Builder::new()
            .name("durakv-fsync".into())
            .spawn(move || run(rx, state))?;
        Ok(Syncer {
            tx,
            thread: Some(thread),
        })
    }

    /// Queues a group: its records were appended to `file` up to `end`.
    pub fn submit(&self, file: Arc<File>, end: LogOffset, replies: Vec<PendingReply>) {
        if let Err(mpsc::SendError(Job::Group { replies, .. })) =
            self.tx.send(Job::Group { file, end, replies })
        {
            for (tx, r) in replies {
                tx.send(vec![Reply::err("ERR durakv fsync thread stopped"); r.len()]);
            }
        }
    }

    /// Waits until every queued group is fsynced and answered.
    pub fn barrier(&self) {
        let (tx, rx) = mpsc::channel();
        if self.tx.send(Job::Barrier(tx)).is_ok() {
            let _ = rx.recv();
        }
    }
}

impl Drop for Syncer {
    fn drop(&mut self) {
        // Closing the channel lets the thread finish every queued job, then end.
        let (dead, _) = mpsc::channel();
        drop(std::mem::replace(&mut self.tx, dead));
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

fn run(rx: mpsc::Receiver<Job>, state: Arc<WriterState>) {
    // The first failure, sticky: Linux reports a writeback error to one fsync only, so a
    // later "successful" fsync proves nothing about the bytes before it.
    let mut failed: Option<String> = None;
    while let Ok(first) = rx.recv() {
        let mut jobs = vec![first];
        while let Ok(j) = rx.try_recv() {
            jobs.push(j);
        }
        // The newest file covers everything: an older segment was fsynced when it was closed.
        let target = jobs.iter().rev().find_map(|j| match j {
            Job::Group { file, end, .. } => Some((file.clone(), *end)),
            Job::Barrier(_) => None,
        });
        let began = std::time::Instant::now();
        let result = match &target {
            Some(_) if failed.is_some() => Err(failed.clone().unwrap_or_default()),
            Some((file, end)) => match file.sync_data() {
                Ok(()) => {
                    state.count_fsync(began);
                    state.synced_end.fetch_max(end.0, Ordering::Relaxed);
                    state.publish_end_at_least(*end);
                    Ok(())
                }
                Err(e) => {
                    let why = format!("fsync of the log failed before offset {end}: {e}");
                    state.poison(why.clone());
                    state.fsync_failed.store(true, Ordering::Relaxed);
                    failed = Some(why.clone());
                    Err(why)
                }
            },
            None => Ok(()),
        };
        let mut answered = Vec::new();
        for j in jobs {
            match j {
                Job::Group { mut replies, .. } => {
                    if let Err(why) = &result {
                        let e = Reply::err(format!("ERR log fsync failed: {why}"));
                        for (_, r) in replies.iter_mut() {
                            r.iter_mut().for_each(|x| *x = e.clone());
                        }
                    }
                    answered.append(&mut replies);
                }
                Job::Barrier(done) => {
                    // Everything queued before the barrier is answered before it.
                    super::handoff::deliver(&mut answered);
                    let _ = done.send(());
                }
            }
        }
        super::handoff::deliver(&mut answered);
    }
}
