import CFContext
import CGreenloopSystem
#if canImport(Glibc)
import Glibc
#endif

/// One thread's greenlets: its main greenlet (the thread's own stack), the greenlet running now,
/// and its stack pools. Made on first use; released when the thread exits and no greenlet of the
/// thread is left.
@usableFromInline
final class GreenletThread {
    /// The thread's own stack, as a greenlet. Never dead.
    private(set) var main: Greenlet!
    /// The running greenlet, retained by hand: a running greenlet must stay alive even when its
    /// own code drops every other reference to it, because it runs on the stack it owns. Behind a
    /// pointer, so that the switch path pays no dynamic exclusivity check.
    ///
    /// A switch moves this reference: the greenlet switched to is retained here, and the one that
    /// switched away hands its reference over with the jump (``Greenlet/exchangeCurrent``); the
    /// greenlet that resumes releases it, once the other is off its stack (``Greenlet/resumed(by:)``).
    @usableFromInline let running: UnsafeMutablePointer<Unmanaged<Greenlet>?>
    let threadID: CInt
    /// The thread's hub, made on first use.
    var hub: Hub?
    private var pools: [Int: StackPool] = [:]

    private init() {
        threadID = greenloop_thread_id()
        running = .allocate(capacity: 1)
        running.initialize(to: nil)
        main = Greenlet(mainOf: self)
        running.pointee = Unmanaged.passRetained(main)
    }

    deinit {
        running.pointee?.release()
        running.deallocate()
    }

    /// The greenlet running on this thread.
    var current: Greenlet {
        @inline(__always) get { running.pointee!.takeUnretainedValue() }
    }

    /// The greenlet running on this thread, without a reference count operation.
    var currentUnretained: Unmanaged<Greenlet> {
        @inline(__always) get { running.pointee.unsafelyUnwrapped }
    }

    /// Makes `target` the running greenlet and returns the previous one with the reference this
    /// thread held on it, which the caller now owns (and passes along with its jump).
    @inlinable @inline(__always)
    func exchangeCurrent(_ target: Greenlet) -> Unmanaged<Greenlet> {
        let previous = running.pointee.unsafelyUnwrapped
        running.pointee = Unmanaged.passRetained(target)
        return previous
    }

    /// This object's address, which greenlets compare with the calling thread's to check where
    /// they are used without retaining anything.
    @usableFromInline var address: UnsafeMutableRawPointer { Unmanaged.passUnretained(self).toOpaque() }

    /// The calling thread's state, made on first use. Cost: a thread-local load.
    @inline(__always)
    static var forCallingThread: GreenletThread {
        if let raw = greenloop_thread_state_get() {
            return Unmanaged<GreenletThread>.fromOpaque(raw).takeUnretainedValue()
        }
        return makeForCallingThread()
    }

    @inline(never)
    private static func makeForCallingThread() -> GreenletThread {
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

    /// At thread exit: break the thread → main → thread cycle; greenlets still alive elsewhere
    /// keep the state.
    fileprivate func detach() {
        running.pointee?.release()
        running.pointee = nil
        hub = nil
    }
}

/// Runs when a thread with greenlet state exits.
private func releaseGreenletThread(_ raw: UnsafeMutableRawPointer?) {
    guard let raw else { return }
    Unmanaged<GreenletThread>.fromOpaque(raw).takeRetainedValue().detach()
}
