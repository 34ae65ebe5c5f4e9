//! One tenant's commands take turns in this process instead of colliding in the database, and
//! the ones that queue up commit together (`group`).
//!
//! Every command of a tenant writes the tenant's outbox counter, so two concurrent transactions
//! of one tenant always conflict: one of them is retried with backoff, and under a burst (a flash
//! sale) most attempts are wasted. Here a tenant database has a lane while it has commands in
//! this process: the first command leads, the others queue. A leader takes the commands queued
//! behind it into its transaction (`group::lead`) and, when it is done, passes the lead to the
//! next command in the queue. A lane exists only while it has commands, so memory does not grow
//! with the number of tenants.
//!
//! This is a throughput measure, not a correctness one: with several instances the commands of
//! one tenant still meet in the database, whose conflicts and the retries of
//! `tenancy::transaction` keep them correct.

use std::collections::{HashMap, VecDeque};
use std::sync::{Mutex, MutexGuard, PoisonError};
use std::time::Instant;

use tokio::sync::mpsc::{UnboundedReceiver, UnboundedSender, unbounded_channel};

use super::group::ToMember;

/// A lane: one tenant database on one cluster.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub(crate) struct LaneKey {
    cluster: String,
    database: String,
}

impl LaneKey {
    pub fn new(cluster: &str, database: &str) -> LaneKey {
        LaneKey {
            cluster: cluster.to_string(),
            database: database.to_string(),
        }
    }
}

/// A command waiting in a lane, as its leader reaches it.
pub(crate) struct Waiting {
    pub mailbox: UnboundedSender<ToMember>,
    /// When the command arrived: its deadline counts from here.
    pub started: Instant,
}

/// The lanes of this process: the commands queued behind each lane's leader.
#[derive(Default)]
pub(crate) struct Lanes {
    queues: Mutex<HashMap<LaneKey, VecDeque<Waiting>>>,
}

impl Lanes {
    /// Enters `lane`: `None` when the lane was free and the caller leads it, or the mailbox to
    /// wait on behind the leader.
    pub fn join(&self, lane: &LaneKey, started: Instant) -> Option<UnboundedReceiver<ToMember>> {
        let mut queues = self.queues();
        let Some(queue) = queues.get_mut(lane) else {
            queues.insert(lane.clone(), VecDeque::new());
            return None;
        };
        let (mailbox, waiting) = unbounded_channel();
        queue.push_back(Waiting { mailbox, started });
        Some(waiting)
    }

    /// Up to `max` of the commands queued in `lane`, oldest first (for the leader's group).
    pub fn take(&self, lane: &LaneKey, max: usize) -> Vec<Waiting> {
        let mut queues = self.queues();
        let Some(queue) = queues.get_mut(lane) else {
            return Vec::new();
        };
        let n = queue.len().min(max);
        queue.drain(..n).collect()
    }

    /// Puts commands back at the head of `lane`'s queue, in their order (they go next).
    pub fn requeue(&self, lane: &LaneKey, commands: Vec<Waiting>) {
        let mut queues = self.queues();
        let queue = queues.entry(lane.clone()).or_default();
        for command in commands.into_iter().rev() {
            queue.push_front(command);
        }
    }

    /// The leader of `lane` is done: the next queued command leads, or the lane is freed.
    /// Leads are only ever sent here, under the lock (see `Mailbox`).
    pub fn pass(&self, lane: &LaneKey) {
        pass_locked(&mut self.queues(), lane);
    }

    /// Lanes in use (for tests).
    #[cfg(test)]
    pub fn in_use(&self) -> usize {
        self.queues().len()
    }

    fn queues(&self) -> MutexGuard<'_, HashMap<LaneKey, VecDeque<Waiting>>> {
        // The lock is never held across an await or a panic-prone call.
        self.queues.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// A queued command's mailbox. Dropped with its command (its request may be dropped at any
/// time), it passes on a lead it was sent but never read, so the lane is never left without
/// a leader.
pub(crate) struct Mailbox<'a> {
    pub inbox: UnboundedReceiver<ToMember>,
    pub lanes: &'a Lanes,
    pub lane: &'a LaneKey,
}

