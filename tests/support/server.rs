//! What the stand-ins share: an HTTP server on a loopback port of its own
//! that can be taken down (connections refused) and brought back on the
//! same port.

use std::net::{SocketAddr, TcpListener};
use std::sync::Mutex;
use std::time::Duration;

use actix_web::dev::{Server, ServerHandle};

/// A server that listens, stops and listens again on one port.
pub struct Restartable {
    addr: SocketAddr,
    handle: Mutex<Option<ServerHandle>>,
}

impl Restartable {
    /// Binds a free loopback port; serve the listener with [`Self::run`].
    pub fn bind() -> (Self, TcpListener) {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind a loopback port");
        let addr = listener.local_addr().expect("its address");
        let this = Self {
            addr,
            handle: Mutex::new(None),
        };
        (this, listener)
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Runs `server` (built on the listener from [`Self::bind`] or
    /// [`Self::rebind`]) on the current runtime.
    pub fn run(&self, server: Server) {
        *self.handle.lock().expect("lock") = Some(server.handle());
        actix_rt::spawn(server);
    }

    /// Stops listening: connections are refused until the next `run`.
    pub async fn down(&self) {
        let handle = self.handle.lock().expect("lock").take();
        if let Some(handle) = handle {
            handle.stop(false).await;
        }
    }

    /// The same port again, once the old listener has let go of it.
    pub async fn rebind(&self) -> TcpListener {
        let mut tries = 0;
        loop {
            match TcpListener::bind(self.addr) {
                Ok(listener) => return listener,
                Err(_) if tries < 50 => {
                    tries += 1;
                    actix_rt::time::sleep(Duration::from_millis(20)).await;
                }
                Err(e) => panic!("could not bind {} again: {e}", self.addr),
            }
        }
    }
}
