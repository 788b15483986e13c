//! Batched hand-off between the I/O threads and the writer thread.
//!
//! Every thread crossing costs a wake-up: a futex wake to get the writer going, an eventfd
//! write to get an I/O thread's runtime going again. Done per job, that is two wake-ups per
//! request at pipeline 1, and the writer starts on the first job while the I/O thread is still
//! reading the others, so groups stay small (about 6 records per group with 50 clients).
//! Redis instead reads every ready client, then writes and fsyncs once.
//!
//! Each I/O thread installs an [`IoHandoff`] that batches both directions:
//! - jobs: connections queue them; one task on that thread's runtime commits everything
//!   queued as one group (one log append, one RocksDB batch, one fsync), on this thread,
//!   holding the writer's lock for the burst: no wake-up of the writer thread at all. The
//!   runtime polls that task after the connection tasks already woken by the same readiness
//!   events, so a burst carries every client that was ready, as Redis' event loop does. The
//!   writer thread keeps what is not tied to a client's request: blocking commands and their
//!   deadlines, replication, active expiry, fsync under everysec, flushes and retention;
//! - replies: the writer (or the fsync thread) queues a whole group's replies and wakes one
//!   dispatching task on the runtime, which completes each client's reply channel there: one
//!   cross-thread wake per group and I/O thread instead of one per client.
//!
//! Threads without one (the accept loop, unit tests driving the writer directly) send and
//! receive directly, as before.

use std::cell::RefCell;
use std::sync::{Arc, Mutex};

use tokio::sync::{oneshot, Notify};

use super::{DirectWriter, PendingReply, WriterMsg};
use crate::protocol::Reply;

/// A reply channel and what goes into it.
type Answer = (oneshot::Sender<Vec<Reply>>, Vec<Reply>);

/// Items pushed from any thread and taken a burst at a time by one task: only the push that
/// finds the queue empty wakes the task, which then takes everything queued.
struct Burst<T> {
    items: Mutex<Vec<T>>,
    ready: Notify,
}

impl<T> Default for Burst<T> {
    fn default() -> Self {
        Burst {
            items: Mutex::new(Vec::new()),
            ready: Notify::new(),
        }
    }
}

impl<T> Burst<T> {
    fn push(&self, item: T) {
        let mut q = self.items.lock().unwrap_or_else(|p| p.into_inner());
        q.push(item);
        let first = q.len() == 1;
        drop(q);
        if first {
            self.ready.notify_one();
        }
    }

    /// Waits for a wake-up, then swaps everything queued into `out` (which must be empty).
    async fn take(&self, out: &mut Vec<T>) {
        self.ready.notified().await;
        let mut q = self.items.lock().unwrap_or_else(|p| p.into_inner());
        std::mem::swap(&mut *q, out);
    }
}

/// The hand-off queues of one I/O thread.
#[derive(Default)]
pub struct IoHandoff {
    jobs: Burst<WriterMsg>,
    replies: Burst<Answer>,
}

thread_local! {
    static CURRENT: RefCell<Option<Arc<IoHandoff>>> = const { RefCell::new(None) };
}

/// Installs a hand-off for the calling thread and starts its two tasks on the current tokio
/// runtime (which must run on this thread).
pub fn install(writer: DirectWriter) {
    let h = Arc::new(IoHandoff::default());
    tokio::spawn(h.clone().forward(writer));
    tokio::spawn(h.clone().dispatch());
    CURRENT.with(|c| *c.borrow_mut() = Some(h));
}

/// The calling thread's hand-off, if it installed one.
pub fn current() -> Option<Arc<IoHandoff>> {
    CURRENT.with(|c| c.borrow().clone())
}

/// Where a job's replies go: its client's channel, through the client's I/O thread's
/// hand-off when it has one.
pub struct ReplyTx {
    tx: oneshot::Sender<Vec<Reply>>,
    via: Option<Arc<IoHandoff>>,
}

impl ReplyTx {
    pub fn new(tx: oneshot::Sender<Vec<Reply>>, via: Option<Arc<IoHandoff>>) -> ReplyTx {
        ReplyTx { tx, via }
    }

    /// Sends at once, bypassing the batching (blocked clients woken one at a time).
    pub fn send(self, replies: Vec<Reply>) {
        let _ = self.tx.send(replies);
    }

    /// The client went away.
    pub fn is_closed(&self) -> bool {
        self.tx.is_closed()
    }
}

/// Hands over a group's replies, draining `group`: one wake-up per I/O thread involved.
pub fn deliver(group: &mut Vec<PendingReply>) {
    for (rtx, r) in group.drain(..) {
        match rtx.via {
            Some(h) => h.queue_reply(rtx.tx, r),
            None => {
                let _ = rtx.tx.send(r);
            }
        }
    }
}

impl IoHandoff {
    /// Queues a job for the committing task.
    pub fn queue_job(&self, msg: WriterMsg) {
        self.jobs.push(msg);
    }

    fn queue_reply(&self, tx: oneshot::Sender<Vec<Reply>>, r: Vec<Reply>) {
        self.replies.push((tx, r));
    }

    /// Commits queued jobs, a burst at a time.
    async fn forward(self: Arc<Self>, writer: DirectWriter) {
        let mut batch = Vec::new();
        loop {
            self.jobs.take(&mut batch).await;
            writer.commit(&mut batch);
        }
    }

    /// Completes queued replies on this thread.
    async fn dispatch(self: Arc<Self>) {
        let mut batch = Vec::new();
        loop {
            self.replies.take(&mut batch).await;
            for (tx, r) in batch.drain(..) {
                let _ = tx.send(r);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn without_a_handoff_replies_go_straight_to_the_client() {
        let (tx, mut rx) = oneshot::channel();
        let mut group = vec![(ReplyTx::new(tx, None), vec![Reply::Ok])];
        deliver(&mut group);
        assert!(group.is_empty());
        assert!(matches!(rx.try_recv().as_deref(), Ok([Reply::Ok])));
    }

    #[test]
    fn replies_delivered_from_another_thread_arrive_in_order() {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("runtime");
        rt.block_on(async {
            let h = Arc::new(IoHandoff::default());
            tokio::spawn(h.clone().dispatch());
            let mut waiting = Vec::new();
            let mut groups = vec![Vec::new(), Vec::new()];
            for i in 0..100u8 {
                let (rtx, rrx) = oneshot::channel();
                groups[usize::from(i >= 50)].push((
                    ReplyTx::new(rtx, Some(h.clone())),
                    vec![Reply::Int(i.into())],
                ));
                waiting.push(rrx);
            }
            // Two groups handed over from another thread, as the writer and the fsync
            // thread do.
            std::thread::spawn(move || {
                for mut g in groups {
                    deliver(&mut g);
                }
            })
            .join()
            .expect("deliver");
            for (i, rrx) in waiting.into_iter().enumerate() {
                let got = rrx.await.expect("reply delivered");
                assert!(matches!(got.as_slice(), [Reply::Int(n)] if *n == i as i64));
            }
        });
    }
}
