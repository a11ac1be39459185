import GreenloopCore

/// Suspends the current greenlet for `duration`; other greenlets and the loop run meanwhile.
///
/// `sleep(.zero)` yields: every other greenlet that is ready runs first, in order, **and** the loop
/// polls for I/O once without blocking before this greenlet goes on (gevent's `sleep(0)` skips the
/// poll). A greenlet that loops on `sleep(.zero)` therefore never starves I/O.
///
/// - Throws: what is thrown into the greenlet while it sleeps (``Timeout``, ``GreenletExit``),
///   ``HubError/blockingInHub`` from a loop callback, and what ``Hub/current()`` throws.
public func sleep(_ duration: Duration) throws {
    let hub = try Hub.current()
    let waiter = Waiter(hub: hub)
    if duration <= .zero {
        // Queued callbacks run at the start of the next iteration, after a non-blocking poll.
        hub.schedule { waiter.wake() }
        _ = try waiter.wait()
        return
    }
    let timer = try hub.loop.makeTimer(after: duration) { waiter.wake() }
    try timer.start()
    defer { try? timer.stop() }
    _ = try waiter.wait()
}
