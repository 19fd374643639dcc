use std::sync::atomic::{AtomicU32, Ordering};

use tokio::sync::{Notify, mpsc};

use super::*;

const WITHIN: Duration = Duration::from_secs(5);

/// Polls `probe` until it reports a failure, and returns the report.
async fn failure_of(probe: &Arc<dyn ReadinessProbe>) -> String {
    tokio::time::timeout(WITHIN, async {
        loop {
            match probe.check().await {
                Err(err) => break format!("{err:#}"),
                Ok(()) => tokio::time::sleep(Duration::from_millis(1)).await,
            }
        }
    })
    .await
    .expect("the failure is reported")
}

#[tokio::test]
async fn a_one_off_task_that_dies_turns_readiness_off_and_shutdown_waits_for_the_rest() {
    let supervisor = Supervisor::new();
    let probe = supervisor.probe();
    let finished = Arc::new(Notify::new());
    let stop = supervisor.stopping();
    let done = Arc::clone(&finished);
    supervisor.spawn("patient", async move {
        stop.cancelled().await;
        done.notify_one();
        Ok(())
    });
    assert!(probe.check().await.is_ok(), "nothing has died yet");

    supervisor.spawn("fragile", async move { panic!("boom") });
    let report = failure_of(&probe).await;
    assert!(report.contains("fragile panicked: boom"), "{report}");

    supervisor.shutdown().await;
    tokio::time::timeout(Duration::from_secs(1), finished.notified())
        .await
        .expect("the patient task saw the stop before shutdown returned");
    assert!(
        probe.check().await.is_err(),
        "a one-off task stays dead: it cannot be started again"
    );
}

#[tokio::test]
async fn tasks_that_end_during_shutdown_are_not_reported() {
    let supervisor = Supervisor::new();
    let stop = supervisor.stopping();
    supervisor.spawn("worker", async move {
        stop.cancelled().await;
        anyhow::bail!("interrupted")
    });
    supervisor.supervise("timer", Stage::Timers, |stop| async move {
        stop.cancelled().await;
        anyhow::bail!("interrupted")
    });
    supervisor.shutdown().await;
    assert!(supervisor.probe().check().await.is_ok());
}

#[tokio::test(start_paused = true)]
async fn a_dying_task_is_reported_down_and_restarted_after_pauses_that_double() {
    let backoff = Backoff {
        first: Duration::from_secs(1),
        max: Duration::from_secs(3),
        healthy_after: Duration::from_secs(60),
    };
    let supervisor = Supervisor::with_backoff(backoff);
    let probe = supervisor.probe();
    let starts = Arc::new(AtomicU32::new(0));
    let (started_tx, mut started) = mpsc::unbounded_channel();
    let counted = Arc::clone(&starts);
    // Dies on each of its first four runs (a panic, then errors), then keeps running.
    supervisor.supervise("flaky", Stage::Timers, move |stop| {
        let run = counted.fetch_add(1, Ordering::SeqCst) + 1;
        let _ = started_tx.send((run, tokio::time::Instant::now()));
        async move {
            match run {
                1 => panic!("injected fault {run}"),
                2..=4 => anyhow::bail!("injected failure {run}"),
                _ => {
                    stop.cancelled().await;
                    Ok(())
                }
            }
        }
    });

    let mut runs = Vec::new();
    while runs.len() < 5 {
        let (run, at) = started.recv().await.expect("the task is started again");
        runs.push((run, at));
        if run == 1 {
            let report = failure_of(&probe).await;
            assert!(
                report.contains("flaky panicked: injected fault 1"),
                "{report}"
            );
        }
    }
    let pauses: Vec<Duration> = runs.windows(2).map(|w| w[1].1 - w[0].1).collect();
    assert_eq!(
        pauses,
        [1, 2, 3, 3].map(Duration::from_secs),
        "the pause doubles up to its ceiling"
    );
    tokio::time::timeout(WITHIN, async {
        while probe.check().await.is_err() {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    })
    .await
    .expect("ready again once the task runs");
    assert_eq!(starts.load(Ordering::SeqCst), 5);
    supervisor.shutdown().await;
}

#[tokio::test]
async fn shutdown_stops_intake_then_timers_then_publishing() {
    let supervisor = Supervisor::new();
    let (stopped_tx, mut stopped) = mpsc::unbounded_channel();
    // Registered in the reverse of the shutdown order, so the order cannot come from it.
    for (name, stage) in [
        ("relay", Stage::Publishing),
        ("timer", Stage::Timers),
        ("consumer", Stage::Intake),
    ] {
        let stopped_tx = stopped_tx.clone();
        supervisor.supervise(name, stage, move |stop| {
            let stopped_tx = stopped_tx.clone();
            async move {
                stop.cancelled().await;
                // Take a moment to wind down, as a relay flushing its last rows would.
                tokio::time::sleep(Duration::from_millis(20)).await;
                let _ = stopped_tx.send(name);
                Ok(())
            }
        });
    }
    drop(stopped_tx);
    supervisor.shutdown().await;
    let mut order = Vec::new();
    while let Some(name) = stopped.recv().await {
        order.push(name);
    }
    assert_eq!(order, ["consumer", "timer", "relay"]);
}
