/// Calls back, on the loop's thread, after the process receives a signal.
///
/// **How delivery works, on both backends.** The first watcher for a signal in a loop installs
/// one small C handler (`sigaction`, `SA_RESTART`) that does only async-signal-safe work: it sets
/// a flag for the signal and writes to the loop's wake-up eventfd. The loop wakes, reads the flags
/// and runs the callbacks of every active watcher for the signal, in the order they were started.
/// No Swift code runs in the handler. Several arrivals before the loop wakes run the callbacks
/// once, as with any POSIX signal. When the last watcher for a signal stops, the previous
/// disposition is restored.
///
/// **One owner.** A signal is watched by at most one loop of the process at a time: starting a
/// watcher for a signal that another loop watches throws
/// ``LoopError/signalOwnedByAnotherLoop(_:)``. Neither libev's nor libevent's own signal code is
/// used, so C code that adds libevent `evsignal` events for the same signal would take it over:
/// leave signals to the loop.
///
/// The thread that starts the watcher gets the signal unblocked; a signal blocked in every thread
/// is never delivered.
public final class SignalWatcher: Watcher {
    /// The signal watched.
    public let signal: Signal
    private let callback: () throws -> Void

    init(loop: EventLoop, signal: Signal, callback: @escaping () throws -> Void) throws(LoopError) {
        if let reason = signal.unwatchableReason { throw .invalidSignal(signal.rawValue, reason: reason) }
        self.signal = signal
        self.callback = callback
        super.init(loop: loop, isCounted: true)
    }

    deinit { deactivateIfActive() }

    override var kindName: String { "signal watcher" }

    override func activate() throws(LoopError) { try eventLoop.signalWatcherStarted(self) }

    override func deactivate() { eventLoop.signalWatcherStopped(self) }

    func fire() {
        eventLoop.dispatch(from: self, callback)
    }
}
