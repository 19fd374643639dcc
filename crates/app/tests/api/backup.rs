//! `boxoffice backup`: an online copy of the embedded stores, restorable.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use boxoffice_app::admin;
use boxoffice_app::application::Application;
use boxoffice_app::cli::Settings;
use boxoffice_platform::Secret;
use tokio::time::Instant;

use crate::helpers::{ADMISSION_KEY, TEST_KEY, User, WEBHOOK_SECRET, spawn_app, start};

/// An order the API confirmed, and when the confirmation arrived.
struct Placed {
    id: String,
    buyer: usize,
    at: Instant,
}

#[tokio::test]
async fn a_backup_taken_during_sales_restores_every_order_committed_before_it() {
    let app = Arc::new(spawn_app().await);
    let seller = app.user().await;
    let mut buyers = Vec::new();
    for _ in 0..4 {
        buyers.push(app.user().await);
    }
    let mut tickets = Vec::new();
    for i in 0..80 {
        let ticket = app.listed_ticket(&seller, &format!("Seat {i}"), 15.0).await;
        tickets.push(ticket["id"].as_str().expect("id").to_owned());
    }
    let tickets = Arc::new(Mutex::new(tickets));
    let placed = Arc::new(Mutex::new(Vec::<Placed>::new()));
    let buyers = Arc::new(buyers);

    // Four buyers order as fast as they can while the backup runs.
    let mut writers = Vec::new();
    for buyer in 0..buyers.len() {
        let (app, tickets, placed, buyers) = (
            Arc::clone(&app),
            Arc::clone(&tickets),
            Arc::clone(&placed),
            Arc::clone(&buyers),
        );
        writers.push(tokio::spawn(async move {
            loop {
                let Some(ticket) = tickets.lock().expect("tickets").pop() else {
                    return;
                };
                let reply = app.order(&buyers[buyer], &ticket).await;
                assert_eq!(reply.status, 201, "{}", reply.body);
                placed.lock().expect("placed").push(Placed {
                    id: reply.body["id"].as_str().expect("id").to_owned(),
                    buyer,
                    at: Instant::now(),
                });
            }
        }));
    }
    while placed.lock().expect("placed").len() < 15 {
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let backup_dir = tempfile::tempdir().expect("temp dir");
    let started = Instant::now();
    let written = admin::backup(
        &backup_dir.path().join("copy"),
        &Settings::for_data_dir(app.data_dir()),
    )
    .await
    .expect("backup");
    let finished = Instant::now();
    for writer in writers {
        writer.await.expect("writer");
    }
    let stores = written
        .iter()
        .filter(|file| file.extension().is_some_and(|ext| ext == "db"))
        .count();
    assert_eq!(stores, 6, "one file per store: {written:?}");
    let placed = std::mem::take(&mut *placed.lock().expect("placed"));
    let before: Vec<&Placed> = placed.iter().filter(|p| p.at < started).collect();
    let during = placed
        .iter()
        .filter(|p| p.at >= started && p.at < finished)
        .count();
    assert!(before.len() >= 15);
    app.assert_settled().await;
    drop(app);

    // Restore: a new DATA_DIR holding the copies (and the key files, had they been
    // generated), then start.
    let restored_dir = tempfile::tempdir().expect("temp dir");
    for file in &written {
        std::fs::copy(
            file,
            restored_dir.path().join(file.file_name().expect("name")),
        )
        .expect("copy");
    }
    let mut settings = Settings::for_data_dir(restored_dir.path());
    settings.jwt_key = Some(Secret::new(TEST_KEY));
    settings.room_admission_key = Some(Secret::new(ADMISSION_KEY));
    settings.stripe_webhook_secret = Some(Secret::new(WEBHOOK_SECRET));
    let restored = start(
        Application::embedded(&settings)
            .await
            .expect("restored app starts"),
        Some(restored_dir),
        None,
    );
    for order in &before {
        let buyer: &User = &buyers[order.buyer];
        let found = restored.order_of(buyer, &order.id).await;
        assert_eq!(found["status"], "created", "{found}");
        let ticket = restored
            .ticket(found["ticket"]["id"].as_str().expect("ticket"))
            .await;
        assert_eq!(ticket["orderId"], order.id.as_str(), "{ticket}");
    }
    // The copies agree with each other: every event is applied, none parked.
    restored.assert_settled().await;
    eprintln!(
        "{} orders before the backup, {during} while it ran, {} in all",
        before.len(),
        placed.len()
    );
}
