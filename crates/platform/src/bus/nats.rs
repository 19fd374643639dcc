//! The distributed mode's bus: NATS JetStream.
//!
//! * One stream holds every event; an event type `ticket:created` travels on the subject
//!   `<prefix>.ticket.created`.
//! * `publish` sends with `Nats-Msg-Id` = the event id, so an outbox row published twice
//!   (a crash between publish and "mark sent") is stored once; the [`Receipt`] is the
//!   server's publish acknowledgement, and a duplicate counts as success.
//! * `subscribe` creates (or updates) a durable pull consumer filtered on the event types,
//!   with explicit acks; `nak` asks the server for redelivery after a delay. The message
//!   stream is recreated with back-off when it ends (heartbeats missed, leader change,
//!   server restart).

use std::time::Duration;

use anyhow::Context;
use async_nats::jetstream::{self, AckKind, consumer, stream};
use futures::{FutureExt, StreamExt};

use super::{Acknowledge, Delivery, Envelope, EventBus, Receipt, Subscription};

/// How long the server waits for an ack before redelivering. Handlers take milliseconds;
/// this only matters when a process dies holding messages.
const ACK_WAIT: Duration = Duration::from_secs(30);
/// Deliveries after which the server gives up on a message. The consumer runner parks an
/// event in its dead-letter table before (see `RetryPolicy`: ten minutes of deliveries at
/// most five seconds apart for an event that waits for an earlier one); this is the
/// backstop.
const MAX_DELIVER: i64 = 1000;
/// How long the server remembers message ids for de-duplication.
const DUPLICATE_WINDOW: Duration = Duration::from_secs(2 * 60 * 60);
const RECONNECT_PAUSE: Duration = Duration::from_millis(500);

/// See the module documentation. Cheap to clone.
#[derive(Clone)]
pub struct NatsBus {
    jetstream: jetstream::Context,
    stream: String,
    prefix: String,
}

impl std::fmt::Debug for NatsBus {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NatsBus")
            .field("stream", &self.stream)
            .finish_non_exhaustive()
    }
}

impl NatsBus {
    /// Connects and declares the stream (idempotent: every service may do it at start).
    pub async fn connect(url: &str, stream: &str, prefix: &str) -> anyhow::Result<Self> {
        let client = async_nats::ConnectOptions::new()
            .retry_on_initial_connect()
            .connect(url)
            .await
            .context("connecting to NATS (is NATS_URL right and the server up?)")?;
        let jetstream = jetstream::new(client);
        jetstream
            .get_or_create_stream(stream::Config {
                name: stream.to_owned(),
                subjects: vec![format!("{prefix}.>")],
                duplicate_window: DUPLICATE_WINDOW,
                storage: stream::StorageType::File,
                ..Default::default()
            })
            .await
            .context("declaring the event stream")?;
        Ok(Self {
            jetstream,
            stream: stream.to_owned(),
            prefix: prefix.to_owned(),
        })
    }

    fn subject(&self, kind: &str) -> String {
        format!("{}.{}", self.prefix, kind.replace(':', "."))
    }

    /// Whether the server answers, for `/readyz`.
    pub async fn ping(&self) -> anyhow::Result<()> {
        self.jetstream
            .get_stream(&self.stream)
            .await
            .map(drop)
            .context("event stream unavailable")
    }
}

#[async_trait::async_trait]
impl EventBus for NatsBus {
    async fn publish(&self, event: &Envelope) -> anyhow::Result<Receipt> {
        let mut headers = async_nats::HeaderMap::new();
        headers.insert("Nats-Msg-Id", event.id.to_string().as_str());
        let payload = serde_json::to_vec(event)?;
        let ack = self
            .jetstream
            .publish_with_headers(self.subject(&event.kind), headers, payload.into())
            .await
            .context("publishing to JetStream")?;
        Ok(Box::pin(async move {
            // `duplicate: true` means an earlier publish of this id was stored: success.
            ack.await.context("JetStream did not confirm the publish")?;
            Ok(())
        }))
    }

