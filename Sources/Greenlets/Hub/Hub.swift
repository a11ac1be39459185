import GreenloopBackends
import GreenloopCore
import Logging

/// The greenlet that runs a thread's event loop, and to which every blocking operation switches.
///
/// A greenlet that waits (``sleep(_:)``, ``SpawnedGreenlet/join(timeout:)``, ``Event/wait(timeout:)``,
/// ``waitReadable(_:timeout:)`` …) starts a watcher, switches to the hub, and is switched back by
/// the watcher's callback, which the loop runs on the hub's stack. The watcher is stopped however
/// the wait ends. Nothing blocks the thread but the loop's own wait for events.
///
/// One hub per thread: ``current`` makes it on first use, on the backend `GREENLOOP_BACKEND`
/// names (see `makeLoop()`); ``install(loop:logger:)`` gives one a loop of your own first.
///
/// When the loop has nothing left to wait for while the main greenlet waits, the wait throws
/// ``LoopExit`` instead of hanging (gevent's `LoopExit`).
///
/// A hub lives until ``destroy(timeout:)``, or until its thread ends: a thread that ends (from its
/// main greenlet) with its hub still there destroys it then, so that its greenlets unwind and a
/// loop the hub made closes.
public final class Hub {
    /// The loop the hub runs.
    public let loop: any Loop
    /// The greenlet that runs the loop; its parent is the thread's main greenlet.
    public var greenlet: Greenlet { hubGreenlet.takeUnretainedValue() }
    /// The hub's greenlet, retained by hand (released in deinit) so that a switch to the hub
    /// reads it without a reference count operation.
    private let hubGreenlet: Unmanaged<Greenlet>
    // Unchecked exclusivity (here and below): see Waiter.
    /// The stack size of greenlets spawned on this hub without one of their own; by default
    /// ``Greenlet/defaultStackSize``. A size below ``Greenlet/minimumStackSize`` makes `spawn`
    /// throw ``GreenletError/stackTooSmall(_:)``.
    @exclusivity(unchecked) public var defaultStackSize = Greenlet.defaultStackSize
    /// Where errors that escape spawned greenlets are reported, once each. The default logs them
    /// through the hub's `Logger` at `.info`.
    @exclusivity(unchecked) public var errorHandler: (_ error: any Error, _ greenlet: String) -> Void
    /// Spawned greenlets that have not ended: the hub keeps them alive, as gevent's loop keeps
    /// the greenlets its watchers will resume. Each knows its index, so that joining and leaving
    /// are O(1) with no hashing (a dictionary here cost 12% of a spawn+join). Retained by hand:
    /// a greenlet that leaves the list while it runs hands its reference to the thread instead
    /// of the thread retaining it and the list releasing it (two atomic operations a greenlet),
    /// and one that leaves it before it started, to its start entry (see ``scheduleStart(_:)``).
    @exclusivity(unchecked) private var live: [Unmanaged<AnySpawnedGreenlet>] = []

    func admitLive(_ member: AnySpawnedGreenlet) {
        member.liveIndex = live.count
        live.append(.passRetained(member))
        member.pin()
    }

    func dismissLive(_ member: AnySpawnedGreenlet) {
        let index = member.liveIndex
        guard index >= 0, index < live.count, live[index].toOpaque() == Unmanaged.passUnretained(member).toOpaque()
        else { return }
        let last = live.removeLast()
        if index < live.count {
            live[index] = last
            last._withUnsafeGuaranteedRef { $0.liveIndex = index }
        }
        member.liveIndex = -1
        // It runs (its body ended): the thread takes the list's reference. It never ran (it ended
        // before it started): its start entry, still queued, takes it (see `scheduleStart`).
        // Either way the caller still holds `member`.
        member.unpinHandingReferenceOn()
    }

    /// The spawned greenlets that have not ended, for ``destroy(timeout:)``.
    private var liveGreenlets: [AnySpawnedGreenlet] { live.map { $0.takeUnretainedValue() } }

    private init(loop: any Loop, logger: Logger) throws(GreenletError) {
        self.loop = loop
        self.errorHandler = { error, greenlet in
            logger.info("error escaped a greenlet", metadata: ["error": "\(error)", "greenlet": "\(greenlet)"])
        }
        let ready = ReadyQueue()
        self.ready = ready
        // Made before `self` is complete: the body reaches the hub through `ready`, which is
        // attached to it just below, before the greenlet can run.
        let greenlet = try Greenlet(parent: Greenlet.main) { [ready] _ in
            try ready.hub!.runLoop()
        }
        greenlet.pin()
        hubGreenlet = .passRetained(greenlet)
        ready.hub = self
    }

