//! The handshake that opens every worker's conversation, and
//! `supervisor tasks --worker`, which only asks a worker for its tasks.

use super::child::Worker;
use super::event::{Event, EventKind};
use super::state::KillReason;
use crate::config::Config;
use crate::error::{PoolError, StartFailure};
use procmap_wire::{self as wire, FromWorker, Hello, PROTOCOL_VERSION, ToWorkerRef};
use std::time::{Duration, Instant};

/// The encoded hello that opens every worker's conversation.
/// `threads` is the worker's thread count now (`--mode auto` changes it).
pub(super) fn hello_bytes(cfg: &Config, threads: usize) -> Vec<u8> {
    let hello = Hello {
        protocol: PROTOCOL_VERSION,
        context: cfg.context.clone(),
        flush_interval_us: cfg.flush_interval.as_micros() as u64,
        report_starts: cfg.start_reports(),
        threads: threads as u32,
        capture: cfg.capture.clone(),
    };
    wire::encode(&ToWorkerRef::<()>::Hello(&hello)).expect("a hello always encodes")
}

/// Starts one worker of `program`, asks it which tasks it has, and lets it
/// go: what `supervisor tasks --worker PATH` lists.
pub(crate) fn catalogue(cfg: &Config) -> Result<Vec<procmap_wire::TaskInfo>, PoolError> {
    let (events_tx, events_rx) = crossbeam_channel::bounded::<Event>(8);
    let mut worker = Worker::spawn(
        &super::child::Launch {
            program: &cfg.program,
            args: &cfg.worker_args,
            zygote: cfg.zygote.as_deref(),
            output: None,
            mem_limit: None,
            marker: None,
        },
        0,
        1,
        &events_tx,
    )
    .map_err(|source| PoolError::Spawn { program: cfg.program.clone(), source })?;
    let deadline = Instant::now() + cfg.handshake_timeout;
    let failed = |worker: &mut Worker, failure: StartFailure| {
        worker.kill_now(KillReason::Handshake);
        worker.reap();
        worker.join_accept();
        let stderr = worker.stderr_tail();
        PoolError::WorkerStart { program: cfg.program.clone(), failure, stderr }
    };
    loop {
        let wait = deadline.saturating_duration_since(Instant::now()).min(Duration::from_millis(5));
        match events_rx.recv_timeout(wait) {
            Ok(Event { kind: EventKind::Connected(tx, rx), .. }) => {
                let sent = tx.send(&hello_bytes(cfg, cfg.threads));
                worker.tx = Some(tx);
                if sent.is_err() || worker.start_reader(rx, &events_tx).is_err() {
                    return Err(failed(&mut worker, StartFailure::HungUp));
                }
            }
            Ok(Event { kind: EventKind::Message(FromWorker::Hello(hello)), .. }) => {
                if hello.protocol != PROTOCOL_VERSION {
                    worker.kill_now(KillReason::Protocol);
                    worker.reap();
                    return Err(PoolError::Protocol { program: cfg.program.clone(), theirs: hello.protocol });
                }
                // Closing our sender makes the worker exit on its own.
                worker.tx = None;
                worker.reap();
                worker.join_accept();
                return Ok(hello.tasks);
            }
            Ok(Event { kind: EventKind::ConnectFailed(reason), .. }) => {
                return Err(failed(&mut worker, StartFailure::Connect(Box::new(reason))));
            }
            Ok(Event { kind: EventKind::Closed | EventKind::Garbled(_), .. }) => {
                return Err(failed(&mut worker, StartFailure::HungUp));
            }
            Ok(_) | Err(_) => {
                if worker.has_exited() {
                    return Err(failed(&mut worker, StartFailure::ExitedEarly));
                }
                if Instant::now() >= deadline {
                    return Err(failed(&mut worker, StartFailure::NoAnswer));
                }
            }
        }
    }
}
