import Synchronization
import CFContext
import CGreenloopSystem
#if canImport(Glibc)
import Glibc
#endif

/// A stackful coroutine: a closure that runs on its own stack and can suspend itself anywhere by
/// switching to another greenlet, to be resumed later exactly where it stopped. Python's greenlet,
/// in Swift.
///
/// Each thread has a *main* greenlet (the thread's own stack). A new greenlet's *parent* is the
/// greenlet that made it, unless given: when a greenlet's body returns, its value goes to its
/// parent, as if the body's last act was `parent.switchInto(value)`; an error it throws is thrown
/// in the parent instead (``GreenletExit`` is not an error: the parent receives `nil`).
///
/// ```swift
/// let echo = try Greenlet { first in
///     var value = first
///     while true { value = try Greenlet.main.switchInto(value) }
/// }
/// try echo.switchInto(1)   // 1
/// ```
///
/// **Switching** to a greenlet runs it until it switches elsewhere; the value passed comes out of
/// the `switchInto` call that suspended it (or is the body's argument, on the first switch). A
/// switch to a dead greenlet goes to its parent instead (or the parent's parent, up to the main
/// greenlet, which never dies).
///
/// **Stacks** are pooled per thread (see ``defaultStackSize``), each above a guard region of
/// ``stackGuardSize`` bytes (64 KiB): recursion that overflows, and any frame up to the guard's
/// size, faults in the guard and ends the process with a "stack overflow in a greenlet" message.
/// A single frame larger than the guard can reach past it, unless its code probes each page (see
/// ``stackGuardSize``). A switch costs a few register moves (boost.context's fcontext), no system
/// call.
///
/// **Lifetimes.** A running greenlet stays alive. A suspended greenlet whose last reference goes is
/// resumed with ``GreenletExit`` on the spot, so that its frames unwind and release what they
/// hold; then its stack returns to the pool. (Dropped on another thread than its own, it cannot be
/// resumed: its stack is freed and what its frames held is leaked.) A greenlet's body should not
/// hold a strong reference to its own greenlet, or it can never be dropped.
///
/// **Threads.** A greenlet belongs to the thread that made it; using it from another thread
/// throws ``GreenletError/wrongThread(operation:greenletThread:callingThread:)``.
///
/// **Spawned greenlets.** ``AnySpawnedGreenlet`` (and so every ``SpawnedGreenlet``) is a
/// `Greenlet`, as gevent's `Greenlet` is a greenlet; the class is not open to other subclasses.
public class Greenlet {
    /// The stack size of a greenlet made without one: 256 KiB of address space, of which only the
    /// pages touched cost memory (a few KiB for most greenlets).
    public static let defaultStackSize = 256 * 1024
    /// The smallest stack size accepted.
    public static let minimumStackSize = 16 * 1024
    /// Bytes of inaccessible memory below every greenlet stack made from now on (64 KiB unless
    /// set): a frame that reaches into it ends the process with a "stack overflow in a greenlet"
    /// message instead of writing over the stack below. With `MADV_GUARD_INSTALL` (Linux ≥ 6.13) a
    /// guard region costs no memory and no mapping however large it is; without it, one mapping.
    ///
    /// A single frame larger than the guard can reach past it unless its code probes each page
    /// (Swift's does; C's does when compiled with `-fstack-clash-protection`): set a larger guard
    /// when greenlets call C code with large local arrays.
    public static var stackGuardSize: Int { stackGuardSizeStorage.load(ordering: .relaxed) }

    /// Sets ``stackGuardSize`` for stacks made from now on (pooled stacks keep theirs), rounded up
    /// to whole pages. Thread-safe.
    ///
    /// - Throws: ``GreenletError/invalidStackGuardSize(_:)`` below one page or above 1 GiB.
    public static func setStackGuardSize(_ bytes: Int) throws(GreenletError) {
        let page = Int(sysconf(Int32(_SC_PAGESIZE)))
        guard bytes >= page && bytes <= 1 << 30 else { throw .invalidStackGuardSize(bytes) }
        stackGuardSizeStorage.store((bytes + page - 1) / page * page, ordering: .relaxed)
    }

    private static let stackGuardSizeStorage = Atomic<Int>(64 * 1024)

    /// The largest stack size accepted (1 TiB of address space); a larger one throws
    /// ``GreenletError/stackAllocationFailed(_:)`` with `ENOMEM`.
    public static let maximumStackSize = 1 << 40

    /// A greenlet's state as its description and its deinitialiser read it: derived from
    /// ``phase`` and ``context`` (see ``state``), never stored.
    enum State {
        case notStarted, running, suspended, dead
    }

    /// Where a greenlet is in its life. Whether a started greenlet runs or is suspended is not
    /// stored: it is suspended exactly when it has a ``context`` to be resumed at (see ``state``).
    enum Phase: UInt8 {
        case notStarted, started, dead
    }

