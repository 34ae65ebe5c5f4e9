//! Group commit: a lane's leader runs the commands queued behind it in its own transaction, takes
//! all their positions with one counter update, inserts all their documents and events in one
//! `bulkWrite` and commits once. Under a burst on one tenant, 32 one-line orders cost about 36
//! round trips instead of 128, and none waits for 31 commits before its own.
//!
//! Each command runs its own work, in its own task, with the session the leader hands it
//! (`ToMember::Run`), and hands back what it wants inserted (`Prepared`); its typed result stays
//! with it. The outcome is the same as if the group's commands had run one after the other:
//! - A command's failure is its answer only when it ran first in a fresh transaction, after the
//!   groups before it committed. A command that fails later in a group may have failed because
//!   of the commands before it, which may not commit: the leader aborts, puts it and those after
//!   it back at the head of the lane, and retries the group with those before it.
//! - A duplicate key in the group's inserts cannot be told apart per command: the group shrinks
//!   to its first command and the rest go back to the lane.
//! - A conflict retries the whole group (every command's work runs again).
//! - The commit runs in a task of its own that tells the commands it committed, so a leader
//!   whose request is dropped cannot leave them not knowing. A command whose leader vanished
//!   before that knows nothing of it was committed, and joins the lane again.

use std::time::{Duration, Instant};

use mongodb::ClientSession;
use mongodb::bson::Document;
use tenancy::clusters::TenantDb;
use tenancy::fleet::InTransaction;
use tenancy::meta::META;
use tenancy::transaction::{self, Abandoned, DEADLINE};
use tokio::sync::mpsc::UnboundedSender;
use tokio::sync::oneshot;

use super::lanes::{LaneKey, Lanes, Leadership, Mailbox, Waiting};
use crate::bulk::{InsertFailed, Inserts};
use crate::outbox::{self, OUTBOX};

/// The most commands one transaction takes.
const MAX_GROUP: usize = 64;
/// How long a commit sent near the deadline may still take (the server's own limit is 5 s).
const COMMIT_PATIENCE: Duration = Duration::from_secs(5);

/// A command as its group sees it.
pub(super) trait Member {
    /// Runs the command's work in `session`'s transaction and says what to insert.
    async fn run(&mut self, session: ClientSession) -> (ClientSession, Reply);
}

/// A command's work, done.
pub(crate) enum Reply {
    Ready(Prepared),
    /// Its work failed; `transient` if retrying the transaction may help (a conflict).
    Failed {
        transient: bool,
    },
}

