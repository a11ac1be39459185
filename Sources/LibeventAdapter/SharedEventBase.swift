import CLibevent
@_spi(Adapter) import GreenloopLibevent
import GreenloopCore
import SystemPackage
#if canImport(Glibc)
import Glibc
#endif

/// A libevent `struct event_base *` for existing C code (evhttp, evdns, bufferevents, hiredis'
/// libevent adapter, your own), served by a Greenloop loop: C callbacks run in that loop's
/// iterations, on its thread, between the greenlets' turns, whichever backend the loop runs on.
///
/// ```swift
/// let shared = try SharedEventBase(loop: loop)
/// let http = evhttp_new(shared.base)      // plain libevent from here on
/// ```
///
/// ## How the base is served
///
/// - **On the libevent backend** ``base`` is the loop's own `event_base`
///   (``Mechanism/loopsOwnBase``): C events and the loop's watchers are dispatched by the same
///   `event_base_loop` call. Nothing is added to an iteration.
/// - **On the libev backend** ``base`` is a private `event_base` on epoll
///   (``Mechanism/servedByLoop``), which the loop serves with three of its own watchers:
///   - an io watcher on the base's epoll descriptor. libevent registers descriptors with the
///     kernel inside `event_add`, so that descriptor is readable exactly when a C event is ready;
///     its callback runs `event_base_loop(EVLOOP_ONCE | EVLOOP_NONBLOCK)`, which dispatches
///     the ready events and due timers, and the C callbacks they make ready in turn;
///   - a prepare watcher that, before the loop waits, dispatches at once when C code made a
///     callback active (`event_active`) outside a dispatch, and walks the base's events
///     (`event_base_foreach_event` and `event_pending`) for the earliest C timeout, at most once
///     per ``rescanInterval`` (1 ms);
///   - a one-shot timer armed for that earliest timeout, or for the next walk if that comes
///     first (re-armed only when it changes).
///
///   C io events added before the loop runs, from C callbacks, or from greenlet code are seen at
///   once (the kernel reports them on the epoll descriptor). C timers are seen by the next walk,
///   so they fire at most ``rescanInterval`` late, never early; an idle loop wakes at most once
///   after activity to make that walk, then sleeps until the earliest C deadline.
///
/// ## What it costs
///
/// Measured by the benchmark suite (`make bench`, "shared event_base: one idle loop iteration"):
///
/// - On libevent: nothing. An iteration costs the same with 0 or 10,000 C events waiting
///   (0.7 µs idle here).
/// - On libev: the walk, O(C events) at about 10 ns an event, at most once per
///   ``rescanInterval``: an idle loop iteration costs 0.50 µs without C events, 0.51 µs with
///   1,000 and 0.57 µs with 10,000 (the walk's 10 µs or 100 µs, once a millisecond).
///   With `rescanInterval = .zero` every iteration walks (0.46 µs without C events, 1.5 µs with
///   100, 10 µs with 1,000, 100 µs with 10,000).
///   Per iteration in which C events are ready: one more `epoll_wait` (on the base's own set) and
///   one `timerfd_settime` (libevent's precise clock). evhttp through the adapter serves 0.94–0.99× the
///   requests per second of evhttp on its own `event_base_dispatch` (wrk, 50 connections).
/// - Making a served base scans /proc/self/fd once.
///
/// ## Signals
///
/// The loop owns every signal (one process-wide table; see `SignalWatcher`). C code must not
/// add signal events (`evsignal_new`, `event_new(…, EV_SIGNAL, …)`) to the shared base: libevent
/// would install its own handler and steal the signal from the loop. The adapter looks for signal
/// events at every walk (on libev: each iteration; on libevent: once a second), deletes any it
/// finds (libevent then restores the loop's handler) and reports
/// ``SharedEventBaseError/signalEventDeleted(_:)`` to the loop's `errorHandler`. A signal that
/// arrives before the deletion goes to libevent's handler and is lost to the loop.
///
/// C code must not run the base itself (`event_base_dispatch`, `event_base_loop`) or expect
/// `event_base_loopexit`/`loopbreak` to stop anything but the current dispatch: the loop runs
/// the base.
///
/// ## Fork
///
/// After `Hub.fork()` or the loop's `reinitializeAfterFork()`, the base works in the child: the
/// adapter runs `event_reinit`, finds the new epoll descriptor and serves the base from the loop
/// that goes on in the child. On the libevent backend, when `Hub.fork()` replaced the loop, the
/// parent's loop watchers are deleted from the base first, and the base is then served like a
/// private one (this needs the epoll method).
///
/// ## Lifetime and threads
///
/// While open, the shared base keeps the loop running, as an active watcher would (set
/// ``keepsLoopRunning`` to `false` to stop that). ``close()`` (or the last reference going)
/// stops serving and frees a private base: C code must have freed its own events and objects
/// (`evhttp_free`, `redisAsyncFree`, …) first. Everything here happens on the loop's thread.
public final class SharedEventBase {
    /// How ``base`` is served.
    public enum Mechanism: Sendable, Hashable {
        /// ``base`` is the loop's own `event_base` (the libevent backend).
        case loopsOwnBase
        /// ``base`` is another `event_base` that the loop serves through its own watchers.
        case servedByLoop
    }