    async fn subscribe(
        &self,
        durable: &str,
        types: &[&'static str],
    ) -> anyhow::Result<Box<dyn Subscription>> {
        let stream = self
            .jetstream
            .get_stream(&self.stream)
            .await
            .context("event stream")?;
        let config = consumer::pull::Config {
            durable_name: Some(durable.to_owned()),
            filter_subjects: types.iter().map(|kind| self.subject(kind)).collect(),
            ack_policy: consumer::AckPolicy::Explicit,
            ack_wait: ACK_WAIT,
            max_deliver: MAX_DELIVER,
            ..Default::default()
        };
        // `create_consumer` updates an existing durable's configuration too.
        let consumer = stream
            .create_consumer(config)
            .await
            .context("creating the durable consumer")?;
        Ok(Box::new(NatsSubscription {
            consumer,
            messages: None,
        }))
    }

    /// An ephemeral consumer of this process, starting at `since`. When its message
    /// stream fails (server restart, the consumer reaped) it is created again from the
    /// sequence after the last message delivered, so nothing in between is missed.
    async fn follow(
        &self,
        name: &str,
        types: &[&'static str],
        since: time::OffsetDateTime,
    ) -> anyhow::Result<(Box<dyn Subscription>, u64)> {
        let stream = self
            .jetstream
            .get_stream(&self.stream)
            .await
            .context("event stream")?;
        let mut follower = NatsFollower {
            stream,
            name: name.to_owned(),
            filter_subjects: types.iter().map(|kind| self.subject(kind)).collect(),
            since,
            next_sequence: None,
            consumer: None,
            messages: None,
        };
        let pending = follower.open().await?;
        Ok((Box::new(follower), pending))
    }
}

/// How long the server keeps a follower's consumer after its process stopped pulling.
const FOLLOWER_INACTIVE: Duration = Duration::from_secs(5 * 60);

struct NatsFollower {
    stream: stream::Stream,
    name: String,
    filter_subjects: Vec<String>,
    since: time::OffsetDateTime,
    /// The stream sequence to resume at after the last delivered message.
    next_sequence: Option<u64>,
    consumer: Option<consumer::Consumer<consumer::pull::Config>>,
    messages: Option<consumer::pull::Stream>,
}

impl NatsFollower {
    /// Creates the ephemeral consumer; returns how many messages wait in it.
    async fn open(&mut self) -> anyhow::Result<u64> {
        let deliver_policy = match self.next_sequence {
            Some(start_sequence) => consumer::DeliverPolicy::ByStartSequence { start_sequence },
            None => consumer::DeliverPolicy::ByStartTime {
                start_time: self.since,
            },
        };
        let config = consumer::pull::Config {
            durable_name: None,
            description: Some(format!("follower {}", self.name)),
            deliver_policy,
            filter_subjects: self.filter_subjects.clone(),
            ack_policy: consumer::AckPolicy::Explicit,
            ack_wait: ACK_WAIT,
            inactive_threshold: FOLLOWER_INACTIVE,
            memory_storage: true,
            ..Default::default()
        };
        let consumer = self
            .stream
            .create_consumer(config)
            .await
            .context("creating a follower consumer")?;
        let pending = consumer.cached_info().num_pending;
        self.consumer = Some(consumer);
        Ok(pending)
    }
}

#[async_trait::async_trait]
impl Subscription for NatsFollower {
    async fn next(&mut self) -> Option<Delivery> {
        loop {
            if self.consumer.is_none()
                && let Err(err) = self.open().await
            {
                tracing::warn!(follower = %self.name, error = format!("{err:#}"), "reopening a follower failed; retrying");
                tokio::time::sleep(RECONNECT_PAUSE).await;
                continue;
            }
            let messages = match (&mut self.messages, &self.consumer) {
                (Some(messages), _) => messages,
                (None, Some(consumer)) => match consumer.messages().await {
                    Ok(messages) => self.messages.insert(messages),
                    Err(err) => {
                        tracing::warn!(follower = %self.name, error = %err, "opening a follower's messages failed; recreating it");
                        self.consumer = None;
                        tokio::time::sleep(RECONNECT_PAUSE).await;
                        continue;
                    }
                },
                (None, None) => continue,
            };
            match messages.next().await {
                Some(Ok(message)) => {
                    let info = message
                        .info()
                        .ok()
                        .map(|info| (info.stream_sequence, info.delivered));
                    if let Some((sequence, _)) = info {
                        self.next_sequence = Some(sequence + 1);
                    }
                    match serde_json::from_slice::<Envelope>(&message.payload) {
                        Ok(event) => {
                            return Some(Delivery {
                                event,
                                attempt: info.map_or(1, |(_, delivered)| {
                                    u32::try_from(delivered).unwrap_or(u32::MAX)
                                }),
                                acker: Box::new(NatsAck(message)),
                            });
                        }
                        Err(err) => {
                            tracing::error!(error = %err, subject = %message.subject, "unreadable message skipped");
                            let _ = message.ack().await;
                        }
                    }
                }
                Some(Err(err)) => {
                    tracing::warn!(follower = %self.name, error = %err, "follower's message stream failed; recreating it");
                    self.messages = None;
                    self.consumer = None;
                    tokio::time::sleep(RECONNECT_PAUSE).await;
                }
                None => {
                    self.messages = None;
                    self.consumer = None;
                    tokio::time::sleep(RECONNECT_PAUSE).await;
                }
            }
        }
    }
}

struct NatsSubscription {
    consumer: consumer::Consumer<consumer::pull::Config>,
    messages: Option<consumer::pull::Stream>,
}

#[async_trait::async_trait]
impl Subscription for NatsSubscription {
    async fn next(&mut self) -> Option<Delivery> {
        loop {
            let messages = match &mut self.messages {
                Some(messages) => messages,
                None => match self.consumer.messages().await {
                    Ok(messages) => self.messages.insert(messages),
                    Err(err) => {
                        tracing::warn!(error = %err, "opening the message stream failed; retrying");
                        tokio::time::sleep(RECONNECT_PAUSE).await;
                        continue;
                    }
                },
            };
            match messages.next().await {
                Some(Ok(message)) => {
                    if let Some(delivery) = delivery_of(message) {
                        return Some(delivery);
                    }
                }
                Some(Err(err)) => {
                    tracing::warn!(error = %err, "message stream failed; recreating it");
                    self.messages = None;
                    tokio::time::sleep(RECONNECT_PAUSE).await;
                }
                None => {
                    self.messages = None;
                    tokio::time::sleep(RECONNECT_PAUSE).await;
                }
            }
        }
    }

    /// A message the pull stream already holds; nothing is waited for, and a stream that
    /// failed is left for [`Self::next`] to recreate.
    fn try_next(&mut self) -> Option<Delivery> {
        loop {
            match self.messages.as_mut()?.next().now_or_never()? {
                Some(Ok(message)) => {
                    if let Some(delivery) = delivery_of(message) {
                        return Some(delivery);
                    }
                }
                Some(Err(_)) | None => {
                    self.messages = None;
                    return None;
                }
            }
        }
    }
}

/// The delivery a message carries; `None` for one that is not an event of ours, which
/// nothing will ever read, so it is dropped (terminated, in the background).
fn delivery_of(message: jetstream::Message) -> Option<Delivery> {
    let attempt = message
        .info()
        .map_or(1, |info| u32::try_from(info.delivered).unwrap_or(u32::MAX));
    match serde_json::from_slice::<Envelope>(&message.payload) {
        Ok(event) => Some(Delivery {
            event,
            attempt,
            acker: Box::new(NatsAck(message)),
        }),
        Err(err) => {
            tracing::error!(error = %err, subject = %message.subject, "unreadable message dropped");
            tokio::spawn(async move {
                let _ = message.ack_with(AckKind::Term).await;
            });
            None
        }
    }
}

struct NatsAck(jetstream::Message);

#[async_trait::async_trait]
impl Acknowledge for NatsAck {
    async fn ack(self: Box<Self>) {
        if let Err(err) = self.0.ack().await {
            // The server redelivers after `ack_wait`; the inbox absorbs the duplicate.
            tracing::warn!(error = %err, "ack failed");
        }
    }

    async fn nak(self: Box<Self>, delay: Duration) {
        if let Err(err) = self.0.ack_with(AckKind::Nak(Some(delay))).await {
            tracing::warn!(error = %err, "nak failed");
        }
    }
}