/// What a command's transaction inserts, in order. Positions are the group's to give: the
/// events are numbered from 1 (their `_id`), the key's record has `position` 0.
pub(crate) struct Prepared {
    pub record: Option<Document>,
    pub inserts: Vec<(&'static str, Document)>,
    pub events: Vec<Document>,
}

/// What a command learns of its group's transaction.
pub(crate) enum Verdict {
    /// Committed; `last` is the position of its last event.
    Committed {
        last: i64,
    },
    /// Its own work's failure is its answer.
    OwnFailure,
    Failed(GroupFailure),
}

/// Why a group's transaction did not commit, for each of its commands.
#[derive(Debug, Clone)]
pub(crate) enum GroupFailure {
    Fenced,
    Abandoned(Abandoned),
    Database(mongodb::error::Error),
    /// A new document's unique key was taken (in a group of one).
    Duplicate {
        collection: Option<String>,
    },
}

impl From<mongodb::error::Error> for GroupFailure {
    fn from(e: mongodb::error::Error) -> Self {
        GroupFailure::Database(e)
    }
}

impl From<Abandoned> for GroupFailure {
    fn from(e: Abandoned) -> Self {
        GroupFailure::Abandoned(e)
    }
}

/// From a lane's leader to a queued command.
pub(crate) enum ToMember {
    /// Run your work in this transaction and hand the session back (boxed: it is large).
    Run(Box<ClientSession>, oneshot::Sender<(ClientSession, Reply)>),
    Verdict(Verdict),
    /// Lead the lane.
    Lead,
}

/// How waiting in a lane ended.
pub(super) enum Waited {
    Verdict(Verdict),
    Lead,
    /// The leader vanished before its commit: nothing of this command was committed.
    Orphaned,
}

/// Waits behind a leader, running `own`'s work when asked. Until its work first ran in a
/// group, a command gives up at its deadline (then no transaction holds anything of it); after,
/// its leader's deadline and the bounded commit answer it.
pub(super) async fn wait<W: Member>(
    own: &mut W,
    mailbox: &mut Mailbox<'_>,
    started: Instant,
) -> Waited {
    let mut ran = false;
    loop {
        let message = if ran {
            mailbox.recv().await
        } else {
            let patience = DEADLINE.saturating_sub(started.elapsed());
            match tokio::time::timeout(patience, mailbox.recv()).await {
                Ok(message) => message,
                Err(_) => {
                    let elapsed = started.elapsed();
                    let queued = GroupFailure::Abandoned(Abandoned::Queued { elapsed });
                    return Waited::Verdict(Verdict::Failed(queued));
                }
            }
        };
        match message {
            Some(ToMember::Run(session, back)) => {
                ran = true;
                // Bounded like the rest: the driver has no socket timeout. Given up, the work
                // drops the session, so its group cannot commit anything of it.
                let patience = DEADLINE.saturating_sub(started.elapsed());
                let Ok(reply) = tokio::time::timeout(patience, own.run(*session)).await else {
                    let elapsed = started.elapsed();
                    let stalled = GroupFailure::Abandoned(Abandoned::Stalled { elapsed });
                    return Waited::Verdict(Verdict::Failed(stalled));
                };
                // A leader that is gone drops the session with its transaction.
                let _ = back.send(reply);
            }
            Some(ToMember::Verdict(verdict)) => return Waited::Verdict(verdict),
            Some(ToMember::Lead) => return Waited::Lead,
            None => return Waited::Orphaned,
        }
    }
}

/// A command in the leader's group.
enum Seat {
    /// The leader's own command (always first while it is in the group).
    Own {
        started: Instant,
    },
    Queued(Waiting),
}

impl Seat {
    fn started(&self) -> Instant {
        match self {
            Seat::Own { started } => *started,
            Seat::Queued(w) => w.started,
        }
    }
}

/// How one attempt at the group's transaction ended.
enum Attempt {
    /// Every command ran and everything is inserted: the transaction awaits its commit.
    Ready(Box<Ready>),
    /// Committed; the last position of each seat's command.
    Committed(Vec<i64>),
    Transient,
    /// The command in this seat failed.
    MemberFailed(usize),
    /// The command in this seat is gone (its request was dropped) with the session.
    MemberGone(usize),
    /// A failure that cannot be told apart per command: the group shrinks to its first one.
    Split,
    Failed(GroupFailure),
}

/// A group's transaction, ready to commit.
struct Ready {
    session: ClientSession,
    busy: InTransaction,
    /// The last position of each seat's command.
    lasts: Vec<i64>,
}

impl Attempt {
    fn of(e: mongodb::error::Error) -> Attempt {
        if transaction::is_transient(&e) {
            Attempt::Transient
        } else {
            Attempt::Failed(GroupFailure::Database(e))
        }
    }
}

/// Leads `lane`: commits `own` with the commands queued behind it, then passes the lead on.
pub(super) async fn lead<W: Member>(
    own: &mut W,
    db: &TenantDb,
    lanes: &Lanes,
    lane: &LaneKey,
    started: Instant,
) -> Verdict {
    let _leadership = Leadership { lanes, lane };
    let mut seats = vec![Seat::Own { started }];
    seats.extend(
        lanes
            .take(lane, MAX_GROUP - 1)
            .into_iter()
            .map(Seat::Queued),
    );
    metrics::histogram!("tenantry_command_group_size").record(seats.len() as f64);
    let mut own_verdict = None;
    let mut attempt: u32 = 0;
    while !seats.is_empty() {
        let (expired, live): (Vec<Seat>, Vec<Seat>) = std::mem::take(&mut seats)
            .into_iter()
            .partition(|s| s.started().elapsed() >= DEADLINE);
        seats = live;
        for seat in expired {
            let elapsed = seat.started().elapsed();
            let queued = GroupFailure::Abandoned(Abandoned::Queued { elapsed });
            settle(seat, Verdict::Failed(queued), &mut own_verdict);
        }
        if own_verdict.is_some() {
            // The leader has its answer: it does not keep its client waiting for the others,
            // who go first in the lane under the next leader.
            requeue(lanes, lane, std::mem::take(&mut seats));
            break;
        }
        let Some(oldest) = seats.iter().map(Seat::started).min() else {
            break;
        };
        attempt += 1;
        let remaining = DEADLINE.saturating_sub(oldest.elapsed());
        let outcome = match tokio::time::timeout(remaining, try_group(own, db, &seats)).await {
            // The commit is not under the attempt's timeout: once it is sent, only its own
            // outcome (or its own bound) says whether the group committed.
            Ok(Attempt::Ready(ready)) => commit(*ready, &seats, oldest).await,
            Ok(outcome) => outcome,
            // Nothing was committed: the session is dropped with its transaction.
            Err(_) => {
                metrics::counter!("tenantry_transactions_abandoned_total").increment(1);
                let elapsed = oldest.elapsed();
                Attempt::Failed(GroupFailure::Abandoned(Abandoned::Stalled { elapsed }))
            }
        };
        match outcome {
            Attempt::Committed(lasts) => {
                // The commit task told the queued commands.
                if let (Some(Seat::Own { .. }), Some(&last)) = (seats.first(), lasts.first()) {
                    own_verdict = Some(Verdict::Committed { last });
                }
                break;
            }
            Attempt::Transient if oldest.elapsed() >= DEADLINE => {
                metrics::counter!("tenantry_transactions_abandoned_total").increment(1);
                let elapsed = oldest.elapsed();
                let busy = GroupFailure::Abandoned(Abandoned::Busy {
                    attempts: attempt,
                    elapsed,
                });
                for seat in seats.drain(..) {
                    settle(seat, Verdict::Failed(busy.clone()), &mut own_verdict);
                }
            }
            Attempt::Transient => {
                metrics::counter!("tenantry_transaction_retries_total").increment(1);
                tokio::time::sleep(transaction::backoff(attempt)).await;
            }
            Attempt::MemberFailed(0) => {
                settle(seats.remove(0), Verdict::OwnFailure, &mut own_verdict)
            }
            Attempt::MemberFailed(i) => requeue(lanes, lane, seats.split_off(i)),
            Attempt::MemberGone(i) => drop(seats.remove(i)),
            // Only a group of more than one splits (see `try_group`).
            Attempt::Split => requeue(lanes, lane, seats.split_off(1)),
            Attempt::Ready(_) => {}
            Attempt::Failed(failure) => {
                for seat in seats.drain(..) {
                    settle(seat, Verdict::Failed(failure.clone()), &mut own_verdict);
                }
            }
        }
    }
    own_verdict.unwrap_or(Verdict::Failed(GroupFailure::Abandoned(
        Abandoned::Queued {
            elapsed: started.elapsed(),
        },
    )))
}

/// Tells a seat's command how it ended.
fn settle(seat: Seat, verdict: Verdict, own: &mut Option<Verdict>) {
    match seat {
        Seat::Own { .. } => *own = Some(verdict),
        Seat::Queued(waiting) => {
            let _ = waiting.mailbox.send(ToMember::Verdict(verdict));
        }
    }
}

fn requeue(lanes: &Lanes, lane: &LaneKey, seats: Vec<Seat>) {
    let queued = seats
        .into_iter()
        .filter_map(|seat| match seat {
            Seat::Queued(waiting) => Some(waiting),
            // The leader's own command is first in its group: never split off.
            Seat::Own { .. } => None,
        })
        .collect();
    lanes.requeue(lane, queued);
}

/// One attempt at the group's transaction.
async fn try_group<W: Member>(own: &mut W, db: &TenantDb, seats: &[Seat]) -> Attempt {
    let (mut session, busy) = match transaction::begin(db).await {
        Ok(begun) => begun,
        Err(e) => return Attempt::of(e),
    };
    let mut prepared = Vec::with_capacity(seats.len());
    for (i, seat) in seats.iter().enumerate() {
        let (back, reply) = match seat {
            Seat::Own { .. } => own.run(session).await,
            Seat::Queued(waiting) => {
                let (back, answer) = oneshot::channel();
                if waiting
                    .mailbox
                    .send(ToMember::Run(Box::new(session), back))
                    .is_err()
                {
                    return Attempt::MemberGone(i);
                }
                // A command dropped just as it was sent this may never read it: its closed
                // mailbox says so (the session is then lost with the message).
                tokio::select! {
                    biased;
                    answered = answer => match answered {
                        Ok(answered) => answered,
                        Err(_) => return Attempt::MemberGone(i),
                    },
                    () = waiting.mailbox.closed() => return Attempt::MemberGone(i),
                }
            }
        };
        session = back;
        match reply {
            Reply::Ready(p) => prepared.push(p),
            Reply::Failed { transient } => {
                // Best effort: the server aborts it anyway when the session ends.
                let _ = session.abort_transaction().await;
                return match transient {
                    true => Attempt::Transient,
                    false => Attempt::MemberFailed(i),
                };
            }
        }
    }
    let (inserts, lasts) = match positioned(db, &mut session, prepared).await {
        Ok(positioned) => positioned,
        Err(attempt) => {
            let _ = session.abort_transaction().await;
            return attempt;
        }
    };
    if let Err(failed) = inserts.execute(&mut session).await {
        let _ = session.abort_transaction().await;
        return match failed {
            InsertFailed::Database(e) if transaction::is_transient(&e) => Attempt::Transient,
            _ if seats.len() > 1 => Attempt::Split,
            InsertFailed::Duplicate { collection } => {
                Attempt::Failed(GroupFailure::Duplicate { collection })
            }
            InsertFailed::Database(e) => Attempt::Failed(GroupFailure::Database(e)),
        };
    }
    Attempt::Ready(Box::new(Ready {
        session,
        busy,
        lasts,
    }))
}

/// Commits a group's transaction in a task of its own, which tells the group's queued
/// commands how it ended (unless the group may retry): they hear of it even if the leader's
/// request is dropped meanwhile. Bounded, like everything else: the driver has no socket
/// timeout.
async fn commit(ready: Ready, seats: &[Seat], oldest: Instant) -> Attempt {
    let Ready {
        mut session,
        busy,
        lasts,
    } = ready;
    let told: Vec<(UnboundedSender<ToMember>, i64)> = seats
        .iter()
        .zip(&lasts)
        .filter_map(|(seat, &last)| match seat {
            Seat::Queued(waiting) => Some((waiting.mailbox.clone(), last)),
            Seat::Own { .. } => None,
        })
        .collect();
    let committed = tokio::spawn(async move {
        let _busy = busy;
        let bound = DEADLINE
            .saturating_sub(oldest.elapsed())
            .max(COMMIT_PATIENCE);
        let committing = transaction::commit::<GroupFailure>(&mut session, oldest);
        let result = tokio::time::timeout(bound, committing)
            .await
            .unwrap_or_else(|_| {
                let elapsed = oldest.elapsed();
                Err(GroupFailure::Abandoned(Abandoned::CommitUnknown {
                    elapsed,
                }))
            });
        let verdict = |last| match &result {
            Ok(()) => Some(Verdict::Committed { last }),
            // Not committed: the leader retries, or its commands queue again.
            Err(GroupFailure::Database(e)) if transaction::is_transient(e) => None,
            Err(failure) => Some(Verdict::Failed(failure.clone())),
        };
        for (mailbox, last) in told {
            if let Some(verdict) = verdict(last) {
                let _ = mailbox.send(ToMember::Verdict(verdict));
            }
        }
        result
    })
    .await;
    match committed {
        Ok(Ok(())) => Attempt::Committed(lasts),
        Ok(Err(GroupFailure::Database(e))) => Attempt::of(e),
        Ok(Err(failure)) => Attempt::Failed(failure),
        // The commit task panicked: its outcome is unknown.
        Err(_) => Attempt::Failed(GroupFailure::Abandoned(Abandoned::CommitUnknown {
            elapsed: oldest.elapsed(),
        })),
    }
}

/// Takes the group's positions (passing the tenant's fence) and numbers each command's events
/// and record: the inserts, and each command's last position.
async fn positioned<'a>(
    db: &'a TenantDb,
    session: &mut ClientSession,
    prepared: Vec<Prepared>,
) -> Result<(Inserts<'a>, Vec<i64>), Attempt> {
    let total: usize = prepared.iter().map(|p| p.events.len()).sum();
    let database = db.database();
    let last = match outbox::reserve(database, session, total).await {
        Ok(Ok(last)) => last,
        Ok(Err(outbox::Fenced)) => return Err(Attempt::Failed(GroupFailure::Fenced)),
        Err(e) => return Err(Attempt::of(e)),
    };
    let mut next = last - total as i64 + 1;
    let mut inserts = Inserts::new(database);
    let mut lasts = Vec::with_capacity(prepared.len());
    for command in prepared {
        let own_last = next + command.events.len() as i64 - 1;
        if let Some(mut record) = command.record {
            record.insert("position", own_last);
            inserts.push(META, record);
        }
        for (collection, document) in command.inserts {
            inserts.push(collection, document);
        }
        for mut event in command.events {
            event.insert("_id", next);
            next += 1;
            inserts.push(OUTBOX, event);
        }
        lasts.push(own_last);
    }
    Ok((inserts, lasts))
}
