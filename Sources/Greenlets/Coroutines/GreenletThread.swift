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
    /// The running greenlet. A running greenlet must stay alive even when its own code drops every
    /// other reference to it, because it runs on the stack it owns; one of three things sees to
    /// that, and ``runningIsCounted`` says which:
    /// - a greenlet switched into by ``Greenlet/resume()`` or ``Greenlet/switchInto()`` is kept
    ///   alive by the caller's reference: the caller's frame stays exactly as it is, holding it,
    ///   until something switches back to the caller, by which time this greenlet no longer runs.
    ///   Nothing is counted, whatever the greenlet;
    /// - a pinned greenlet (see ``Greenlet/pin()``) is kept alive by its pinner;
    /// - any other (a first start, a switch to a parent whose child ended, a throw, the hub's
    ///   wake-ups, which hold their greenlet unretained) is retained here, by hand.
    ///
    /// A counted reference moves with the switch (``exchangeCurrent(_:countingReference:)``): the
    /// greenlet that switched away hands it over with the jump, and the greenlet that resumes
    /// releases it once the other is off its stack (``Greenlet/resumed(by:)``).
    /// Decoded from ``runningWord``, the one place that does.
    @usableFromInline var running: Unmanaged<Greenlet>? {
        @inlinable @inline(__always) get {
            UnsafeMutableRawPointer(bitPattern: runningWord & ~GreenletThread.countedBit).map { Unmanaged.fromOpaque($0) }
        }
    }
    /// Whether this thread holds a reference on ``running`` (see there).
    var runningIsCounted: Bool { runningWord & GreenletThread.countedBit != 0 }
    /// ``running``'s address, with ``countedBit`` set when ``runningIsCounted``; zero for none.
    /// One word, the very word a jump carries: a switch reads it and writes it once, where a
    /// reference and a flag of their own cost a load, a store and an addition more. Unchecked
    /// exclusivity: one thread, and no access stays open across a switch.
    @usableFromInline @exclusivity(unchecked) var runningWord: UInt
    /// The flag in ``runningWord`` and in a jump's data: a greenlet's address is 16-byte
    /// aligned, so its low bits are free.
    @inlinable static var countedBit: UInt { 1 }
    let threadID: CInt
    /// The thread's hub, made on first use.
    @exclusivity(unchecked) var hub: Hub?
    private var pools: [Int: StackPool] = [:]
    /// The pool asked for last, and the size it was asked for: nearly every greenlet of a
    /// thread has the same stack size, and hashing it cost more than a switch.
    @exclusivity(unchecked) private var lastPool: (size: Int, pool: Unmanaged<StackPool>)?

    private init() {
        threadID = greenloop_thread_id()
        // The main greenlet is pinned: this state owns it.
        runningWord = 0
        main = Greenlet(mainOf: self)
        runningWord = UInt(bitPattern: Unmanaged.passUnretained(main).toOpaque())
    }

    deinit {
        releaseRunning()
    }

    /// Drops the running-greenlet slot, and the reference it holds if it holds one.
    private func releaseRunning() {
        if let greenlet = running, runningIsCounted { greenlet.release() }
        runningWord = 0
    }

    /// The running greenlet has just been pinned: the pinner's reference makes the thread's, if
    /// it holds one, redundant.
    func runningWasPinned() {
        guard runningIsCounted else { return }
        runningWord &= ~GreenletThread.countedBit
        running.unsafelyUnwrapped.release()
    }

    /// The running greenlet has just been unpinned: the thread keeps it alive from here on,
    /// with `handedReference` (the pinner's, handed over) or with a reference of its own.
    func runningWasUnpinned(handingReference handedReference: Bool) {
        // Never counted while pinned: switches count no reference on a pinned greenlet, and
        // `runningWasPinned` drops the one a greenlet had when it was pinned.
        assert(!runningIsCounted, "a pinned running greenlet with a counted reference")
        if !handedReference { _ = running.unsafelyUnwrapped.retain() }
        runningWord |= GreenletThread.countedBit
    }

    /// The greenlet running on this thread.
    var current: Greenlet {
        @inline(__always) get { running!.takeUnretainedValue() }
    }

    /// The greenlet running on this thread, without a reference count operation.
    var currentUnretained: Unmanaged<Greenlet> {
        @inline(__always) get { running.unsafelyUnwrapped }
    }

    /// The calling thread's running greenlet, without a reference count operation (the thread's
    /// state is made on first use). Cost: a thread-local load and a load.
    @inline(__always)
    static var runningOnCallingThread: Unmanaged<Greenlet> {
        guard let raw = greenloop_thread_state_get() else { return forCallingThread.currentUnretained }
        return Unmanaged<GreenletThread>.fromOpaque(raw)._withUnsafeGuaranteedRef { $0.currentUnretained }
    }

    /// The calling thread's state, which must exist (it does on any greenlet's stack but the
    /// main one's before its first use), unretained.
    @inline(__always)
    static var existingForCallingThread: Unmanaged<GreenletThread> {
        Unmanaged.fromOpaque(greenloop_thread_state_get().unsafelyUnwrapped)
    }

    /// The calling thread's hub, if it has one, unretained: the thread keeps it alive until
    /// ``Hub/destroy(timeout:)`` or the thread's exit.
    @inline(__always)
    static var unretainedHubOfCallingThread: Unmanaged<Hub>? {
        guard let raw = greenloop_thread_state_get() else { return nil }
        return Unmanaged<GreenletThread>.fromOpaque(raw)._withUnsafeGuaranteedRef { thread in
            thread.hub.map { Unmanaged.passUnretained($0) }
        }
    }

    /// The calling thread's hub, if it has one, read without retaining the thread's state.
    @inline(__always)
    static var hubOfCallingThread: Hub? {
        guard let raw = greenloop_thread_state_get() else { return nil }
        return Unmanaged<GreenletThread>.fromOpaque(raw)._withUnsafeGuaranteedRef { $0.hub }
    }

    /// Makes `target` the running greenlet, retained here if `countingReference` (see
    /// ``running``), and returns what the jump away from the previous one carries: its
    /// ``runningWord``, whose ``countedBit`` says that this thread held a reference on it, which
    /// the caller now owns and hands to the greenlet it resumes (see ``Greenlet/resumed(by:)``).
    @inlinable @inline(__always)
    func exchangeCurrent(_ target: Greenlet, countingReference: Bool) -> UnsafeMutableRawPointer {
        let next = Unmanaged.passUnretained(target)
        if countingReference { _ = next.retain() }
        // Read after the retain, which is a call: nothing to keep across it.
        let previousWord = runningWord
        runningWord = UInt(bitPattern: next.toOpaque()) | (countingReference ? GreenletThread.countedBit : 0)
        return UnsafeMutableRawPointer(bitPattern: previousWord).unsafelyUnwrapped
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

    /// ``forCallingThread``, unretained: the thread keeps its state alive while it runs.
    @inline(__always)
    static var unretainedForCallingThread: Unmanaged<GreenletThread> {
        if let raw = greenloop_thread_state_get() { return Unmanaged.fromOpaque(raw) }
        return Unmanaged.passUnretained(makeForCallingThread())
    }

    @inline(never)
    private static func makeForCallingThread() -> GreenletThread {
        let state = GreenletThread()
        greenloop_thread_state_set(Unmanaged.passRetained(state).toOpaque(), releaseGreenletThread)
        return state
    }

    /// A stack of `size` bytes from the pool for that size of the thread whose state is at
    /// `address` (a greenlet's home, which outlives it: nothing is retained).
    static func takeStack(size: Int, onThread address: UnsafeMutableRawPointer) throws(GreenletError) -> GreenletStack {
        let pool = Unmanaged<GreenletThread>.fromOpaque(address)._withUnsafeGuaranteedRef { $0.pool(forStackSize: size) }
        let taken = pool._withUnsafeGuaranteedRef { pool in Result { () throws(GreenletError) in try pool.take() } }
        return try taken.get()
    }

    /// Gives `stack` (of `size` bytes) back to the pool it came from; see
    /// ``takeStack(size:onThread:)``.
    static func giveStack(_ stack: GreenletStack, size: Int, onThread address: UnsafeMutableRawPointer) {
        let pool = Unmanaged<GreenletThread>.fromOpaque(address)._withUnsafeGuaranteedRef { $0.pool(forStackSize: size) }
        pool._withUnsafeGuaranteedRef { $0.give(stack) }
    }

    /// The pool for stacks of `size` bytes, owned by ``pools``. Inlined, the common case (the
    /// size asked for last) costs a compare; a call cost a frame and a half of its instructions.
    @inline(__always)
    private func pool(forStackSize size: Int) -> Unmanaged<StackPool> {
        if let last = lastPool, last.size == size { return last.pool }
        return poolLookedUp(forStackSize: size)
    }

    /// ``pool(forStackSize:)`` for another size than the last: from ``pools``, or a new one.
    @inline(never)
    private func poolLookedUp(forStackSize size: Int) -> Unmanaged<StackPool> {
        let pool = pools[size] ?? StackPool(stackSize: size)
        pools[size] = pool
        lastPool = (size, Unmanaged.passUnretained(pool))
        return Unmanaged.passUnretained(pool)
    }

    /// At thread exit: destroy a hub the thread did not destroy itself (its greenlets unwind,
    /// with a second to end, and a loop it made closes), then break the thread → main → thread
    /// cycle; greenlets still alive elsewhere keep the state. A hub cannot be destroyed when the
    /// thread ends inside a greenlet other than its main one: then it is only dropped.
    fileprivate func detach() {
        if let hub { try? hub.destroy() }
        releaseRunning()
        hub = nil
    }
}

/// Runs when a thread with greenlet state exits.
private func releaseGreenletThread(_ raw: UnsafeMutableRawPointer?) {
    guard let raw else { return }
    Unmanaged<GreenletThread>.fromOpaque(raw).takeRetainedValue().detach()
}