impl Mailbox<'_> {
    pub async fn recv(&mut self) -> Option<ToMember> {
        self.inbox.recv().await
    }
}

impl Drop for Mailbox<'_> {
    fn drop(&mut self) {
        // Under the lock no lead is being sent: every lead sent to this mailbox is in it, and
        // none can follow `close`.
        let mut queues = self.lanes.queues();
        self.inbox.close();
        let mut led = false;
        while let Ok(message) = self.inbox.try_recv() {
            led |= matches!(message, ToMember::Lead);
        }
        if led {
            pass_locked(&mut queues, self.lane);
        }
    }
}

fn pass_locked(queues: &mut HashMap<LaneKey, VecDeque<Waiting>>, lane: &LaneKey) {
    let Some(queue) = queues.get_mut(lane) else {
        return;
    };
    while let Some(next) = queue.pop_front() {
        // A command that is gone (its request was dropped) cannot lead.
        if next.mailbox.send(ToMember::Lead).is_ok() {
            return;
        }
    }
    queues.remove(lane);
}

/// The lead of a lane, passed on when dropped (also when the leader's request is dropped).
pub(crate) struct Leadership<'a> {
    pub lanes: &'a Lanes,
    pub lane: &'a LaneKey,
}

impl Drop for Leadership<'_> {
    fn drop(&mut self) {
        self.lanes.pass(self.lane);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_first_command_leads_and_the_lead_passes_in_order() {
        let lanes = Lanes::default();
        let lane = LaneKey::new("default", "t_a_1");
        assert!(
            lanes.join(&lane, Instant::now()).is_none(),
            "a free lane is led"
        );
        let mut second = lanes.join(&lane, Instant::now()).expect("queued");
        let mut third = lanes.join(&lane, Instant::now()).expect("queued");
        // Another tenant's lane is free.
        assert!(
            lanes
                .join(&LaneKey::new("default", "t_b_1"), Instant::now())
                .is_none()
        );
        lanes.pass(&lane);
        assert!(matches!(second.try_recv(), Ok(ToMember::Lead)));
        assert!(third.try_recv().is_err(), "one leader at a time");
        lanes.pass(&lane);
        assert!(matches!(third.try_recv(), Ok(ToMember::Lead)));
        lanes.pass(&lane);
        lanes.pass(&LaneKey::new("default", "t_b_1"));
        assert_eq!(lanes.in_use(), 0, "idle lanes are freed");
    }

    #[test]
    fn a_lead_sent_to_a_command_dropped_before_reading_it_is_passed_on() {
        let lanes = Lanes::default();
        let lane = LaneKey::new("default", "t_a_1");
        assert!(lanes.join(&lane, Instant::now()).is_none());
        let dropped = lanes.join(&lane, Instant::now()).expect("queued");
        let mut next = lanes.join(&lane, Instant::now()).expect("queued");
        let mailbox = Mailbox {
            inbox: dropped,
            lanes: &lanes,
            lane: &lane,
        };
        // The leader passes the lead to the first queued command, whose request is then
        // dropped before it reads its mailbox.
        lanes.pass(&lane);
        assert!(next.try_recv().is_err());
        drop(mailbox);
        assert!(
            matches!(next.try_recv(), Ok(ToMember::Lead)),
            "the lane has a leader"
        );
        lanes.pass(&lane);
        assert_eq!(lanes.in_use(), 0);
    }

    #[test]
    fn a_gone_command_is_skipped_and_requeued_commands_go_first() {
        let lanes = Lanes::default();
        let lane = LaneKey::new("default", "t_a_1");
        assert!(lanes.join(&lane, Instant::now()).is_none());
        drop(lanes.join(&lane, Instant::now()));
        let mut later = lanes.join(&lane, Instant::now()).expect("queued");
        let taken = lanes.take(&lane, 8);
        assert_eq!(taken.len(), 2);
        let mut back = lanes.join(&lane, Instant::now()).expect("queued");
        // The leader puts the taken commands back: they go before the one that came since.
        lanes.requeue(&lane, taken);
        lanes.pass(&lane);
        assert!(
            matches!(later.try_recv(), Ok(ToMember::Lead)),
            "the gone one is skipped"
        );
        assert!(back.try_recv().is_err());
    }
}
