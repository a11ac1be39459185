import GreenloopCore
import Synchronization

/// The error a ``withTimeout(_:_:)`` scope throws when its time is up.
public struct Timeout: Error, Hashable, Sendable, CustomStringConvertible {
    /// The limit of the scope that expired.
    public let duration: Duration
    /// Identifies the scope, so that nested scopes can be told apart.
    let scope: Int

    /// "timed out after 0.5 seconds".
    public var description: String { "timed out after \(duration)" }

    /// Numbers scopes process-wide.
    fileprivate static let scopes = Atomic<Int>(0)
}

/// Runs `body`, throwing ``Timeout`` into it if it is still running (waiting) after `duration`.
///
/// Scopes nest: the shortest deadline wins, and the ``Timeout`` that comes out names the scope
/// that expired (its `duration`); an outer scope's timeout passes through inner ones. A timeout
/// never fires after its scope has ended: its timer is stopped on the way out, whatever way that
/// is. Only a greenlet that waits can be interrupted: code that never switches to the hub runs to
/// its end.
///
/// Cost: one timer start and stop.
///
/// - Throws: ``Timeout``, or what `body` throws.
public func withTimeout<T>(_ duration: Duration, _ body: () throws -> T) throws -> T {
    try timeoutScope(duration) { _ in try body() }
}

/// Runs `body` within `timeout` (without limit when `nil`).
///
/// - Returns: false when this scope's own timeout expired; any other ``Timeout`` passes through.
@usableFromInline
func completes(within timeout: Duration?, _ body: () throws -> Void) throws -> Bool {
    guard let timeout else {
        try body()
        return true
    }
    var mine: Timeout?
    do {
        try timeoutScope(timeout) { scope in
            mine = scope
            try body()
        }
        return true
    } catch let expired as Timeout where expired == mine {
        return false
    }
}

/// ``withTimeout(_:_:)``, handing `body` the ``Timeout`` it would throw.
private func timeoutScope<T>(_ duration: Duration, _ body: (Timeout) throws -> T) throws -> T {
    let hub = try Hub.current()
    let greenlet = Greenlet.current
    let timeout = Timeout(
        duration: duration, scope: Timeout.scopes.add(1, ordering: .relaxed).newValue)
    let nanoseconds = try duration.timerNanoseconds()
    let (sum, overflow) = LoopInstant.monotonicNow().nanoseconds.addingReportingOverflow(nanoseconds)
    let deadline = overflow ? UInt64.max : sum
    // The timer counts from the loop's cached time, which may be older than this call (see
    // `Waiter.timerExpired()`): one that expires before the deadline is started again for the
    // time left.
    weak var restartable: TimerWatcher?
    let timer = try hub.loop.makeTimer(after: duration) { [unowned greenlet] in
        let now = LoopInstant.monotonicNow().nanoseconds
        if now < deadline, let timer = restartable {
            try timer.set(after: .nanoseconds(Int64(clamping: deadline - now)), repeat: .zero)
            return try timer.start()
        }
        // In the hub: the greenlet is suspended in some wait; raise the timeout there.
        _ = try greenlet.throwInto(timeout)
    }
    restartable = timer
    try timer.start()
    defer { try? timer.stop() }
    return try body(timeout)
}