    /// The `struct event_base *` to give C code. Valid until ``close()``.
    public let base: OpaquePointer
    /// How ``base`` is served at present (it changes to ``Mechanism/servedByLoop`` in a forked
    /// child whose hub replaced a libevent loop).
    public private(set) var mechanism: Mechanism
    /// The loop that serves the base (in a forked child: the child's loop).
    public private(set) var loop: EventLoop
    /// Whether ``close()`` was called.
    public private(set) var isClosed = false

    /// Whether the base keeps `run()` going while it is open, as a referenced watcher does. On by
    /// default, so that a hub goes on serving the C code; off, the loop stops when only C events
    /// are left.
    public var keepsLoopRunning: Bool {
        get { wantsReference }
        set {
            wantsReference = newValue
            // Fails only off the loop's thread or on a closed loop; the next start applies it.
            try? applyReference()
        }
    }
    private var wantsReference = true

    /// On libev: how long the adapter may go without walking the base for its earliest C
    /// timeout, 1 ms by default. A C timer added or changed between two walks fires at most this
    /// late; in exchange, a loop iteration pays the walk (about 10 ns per C event) at most once
    /// per interval instead of every time. `.zero` walks before every wait: C timers exact, cost
    /// O(C events) per iteration. No effect on libevent, whose own dispatch runs C timers.
    public var rescanInterval: Duration {
        get { .nanoseconds(Int64(rescanIntervalNanoseconds)) }
        set {
            let (seconds, attoseconds) = max(newValue, .zero).components
            rescanIntervalNanoseconds = UInt64(min(seconds, 3600)) * 1_000_000_000 + UInt64(attoseconds / 1_000_000_000)
        }
    }

    /// Whether this object frees ``base`` when it closes (a private base).
    private let ownsBase: Bool
    private var readiness: IOWatcher?
    private var deadline: TimerWatcher?
    private var deadlineArmedFor: LoopInstant?
    /// What the last walk found: the earliest C deadline (nil: none), and when it ran.
    private var knownDeadline: LoopInstant?
    private var lastScan: LoopInstant?
    private var rescanIntervalNanoseconds: UInt64 = 1_000_000
    private var prepare: PrepareWatcher?
    private var keepAlive: AsyncWatcher?
    private var signalPatrol: TimerWatcher?
    private var forkHandler: ForkHandlerID?
    /// Watchers of a loop that a forked child set aside: never stopped (stopping would change the
    /// epoll set the child shares with the parent), never released.
    private var setAside: [Watcher] = []

    /// Makes a base served by `loop`: `loop`'s own base on the libevent backend, a private one on
    /// libev.
    ///
    /// - Throws: ``SharedEventBaseError`` when libevent cannot make a base or its epoll
    ///   descriptor is not found; `LoopError` when `loop` is closed or called from another thread.
    public init(loop: EventLoop) throws {
        self.loop = loop
        if let own = Libevent.eventBase(of: loop) {
            base = own
            mechanism = .loopsOwnBase
            ownsBase = false
        } else {
            guard let made = greenloop_event_base_new("epoll", 0) else {
                throw SharedEventBaseError.eventBaseUnavailable(Errno(rawValue: errno))
            }
            base = made
            mechanism = .servedByLoop
            ownsBase = true
        }
        do {
            try startServing()
        } catch {
            if ownsBase { event_base_free(base) }
            throw error
        }
        registerForkHandler()
    }

    deinit {
        try? close()
    }

    /// Stops serving the base and, for a private base, frees it. No effect the second time.
    ///
    /// - Throws: `LoopError.wrongThread` off the loop's thread.
    public func close() throws {
        guard !isClosed else { return }
        isClosed = true
        if let forkHandler { loop.removeForkHandler(forkHandler) }
        try stopServing()
        if ownsBase { event_base_free(base) }
    }

    // MARK: Serving

    private func startServing() throws {
        switch mechanism {
        case .loopsOwnBase:
            // The loop's own dispatch runs C events already; only keep the loop going, and look
            // for stolen signals now and then.
            keepAlive = try loop.makeAsyncWatcher {}
            try keepAlive?.start()
            let patrol = try loop.makeTimer(after: .seconds(1), repeat: .seconds(1)) { [unowned self] in
                self.scan()
            }
            try patrol.setRef(false)
            try patrol.start()
            signalPatrol = patrol
        case .servedByLoop:
            let epoll = greenloop_event_base_epoll_fd(base)
            guard epoll >= 0 else { throw SharedEventBaseError.epollDescriptorNotFound(Errno(rawValue: errno)) }
            let readiness = try loop.makeIOWatcher(FileDescriptor(rawValue: epoll), .read) { [unowned self] _ in
                self.dispatch()
            }
            let deadline = try loop.makeTimer(after: .zero, repeat: .zero) { [unowned self] in
                self.deadlineArmedFor = nil
                self.dispatch()
            }
            try deadline.setRef(false)
            let prepare = try loop.makePrepareWatcher { [unowned self] in try self.beforeWait() }
            try prepare.setRef(false)
            try readiness.start()
            try prepare.start()
            (self.readiness, self.deadline, self.prepare) = (readiness, deadline, prepare)
        }
        try applyReference()
    }

