//! taskstream: an event-driven task manager backend.
//!
//! A request reads top-down through the modules: [`routes`] (the HTTP edge)
//! → [`service`] (use cases, one transaction each) → [`db`] (queries on a
//! borrowed connection). [`domain`] holds the parsed, validated types that
//! flow between them; [`startup`] wires everything into a running server.

pub mod auth;
pub mod clock;
pub mod db;
pub mod domain;
pub mod error;
pub mod events;
pub mod healthcheck;
pub mod mcp;
pub mod metrics;
pub mod routes;
pub mod service;
pub mod settings;
pub mod startup;
pub mod state;
pub mod telemetry;
pub mod ws;
