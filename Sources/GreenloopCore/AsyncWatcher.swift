import Synchronization

/// Lets another thread wake the loop and run a callback on the loop's thread (libev's
/// `ev_async`): the one thread-safe operation of a loop.
///
/// Hand ``sender`` to other threads; each ``Sender/send()`` makes the callback run on the loop's
/// thread soon after. Sends that arrive before the callback runs coalesce into one call, but no
/// send is lost: every send is followed by a run of the callback that starts after it. Sends to a
/// stopped watcher are dropped (``start()`` clears them, as in libev).
///
/// All async watchers of a loop share the loop's one eventfd: a send is an atomic exchange and,
/// when the flag was clear, one `write` (async-signal-safe, so a signal handler may send too).
/// The loop checks every active async watcher of the loop when the eventfd fires: O(n) per wake-up.
public final class AsyncWatcher: Watcher {
    /// The part of an ``AsyncWatcher`` that may be used from any thread.
    ///
    /// A sender outliving its watcher or loop is harmless: its sends are then dropped.
    public struct Sender: Sendable {
        let token: AsyncToken

        /// Makes the watcher's callback run on the loop's thread. Thread-safe, lock-free,
        /// async-signal-safe; cost: one atomic exchange, plus one `write` when no send is waiting.
        public func send() {
            if !token.sent.exchange(true, ordering: .acquiringAndReleasing) {
                token.waker.wake()
            }
        }
    }

    private let token: AsyncToken
    private let callback: () throws -> Void

    init(loop: EventLoop, callback: @escaping () throws -> Void) {
        self.token = AsyncToken(waker: loop.waker)
        self.callback = callback
        super.init(loop: loop, isCounted: true)
    }

    deinit { deactivateIfActive() }

    override var kindName: String { "async watcher" }

    /// The thread-safe handle to give to other threads.
    public var sender: Sender { Sender(token: token) }

    /// Whether a send has arrived that the callback has not consumed yet.
    public override var isPending: Bool { isActive && token.sent.load(ordering: .acquiring) }

    override func activate() throws(LoopError) {
        token.sent.store(false, ordering: .releasing)
        eventLoop.asyncWatcherStarted(self)
    }

    override func deactivate() { eventLoop.asyncWatcherStopped(self) }

    /// Runs the callback if a send arrived since the last run.
    func fireIfSent() {
        guard token.sent.exchange(false, ordering: .acquiringAndReleasing) else { return }
        eventLoop.dispatch(from: self, callback)
    }
}

/// The state an ``AsyncWatcher`` shares with other threads.
final class AsyncToken: Sendable {
    let sent = Atomic<Bool>(false)
    let waker: Waker

    init(waker: Waker) { self.waker = waker }
}
