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
        let pid = Glibc.fork()
        guard pid >= 0 else { throw LoopError.systemCallFailed("fork", Errno(rawValue: errno)) }
        if pid > 0 { return ProcessID(rawValue: pid) }
        ForkedChild.setAside.append(parentHub)
        GreenletThread.forCallingThread.hub = nil
        let hub = try Hub.install(loop: try makeLoop(backend))
        hub.ownsLoop = true
        return nil
    }
}

/// What a forked child keeps and never touches.
enum ForkedChild {
    /// Written only by the one thread a forked child has.
    nonisolated(unsafe) static var setAside: [Hub] = []
}