    private func stopServing() throws {
        for watcher in [readiness, deadline, prepare, keepAlive, signalPatrol] as [Watcher?] {
            try watcher?.close()
        }
        (readiness, deadline, prepare, keepAlive, signalPatrol) = (nil, nil, nil, nil, nil)
        (deadlineArmedFor, knownDeadline, lastScan) = (nil, nil, nil)
    }

    private func applyReference() throws(LoopError) {
        try readiness?.setRef(wantsReference)
        try keepAlive?.setRef(wantsReference)
    }

    /// Runs the C callbacks that are ready, without waiting.
    private func dispatch() {
        _ = event_base_loop(base, greenloop_libevent_evloop_once | greenloop_libevent_evloop_nonblock)
    }

    /// Before the loop waits: dispatch what C code made active outside a dispatch, then arm the
    /// timer for the earliest C timeout, walking the base for it at most once per
    /// ``rescanInterval``. Between walks, C code (run by callbacks or greenlets) may have added
    /// an earlier timeout than the one known, so the timer is armed no later than the next walk
    /// is due: a C timer fires at most `rescanInterval` after its deadline.
    private func beforeWait() throws {
        if event_base_get_num_events(base, UInt32(EVENT_BASE_COUNT_ACTIVE)) > 0 { dispatch() }
        try loop.updateNow()
        let now = loop.now
        if let lastScan, now.nanoseconds &- lastScan.nanoseconds < rescanIntervalNanoseconds {
            let nextScan = lastScan.advanced(byNanoseconds: rescanIntervalNanoseconds)
            try armDeadline(at: knownDeadline.map { min($0, nextScan) } ?? nextScan)
            return
        }
        let found = scan()
        lastScan = now
        knownDeadline = found.has_timeout != 0 ? now.advanced(byNanoseconds: UInt64(found.timeout_ns)) : nil
        try armDeadline(at: knownDeadline)
    }

    /// Arms the deadline timer for `due` (stops it for `nil`); re-arms only when `due` moved by
    /// more than libevent's microsecond resolution.
    private func armDeadline(at due: LoopInstant?) throws {
        guard let deadline else { return }
        guard let due else {
            if deadlineArmedFor != nil { try deadline.stop() }
            deadlineArmedFor = nil
            return
        }
        if let armed = deadlineArmedFor,
            max(armed.nanoseconds, due.nanoseconds) - min(armed.nanoseconds, due.nanoseconds) < 2_000
        {
            return
        }
        try deadline.stop()
        try deadline.set(after: .nanoseconds(due.nanoseconds &- min(due.nanoseconds, loop.now.nanoseconds)), repeat: .zero)
        try deadline.start()
        deadlineArmedFor = due
    }

    /// Walks the base; deletes and reports any signal event C code added.
    @discardableResult
    private func scan() -> greenloop_event_base_scan {
        var found = greenloop_event_base_scan()
        greenloop_event_base_scan(base, &found)
        while let stolen = found.signal_event {
            event_del(stolen)
            loop.errorHandler(
                SharedEventBaseError.signalEventDeleted(Signal(rawValue: found.signal_number)), "SharedEventBase")
            greenloop_event_base_scan(base, &found)
        }
        return found
    }

    // MARK: Fork

    private func registerForkHandler() {
        forkHandler = loop.addForkHandler { [weak self] successor in
            try self?.continueAfterFork(on: successor)
        }
    }

    /// In a forked child: remakes the base's kernel state and serves it from `successor`.
    private func continueAfterFork(on successor: EventLoop) throws {
        guard !isClosed else { return }
        if successor === loop {
            // The same loop goes on: it has remade its own kernel state, so its watchers may be
            // stopped safely.
            if mechanism == .servedByLoop {
                try stopServing()
                guard event_reinit(base) == 0 else { throw LoopError.systemCallFailed("event_reinit", .ioError) }
                try startServing()
            }
            return
        }
        // A new loop: the old one's watchers are set aside untouched.
        setAside += [readiness, deadline, prepare, keepAlive, signalPatrol].compactMap { $0 }
        (readiness, deadline, prepare, keepAlive, signalPatrol) = (nil, nil, nil, nil, nil)
        (deadlineArmedFor, knownDeadline, lastScan) = (nil, nil, nil)
        if mechanism == .loopsOwnBase {
            let method = loop.method
            guard method == .epoll else { throw SharedEventBaseError.methodCannotBeServed(method) }
            _ = try Libevent.takeEventBaseAfterFork(of: loop)
            mechanism = .servedByLoop
        } else {
            guard event_reinit(base) == 0 else { throw LoopError.systemCallFailed("event_reinit", .ioError) }
        }
        loop = successor
        try startServing()
        registerForkHandler()
    }
}
