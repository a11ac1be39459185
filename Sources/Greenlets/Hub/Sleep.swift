import GreenloopCore

/// Suspends the current greenlet for `duration`; other greenlets and the loop run meanwhile.
///
/// `sleep(.zero)` yields: every other greenlet that is ready runs first, in order, and then this
/// one goes on. It never starves I/O: the loop polls without blocking at least every
/// ``Hub/yieldPollInterval`` (50 µs by default) while greenlets only yield, and before any greenlet
/// that yielded after that interval resumes. (gevent runs yielding greenlets for up to its switch
/// interval, 5 ms, before it polls.) Within the interval a yield costs two switches, not a
/// system call; with `yieldPollInterval = .zero` every yield waits for a poll.
///
/// - Throws: what is thrown into the greenlet while it sleeps (``Timeout``, ``GreenletExit``),
///   ``HubError/blockingInHub`` from a loop callback, and what ``Hub/current()`` throws.
public func sleep(_ duration: Duration) throws {
    if duration.isZeroOrNegative {
        return try Hub.unretainedCurrent()._withUnsafeGuaranteedRef { try $0.yieldCurrent() }
    }
    let nanoseconds = try duration.timerNanoseconds()
    try Hub.unretainedCurrent()._withUnsafeGuaranteedRef { hub in
        let waiter = hub.takeWaiter()
        try waiter.sleep(nanoseconds: nanoseconds)
        // Woken by its timer: in no queue and with nothing pending, so reusable.
        waiter.recycle()
    }
}

extension Duration {
    /// `self <= .zero`, read from the two halves of the frozen 128-bit attosecond count:
    /// `<=`, `.zero` and `components` are calls into the standard library, and `components`
    /// divides 128-bit integers (together a tenth of a `sleep(.zero)`).
    @inline(__always)
    var isZeroOrNegative: Bool { _high < 0 || (_high == 0 && _low == 0) }
}
