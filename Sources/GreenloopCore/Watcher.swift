/// What every watcher has: the same verbs for every kind, as in libev's "anatomy of a watcher".
///
/// A watcher is made stopped by one of the loop's `make…` calls. ``start()`` makes it active: it
/// then calls its callback each time its event happens, until ``stop()``. ``close()`` stops it
/// for good and frees its C state; so does dropping the last reference to it.
///
/// **Keep a reference for as long as it should watch.** The loop does not keep active watchers
/// alive, and Swift does not promise that a value lives to the end of its scope: in an optimized
/// build an array, a dictionary or a set releases its storage right after its last use, and the
/// watchers it held stop then (a reference in a local `let` lives past a call such as `run` in
/// practice, but the language does not promise that either). Store watchers where they belong (a
/// property of the object they serve), or wrap the code that needs them in
/// `withExtendedLifetime(watchers) { … }`.
///
/// **Watcher states.** stopped → (start) → active → (stop, or a one-shot event) → stopped;
/// any → (close, or the loop's close) → closed. A watcher is *pending* between the moment its
/// backend saw its event and the moment its callback runs (io and timer watchers only; the
/// others run as soon as the loop sees their event).
///
/// **Callbacks** may start, stop, close or drop any watcher, their own included; an error they
/// throw goes to the loop's ``Loop/errorHandler``.
///
/// **Threads.** Use a watcher only on its loop's thread: every call but ``isActive``,
/// ``isPending`` and ``isClosed`` checks that and throws
/// ``LoopError/wrongThread(operation:loopThread:callingThread:)``.
public class Watcher {
    /// The most urgent priority (libev's `EV_MAXPRI`).
    public static let maximumPriority = 2
    /// The least urgent priority (libev's `EV_MINPRI`).
    public static let minimumPriority = -2

    @usableFromInline
    enum State {
        case stopped, active, closed
    }

    /// The loop, unretained, so that the loop's own internal watchers, which the loop holds,
    /// form no cycle with it: ``retainedLoop`` keeps it alive for a user's watcher, and the loop
    /// owns its internal ones. Unmanaged rather than `unowned(unsafe)`, whose every use the
    /// compiler wraps in a retain and a release: the hot paths go through ``withEventLoop(_:)``.
    @usableFromInline let loopReference: Unmanaged<EventLoop>
    /// False for the loop's own internal watchers, which never keep `run` going.
    @usableFromInline let isCounted: Bool
    // Unchecked exclusivity (here and below): the loop's thread only (checked on every public
    // call), and no access stays open across a callback; the dynamic checks showed in every
    // wake-up's profile.
    @usableFromInline @exclusivity(unchecked) var state = State.stopped

    /// Whether the watcher, while active, keeps ``Loop/run(_:)`` going (libev's `ev_ref`). True
    /// for new watchers.
    public final var ref: Bool { isReferenced }
    /// ``ref``'s storage, which the inlined ``setRefOnLoopThread(_:)`` writes.
    @usableFromInline @exclusivity(unchecked) var isReferenced = true
    /// The watcher's priority, from ``minimumPriority`` to ``maximumPriority``; 0 for new
    /// watchers. It orders io and timer callbacks that become ready in the same iteration, higher
    /// first (libev: strictly; libevent: by queue). Other kinds run in their own phase of the
    /// iteration and ignore it.
    public final var priority: Int { Int(storedPriority) }
    /// ``priority`` in a byte, beside the flags: the stored properties that a wake-up reads
    /// (these, and the kind's callback, a word after them) then share a cache line as a rule.
    @exclusivity(unchecked) private var storedPriority: Int8 = 0
    /// The strong reference by which a user's watcher keeps its loop alive; `nil` for the loop's
    /// internal watchers (owned by the loop, or by a watcher that holds the loop).
    private let retainedLoop: EventLoop?

    init(loop: EventLoop, isCounted: Bool) {
        self.loopReference = .passUnretained(loop)
        self.retainedLoop = isCounted ? loop : nil
        self.isCounted = isCounted
    }

    /// The loop the watcher belongs to.
    public var loop: any Loop { eventLoop }

    /// The loop, as a strong reference (retained for as long as the caller uses it).
    final var eventLoop: EventLoop { loopReference.takeUnretainedValue() }

    /// Runs `body` with the loop, counting no reference to it: the watcher keeps it alive (see
    /// ``loopReference``).
    @usableFromInline @inline(__always)
    final func withEventLoop<Result>(_ body: (EventLoop) -> Result) -> Result {
        loopReference._withUnsafeGuaranteedRef(body)
    }

    /// "timer watcher", "io watcher", …: used in error messages.
    var kindName: String { "watcher" }

    /// Whether the watcher is started (and its loop open). Cost: two loads (inlined into the
    /// caller).
    @inlinable
    public final var isActive: Bool { state == .active && !withEventLoop { $0.isClosed } }

