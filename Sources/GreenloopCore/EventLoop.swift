import CGreenloopSystem
import Logging
import SystemPackage
#if canImport(Glibc)
import Glibc
#endif

/// The one implementation of ``Loop``: a driver that runs the same iteration on either backend.
///
/// The backend (a ``NativeLoop`` from GreenloopLibev or GreenloopLibevent) supplies only io
/// watchers, one-shot timers and one wait-and-dispatch step. Everything else is built here once:
/// prepare, check and idle phases, queued callbacks, repeating timers, signals, async wake-ups,
/// child watchers, counts, thread checks and error routing. Both backends therefore follow the
/// same rules, which the loop tests check on each.
///
/// Make one with `makeLoop()` (GreenloopBackends), or a backend's own `makeLoop`.
public final class EventLoop: Loop {
    /// The backend half of the loop. Not API.
    @_spi(Backend) public let native: any NativeLoop
    let waker: Waker
    private let logger: Logger
    private let ownerThread: pthread_t
    private let ownerThreadID: CInt

    // Unchecked exclusivity (every stored `var` here): the loop is used on its owner thread
    // only (every public entry checks it), and no access stays open across a callback; the
    // dynamic checks cost a runtime call per access on the per-iteration path.
    /// See ``Loop/now``.
    @exclusivity(unchecked) public private(set) var now: LoopInstant
    /// See ``Loop/iteration``.
    @exclusivity(unchecked) public private(set) var iteration: UInt64 = 0
    /// See ``Loop/activeWatcherCount``.
    @exclusivity(unchecked) public private(set) var activeWatcherCount = 0
    /// See ``Loop/referencedWatcherCount``.
    public var referencedWatcherCount: Int { referencedCount }
    /// ``referencedWatcherCount``'s storage, which the inlined
    /// ``activeWatcherChangedRef(to:)`` writes.
    @usableFromInline @exclusivity(unchecked) var referencedCount = 0
    /// See ``Loop/isRunning``.
    @exclusivity(unchecked) public private(set) var isRunning = false
    /// See ``Loop/isClosed``.
    @exclusivity(unchecked) public private(set) var isClosed = false
    /// See ``Loop/errorHandler``.
    @exclusivity(unchecked) public var errorHandler: (_ error: any Error, _ source: String) -> Void

    /// The loop's own watcher on ``waker``; never counted, so it never keeps `run` going.
    @exclusivity(unchecked) private var wakeWatcher: IOWatcher?
    @exclusivity(unchecked) private var queuedCallbacks: [() throws -> Void] = []
    @exclusivity(unchecked) private var runningCallbacks: [() throws -> Void] = []
    private let phaseWatchers = [WatcherList<LoopPhaseWatcher>(), .init(), .init()]
    private let asyncWatchers = WatcherList<AsyncWatcher>()
    @exclusivity(unchecked) private var signalWatchers: [CInt: WatcherList<SignalWatcher>] = [:]
    @exclusivity(unchecked) private var stopRequested = false
    @exclusivity(unchecked) private var forkHandlers: [(id: ForkHandlerID, body: (EventLoop) throws -> Void)] = []
    @exclusivity(unchecked) private var nextForkHandlerID = 0
    /// Set before each wait; the first callback after it refreshes ``now``.
    @exclusivity(unchecked) private var nowIsStale = false
    /// Whether any callback ran in this iteration (idle watchers run only when none did).
    @exclusivity(unchecked) private var didDispatch = false

    /// See ``Loop/backend``.
    public var backend: BackendKind { native.kind }
    /// See ``Loop/method``.
    public var method: IOMethod { native.method }
    /// See ``Loop/pendingCount``.
    public var pendingCount: Int { native.pendingCount }

    /// Wraps a backend's native loop. Backends call this; users call `makeLoop()`.
    ///
    /// - Parameter logger: where the default ``errorHandler`` reports callback errors.
    @_spi(Backend)
    public init(native: any NativeLoop, logger: Logger) throws(LoopError) {
        self.native = native
        self.logger = logger
        self.ownerThread = pthread_self()
        self.ownerThreadID = greenloop_thread_id()
        self.now = LoopInstant.monotonicNow()
        self.waker = try Waker()
        self.errorHandler = { error, source in
            logger.info(
                "error thrown by a callback",
                metadata: ["error": "\(error)", "source": "\(source)"])
        }
        let wake = try IOWatcher(
            loop: self, fd: FileDescriptor(rawValue: waker.fileDescriptor), events: .read,
            isCounted: false
        ) { [unowned self] _ in self.handleWake() }
        try wake.start()
        self.wakeWatcher = wake
    }

