//! Stand-ins for infrastructure that cannot run on test machines.

pub mod dapr;
pub mod server;
pub mod tls;
pub mod webhooks;