    /// Whether its event happened and its callback has not run yet.
    public var isPending: Bool { false }

    /// Whether ``close()`` was called.
    public var isClosed: Bool { state == .closed }

    /// Starts watching. No effect when already active.
    ///
    /// - Throws: ``LoopError/watcherClosed(operation:watcher:)``, ``LoopError/loopClosed(operation:)``,
    ///   ``LoopError/wrongThread(operation:loopThread:callingThread:)``, and what the kind checks
    ///   (a descriptor closed since the watcher was made, a signal owned by another loop).
    public final func start() throws(LoopError) {
        try checkUsable("start()")
        guard state == .stopped else { return }
        try activate()
        markActive()
    }

    /// Marks a stopped watcher active, once its backend has started it, and counts it.
    final func markActive() {
        state = .active
        if isCounted { withEventLoop { $0.watcherActivated(referenced: ref) } }
    }

    /// Stops watching; a pending callback will not run. No effect when not active.
    public final func stop() throws(LoopError) {
        if !withEventLoop({ $0.isOwnerThread }) { try eventLoop.checkThread(operation: "\(kindName).stop()") }
        deactivateIfActive()
    }

    /// Stops the watcher for good and frees its C state now rather than when it is dropped. Any
    /// later call but this one throws ``LoopError/watcherClosed(operation:watcher:)``.
    public final func close() throws(LoopError) {
        try eventLoop.checkThread(operation: "\(kindName).close()")
        guard state != .closed else { return }
        deactivateIfActive()
        state = .closed
        releaseResources()
    }

    /// Sets ``ref``. An unreferenced active watcher does not keep ``Loop/run(_:)`` going: use it
    /// for housekeeping that should not, on its own, keep a program alive.
    public final func setRef(_ ref: Bool) throws(LoopError) {
        try checkUsable("setRef(_:)")
        setRefOnLoopThread(ref)
    }

    /// ``setRef(_:)`` without its checks, for a caller that runs on the loop's thread by
    /// construction (a hub's waits, which toggle a watcher's ref around every wait). Cost: a few
    /// loads and stores, inlined into the caller. Safe on a closed watcher: then only the flag
    /// changes.
    @inlinable
    package final func setRefOnLoopThread(_ ref: Bool) {
        guard ref != isReferenced else { return }
        if state == .active && isCounted { withEventLoop { $0.activeWatcherChangedRef(to: ref) } }
        isReferenced = ref
    }

    /// Sets ``priority``.
    ///
    /// - Throws: ``LoopError/invalidPriority(_:)`` out of range, ``LoopError/watcherActive(operation:watcher:)``
    ///   while active (both backends fix the priority when a watcher starts).
    public final func setPriority(_ priority: Int) throws(LoopError) {
        try checkUsable("setPriority(_:)")
        guard (Watcher.minimumPriority...Watcher.maximumPriority).contains(priority) else {
            throw .invalidPriority(priority)
        }
        guard state != .active else { throw .watcherActive(operation: "setPriority(_:)", watcher: kindName) }
        storedPriority = Int8(priority)
    }

    // MARK: For the kinds

    /// Checks the thread, the loop and the watcher before an operation.
    final func checkUsable(_ operation: @autoclosure () -> String) throws(LoopError) {
        // The common case without a look at the operation's name, which the error path builds.
        if !withEventLoop({ $0.isUsableOnCallingThread }) {
            try eventLoop.checkUsable(operation: kindName + "." + operation())
        }
        if state == .closed { throw .watcherClosed(operation: operation(), watcher: kindName) }
    }

    /// Stops the watcher if it is active; safe on a closed loop (then only the state changes).
    final func deactivateIfActive() {
        guard state == .active else { return }
        state = .stopped
        guard !withEventLoop({ $0.isClosed }) else { return }
        deactivate()
        if isCounted { withEventLoop { $0.watcherDeactivated(referenced: ref) } }
    }

    /// Marks a watcher stopped whose backend has already stopped it (a one-shot event fired).
    final func didStopByItself() {
        guard state == .active else { return }
        state = .stopped
        if isCounted { withEventLoop { $0.watcherDeactivated(referenced: ref) } }
    }

    /// Retires one of the loop's internal watchers while the loop closes or deinitialises: frees
    /// its C state (the backend is still open) without reading the loop, which may be in its
    /// deinit, where even an unowned read would trap.
    final func retireWithLoop() {
        state = .closed
        releaseResources()
    }

    /// The kind's start: register with the backend or the loop. Called only when stopped.
    func activate() throws(LoopError) {}
    /// The kind's stop. Called only when active and the loop is open.
    func deactivate() {}
    /// The kind's C state and descriptors, freed by ``close()``.
    func releaseResources() {}
}
