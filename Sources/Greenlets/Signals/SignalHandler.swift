import GreenloopCore

/// Runs a closure in a new greenlet each time the process receives a signal (gevent's
/// `signal_handler`), until ``cancel()``.
///
/// The signal arrives through the hub's loop (see `SignalWatcher`): nothing runs in a raw signal
/// handler, and the closure may block like any greenlet. It does not keep the loop running by
/// itself.
public final class SignalHandler {
    /// The signal handled.
    public let signal: Signal
    private let watcher: SignalWatcher

    /// Starts handling `signal` on the calling thread's hub.
    ///
    /// - Throws: `LoopError` for a signal that cannot be watched, or that another loop owns.
    public init(_ signal: Signal, _ handler: @escaping () throws -> Void) throws {
        self.signal = signal
        let hub = try Hub.current()
        watcher = try hub.loop.makeSignalWatcher(signal) {
            _ = try spawn(handler)
        }
        try watcher.setRef(false)
        try watcher.start()
    }

    /// Stops handling the signal; its previous disposition returns.
    public func cancel() throws { try watcher.stop() }

    /// Whether the handler is active.
    public var isActive: Bool { watcher.isActive }
}