    /// The thread the greenlet belongs to. Unowned(unsafe): the thread's state outlives its
    /// greenlets (see ``retainedHome``); the checked kind cost a reference count operation per use.
    unowned(unsafe) let home: GreenletThread
    /// The reference that keeps ``home`` alive, when the greenlet's parent does not: a greenlet
    /// holds its parent strongly, so a parent that holds the thread keeps it for its children
    /// too (a spawned greenlet's parent, the hub's greenlet, does; a main greenlet is owned by its
    /// thread instead). One reference count operation fewer per spawn.
    @exclusivity(unchecked) private final var retainedHome: GreenletThread?
    /// `home`'s address, compared with the calling thread's without retaining anything.
    @usableFromInline let homeAddress: UnsafeMutableRawPointer
    // What switches and hand-offs read and write, stored in the object itself so that they reach
    // it with no load but the object's address. Unchecked exclusivity (here and below): one
    // thread, and no access stays open across a switch; the dynamic checks were a third of a
    // switch. The one-byte fields and the yield ticket share a word.
    /// See ``Phase``.
    @exclusivity(unchecked) final var phase: Phase
    /// What the next resumption carries: nothing (the common case, which copies no
    /// existential), ``carriedValue`` or ``carriedError``.
    @exclusivity(unchecked) final var messageKind = MessageKind.none
    /// See ``pin()``.
    @usableFromInline @exclusivity(unchecked) final var isPinned = false
    /// Whether the body has ended and how is recorded: ``carriedError``, and the value in
    /// ``carriedValue`` (a spawned greenlet keeps its own, see ``endingValue``).
    @usableFromInline @exclusivity(unchecked) private(set) final var hasEnding = false
    /// Counts the greenlet's yields (``Hub/yieldCurrent()``): an entry in the ready queue resumes
    /// the greenlet only for the yield it was made for.
    @exclusivity(unchecked) final var yieldTicket: UInt32 = 0
    /// Where to jump to resume the greenlet: set exactly while it is suspended (`nil` while it
    /// runs, before its stack is prepared and once it has ended). That is what tells a suspended
    /// greenlet from the running one, so a switch stores nothing else in the two greenlets: the
    /// jump takes the target's context, and the resumed side stores the jumper's.
    @usableFromInline @exclusivity(unchecked) final var context: greenloop_fcontext_t?
    /// The value the next resumption carries, boxed: an `Any?` stored here was destroyed through
    /// the runtime's generic value witnesses with every greenlet (a tenth of a spawn+join), a box
    /// that is almost always `nil` costs a null check. Once the body has ended: the value it
    /// returned, if any (a greenlet that has ended receives nothing more, so the slot is free).
    @exclusivity(unchecked) final var carriedValue: CarriedValue?
    /// The error the next resumption throws; once the body has ended, the error it threw.
    @exclusivity(unchecked) final var carriedError: (any Error)?
    /// What the sanitizers know of its stack, at a stable address for the C switch: at the top of
    /// the greenlet's own stack while it has one (no allocation of its own), allocated for a main
    /// greenlet.
    @usableFromInline @exclusivity(unchecked) final var fiber: UnsafeMutablePointer<greenloop_fiber_t>?
    @exclusivity(unchecked) private final var stack: GreenletStack?
    /// The stack size asked for.
    public let stackSize: Int
    @exclusivity(unchecked) private final var body: Body?
    /// Where the body's value or error goes when it ends; `nil` only for a main greenlet.
    @exclusivity(unchecked) public private(set) final var parent: Greenlet?
    /// How the body ended, once the greenlet is dead: its value, or its error (``GreenletExit``
    /// included).
    ///
    /// No `Ending` or `Result` is stored for it: an enum with an existential payload is copied
    /// and destroyed through generic value witnesses (measured: 7% of a spawn+join).
    public final var outcome: Result<Any?, any Error>? {
        guard hasEnding else { return nil }
        if let carriedError { return .failure(carriedError) }
        return .success(endingValue)
    }

    /// The value the body returned, once it has ended without an error; ``AnySpawnedGreenlet``
    /// keeps its own.
    var endingValue: Any? { carriedValue?.value }

    /// Makes a greenlet that will run `body` when first switched into; it does not run yet.
    ///
    /// - Parameters:
    ///   - stackSize: usable stack bytes (rounded up to pages; at least ``minimumStackSize``).
    ///   - parent: where its value goes when it ends; the current greenlet by default.
    ///   - body: gets the value of the first switch into the greenlet; returns the value for the
    ///     parent.
    /// - Throws: ``GreenletError/stackTooSmall(_:)``, ``GreenletError/invalidParent(_:)`` for a
    ///   parent of another thread.
    public convenience init(
        stackSize: Int = Greenlet.defaultStackSize, parent: Greenlet? = nil,
        _ body: @escaping (Any?) throws -> Any?
    ) throws(GreenletError) {
        try self.init(stackSize: stackSize, parent: parent, body: .closure(body))
    }

    /// Makes a greenlet that runs `body` when first switched into; `.overridden` for a subclass
    /// (``AnySpawnedGreenlet``), whose ``runWithoutClosure()`` is the body.
    init(stackSize: Int, parent: Greenlet?, body: Body) throws(GreenletError) {
        guard stackSize >= Greenlet.minimumStackSize else { throw .stackTooSmall(stackSize) }
        // No address space holds more: refused here, before the pool's page arithmetic could
        // overflow on it.
        guard stackSize <= Greenlet.maximumStackSize else { throw .stackAllocationFailed(.noMemory) }
        // Unretained: a reference count operation fewer per spawn (the thread keeps its state).
        let thread = GreenletThread.unretainedForCallingThread
        let address = thread.toOpaque()
        if let parent, parent.homeAddress != address {
            throw Greenlet.invalidParent(parent, thread: thread)
        }
        home = thread.takeUnretainedValue()
        let parent = parent ?? thread._withUnsafeGuaranteedRef { $0.current }
        retainedHome = parent.retainedHome == nil ? thread.takeUnretainedValue() : nil
        homeAddress = address
        phase = .notStarted
        self.stackSize = stackSize
        self.body = body
        self.parent = parent
    }

    private static func invalidParent(_ parent: Greenlet, thread: Unmanaged<GreenletThread>) -> GreenletError {
        .invalidParent("the parent belongs to thread \(parent.home.threadID), this greenlet to thread \(thread.takeUnretainedValue().threadID)")
    }

    /// The main greenlet of `thread`: its own stack, already running.
    init(mainOf thread: GreenletThread) {
        home = thread
        retainedHome = nil
        homeAddress = thread.address
        phase = .started
        isPinned = true
        let fiber = UnsafeMutablePointer<greenloop_fiber_t>.allocate(capacity: 1)
        fiber.initialize(to: greenloop_fiber_t())
        greenloop_fiber_create(fiber)
        self.fiber = fiber
        stackSize = 0
        parent = nil
    }

