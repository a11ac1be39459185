import GreenloopBackends
import GreenloopCore
import SystemPackage
#if canImport(Glibc)
import Glibc
#endif

extension Hub {
    /// Forks the process; in the child, the calling greenlet goes on with a new loop and hub on
    /// the same backend and method, and the parent's greenlets do not run (gevent's `fork`).
    ///
    /// The parent is untouched. In the child, the parent's hub, its loop and the greenlets waiting
    /// on it are set aside as they are: never resumed, never unwound (unwinding would run the
    /// parent's code in the child), their memory kept. A child that is to run for long should
    /// `exec` or leave them few. Signals the parent's loop watched stay claimed by it in the child:
    /// a new `SignalWatcher` for one of them is refused.
    ///
    /// Call it from the thread's main greenlet.
    ///
    /// - Returns: the child's process id in the parent; `nil` in the child.
    /// - Throws: ``HubError/notFromMainGreenlet``; `fork` or `makeLoop` failures.
    public static func fork() throws -> ProcessID? {
        guard Greenlet.current.isMain else { throw HubError.notFromMainGreenlet }
        let parentHub = try Hub.current()
        let backend = try Backend(kind: parentHub.loop.backend, method: parentHub.loop.method)
        // Fork where the hub is between two iterations, outside the backend's dispatch: a
        // callback may have switched out of the hub from inside it, and a libevent base that the
        // parent left mid-dispatch refuses to run again, so a shared event_base could not be
        // served in the child.
        if parentHub.greenlet.isStarted {
            let safePoint = Waiter(hub: parentHub)
            safePoint.wakeSoon()
            _ = try safePoint.wait()
        }
        let pid = Glibc.fork()
        guard pid >= 0 else { throw LoopError.systemCallFailed("fork", Errno(rawValue: errno)) }
        if pid > 0 { return ProcessID(rawValue: pid) }
        ForkedChild.setAside.append(parentHub)
        GreenletThread.forCallingThread.hub = nil
        let loop = try makeLoop(backend)
        let hub = try Hub.install(loop: loop)
        hub.ownsLoop = true
        // Code that keeps state beside the parent's loop (a shared event_base) moves to the new one.
        (parentHub.loop as? EventLoop)?.handOverAfterFork(to: loop)
        return nil
    }
}

/// What a forked child keeps and never touches.
enum ForkedChild {
    /// Written only by the one thread a forked child has.
    nonisolated(unsafe) static var setAside: [Hub] = []
}