    deinit {
        // Greenlets that never ended go with the hub (a suspended one unwinds).
        let survivors = live
        live = []
        for survivor in survivors {
            let started = survivor._withUnsafeGuaranteedRef { survivor in
                survivor.unpin()
                return survivor.isStarted
            }
            // One that never started leaves its reference to its start entry, which the ready
            // queue releases when it goes, after this.
            if started { survivor.release() }
        }
        hubGreenlet._withUnsafeGuaranteedRef { $0.unpin() }
        hubGreenlet.release()
        while let spare = spareWaiters {
            spareWaiters = spare._withUnsafeGuaranteedRef { $0.nextSpare }
            spare.release()
        }
    }

    /// The calling thread's hub, made on first use with `makeLoop()` (which reads
    /// `GREENLOOP_BACKEND`).
    ///
    /// - Throws: what `makeLoop()` throws (a bad `GREENLOOP_BACKEND` value, an unavailable
    ///   backend).
    public static func current() throws -> Hub {
        if let hub = GreenletThread.hubOfCallingThread { return hub }
        return try makeCurrent()
    }

    @inline(never)
    private static func makeCurrent() throws -> Hub {
        let hub = try install(loop: try makeLoop())
        hub.ownsLoop = true
        return hub
    }

    /// Makes the calling thread's hub with `loop` (made on this thread).
    ///
    /// - Throws: ``HubError/alreadyInstalled`` when the thread has a hub already.
    @discardableResult
    public static func install(loop: any Loop, logger: Logger = Logger(label: "greenloop.hub")) throws -> Hub {
        let thread = GreenletThread.forCallingThread
        guard thread.hub == nil else { throw HubError.alreadyInstalled }
        let hub = try Hub(loop: loop, logger: logger)
        thread.hub = hub
        return hub
    }

    /// The hub's body: runs the loop; when the loop has nothing left, the greenlet that switched
    /// here waits for something that can never happen: tell the main greenlet.
    fileprivate func runLoop() throws -> Any? {
        while !isDestroyed {
            try loop.run()
            if isDestroyed { break }
            try Greenlet.main.throwInto(LoopExit())
        }
        return nil
    }

    @exclusivity(unchecked) private var isDestroyed = false

    /// The thread-safe way into this hub from other threads (see ``HubRemote``). Made on first
    /// use: an async watcher of the loop's, which does not keep the loop running.
    ///
    /// - Throws: ``HubError/wrongThread`` off the hub's thread, ``HubError/destroyed`` after
    ///   ``destroy(timeout:)``; what the loop throws making the watcher.
    public var remote: HubRemote {
        get throws {
            guard GreenletThread.unretainedHubOfCallingThread?.toOpaque() == Unmanaged.passUnretained(self).toOpaque()
            else { throw HubError.wrongThread }
            guard !isDestroyed else { throw HubError.destroyed }
            if let mailbox { return HubRemote(mailbox: mailbox) }
            // Unowned: the hub owns the watcher, which goes when the hub does.
            let watcher = try loop.makeAsyncWatcher { [unowned self] in self.runRemoteWork() }
            try watcher.setRef(false)
            try watcher.start()
            let made = HubMailbox(sender: watcher.sender)
            (mailbox, remoteWatcher) = (made, watcher)
            return HubRemote(mailbox: made)
        }
    }
    @exclusivity(unchecked) private var mailbox: HubMailbox?
    @exclusivity(unchecked) private var remoteWatcher: AsyncWatcher?

    /// From the remote's watcher: spawns what other threads sent, in order.
    private func runRemoteWork() {
        guard let mailbox else { return }
        for work in mailbox.take() {
            do { _ = try spawn(work) } catch { errorHandler(error, "hub remote") }
        }
    }
    @exclusivity(unchecked) var ownsLoop = false

    /// Ends the hub: kills the spawned greenlets that are left (waiting for them at most
    /// `timeout`), stops the loop, ends the hub's greenlet, and detaches the hub from the thread;
    /// a loop the hub made itself is closed. The next ``current()`` makes a new hub.
    ///
    /// Call it from the thread's main greenlet.
    ///
    /// - Throws: ``HubError/notFromMainGreenlet`` anywhere else.
    public func destroy(timeout: Duration = .seconds(1)) throws {
        guard Greenlet.current.isMain, Greenlet.current.home === greenlet.home else {
            throw HubError.notFromMainGreenlet
        }
        guard !isDestroyed else { return }
        let survivors = liveGreenlets
        for survivor in survivors { try survivor.kill(block: false) }
        if !survivors.isEmpty {
            _ = try? completes(within: timeout) {
                for survivor in survivors { try survivor.join() }
            }
        }
        isDestroyed = true
        mailbox?.close()
        try? remoteWatcher?.close()
        if greenlet.isStarted && !greenlet.isDead {
            try loop.stop()
            try greenlet.switchInto()
        }
        let thread = GreenletThread.forCallingThread
        if thread.hub === self { thread.hub = nil }
        if ownsLoop { try loop.close() }
    }

