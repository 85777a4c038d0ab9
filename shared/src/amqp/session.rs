//! What every process opens first on the broker: a connection, a confirming publisher, and the
//! topology declared (idempotent), in one call.

use lapin::Connection;

use super::{connect, AmqpError, Publisher, Topology};
use crate::config::AmqpSettings;

pub struct Session {
    pub connection: Connection,
    pub publisher: Publisher,
}

impl Session {
    /// Connects (retrying for up to `amqp.connect_timeout`), opens the publisher and declares the
    /// topology.
    pub async fn open(settings: &AmqpSettings, topology: &Topology) -> Result<Self, AmqpError> {
        let connection = connect(settings).await?;
        let publisher = Publisher::open(&connection, topology.clone()).await?;
        topology.declare(publisher.channel()).await?;
        Ok(Self { connection, publisher })
    }

    /// Closes the connection: unacked deliveries go back to their queues.
    pub async fn close(&self, reason: &str) {
        let _ = self.connection.close(200, reason.into()).await;
    }
}