    deinit {
        if state == .suspended && greenloop_thread_state_get() == homeAddress {
            // Unwind: the frames on its stack release what they hold. Its value comes back here,
            // where nobody wants it; an error other than GreenletExit (thrown while unwinding) has
            // nowhere else to go, and is reported once (greenlet's "unraisable" report).
            parent = home.current
            do {
                _ = try throwInto(GreenletExit())
            } catch is GreenletExit {
            } catch {
                Greenlet.reportUnwindingError(error, of: description)
            }
        }
        releaseStack()
        if isMain, let fiber {
            greenloop_fiber_destroy(fiber)
            fiber.deinitialize(count: 1)
            fiber.deallocate()
        }
    }

    /// Reports an error that a dropped greenlet threw while it unwound: to the thread's hub's
    /// `errorHandler` if it has a hub, else on standard error.
    private static func reportUnwindingError(_ error: any Error, of greenlet: String) {
        let place = "\(greenlet), unwound because it was dropped"
        if let hub = GreenletThread.hubOfCallingThread {
            hub.errorHandler(error, place)
        } else {
            var standardError = StandardErrorStream()
            print("Greenloop: an error escaped \(place): \(error)", to: &standardError)
        }
    }

    /// The greenlet running on the calling thread (its main greenlet if none was started).
    public static var current: Greenlet { GreenletThread.forCallingThread.current }

    /// Declares that the caller keeps a strong reference to this greenlet until ``unpin()``, so
    /// that the thread need not retain it while it runs: no switch to or from a pinned greenlet
    /// counts a reference, not even the hub's wake-ups. The main greenlet (owned by its thread),
    /// a hub's greenlet (owned by the hub) and a live spawned greenlet (owned by the hub's live
    /// list) are pinned.
    final func pin() {
        guard !isPinned else { return }
        isPinned = true
        if isRunning { home.runningWasPinned() }
    }

    /// Ends ``pin()``: call before the pinner drops its reference.
    final func unpin() {
        guard isPinned else { return }
        isPinned = false
        if isRunning { home.runningWasUnpinned(handingReference: false) }
    }

    /// Ends ``pin()`` and hands the pinner's reference on instead of releasing it: to the thread
    /// if the greenlet runs now (which must hold one from here on), else to whoever the pinner
    /// names (the hub names a greenlet's start entry).
    final func unpinHandingReferenceOn() {
        isPinned = false
        if isRunning { home.runningWasUnpinned(handingReference: true) }
    }

    /// The calling thread's main greenlet.
    public static var main: Greenlet { GreenletThread.forCallingThread.main }

    /// Whether the body has ended (returned or thrown).
    public final var isDead: Bool { phase == .dead }
    /// Whether the greenlet has been switched into at least once (or is a main greenlet).
    public final var isStarted: Bool { phase != .notStarted }
    /// Whether this is a thread's main greenlet.
    public final var isMain: Bool { stackSize == 0 }

    /// Changes the parent.
    ///
    /// - Throws: ``GreenletError/invalidParent(_:)`` for a parent of another thread, one that
    ///   would make a cycle, or a main greenlet (which has none).
    public final func setParent(_ newParent: Greenlet) throws(GreenletError) {
        guard !isMain else { throw .invalidParent("a main greenlet has no parent") }
        guard newParent.home === home else {
            throw .invalidParent("the parent belongs to thread \(newParent.home.threadID), this greenlet to thread \(home.threadID)")
        }
        var ancestor: Greenlet? = newParent
        while let candidate = ancestor {
            if candidate === self { throw .invalidParent("the parent chain would be a cycle") }
            ancestor = candidate.parent
        }
        // The new parent may not keep the thread alive as the old one did.
        if retainedHome == nil && newParent.retainedHome == nil { retainedHome = home }
        parent = newParent
    }

    /// Switches to this greenlet, passing `value`, and suspends the current one until something
    /// switches back to it.
    ///
    /// Cost: see the benchmarks (`make bench`); no allocation, no system call, no lock.
    /// ``switchInto()``, which passes nothing, is faster, and ``resume()``, which also drops the
    /// value that comes back, is the fastest switch.
    ///
    /// - Returns: the value passed by whichever greenlet switches back (or the value of a child
    ///   greenlet that ended).
    /// - Throws: the error thrown into the current greenlet while it was suspended (by
    ///   ``throwInto(_:)``, or by a child greenlet whose body threw);
    ///   ``GreenletError/wrongThread(operation:greenletThread:callingThread:)``.
    @discardableResult
    public final func switchInto(_ value: Any?) throws -> Any? {
        try switchIntoGenerally(value)
    }

    /// Switches to this greenlet, passing nothing (it receives `nil`), and suspends the current
    /// one until something switches back to it: ``switchInto(_:)`` without a value.
    ///
    /// Cost: to a suspended greenlet of the calling thread, inlined into the caller: a
    /// thread-local load, a few loads and stores and boost.context's `jump_fcontext`; no
    /// reference is counted (the caller's keeps this greenlet alive while it runs) and no
    /// existential is touched (see `make bench` for the figure against C).
    ///
    /// - Returns: the value passed by whichever greenlet switches back.
    /// - Throws: as ``switchInto(_:)``.
    @inlinable @inline(__always)
    @discardableResult
    public final func switchInto() throws -> Any? {
        // The caller's reference keeps this greenlet alive while it runs (no count): it must
        // last until the switch back, past the jump, the last use the compiler would see.
        try withExtendedLifetime(self) {
            // The common case: a suspended greenlet of the calling thread. Everything else (a
            // first start, a dead target, another thread) takes the general path.
            if let (thread, context) = fastSwitch {
                return try Greenlet.switchToSuspended(
                    self, at: context, thread: thread, countingReference: false, annotated: false
                ).takeMessage()
            }
            return try switchIntoWithoutValueGenerally()
        }
    }