    deinit {
        if !isClosed { closeResources() }
    }

    // MARK: Running

    @discardableResult
    /// See ``Loop/run(_:)``.
    public func run(_ mode: RunMode) throws(LoopError) -> Bool {
        try checkUsable(operation: "run(_:)")
        guard !isRunning else { throw .reentrantRun }
        isRunning = true
        stopRequested = false
        defer { isRunning = false }
        repeat {
            iteration &+= 1
            runQueuedCallbacks()
            runPhase(.prepare)
            if stopRequested || isClosed { break }
            let hasWork = referencedWatcherCount > 0 || !queuedCallbacks.isEmpty
            let mayBlock =
                mode != .nonBlocking && hasWork && queuedCallbacks.isEmpty
                && phaseWatchers[LoopPhase.idle.rawValue].isEmpty
            nowIsStale = true
            didDispatch = false
            native.poll(blocking: mayBlock)
            if nowIsStale { refreshNow() }
            runPhase(.check)
            if !didDispatch { runPhase(.idle) }
        } while mode == .untilNoActiveWatchers && !stopRequested && !isClosed
            && (referencedWatcherCount > 0 || !queuedCallbacks.isEmpty)
        return referencedWatcherCount > 0 || !queuedCallbacks.isEmpty
    }

    /// See ``Loop/stop()``.
    public func stop() throws(LoopError) {
        try checkThread(operation: "stop()")
        stopRequested = true
    }

    /// See ``Loop/close()``.
    public func close() throws(LoopError) {
        try checkThread(operation: "close()")
        guard !isClosed else { return }
        guard !isRunning else { throw .closeWhileRunning }
        closeResources()
    }

    private func closeResources() {
        // Closed first: watchers released below then see a closed loop and touch nothing.
        isClosed = true
        waker.markClosed()
        for signal in signalWatchers.keys { releaseSignal(signal) }
        signalWatchers = [:]
        queuedCallbacks = []
        wakeWatcher?.retireWithLoop()
        wakeWatcher = nil
        native.close()
    }

    /// See ``Loop/updateNow()``.
    public func updateNow() throws(LoopError) {
        try checkUsable(operation: "updateNow()")
        native.updateTime()
        refreshNow()
    }

    /// See ``Loop/reinitializeAfterFork()``.
    public func reinitializeAfterFork() throws(LoopError) {
        try checkUsable(operation: "reinitializeAfterFork()")
        // The order matters, because the child shares two kernel objects with the parent.
        // 1. The backend first: until it is remade, the child's loop uses the parent's epoll set,
        //    and deregistering anything there would remove it from the parent's loop too.
        // 2. Then deregister the inherited eventfd while its number is still ours: closed while
        //    still registered, it would stay in the child's epoll set (the parent keeps the file
        //    open) under a number the child may reuse, and the parent's wake-ups would look like
        //    readiness of the child's new descriptor.
        // 3. Then a wake-up eventfd of the child's own.
        try native.reinitializeAfterFork()
        try wakeWatcher?.stop()
        try waker.replaceAfterFork()
        try wakeWatcher?.set(FileDescriptor(rawValue: waker.fileDescriptor), .read)
        try wakeWatcher?.start()
        for signal in signalWatchers.keys {
            greenloop_signal_retarget(signal, waker.fileDescriptor)
        }
        EventLoop.run(forkHandlers, successor: self)
    }

    // MARK: Fork handlers

    /// Registers `handler` to run in a forked child, once the loop that goes on in the child is
    /// ready: this loop at the end of ``reinitializeAfterFork()``, or the new loop given to
    /// ``handOverAfterFork(to:)`` when the child replaces this one (as `Hub.fork()` does).
    ///
    /// For code that keeps kernel state of its own next to the loop's (a C library's epoll set or
    /// timerfd) and must remake it in the child. The handler gets the loop that goes on; when that
    /// is another loop, the handler must register again there to see later forks. An error it
    /// throws goes to ``errorHandler``, and the other handlers still run.
    ///
    /// - Returns: what ``removeForkHandler(_:)`` takes.
    @discardableResult
    public func addForkHandler(_ handler: @escaping (_ successor: EventLoop) throws -> Void) -> ForkHandlerID {
        nextForkHandlerID += 1
        let id = ForkHandlerID(rawValue: nextForkHandlerID)
        forkHandlers.append((id, handler))
        return id
    }

    /// Unregisters a handler; no effect when it is not registered.
    public func removeForkHandler(_ id: ForkHandlerID) {
        forkHandlers.removeAll { $0.id == id }
    }

