import CFContext
import CGreenloopSystem

/// The thread an object of the greenlet layer belongs to: the one that made it, whose hub runs
/// its waiters and callbacks. Every operation but the documented thread-safe ones checks it first,
/// before it changes anything, because nothing here is guarded against a second thread: a
/// foreign call would race the hub's own queues and corrupt them.
///
/// The one way in from another thread is ``Hub/remote`` (see ``HubRemote``).
///
/// Cost of a check: a thread-local load and a compare, inlined.
struct ThreadAffinity {
    /// The owning thread's greenlet state (an address, compared and never followed).
    let home: UnsafeMutableRawPointer
    /// The owning thread's kernel id, for messages.
    let homeThreadID: Int32

    /// The calling thread's.
    init() {
        let thread = GreenletThread.unretainedForCallingThread
        home = thread.toOpaque()
        homeThreadID = thread._withUnsafeGuaranteedRef { $0.threadID }
    }

    /// Whether the calling thread is the owner.
    @inline(__always)
    var isCallingThread: Bool { greenloop_thread_state_get() == home }

    /// Throws ``GreenletError/wrongThread(operation:greenletThread:callingThread:)`` off the
    /// owning thread.
    @inline(__always)
    func check(_ operation: @autoclosure () -> String) throws(GreenletError) {
        if !isCallingThread { throw wrongThread(operation()) }
    }

    /// Traps with a clear message off the owning thread: for the operations that cannot throw.
    @inline(__always)
    func require(_ operation: @autoclosure () -> String) {
        if !isCallingThread { misuse(wrongThread(operation()).description + "; use Hub.remote to reach it") }
    }

    @inline(never)
    private func wrongThread(_ operation: String) -> GreenletError {
        .wrongThread(operation: operation, greenletThread: homeThreadID, callingThread: greenloop_thread_id())
    }
}