    /// The calling thread's state and this greenlet's context when it can take the fast switch
    /// (it is suspended, belongs to the calling thread, and no sanitizer runs); `nil` when the
    /// general path must decide.
    @inlinable
    final var fastSwitch: (thread: UnsafeMutableRawPointer, context: greenloop_fcontext_t)? {
        @inline(__always) get {
            // One comparison of addresses: a thread without state (null), or one under a
            // sanitizer (null here too), is never the home one, so a null test would be redundant.
            // A greenlet with a context is suspended: the jump needs it anyway.
            guard greenloop_fast_switch_state_word() == UInt(bitPattern: homeAddress), let context else {
                return nil
            }
            return (homeAddress, context)
        }
    }

    /// Whether this greenlet is the one running on its thread: started, and without a context to
    /// be resumed at.
    final var isRunning: Bool { phase == .started && context == nil }

    /// The greenlet's state, from its ``phase`` and whether it has a ``context``.
    final var state: State {
        switch phase {
        case .notStarted: .notStarted
        case .dead: .dead
        case .started: context == nil ? .running : .suspended
        }
    }

    /// Switches to this greenlet, passing nothing, and drops the value the switch back carries
    /// (an error is still thrown): the fastest switch, for greenlets that hand each other control
    /// rather than values.
    ///
    /// Cost: as ``switchInto()``, without the destruction of the `Any?` it returns (a sixth of a
    /// switch): a thread-local load, a few loads and stores, boost.context's `jump_fcontext`; no
    /// reference count operation (the caller's reference keeps this greenlet alive while it runs).
    ///
    /// - Throws: as ``switchInto(_:)``.
    @inlinable @inline(__always)
    public final func resume() throws {
        // As in switchInto(): the caller's reference must outlast the jump.
        try withExtendedLifetime(self) { try resume(countingReference: false) }
    }

    /// ``resume()`` for a caller whose reference may not outlive the switch: the hub's wake-ups,
    /// which reach the greenlet unretained or through a reference that the greenlet itself lets
    /// go once it runs (a waiter's). The thread counts a reference on the greenlet while it runs,
    /// unless it is pinned.
    @inline(__always)
    final func resumeCountingReference() throws {
        try resume(countingReference: !isPinned)
    }

    @inlinable @inline(__always)
    final func resume(countingReference: Bool) throws {
        if let (thread, context) = fastSwitch {
            return try resumeSuspended(
                at: context, thread: thread, countingReference: countingReference, annotated: false)
        }
        try resumeGenerally(countingReference: countingReference)
    }

    /// ``switchToSuspended(_:at:thread:countingReference:annotated:)`` to this greenlet,
    /// dropping what the switch back carries but an error.
    @inlinable @inline(__always)
    final func resumeSuspended(
        at context: greenloop_fcontext_t, thread: UnsafeMutableRawPointer, countingReference: Bool, annotated: Bool
    ) throws {
        let resumption = Greenlet.switchToSuspended(
            self, at: context, thread: thread, countingReference: countingReference, annotated: annotated)
        if resumption.carriesMessage { try greenletDropCurrentMessage() }
    }

    /// Starts this greenlet, which has not started, carrying nothing, and drops what the switch
    /// back carries: the hub starts spawned greenlets this way, with no `Any?` made or destroyed.
    /// This greenlet may be gone when it returns (it ran to its end, and nothing else held it).
    ///
    /// - Returns: an error that the switch back carried (thrown into the current greenlet).
    /// - Throws: ``GreenletError`` when the greenlet could not start (no stack could be had): it
    ///   has not started then.
    final func startCarryingNothing() throws(GreenletError) -> (any Error)? {
        let thread = try checkThread("start")
        require(phase == .notStarted, "startCarryingNothing() on a started greenlet")
        try prepareToStart()
        let resumption = Greenlet.switchToSuspended(
            self, at: context.unsafelyUnwrapped, thread: thread.toOpaque(), countingReference: !isPinned,
            annotated: true)
        guard resumption.carriesMessage else { return nil }
        do {
            try greenletDropCurrentMessage()
            return nil
        } catch {
            return error
        }
    }

    /// Called when a switch starts this greenlet, rather than ``startCarryingNothing()``.
    /// ``AnySpawnedGreenlet`` keeps its start in the hub's queue valid.
    func startsBySwitch() {}

    // The slow paths of resume(), out of line: inlined, the `Any?` each returns kept room on the
    // stack of every greenlet that waits through the hub.

    @usableFromInline @inline(never)
    final func resumeGenerally(countingReference: Bool) throws {
        if let (thread, context) = annotatedSwitch {
            return try resumeSuspended(
                at: context, thread: thread, countingReference: countingReference, annotated: true)
        }
        _ = try switchIntoGenerally(nil)
    }

    @usableFromInline @inline(never)
    final func switchIntoWithoutValueGenerally() throws -> Any? {
        if let (thread, context) = annotatedSwitch {
            return try Greenlet.switchToSuspended(
                self, at: context, thread: thread, countingReference: false, annotated: true
            ).takeMessage()
        }
        return try switchIntoGenerally(nil)
    }

    /// ``fastSwitch`` for a process under a sanitizer, where no fast switch happens: the same
    /// switch then runs here, out of line, with the sanitizers' annotations, so that their runs
    /// check the switch that runs without them.
    private final var annotatedSwitch: (thread: UnsafeMutableRawPointer, context: greenloop_fcontext_t)? {
        guard greenloop_thread_state_get() == homeAddress, let context else { return nil }
        return (homeAddress, context)
    }

    @usableFromInline
    final func switchIntoGenerally(_ value: Any?) throws -> Any? {
        let thread = try checkThread("switchInto(_:)")
        return try thread._withUnsafeGuaranteedRef { thread in
            if phase != .dead { return try Greenlet.suspendCurrent(switchingTo: self, value, nil, on: thread) }
            return try Greenlet.suspendCurrent(switchingTo: firstLiveAncestor, value, nil, on: thread)
        }
    }

