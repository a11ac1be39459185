/// The phase of an iteration in which a ``LoopPhaseWatcher`` runs.
enum LoopPhase: Int {
    case prepare = 0, check, idle
}

/// The common part of ``PrepareWatcher``, ``CheckWatcher`` and ``IdleWatcher``: a callback that
/// runs at a fixed point of every iteration (see ``Loop``'s pseudo-code).
///
/// These are built by the loop itself, the same way on both backends (libevent 2.1 has no
/// equivalent), and they run in the order they were started. Cost: start and stop are O(n) in
/// the number of active watchers of the same kind, which is small in practice.
public class LoopPhaseWatcher: Watcher {
    let phase: LoopPhase
    private let callback: () throws -> Void

    init(loop: EventLoop, phase: LoopPhase, callback: @escaping () throws -> Void) {
        self.phase = phase
        self.callback = callback
        super.init(loop: loop, isCounted: true)
    }

    deinit { deactivateIfActive() }

    override func activate() throws(LoopError) { eventLoop.phaseWatcherStarted(self) }

    override func deactivate() { eventLoop.phaseWatcherStopped(self) }

    func fire() {
        eventLoop.dispatch(from: self, callback)
    }
}

/// Runs right before each wait for events (libev's `ev_prepare`): the place to flush work
/// that must be done before the loop may sleep.
///
/// An active prepare watcher does not by itself keep the loop from blocking.
public final class PrepareWatcher: LoopPhaseWatcher {
    override var kindName: String { "prepare watcher" }
}

/// Runs right after each wait for events, in the same iteration (libev's `ev_check`).
///
/// > Caution: libev orders check callbacks before the I/O callbacks of the same iteration, in
/// > its pending queue; here both backends run them *after* them. Code that needs "after
/// > everything else this iteration" gets it on both.
public final class CheckWatcher: LoopPhaseWatcher {
    override var kindName: String { "check watcher" }
}

/// Runs in each iteration in which no other callback ran (libev's `ev_idle`).
///
/// While an idle watcher is active the loop does not block: it polls and, when nothing is ready,
/// calls the idle watchers, so the process uses a full core. Use one for background work done
/// in small pieces, and stop it when the work is done.
public final class IdleWatcher: LoopPhaseWatcher {
    override var kindName: String { "idle watcher" }
}
