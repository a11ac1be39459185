import SystemPackage

/// A call that the loop refused. The loop is left as it was and keeps running.
///
/// Every case's ``description`` says what was attempted, why it was refused and, where it helps,
/// what was expected instead.
public enum LoopError: Error, Hashable, Sendable, CustomStringConvertible {
    /// A loop or watcher was used from a thread other than the one that made the loop.
    /// Only ``AsyncWatcher/Sender/send()`` may be called from any thread.
    case wrongThread(operation: String, loopThread: Int32, callingThread: Int32)
    /// The loop was closed by ``Loop/close()``.
    case loopClosed(operation: String)
    /// The watcher was closed by ``Watcher/close()``; make a new one.
    case watcherClosed(operation: String, watcher: String)
    /// The operation needs a stopped watcher.
    case watcherActive(operation: String, watcher: String)
    /// The descriptor is negative or not open.
    case invalidFileDescriptor(CInt, Errno?)
    /// The signal number is out of range, or a signal that cannot be caught (SIGKILL, SIGSTOP).
    case invalidSignal(CInt, reason: String)
    /// Another loop in this process already watches the signal. A signal has one owner at a time.
    case signalOwnedByAnotherLoop(Signal)
    /// Priorities run from ``Watcher/minimumPriority`` to ``Watcher/maximumPriority``.
    case invalidPriority(Int)
    /// The process id is not positive, or is not a child of this process.
    case invalidProcessID(CInt, Errno?)
    /// Durations must not be negative.
    case invalidDuration(Duration)
    /// ``Loop/run(_:)`` was called from one of the loop's own callbacks.
    case reentrantRun
    /// ``Loop/close()`` was called while the loop runs; stop it first and close after `run` returns.
    case closeWhileRunning
    /// A system call failed.
    case systemCallFailed(String, Errno)
    /// The backend cannot be made on this machine (library missing, method not provided).
    case backendUnavailable(Backend, reason: String)
    /// The backend named in code or in `GREENLOOP_BACKEND` is not an accepted spelling.
    case invalidBackendSelection(BackendSelectionError)

    /// What was attempted, and why it was refused.
    public var description: String {
        switch self {
        case let .wrongThread(operation, loopThread, callingThread):
            return "\(operation) was called on thread \(callingThread), but the loop belongs to "
                + "thread \(loopThread), which made it; only AsyncWatcher.Sender.send() may be "
                + "called from another thread"
        case let .loopClosed(operation):
            return "\(operation) was called on a closed loop"
        case let .watcherClosed(operation, watcher):
            return "\(operation) was called on a closed \(watcher); make a new watcher"
        case let .watcherActive(operation, watcher):
            return "\(operation) needs a stopped \(watcher); stop it first"
        case let .invalidFileDescriptor(fd, errno):
            let why = errno.map { ": \($0)" } ?? (fd < 0 ? ": negative" : "")
            return "invalid file descriptor \(fd)\(why)"
        case let .invalidSignal(number, reason):
            return "invalid signal \(number): \(reason)"
        case let .signalOwnedByAnotherLoop(signal):
            return "\(signal) is already watched by another loop in this process; a signal has "
                + "one owning loop at a time"
        case let .invalidPriority(priority):
            return "invalid priority \(priority): priorities run from \(Watcher.minimumPriority) "
                + "to \(Watcher.maximumPriority)"
        case let .invalidProcessID(pid, errno):
            return "invalid process id \(pid)" + (errno.map { ": \($0)" } ?? "")
        case let .invalidDuration(duration):
            return "invalid duration \(duration): must not be negative"
        case .reentrantRun:
            return "run() was called from inside the loop's own callback; the loop is already running"
        case .closeWhileRunning:
            return "close() was called while the loop runs; call stop() and close it after run() returns"
        case let .systemCallFailed(call, errno):
            return "\(call) failed: \(errno)"
        case let .backendUnavailable(backend, reason):
            return "backend \(backend) is unavailable: \(reason)"
        case let .invalidBackendSelection(error):
            return error.description
        }
    }
}