    /// The switch: `target` is suspended at `context` and belongs to the calling thread (whose
    /// state is `thread`); `handedMessage` says that a value or an error was left in it
    /// (``hand(_:_:)``), which the jump flags. No existential; a reference count operation here
    /// and one on the resumed side only if `countingReference` (see `GreenletThread.running`).
    /// `annotated`: whether the jump must tell the sanitizers, if any run; a fast switch
    /// (``fastSwitch``) happens only when none does, and calls `jump_fcontext` itself. Returns
    /// whether a message waits in the resumed greenlet.
    ///
    /// Stores nothing in the suspending greenlet: it is suspended once the resumed side has
    /// stored its context (``resumed(by:)``), and it is the one running until then.
    @inlinable @inline(__always)
    static func switchToSuspended(
        _ target: Greenlet, at context: greenloop_fcontext_t, thread: UnsafeMutableRawPointer,
        countingReference: Bool, annotated: Bool, handedMessage: Bool = false
    ) -> Resumption {
        let jumpData = Greenlet.flagging(
            Unmanaged<GreenletThread>.fromOpaque(thread)._withUnsafeGuaranteedRef {
                $0.exchangeCurrent(target, countingReference: countingReference)
            },
            message: handedMessage)
        target.context = nil
        let transfer = annotated
            ? greenloop_fiber_jump(context, jumpData, target.fiber.unsafelyUnwrapped, 0)
            : jump_fcontext(context, jumpData)
        return Resumption(carriesMessage: Greenlet.resumed(by: transfer))
    }

    /// What a switch comes back with: whether the jump back flagged a message for the resumed
    /// greenlet (``messageBit``), which only then is read.
    @usableFromInline
    struct Resumption {
        @usableFromInline let carriesMessage: Bool

        @inlinable @inline(__always)
        init(carriesMessage: Bool) {
            assert(carriesMessage || greenletCurrentHasNoMessage(),
                "a message was left in a greenlet without the flag on the jump that resumed it")
            self.carriesMessage = carriesMessage
        }

        /// What the switch back carried into the resumed greenlet
        /// (``Greenlet/takeCarriedMessage()``), read only if one was flagged.
        @inlinable @inline(__always)
        func takeMessage() throws -> Any? {
            guard carriesMessage else { return nil }
            return try greenletTakeCurrentMessage()
        }
    }

    /// Raises `error` inside this greenlet, where it is suspended, and suspends the current one.
    ///
    /// A greenlet that has not started dies at once without running, and `error` goes to its
    /// parent as if its body had thrown it (``GreenletExit``: the parent receives `nil`).
    ///
    /// - Returns: what the greenlet (or its parent) switches back.
    @discardableResult
    public final func throwInto(_ error: any Error = GreenletExit()) throws -> Any? {
        let thread = try checkThread("throwInto(_:)")
        return try thread._withUnsafeGuaranteedRef { thread in
            guard phase == .notStarted else {
                return try Greenlet.suspendCurrent(switchingTo: liveSelfOrAncestor, nil, error, on: thread)
            }
            // A spawned greenlet hands its parent, the hub, nothing: there is nothing to switch for.
            guard endBeforeStarting(throwing: error) else { return nil }
            let failure = error is GreenletExit ? nil : error
            return try Greenlet.suspendCurrent(switchingTo: parent!.liveSelfOrAncestor, nil, failure, on: thread)
        }
    }

    // MARK: Switching

    /// Asks the processor for the lines that resuming this suspended greenlet reads first: the
    /// registers its switch saved on its stack and the frames just above them, three cache lines
    /// from its saved stack pointer. For the hub, which resumes many greenlets in a row: each
    /// one's lines come while the one before it runs, instead of missing the cache one after the
    /// other (a server with a thousand connections finds every stack cold). A hint only; it does
    /// nothing for a greenlet that is not suspended.
    @inline(__always)
    final func prefetchResumption() {
        // Reads the object: call it once its first lines had time to come (`prefetchFirstLines`).
        guard let context else { return }
        let savedStackPointer = UnsafeRawPointer(context)
        greenloop_prefetch(savedStackPointer)
        greenloop_prefetch(savedStackPointer + 64)
        greenloop_prefetch(savedStackPointer + 128)
    }

    /// This greenlet, or its first ancestor that is not dead.
    final var liveSelfOrAncestor: Greenlet {
        @inline(__always) get {
            if phase != .dead { return self }
            return firstLiveAncestor
        }
    }

    /// The first ancestor that is not dead, unretained: this greenlet holds its parent, which
    /// holds its own.
    final var liveAncestorUnretained: Unmanaged<Greenlet> {
        var candidate = Unmanaged.passUnretained(parent.unsafelyUnwrapped)
        while true {
            let next = candidate._withUnsafeGuaranteedRef { candidate -> Unmanaged<Greenlet>? in
                guard candidate.phase == .dead, let parent = candidate.parent else { return nil }
                return Unmanaged.passUnretained(parent)
            }
            guard let next else { return candidate }
            candidate = next
        }
    }

    /// This greenlet's first ancestor that is not dead; for a dead greenlet, which has a parent
    /// (a main greenlet never dies).
    private final var firstLiveAncestor: Greenlet {
        liveAncestorUnretained.takeUnretainedValue()
    }

    /// ``checkThread(_:)`` for an operation that cannot throw: traps off the greenlet's thread.
    final func requireThread(_ operation: @autoclosure () -> String) {
        do { _ = try checkThread(operation()) } catch { misuse("\(error); use Hub.remote to reach it") }
    }

    @usableFromInline @inline(__always)
    final func checkThread(_ operation: @autoclosure () -> String)
        throws(GreenletError) -> Unmanaged<GreenletThread>
    {
        // The home thread's state lives as long as this greenlet: no need to retain it.
        if let raw = greenloop_thread_state_get(), raw == homeAddress { return Unmanaged.fromOpaque(raw) }
        throw .wrongThread(
            operation: operation(), greenletThread: home.threadID, callingThread: GreenletThread.forCallingThread.threadID)
    }