    /// Suspends `current`, the greenlet running on the calling thread (which the caller has just
    /// read), until a callback switches back to it.
    ///
    /// - Throws: ``HubError/blockingInHub`` when called from the hub itself (a callback must not
    ///   block), and whatever is thrown into the waiting greenlet (``Timeout``, ``GreenletExit``,
    ///   ``LoopExit``).
    func switchToHub(from current: Unmanaged<Greenlet>) throws {
        guard current.toOpaque() != hubGreenlet.toOpaque() else { throw HubError.blockingInHub }
        try hubGreenlet._withUnsafeGuaranteedRef { try $0.resume() }
    }

    /// Suspends the current greenlet until the greenlets and callbacks that were ready before it
    /// have run: `sleep(.zero)`. Costs two switches and a queue entry; no waiter, no watcher.
    ///
    /// - Throws: as ``switchToHub(from:)``.
    @inline(__always)
    func yieldCurrent() throws {
        let current = GreenletThread.runningOnCallingThread
        guard current.toOpaque() != hubGreenlet.toOpaque() else { throw HubError.blockingInHub }
        // The current greenlet is running, so alive, before and after the switch.
        let (ticket, isPinned) = current._withUnsafeGuaranteedRef { ($0.yieldTicket, $0.isPinned) }
        // A pinned greenlet (a spawned one) stays alive while it is suspended here, so its entry
        // holds no reference, as long as no entry outlives its yield: see below.
        ready.append(.yielded(isPinned ? current : current.retain(), ticket, isRetained: !isPinned))
        defer {
            // The entry that resumed this yield moved the ticket on. If something else ended it
            // (a throw, a switch from another greenlet), the entry is still queued: it must
            // resume nothing, and an unretained one must go before the greenlet can.
            let resumedByEntry = current._withUnsafeGuaranteedRef { $0.yieldTicket } != ticket
            if !resumedByEntry {
                current._withUnsafeGuaranteedRef { $0.yieldTicket = ticket &+ 1 }
                if isPinned { ready.removeYield(of: current, ticket: ticket) }
            }
        }
        try hubGreenlet._withUnsafeGuaranteedRef { try $0.resume() }
        // Resumed without an error but not by its entry: a stray switch (see `Waiter`).
        if current._withUnsafeGuaranteedRef({ $0.yieldTicket }) == ticket { throw HubError.invalidSwitch }
    }

    /// The calling thread's hub (made on first use), unretained: the thread keeps it alive until
    /// ``destroy(timeout:)``, which no greenlet but the main one can call. So it is safe for calls
    /// that touch the hub only before they switch away (`spawn`, a yield, taking a waiter, which
    /// reaches the hub unretained as well).
    @usableFromInline @inline(__always)
    static func unretainedCurrent() throws -> Unmanaged<Hub> {
        if let hub = GreenletThread.unretainedHubOfCallingThread { return hub }
        return try unretainedCurrentMadeOnFirstUse()
    }

    /// ``unretainedCurrent()`` for a thread without a hub yet, out of line: it makes one.
    @inline(never)
    private static func unretainedCurrentMadeOnFirstUse() throws -> Unmanaged<Hub> {
        Unmanaged.passUnretained(try current())
    }

    /// How long greenlets that only yield (`sleep(.zero)`) may run before the loop polls I/O
    /// again: 50 µs by default. `.zero` polls before every resumption of a yielding greenlet (about
    /// a microsecond per `sleep(.zero)`, the cost of a non-blocking `epoll_wait`). See
    /// ``sleep(_:)``.
    public var yieldPollInterval: Duration {
        get { .nanoseconds(Int64(yieldPollIntervalNanoseconds)) }
        set {
            let (seconds, attoseconds) = max(newValue, .zero).components
            // Clamped at about 292 years, where nanoseconds stop fitting in an Int64.
            yieldPollIntervalNanoseconds = seconds >= Int64.max / 1_000_000_000 ? UInt64(Int64.max)
                : UInt64(seconds) * 1_000_000_000 + UInt64(attoseconds / 1_000_000_000)
        }
    }
    // Unchecked exclusivity: see Waiter.
    @exclusivity(unchecked) private(set) var yieldPollIntervalNanoseconds: UInt64 = 50_000

