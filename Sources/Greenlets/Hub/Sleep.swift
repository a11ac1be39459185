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

/// Waits until `fd` is readable (or at end of file, or in error).
///
/// - Parameter timeout: the longest wait; `nil` waits as long as it takes.
/// - Returns: false when the timeout passed first.
/// - Throws: `LoopError.invalidFileDescriptor` for a bad descriptor; what is thrown into the
///   greenlet while it waits.
@discardableResult
public func waitReadable(_ fd: FileDescriptorNumber, timeout: Duration? = nil) throws -> Bool {
    try waitForIO(fd, .read, timeout: timeout)
}

/// Waits until `fd` is writable. See ``waitReadable(_:timeout:)``.
@discardableResult
public func waitWritable(_ fd: FileDescriptorNumber, timeout: Duration? = nil) throws -> Bool {
    try waitForIO(fd, .write, timeout: timeout)
}

/// A file descriptor's number, as `waitReadable` and `waitWritable` take it.
public typealias FileDescriptorNumber = CInt

private func waitForIO(_ fd: CInt, _ events: IOEvents, timeout: Duration?) throws -> Bool {
    let hub = try Hub.current()
    let waiter = Waiter(hub: hub)
    let watcher = try hub.loop.makeIOWatcher(.init(rawValue: fd), events) { _ in waiter.wake(true) }
    try watcher.start()
    defer { try? watcher.stop() }
    var timer: TimerWatcher?
    if let timeout {
        timer = try hub.loop.makeTimer(after: timeout) { waiter.wake(false) }
        try timer?.start()
    }
    defer { try? timer?.stop() }
    return try waiter.wait() as? Bool ?? false
}