    /// Suspends the current greenlet and runs `target`, handing it `value` or `error`; returns or
    /// throws what the next switch into the current greenlet carries.
    ///
    /// The suspended greenlet is referred to only unretained in this frame, which stays on its
    /// stack while it is suspended: a strong reference here would keep a dropped greenlet alive.
    /// Its reference as the running greenlet travels with the jump (see `GreenletThread.running`).
    @inline(__always)
    static func suspendCurrent(
        switchingTo target: Greenlet, _ value: Any?, _ error: (any Error)?, on thread: GreenletThread
    ) throws -> Any? {
        if Unmanaged.passUnretained(target).toOpaque() == thread.currentUnretained.toOpaque() {
            if let error { throw error }
            return value
        }
        if target.phase == .notStarted {
            try target.prepareToStart()
            target.startsBySwitch()
        }
        let handed = target.hand(value, error)
        return try Greenlet.switchToSuspended(
            target, at: target.context.unsafelyUnwrapped, thread: thread.address,
            countingReference: !target.isPinned, annotated: true, handedMessage: handed
        ).takeMessage()
    }

    /// Leaves `value` or `error` for this greenlet's next resumption; returns whether it left
    /// anything, which the jump that resumes it must then flag (``messageBit``).
    @inline(__always)
    final func hand(_ value: Any?, _ error: (any Error)?) -> Bool {
        if let error {
            carriedError = error
            messageKind = .error
        } else if let value {
            carriedValue = CarriedValue(value)
            messageKind = .value
        } else {
            return false
        }
        return true
    }

    /// A jump's data with ``messageBit`` set when `message`.
    @inlinable @inline(__always)
    static func flagging(_ jumpData: UnsafeMutableRawPointer, message: Bool) -> UnsafeMutableRawPointer {
        UnsafeMutableRawPointer(bitPattern: UInt(bitPattern: jumpData) | (message ? messageBit : 0)).unsafelyUnwrapped
    }

    /// Runs first on every resumed stack: keeps the context of the greenlet that jumped here,
    /// which is what makes it suspended (or frees its stack if it ended), then releases the
    /// reference the thread counted on it as the running greenlet, if it counted one, which came
    /// along with the jump. Released only here, once it is off its stack: if that was its last
    /// reference, a suspended greenlet unwinds (see `deinit`) and a dead one goes away.
    ///
    /// The jump's data is the jumper's address with three flags in its low bits (a greenlet is
    /// 16-byte aligned): `GreenletThread.countedBit`, ``endedBit`` from a greenlet's final jump,
    /// and ``messageBit`` when the jumper handed the resumed greenlet a value or an error. The
    /// common case tests a register rather than the jumper's state or the resumed one's message.
    ///
    /// Inlined into every switch: as an out-of-line static method of this (non-final) class it
    /// cost a call and a metadata lookup per switch. The common case, a jumper that lives on,
    /// holds no counted reference (every pinned greenlet: a thread's main one, a hub's, a spawned
    /// one) and hands nothing, tests the three flags at once and stores through the data as it
    /// came; any other takes the outlined path.
    ///
    /// - Returns: whether a message waits in the resumed greenlet (``messageBit``).
    @inlinable @inline(__always)
    static func resumed(by transfer: greenloop_transfer_t) -> Bool {
        let bits = UInt(bitPattern: transfer.data)
        guard _fastPath(bits & jumpFlags == 0) else {
            return greenletResumedByFlaggedJump(transfer)
        }
        Unmanaged<Greenlet>.fromOpaque(transfer.data.unsafelyUnwrapped)._withUnsafeGuaranteedRef {
            $0.context = transfer.fctx
        }
        return false
    }

    /// The flag in a jump's data that says the jumper has ended: its final jump (see
    /// ``resumed(by:)``).
    @inlinable static var endedBit: UInt { 2 }

    /// The flag in a jump's data that says the jumper left a message (a value or an error) in
    /// the resumed greenlet (see ``resumed(by:)``): a message travels only with the jump that
    /// resumes its receiver, so a jump without the flag spares the receiver a look.
    @inlinable static var messageBit: UInt { 4 }

    /// Every flag a jump's data may carry in the low bits of the jumper's address.
    @inlinable static var jumpFlags: UInt { GreenletThread.countedBit | endedBit | messageBit }

    fileprivate final func prepareToStart() throws(GreenletError) {
        let stack = try GreenletThread.takeStack(size: stackSize, onThread: homeAddress)
        self.stack = stack
        // The sanitizer record takes the top of the stack, above the first frame.
        let usableSize = stack.size - GreenletStack.fiberRecordSize
        let fiber = stack.top - GreenletStack.fiberRecordSize
        let record = fiber.bindMemory(to: greenloop_fiber_t.self, capacity: 1)
        record.initialize(to: greenloop_fiber_t(stack_bottom: stack.bottom, stack_size: usableSize, tsan_fiber: nil))
        greenloop_fiber_create(record)
        self.fiber = record
        // Started, and suspended at its entry until the switch that starts it takes the context.
        context = make_fcontext(fiber, usableSize, greenletEntry)
        phase = .started
    }

    fileprivate final func releaseStack() {
        guard let stack else { return }
        self.stack = nil
        if let fiber {
            greenloop_fiber_destroy(fiber)
            fiber.deinitialize(count: 1)
            self.fiber = nil
        }
        GreenletThread.giveStack(stack, size: stackSize, onThread: homeAddress)
    }

    /// Marks the greenlet dead: its body has ended (its ending is recorded) or never will run.
    final func markDead() {
        phase = .dead
        body = nil
    }

    /// Records how a plain greenlet's body ended.
    final func recordEnding(_ ending: Ending) {
        switch ending {
        case .returnedNothing: recordEnding(error: nil)
        case .returned(let value):
            recordEnding(error: nil)
            carriedValue = CarriedValue(value)
        case .threw(let error): recordEnding(error: error)
        }
    }

