//! One connection's life on its own thread: read a head, hand the request to the handler
//! (catching a panic), wait until the answer is complete, finish the request body so the
//! next request starts in step, and go round again until the client leaves, a limit is
//! hit or the connection is hijacked. It knows nothing of routes.

use super::response::{error_body, error_response, write_whole, Responder};
use super::wire::{HeadError, Wire};
use super::{Body, Handler, Limits, Request};
use crate::sys::socket::Stream;
use std::io::{Read, Write};
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::time::{Duration, Instant};

/// An unread request body up to this size is read and dropped after the answer to keep
/// the connection; a longer one closes it (reading it would cost more than reconnecting).
pub(super) const DRAIN_MAX: u64 = 1024 * 1024;
/// A client that stops reading our response for this long loses the connection, so it
/// cannot pin a thread (hijacked connections are exempt).
const WRITE_TIMEOUT: Duration = Duration::from_secs(60);
/// When closing on an error with request bytes still unread, read and drop them for about
/// this long first: closing a tcp socket with unread data sends RST, and the client's
/// kernel may then discard our error response before the client reads it.
const LINGER: Duration = Duration::from_secs(1);
const LINGER_MAX: usize = 256 * 1024;

/// Where the current request's answer stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Phase {
    /// The Responder exists and has not answered.
    Pending,
    /// A chunked body is being written.
    Streaming,
    /// The whole response is out.
    Complete,
    /// The response is incomplete (write error, stream dropped without finish).
    Broken,
    /// The handler took the connection.
    Hijacked,
    /// The Responder was dropped without answering (also when the handler panicked).
    Unanswered,
}

pub(super) struct Exchange {
    pub phase: Phase,
    pub head_only: bool,
    pub http10: bool,
    /// The connection closes after this response.
    pub close: bool,
    /// The connection thread sleeps on `answered`: only then is a wake-up (a futex
    /// syscall) needed.
    pub waiting: bool,
}

/// What the connection thread, the Request body and the Responder share. Lock order:
/// `wire` before `exchange`; neither is held across a handler call or a condvar wait
/// other than `answered`'s own.
pub(super) struct Shared {
    pub stream: Stream,
    pub wire: Mutex<Wire>,
    pub exchange: Mutex<Exchange>,
    pub answered: Condvar,
}

/// Locks, ignoring poisoning: the data under these locks stays consistent at every
/// point where the code under them could panic.
pub(super) fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

impl Shared {
    /// Records the outcome of the answer and wakes the connection thread.
    pub fn settle(&self, phase: Phase, close: bool) {
        let mut ex = lock(&self.exchange);
        ex.phase = phase;
        ex.close |= close;
        if ex.waiting {
            self.answered.notify_all();
        }
    }

    /// The answer must close the connection because the rest of the body can't be
    /// drained: too long, or the client is waiting for a 100 Continue that won't come.
    pub fn body_blocks_keepalive(&self) -> bool {
        let wire = lock(&self.wire);
        wire.continue_pending || wire.body_exceeds(DRAIN_MAX)
    }

    fn wait_settled(&self) -> (Phase, bool) {
        let mut ex = lock(&self.exchange);
        while matches!(ex.phase, Phase::Pending | Phase::Streaming) {
            ex.waiting = true;
            ex = self.answered.wait(ex).unwrap_or_else(|e| e.into_inner());
        }
        ex.waiting = false;
        (ex.phase, ex.close)
    }
}

/// Serves one connection until it closes or is hijacked.
pub(super) fn serve(stream: Stream, limits: Arc<Limits>, handler: Handler) {
    // accept(2) on Linux does not pass O_NONBLOCK on from the listener, but timeouts
    // silently turn into busy errors on a non-blocking socket: make sure.
    if stream.set_nonblocking(false).is_err()
        || stream.set_nodelay().is_err()
        || stream.set_write_timeout(Some(WRITE_TIMEOUT)).is_err()
    {
        return;
    }
    let shared = Arc::new(Shared {
        stream,
        wire: Mutex::new(Wire::new(limits.body_timeout)),
        exchange: Mutex::new(Exchange {
            phase: Phase::Pending,
            head_only: false,
            http10: false,
            close: false,
            waiting: false,
        }),
        answered: Condvar::new(),
    });
    loop {
        let read = lock(&shared.wire).read_head(&shared.stream, &limits);
        let (head, meta) = match read {
            Ok(h) => h,
            Err(HeadError::Closed) => return,
            Err(HeadError::Reject((status, why))) => {
                let _ = (&shared.stream).write_all(&error_response(status, why));
                linger(&shared.stream);
                return;
            }
        };
        *lock(&shared.exchange) = Exchange {
            phase: Phase::Pending,
            head_only: head.method == "HEAD",
            http10: head.http10,
            close: meta.close || head.http10,
            waiting: false,
        };
        let mut request = Request {
            method: head.method,
            path: head.path,
            query: head.query,
            headers: head.headers,
            body: Body { shared: Arc::clone(&shared) },
        };
        let responder = Responder::new(Arc::clone(&shared));
        let outcome = catch_unwind(AssertUnwindSafe(|| handler(&mut request, responder)));
        let panicked = match outcome {
            Ok(()) => false,
            Err(payload) => {
                let what = payload
                    .downcast_ref::<&str>()
                    .map(|s| s.to_string())
                    .or_else(|| payload.downcast_ref::<String>().cloned())
                    .unwrap_or_else(|| "unknown panic".to_string());
                crate::log_error!(
                    "handler for {} {} panicked: {what}",
                    request.method,
                    request.path
                );
                true
            }
        };
        let (phase, close) = shared.wait_settled();
        let mut close = close || panicked;
        match phase {
            Phase::Hijacked | Phase::Broken => return,
            Phase::Unanswered => {
                let message = if panicked {
                    "internal error"
                } else {
                    "internal error: handler did not answer"
                };
                close |= shared.body_blocks_keepalive();
                let head_only = lock(&shared.exchange).head_only;
                let headers = [("Content-Type", "application/json")];
                let body = error_body(message);
                if write_whole(&shared.stream, 500, &headers, &body, head_only, &mut close).is_err()
                {
                    return;
                }
            }
            Phase::Complete => {}
            Phase::Pending | Phase::Streaming => unreachable!("wait_settled waits these out"),
        }
        let in_step = lock(&shared.wire).drain(&shared.stream, DRAIN_MAX);
        if !in_step {
            linger(&shared.stream);
            return;
        }
        if close {
            return;
        }
    }
}

/// Half-closes and reads what the client still sends for a short while, so our last
/// response is not destroyed by a reset (see LINGER).
fn linger(stream: &Stream) {
    if stream.shutdown(std::net::Shutdown::Write).is_err()
        || stream.set_read_timeout(Some(LINGER)).is_err()
    {
        return;
    }
    let deadline = Instant::now() + LINGER;
    let mut scratch = [0u8; 4096];
    let mut total = 0;
    let mut r = stream;
    while total < LINGER_MAX && Instant::now() < deadline {
        match r.read(&mut scratch) {
            Ok(0) | Err(_) => return,
            Ok(n) => total += n,
        }
    }
}
