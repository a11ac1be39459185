import CGreenloopSystem
import SystemPackage
#if canImport(Glibc)
import Glibc
#endif

/// Calls back with the exit status of one child process, and reaps it.
///
/// **How, on both backends.** The watcher opens a pidfd for the child when it is made
/// (`pidfd_open`, Linux ≥ 5.3) and watches it for readability with the loop's own io machinery;
/// when the child ends, it reaps exactly that child with `waitid(P_PIDFD, …)`. Unlike libev's
/// child watchers it installs no SIGCHLD handler and never reaps a child it does not watch, so
/// other code's `waitpid` keeps working, and it works on every loop, not only the default one.
/// A child that has already ended (a zombie) is reported at the next iteration.
///
/// The watcher stops itself after its callback has the exit status; ``exitStatus`` keeps it.
/// Reaping the same child elsewhere first (another `waitpid`) makes the watcher report the
/// `waitid` error to the loop's ``Loop/errorHandler`` and stop.
public final class ChildWatcher: Watcher {
    /// The child watched.
    public let processID: ProcessID
    /// How the child ended, once the watcher has seen it.
    public private(set) var exitStatus: TerminationStatus?
    private let callback: (TerminationStatus) throws -> Void
    private var pidfd: CInt
    private var readiness: IOWatcher?

    init(loop: EventLoop, pid: ProcessID, callback: @escaping (TerminationStatus) throws -> Void) throws(LoopError) {
        guard pid.rawValue > 0 else { throw .invalidProcessID(pid.rawValue, nil) }
        let fd = greenloop_pidfd_open(pid.rawValue)
        guard fd >= 0 else { throw .invalidProcessID(pid.rawValue, Errno(rawValue: errno)) }
        self.processID = pid
        self.callback = callback
        self.pidfd = fd
        super.init(loop: loop, isCounted: true)
        do {
            self.readiness = try IOWatcher(
                loop: loop, fd: FileDescriptor(rawValue: fd), events: .read, isCounted: false
            ) { [unowned self] _ in self.childBecameReady() }
        } catch {
            Glibc.close(fd)
            throw error
        }
    }

    deinit {
        deactivateIfActive()
        readiness = nil
        if pidfd >= 0 { Glibc.close(pidfd) }
    }

    override var kindName: String { "child watcher" }

    override func activate() throws(LoopError) {
        guard exitStatus == nil else { return }
        try readiness?.start()
    }

    override func deactivate() { try? readiness?.stop() }

    override func releaseResources() {
        readiness = nil
        if pidfd >= 0 { Glibc.close(pidfd) }
        pidfd = -1
    }

    private func childBecameReady() {
        var status = greenloop_child_status()
        let failure = greenloop_pidfd_reap(pidfd, &status) == 0 ? nil : Errno(rawValue: errno)
        eventLoop.dispatch(from: self) { () throws -> Void in
            if let failure {
                deactivateIfActive()
                throw LoopError.systemCallFailed("waitid(\(processID))", failure)
            }
            guard status.exited != 0 else { return }
            let ended: TerminationStatus =
                status.by_signal != 0
                ? .signaled(Signal(rawValue: status.status), coreDumped: status.core_dumped != 0)
                : .exited(code: status.status)
            exitStatus = ended
            deactivateIfActive()
            try callback(ended)
        }
    }
}