    /// Records that the body ended, with `error` or without (a spawned greenlet keeps its value
    /// itself). Nothing is carried at that point: the greenlet runs, and took its last message
    /// when it was resumed.
    final func recordEnding(error: (any Error)?) {
        assert(messageKind == .none, "a greenlet ended with a message pending")
        carriedError = error
        hasEnding = true
    }

    /// Ends this greenlet, which has not started, with `error` as if its body had thrown it: it
    /// will never run. ``AnySpawnedGreenlet`` also ends it as its body's end would.
    ///
    /// - Returns: whether its parent receives the ending (not a spawned greenlet's).
    @discardableResult
    func endBeforeStarting(throwing error: any Error) -> Bool {
        markDead()
        recordEnding(error: error)
        return true
    }

    /// Hands what this greenlet's body ended with (its value or error; nothing for
    /// ``GreenletExit``) to `receiver`'s next resumption: the value's box itself, not a copy.
    /// Returns whether it handed anything, which the final jump then flags (``messageBit``).
    final func handEnding(to receiver: Greenlet) -> Bool {
        if let carriedError {
            if carriedError is GreenletExit { return false }
            receiver.carriedError = carriedError
            receiver.messageKind = .error
        } else if let carriedValue {
            receiver.carriedValue = carriedValue
            receiver.messageKind = .value
        } else {
            return false
        }
        return true
    }

    /// What a greenlet runs.
    enum Body {
        case closure((Any?) throws -> Any?)
        /// ``runWithoutClosure()``, which a subclass overrides.
        case overridden
    }

    /// The body of a greenlet made with `.overridden`: a spawned greenlet's, which keeps its own
    /// outcome (the greenlet's is `nil` as far as its parent is concerned). Runs on the greenlet's
    /// stack; the greenlet ends when it returns.
    func runWithoutClosure() {}

    /// Whether the greenlet runs ``runWithoutClosure()`` and its first switch carried nothing: a
    /// spawned greenlet started by the hub, which needs no ``takeStart()``.
    final var startsWithoutClosureOrMessage: Bool {
        guard case .overridden? = body else { return false }
        return messageKind == .none
    }

    /// Moves the body and the first message out of the greenlet, for its entry frame.
    final func takeStart() -> (body: Body?, first: Ending) {
        let first: Ending
        do { first = Ending(try takeCarriedMessage()) } catch { first = .threw(error) }
        let start = (body, first)
        body = nil
        return start
    }
}

extension Greenlet: CustomStringConvertible {
    /// `greenlet 0x7f3a… (suspended)`, `main greenlet of thread 1234`.
    public var description: String {
        if isMain { return "main greenlet of thread \(home.threadID)" }
        let address = String(UInt(bitPattern: ObjectIdentifier(self).hashValue), radix: 16)
        let states: [State: String] = [.notStarted: "not started", .running: "running", .suspended: "suspended", .dead: "dead"]
        return "greenlet 0x\(address) (\(states[state] ?? "?"))"
    }
}

extension Greenlet {
    enum MessageKind: UInt8 {
        case none, value, error
    }

    /// Returns or throws what the last switch into the greenlet carried (`nil` for nothing), and
    /// clears it.
    final func takeCarriedMessage() throws -> Any? {
        switch messageKind {
        case .none:
            return nil
        case .value:
            messageKind = .none
            return carriedValue.take()?.value
        case .error:
            messageKind = .none
            throw carriedError.take()!
        }
    }
}

/// A value that a switch carries into a greenlet (``Greenlet/switchInto(_:)``), boxed.
final class CarriedValue {
    let value: Any

    init(_ value: Any) { self.value = value }
}

/// ``Greenlet/resumed(by:)`` for a jump with a flag: the jumper ended (its stack goes back to
/// the pool), or the thread counted a reference on it (which goes, after its context is kept if
/// it lives on). A free function, not a static method of the (non-final) class: that cost every
/// call a metadata look-up, and every greenlet's end makes one.
@usableFromInline @inline(never)
func greenletResumedByFlaggedJump(_ transfer: greenloop_transfer_t) -> Bool {
    let bits = UInt(bitPattern: transfer.data)
    let jumper = Unmanaged<Greenlet>.fromOpaque(
        UnsafeMutableRawPointer(bitPattern: bits & ~Greenlet.jumpFlags).unsafelyUnwrapped)
    jumper._withUnsafeGuaranteedRef { jumper in
        if bits & Greenlet.endedBit != 0 { jumper.releaseStack() } else { jumper.context = transfer.fctx }
    }
    if bits & GreenletThread.countedBit != 0 { jumper.release() }
    return bits & Greenlet.messageBit != 0
}

/// ``Greenlet/takeCarriedMessage()`` of the current greenlet, out of line: what a switch does
/// when its jump back flagged a message (``Greenlet/messageBit``).
@usableFromInline @inline(never)
func greenletTakeCurrentMessage() throws -> Any? {
    try GreenletThread.runningOnCallingThread._withUnsafeGuaranteedRef { try $0.takeCarriedMessage() }
}

/// ``greenletTakeCurrentMessage()`` for a caller that drops the value (an error is still thrown):
/// out of line, so that the `Any?` it drops takes no room in the frame of the inlined switch,
/// which stays on the stack of every greenlet waiting through the hub.
@usableFromInline @inline(never)
func greenletDropCurrentMessage() throws {
    _ = try greenletTakeCurrentMessage()
}

/// Whether the current greenlet holds no message: what a jump without ``Greenlet/messageBit``
/// promises (checked in debug builds).
@usableFromInline
func greenletCurrentHasNoMessage() -> Bool {
    GreenletThread.runningOnCallingThread._withUnsafeGuaranteedRef { $0.messageKind == .none }
}