    /// In a forked child that sets this loop aside untouched and goes on with `successor`: runs
    /// this loop's fork handlers with `successor`, then forgets them. Nothing else of this loop
    /// is touched, because its kernel objects are still the parent's.
    public func handOverAfterFork(to successor: EventLoop) {
        let handlers = forkHandlers
        forkHandlers = []
        EventLoop.run(handlers, successor: successor)
    }

    /// Runs `handlers` for `successor`, whose error handler hears what they throw.
    private static func run(_ handlers: [(id: ForkHandlerID, body: (EventLoop) throws -> Void)], successor: EventLoop) {
        for handler in handlers {
            do { try handler.body(successor) } catch { successor.errorHandler(error, "fork handler") }
        }
    }

    /// See ``Loop/runOnNextIteration(_:)``.
    public func runOnNextIteration(_ body: @escaping () throws -> Void) throws(LoopError) {
        try checkUsable(operation: "runOnNextIteration(_:)")
        queuedCallbacks.append(body)
    }

    private func runQueuedCallbacks() {
        guard !queuedCallbacks.isEmpty else { return }
        // Only those queued before this iteration: a callback that queues another does not
        // starve the loop. Swapping keeps both arrays' storage, so this allocates nothing.
        swap(&queuedCallbacks, &runningCallbacks)
        for body in runningCallbacks {
            dispatch(source: "runOnNextIteration callback", body)
        }
        runningCallbacks.removeAll(keepingCapacity: true)
    }

    private func runPhase(_ phase: LoopPhase) {
        let watchers = phaseWatchers[phase.rawValue]
        guard !watchers.isEmpty else { return }
        watchers.forEach { $0.fire() }
    }

    /// ``now``, read afresh first if the loop has waited since it was last read: for a watcher
    /// that needs the time without dispatching a callback.
    var freshNow: LoopInstant {
        if nowIsStale { refreshNow() }
        return now
    }

    private func refreshNow() {
        now = LoopInstant.monotonicNow()
        nowIsStale = false
    }

    // MARK: Making watchers

    /// See ``Loop/makeIOWatcher(_:_:_:)``.
    public func makeIOWatcher(
        _ fd: FileDescriptor, _ events: IOEvents, _ callback: @escaping (IOEvents) throws -> Void
    ) throws(LoopError) -> IOWatcher {
        try checkUsable(operation: "makeIOWatcher")
        return try IOWatcher(loop: self, fd: fd, events: events, isCounted: true, callback: callback)
    }

    /// See ``Loop/makeTimer(after:repeat:_:)``.
    public func makeTimer(after: Duration, repeat: Duration, _ callback: @escaping () throws -> Void)
        throws(LoopError) -> TimerWatcher
    {
        try checkUsable(operation: "makeTimer")
        let timer = try TimerWatcher(loop: self, after: after, repeat: `repeat`, callback: callback)
        timer.attach(native.makeTimer(for: timer))
        return timer
    }

    /// See ``Loop/makeSignalWatcher(_:_:)``.
    public func makeSignalWatcher(_ signal: Signal, _ callback: @escaping () throws -> Void)
        throws(LoopError) -> SignalWatcher
    {
        try checkUsable(operation: "makeSignalWatcher")
        return try SignalWatcher(loop: self, signal: signal, callback: callback)
    }

    /// See ``Loop/makeIdleWatcher(_:)``.
    public func makeIdleWatcher(_ callback: @escaping () throws -> Void) throws(LoopError) -> IdleWatcher {
        try checkUsable(operation: "makeIdleWatcher")
        return IdleWatcher(loop: self, phase: .idle, callback: callback)
    }

    /// See ``Loop/makePrepareWatcher(_:)``.
    public func makePrepareWatcher(_ callback: @escaping () throws -> Void) throws(LoopError) -> PrepareWatcher {
        try checkUsable(operation: "makePrepareWatcher")
        return PrepareWatcher(loop: self, phase: .prepare, callback: callback)
    }

    /// See ``Loop/makeCheckWatcher(_:)``.
    public func makeCheckWatcher(_ callback: @escaping () throws -> Void) throws(LoopError) -> CheckWatcher {
        try checkUsable(operation: "makeCheckWatcher")
        return CheckWatcher(loop: self, phase: .check, callback: callback)
    }

    /// See ``Loop/makeAsyncWatcher(_:)``.
    public func makeAsyncWatcher(_ callback: @escaping () throws -> Void) throws(LoopError) -> AsyncWatcher {
        try checkUsable(operation: "makeAsyncWatcher")
        return AsyncWatcher(loop: self, callback: callback)
    }