    private let ready: ReadyQueue
    /// Waiters whose wait ended with a wake-up, kept for reuse: a wait that ends that way leaves
    /// its waiter in no queue and with nothing pending. (One that ended in an error may still be
    /// queued somewhere, and is never reused.) A list through ``Waiter/nextSpare``, each held by
    /// the list (retained by hand): an array cost a uniqueness and a bounds check per push and
    /// pop, a tenth of an `Event` round trip.
    @exclusivity(unchecked) private var spareWaiters: Unmanaged<Waiter>?
    @exclusivity(unchecked) private var spareWaiterCount = 0
    /// The most spare waiters kept: enough for the waits that end in one iteration, as a rule.
    private static let spareWaiterLimit = 64

    /// The thread's buffer for socket reads (see ``ReceiveScratch``).
    private(set) lazy var receiveScratch = ReceiveScratch()

    /// A waiter for one wait, reused when possible.
    func takeWaiter() -> Waiter {
        guard let spare = spareWaiters else { return Waiter(hub: self) }
        // The list's reference becomes the caller's.
        let waiter = spare.takeRetainedValue()
        spareWaiters = waiter.nextSpare
        waiter.nextSpare = nil
        spareWaiterCount -= 1
        return waiter
    }

    /// Gives back a waiter whose ``Waiter/wait()`` returned normally.
    @inline(__always)
    func recycle(_ waiter: Waiter) {
        // Not while a scheduled wake-up is still to come, which would end a later wait.
        guard spareWaiterCount < Hub.spareWaiterLimit && !waiter.hasScheduledWake else { return }
        waiter.nextSpare = spareWaiters
        spareWaiters = .passRetained(waiter)
        spareWaiterCount += 1
    }

    /// Runs `body` in the hub, in order with the other ready greenlets and callbacks (see
    /// ``ReadyQueue``), at the latest at the start of the next loop iteration.
    @usableFromInline
    func schedule(_ body: @escaping () throws -> Void) {
        ready.append(.call(.passRetained(ReadyQueue.ScheduledCall(body))))
    }

    /// Starts `greenlet` from the hub, in order with the other ready greenlets and callbacks,
    /// unless it has started or died by then.
    ///
    /// The entry holds no reference while the greenlet waits to start: the live list does (one
    /// reference count operation fewer per spawn and per start). Whatever lets the greenlet go
    /// before the entry starts it hands its reference to the entry instead, which releases it:
    /// the live list when the greenlet ends before it started (killed) or when the hub goes; a
    /// switch that starts it first retains it for the entry (`startsBySwitch`).
    @usableFromInline
    func scheduleStart(_ greenlet: AnySpawnedGreenlet) {
        ready.append(.start(.passUnretained(greenlet)))
    }

    /// Wakes `waiter` from the hub, in order with the other ready greenlets and callbacks.
    func scheduleWake(_ waiter: Unmanaged<Waiter>) {
        ready.append(.resume(waiter))
    }
}

/// The main greenlet waited for something, and the loop has nothing left that could bring it:
/// the wait would block forever.
public struct LoopExit: Error, Hashable, Sendable, CustomStringConvertible {
    /// Makes the error.
    public init() {}
    /// Why the wait ended.
    public var description: String {
        "this operation would block forever: the loop has no active watcher left to wake it"
    }
}

/// A hub operation that was refused.
public enum HubError: Error, Hashable, Sendable, CustomStringConvertible {
    /// A blocking call was made from the hub greenlet (from a loop callback): it would block the
    /// loop itself. Spawn a greenlet for it instead.
    case blockingInHub
    /// ``Hub/install(loop:logger:)`` was called on a thread that has a hub.
    case alreadyInstalled
    /// ``Hub/destroy(timeout:)`` was called from a greenlet other than the thread's main one.
    case notFromMainGreenlet
    /// Work was sent through ``HubRemote`` to a hub that has been destroyed.
    case destroyed
    /// A greenlet waiting through the hub (sleep, io, a primitive, a join) was resumed by a
    /// switch from another greenlet instead of by the hub (gevent's `InvalidSwitchError`); the
    /// wait ended with this error and left nothing behind.
    case invalidSwitch
    /// A hub's ``Hub/remote`` was asked for on another thread than the hub's.
    case wrongThread

    /// What was attempted, and why it was refused.
    public var description: String {
        switch self {
        case .blockingInHub:
            return "a blocking call was made from the hub (inside a loop callback); it would block the loop: spawn a greenlet for it"
        case .alreadyInstalled:
            return "this thread already has a hub"
        case .notFromMainGreenlet:
            return "destroy() must be called from the thread's main greenlet"
        case .invalidSwitch:
            return "a greenlet waiting through the hub was switched into by another greenlet; only the hub may resume a wait (use kill or throwInto to interrupt it)"
        case .destroyed:
            return "the hub has been destroyed; work sent to it cannot run"
        case .wrongThread:
            return "a hub's remote is made on the hub's own thread; hand the HubRemote to other threads"
        }
    }
}