/// Where a finished greenlet jumps, as raw values only: nothing Swift must release may be alive in
/// the frame that makes the final jump, since that frame never returns.
private struct FinalJump {
    let context: greenloop_fcontext_t
    let data: UnsafeMutableRawPointer
    let fiber: UnsafeMutablePointer<greenloop_fiber_t>
}

/// The entry function of every greenlet's stack. It must never return (fcontext would exit the
/// process): it ends with the final jump to the parent.
private func greenletEntry(_ transfer: greenloop_transfer_t) {
    greenloop_fiber_entered()
    let jump = greenletMain(transfer)
    _ = greenloop_fiber_jump(jump.context, jump.data, jump.fiber, 1)
    fatalError("a dead greenlet was resumed")
}

/// Runs a greenlet to its end and prepares the jump to its parent. Every Swift reference it holds
/// is released when it returns.
@inline(never)
private func greenletMain(_ transfer: greenloop_transfer_t) -> FinalJump {
    // A first message, if any, is the start's (`takeStart`), which reads it whatever the flag.
    _ = Greenlet.resumed(by: transfer)
    let handsEnding = runStartedGreenlet()
    // Running again on this stack: this greenlet is the current one, kept alive as the running
    // one is (see `GreenletThread.running`), so it is used unretained; so is the thread's state,
    // which lives as long as its greenlets.
    let thread = GreenletThread.existingForCallingThread
    let me = thread._withUnsafeGuaranteedRef { $0.currentUnretained }
    return me._withUnsafeGuaranteedRef { me in
        me.markDead()
        // Unretained: `me` holds its parent, which holds its own (a retain and a release of the
        // hub's greenlet per spawned greenlet otherwise).
        let (receiver, startFailure) = startedReceiver(of: me)
        return receiver._withUnsafeGuaranteedRef { receiver in
            // A spawned greenlet hands its parent nothing, and touches no existential here.
            let handed = startFailure.map { receiver.hand(nil, $0) } ?? (handsEnding && me.handEnding(to: receiver))
            let destination = receiver.context.unsafelyUnwrapped
            receiver.context = nil
            // The thread's reference to `me`, if it counted one, goes with the jump: `me` outlives
            // its own stack until the receiver has freed it.
            let jumpData = thread._withUnsafeGuaranteedRef {
                $0.exchangeCurrent(receiver, countingReference: !receiver.isPinned)
            }
            return FinalJump(
                context: destination,
                data: UnsafeMutableRawPointer(
                    bitPattern: UInt(bitPattern: Greenlet.flagging(jumpData, message: handed)) | Greenlet.endedBit
                ).unsafelyUnwrapped,
                fiber: receiver.fiber.unsafelyUnwrapped)
        }
    }
}

/// The greenlet that receives `ended`'s ending: its first ancestor that is not dead, started now
/// if it had not started (greenlet's rule: the child's value is the parent's first, and the
/// parent's own ending goes on up the chain). An ancestor that cannot start (no stack to be had)
/// ends with that error, which goes on up instead, returned beside the receiver.
@inline(never)
private func startedReceiver(of ended: Greenlet) -> (Unmanaged<Greenlet>, (any Error)?) {
    var receiver = ended.liveAncestorUnretained
    var failure: (any Error)?
    while let unstarted = receiver._withUnsafeGuaranteedRef({ $0.phase == .notStarted ? $0 : nil }) {
        do {
            try unstarted.prepareToStart()
            unstarted.startsBySwitch()
            break
        } catch {
            unstarted.endBeforeStarting(throwing: error)
            failure = error
            receiver = unstarted.liveAncestorUnretained
        }
    }
    return (receiver, failure)
}

/// Runs the body of the greenlet that has just started on this stack, and records how it ended.
///
/// No strong reference to the greenlet may live in this frame while a closure body runs: a
/// suspended greenlet's own stack must not keep it alive, or dropping it could never unwind it.
/// (A spawned greenlet's body, which runs as a method, is kept alive by the hub anyway.)
///
/// - Returns: whether the parent receives the ending (a plain greenlet's value or error); a
///   spawned greenlet hands its parent, the hub, nothing.
@inline(never)
private func runStartedGreenlet() -> Bool {
    let me = GreenletThread.runningOnCallingThread
    if me._withUnsafeGuaranteedRef({ $0.startsWithoutClosureOrMessage }) {
        me._withUnsafeGuaranteedRef { $0.runWithoutClosure() }
        return false
    }
    let ending = runBody(me._withUnsafeGuaranteedRef { $0.takeStart() })
    // Running again: alive. A spawned greenlet started by a switch that carried a value ran
    // through `runBody` and recorded its own ending.
    return me._withUnsafeGuaranteedRef { me in
        guard !me.hasEnding else { return false }
        me.recordEnding(ending)
        return true
    }
}

@inline(never)
private func runBody(_ start: (body: Greenlet.Body?, first: Ending)) -> Ending {
    guard let body = start.body else { return .returnedNothing }
    let first: Any?
    switch start.first {
    case .returnedNothing: first = nil
    case .returned(let value): first = value
    case .threw(let error): return .threw(error)
    }
    switch body {
    case .closure(let closure):
        do { return Ending(try closure(first)) } catch { return .threw(error) }
    case .overridden:
        GreenletThread.runningOnCallingThread._withUnsafeGuaranteedRef { $0.runWithoutClosure() }
        return .returnedNothing
    }
}

/// Standard error, for the rare report that has no logger to go to.
private struct StandardErrorStream: TextOutputStream {
    mutating func write(_ string: String) {
        // write(2) on descriptor 2: the C `stderr` global is not concurrency-safe in Swift 6.
        var bytes = Array(string.utf8)[...]
        while !bytes.isEmpty {
            let written = bytes.withUnsafeBytes { Glibc.write(2, $0.baseAddress, $0.count) }
            if written <= 0 { return }
            bytes = bytes.dropFirst(written)
        }
    }
}
