import CFContext
import CGreenloopSystem
#if canImport(Glibc)
import Glibc
#endif

/// One thread's greenlets: its main greenlet (the thread's own stack), the greenlet running now,
/// and its stack pools. Made on first use; released when the thread exits and no greenlet of the
/// thread is left.
final class GreenletThread {
    /// The thread's own stack, as a greenlet. Never dead.
    private(set) var main: Greenlet!
    /// The greenlet running on this thread. Strong: a running greenlet must stay alive even when
    /// its own code drops every other reference to it, because it runs on the stack it owns.
    var current: Greenlet!
    let threadID: CInt
    /// The thread's hub, made on first use.
    var hub: Hub?
    private var pools: [Int: StackPool] = [:]

    private init() {
        threadID = greenloop_thread_id()
        main = Greenlet(mainOf: self)
        current = main
    }

    /// The calling thread's state, made on first use. Cost: a thread-local load.
    static var forCallingThread: GreenletThread {
        if let raw = greenloop_thread_state_get() {
            return Unmanaged<GreenletThread>.fromOpaque(raw).takeUnretainedValue()
        }
        let state = GreenletThread()
        greenloop_thread_state_set(Unmanaged.passRetained(state).toOpaque(), releaseGreenletThread)
        return state
    }

    /// The pool for stacks of `size` bytes.
    func pool(forStackSize size: Int) -> StackPool {
        if let pool = pools[size] { return pool }
        let pool = StackPool(stackSize: size)
        pools[size] = pool
        return pool
    }
}

/// Runs when a thread with greenlet state exits.
private func releaseGreenletThread(_ raw: UnsafeMutableRawPointer?) {
    guard let raw else { return }
    let state = Unmanaged<GreenletThread>.fromOpaque(raw).takeRetainedValue()
    // Break the thread → main → thread cycle; greenlets still alive elsewhere keep the state.
    state.current = nil
    state.hub = nil
}
