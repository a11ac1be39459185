import CGreenloopSystem
import Synchronization
import SystemPackage
#if canImport(Glibc)
import Glibc
#endif

/// A loop's wake-up eventfd, shared by its async watchers (from any thread) and its signal
/// handler.
///
/// The descriptor is closed only when the last reference goes, never by the loop's `close()`:
/// a sender on another thread may still write to it, and a closed-and-reused number would receive
/// eight stray bytes.
final class Waker: Sendable {
    private let descriptor: Atomic<CInt>
    private let isClosed = Atomic<Bool>(false)

    init() throws(LoopError) {
        let fd = greenloop_eventfd_open()
        guard fd >= 0 else { throw .systemCallFailed("eventfd", Errno(rawValue: errno)) }
        descriptor = Atomic(fd)
    }

    deinit { Glibc.close(descriptor.load(ordering: .relaxed)) }

    var fileDescriptor: CInt { descriptor.load(ordering: .acquiring) }

    /// Thread-safe and async-signal-safe.
    func wake() {
        guard !isClosed.load(ordering: .relaxed) else { return }
        greenloop_eventfd_signal(descriptor.load(ordering: .acquiring))
    }

    /// Resets the counter; the loop calls this before it looks at what woke it, so that a wake
    /// during the look is seen by the next iteration.
    func drain() { _ = greenloop_eventfd_drain(fileDescriptor) }

    /// Stops further wakes; the descriptor stays open until deinit (see the type's documentation).
    func markClosed() { isClosed.store(true, ordering: .relaxed) }

    /// In a child after fork: the inherited eventfd is shared with the parent, so make our own.
    func replaceAfterFork() throws(LoopError) {
        let fd = greenloop_eventfd_open()
        guard fd >= 0 else { throw .systemCallFailed("eventfd", Errno(rawValue: errno)) }
        let old = descriptor.exchange(fd, ordering: .acquiringAndReleasing)
        Glibc.close(old)
    }
}