    /// See ``Loop/makeChildWatcher(_:_:)``.
    public func makeChildWatcher(_ pid: ProcessID, _ callback: @escaping (TerminationStatus) throws -> Void)
        throws(LoopError) -> ChildWatcher
    {
        try checkUsable(operation: "makeChildWatcher")
        return try ChildWatcher(loop: self, pid: pid, callback: callback)
    }

    // MARK: For watchers

    /// Throws unless called on the loop's thread.
    @inline(__always)
    func checkThread(operation: @autoclosure () -> String) throws(LoopError) {
        guard isOwnerThread else {
            throw .wrongThread(
                operation: operation(), loopThread: ownerThreadID, callingThread: greenloop_thread_id())
        }
    }

    /// Whether the calling thread is the loop's. Cost: `pthread_self` and a comparison.
    var isOwnerThread: Bool {
        @inline(__always) get { pthread_equal(pthread_self(), ownerThread) != 0 }
    }

    /// Whether ``checkUsable(operation:)`` would pass.
    var isUsableOnCallingThread: Bool {
        @inline(__always) get { isOwnerThread && !isClosed }
    }

    /// Throws unless called on the loop's thread while the loop is open.
    @inline(__always)
    func checkUsable(operation: @autoclosure () -> String) throws(LoopError) {
        try checkThread(operation: operation())
        if isClosed { throw .loopClosed(operation: operation()) }
    }

    /// Runs one callback: refreshes ``now`` for the first one after a wait, and routes errors.
    @inline(__always)
    func dispatch(from watcher: Watcher, _ body: () throws -> Void) {
        dispatch(source: watcher.kindName, body)
    }

    @inline(__always)
    private func dispatch(source: @autoclosure () -> String, _ body: () throws -> Void) {
        if nowIsStale { refreshNow() }
        didDispatch = true
        do {
            try body()
        } catch {
            errorHandler(error, source())
        }
    }

    func watcherActivated(referenced: Bool) {
        activeWatcherCount += 1
        if referenced { referencedCount += 1 }
    }

    func watcherDeactivated(referenced: Bool) {
        activeWatcherCount -= 1
        if referenced { referencedCount -= 1 }
    }

    @inlinable
    func activeWatcherChangedRef(to referenced: Bool) {
        referencedCount += referenced ? 1 : -1
    }

    func phaseWatcherStarted(_ watcher: LoopPhaseWatcher) {
        phaseWatchers[watcher.phase.rawValue].append(watcher)
    }

    func phaseWatcherStopped(_ watcher: LoopPhaseWatcher) {
        phaseWatchers[watcher.phase.rawValue].remove(watcher)
    }

    func asyncWatcherStarted(_ watcher: AsyncWatcher) {
        asyncWatchers.append(watcher)
    }

    func asyncWatcherStopped(_ watcher: AsyncWatcher) {
        asyncWatchers.remove(watcher)
    }

    func signalWatcherStarted(_ watcher: SignalWatcher) throws(LoopError) {
        let signal = watcher.signal.rawValue
        if signalWatchers[signal] == nil {
            guard greenloop_signal_claim(signal, ownerToken) != 0 else {
                throw .signalOwnedByAnotherLoop(watcher.signal)
            }
            guard greenloop_signal_attach(signal, waker.fileDescriptor) == 0 else {
                let failure = Errno(rawValue: errno)
                greenloop_signal_release(signal, ownerToken)
                throw .systemCallFailed("sigaction(\(watcher.signal))", failure)
            }
            signalWatchers[signal] = WatcherList()
        }
        signalWatchers[signal]?.append(watcher)
    }

    func signalWatcherStopped(_ watcher: SignalWatcher) {
        let signal = watcher.signal.rawValue
        guard let watchers = signalWatchers[signal] else { return }
        watchers.remove(watcher)
        if watchers.isEmpty {
            signalWatchers[signal] = nil
            releaseSignal(signal)
        }
    }

    /// Identifies this loop in the process-wide table of signal owners.
    private var ownerToken: UInt { UInt(bitPattern: ObjectIdentifier(self).hashValue) }

    private func releaseSignal(_ signal: CInt) {
        _ = greenloop_signal_detach(signal)
        greenloop_signal_release(signal, ownerToken)
    }

    /// The wake-up eventfd fired: a signal arrived or an async watcher was sent to.
    private func handleWake() {
        waker.drain()
        if !signalWatchers.isEmpty {
            for (signal, watchers) in signalWatchers where greenloop_signal_take(signal) != 0 {
                watchers.forEach { $0.fire() }
            }
        }
        if !asyncWatchers.isEmpty {
            asyncWatchers.forEach { $0.fireIfSent() }
        }
    }
}
