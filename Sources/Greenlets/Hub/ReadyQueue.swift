import GreenloopCore

/// What the hub runs between two polls of the loop: greenlets to resume and callbacks, in the
/// order they became ready (gevent's callback queue).
///
/// All of it runs from one loop callback. Entries queued before that callback started always run
/// in it; entries queued while it runs (a greenlet that yields with `sleep(.zero)` again) run in
/// it too until ``Hub/yieldPollInterval`` has passed, and after that wait for the next iteration,
/// which polls I/O first. So a greenlet that only yields costs two switches per `sleep(.zero)`,
/// not a system call, and I/O is still polled at least every `yieldPollInterval`.
final class ReadyQueue {
    /// What is ready. Every payload is a plain value, its reference retained by hand where the
    /// entry holds one (each case says when; released once the entry has run, or by `deinit`):
    /// with a class or closure payload, every copy of an entry in and out of the queue went
    /// through outlined copy and destroy functions, each with its own reference count operation.
    enum Entry {
        /// A waiter to wake (``Hub/scheduleWake(_:)``): held by its owner while it waits, by the
        /// entry once the wait has ended otherwise (see `Waiter.ScheduledWake`).
        case resume(Unmanaged<Waiter>)
        /// A greenlet in ``Hub/yieldCurrent()`` and the yield ticket it had when it yielded;
        /// retained unless it is pinned (none for a spawned greenlet), in which case the entry is
        /// removed if the yield ends any other way (``removeYield(of:ticket:)``).
        case yielded(Unmanaged<Greenlet>, UInt32, isRetained: Bool)
        /// A spawned greenlet to start (``Hub/scheduleStart(_:)``): held by the hub's live list
        /// while it has not started, by the entry once it has started or ended otherwise.
        case start(Unmanaged<AnySpawnedGreenlet>)
        /// A callback (``Hub/schedule(_:)``), retained.
        case call(Unmanaged<ScheduledCall>)
    }

    /// A callback in the queue, boxed so that an entry holds a plain reference.
    final class ScheduledCall {
        let body: () throws -> Void

        init(_ body: @escaping () throws -> Void) { self.body = body }
    }

    // Unchecked exclusivity: see Waiter.
    @exclusivity(unchecked) private var entries = RingQueue<Entry>()
    @exclusivity(unchecked) private var isDrainScheduled = false
    /// Set once, by the hub's initialiser. Unowned(unsafe): the hub owns this queue.
    @exclusivity(unchecked) unowned(unsafe) var hub: Hub?
    /// What the loop's next-iteration callback reaches the queue through. Not a weak reference
    /// to the queue: a weakly referenced object counts its references in a side table, which
    /// made every retain of the queue take the runtime's slow path (a seventh of a `sleep(.zero)`).
    private let trigger = DrainTrigger()
    private let drainCallback: () throws -> Void

    init() {
        drainCallback = { [trigger] in trigger.queue?.drain() }
        trigger.queue = self
    }

    deinit {
        // A loop that outlives its hub may still run a callback queued for it.
        trigger.queue = nil
        while let entry = entries.popFirst() {
            switch entry {
            case .resume(let waiter):
                // Released only if it holds a reference (a wait that ended first handed it one).
                if waiter._withUnsafeGuaranteedRef({ $0.takeScheduledWake() }) { waiter.release() }
            case .yielded(let greenlet, _, let isRetained): if isRetained { greenlet.release() }
            // Every start entry still queued holds its greenlet (see `Hub.scheduleStart`).
            case .start(let greenlet): greenlet.release()
            case .call(let call): call.release()
            }
        }
    }

    /// Queues `entry`. Inlined: a call and its frame were a tenth of a `sleep(.zero)`.
    @inline(__always)
    func append(_ entry: Entry) {
        entries.append(entry)
        if !isDrainScheduled { scheduleDrain() }
    }

    /// Takes out the entry of a yield that ended without it (rare: a throw into the greenlet, or
    /// a switch into it from elsewhere). O(n) in the entries queued.
    func removeYield(of greenlet: Unmanaged<Greenlet>, ticket: UInt32) {
        let index = entries.firstIndex { entry in
            guard case .yielded(let queued, let queuedTicket, _) = entry else { return false }
            return queued.toOpaque() == greenlet.toOpaque() && queuedTicket == ticket
        }
        guard let index else { return }
        if case .yielded(_, _, true) = entries[index] { greenlet.release() }
        entries.remove(at: index)
    }

    @inline(never)
    private func scheduleDrain() {
        do {
            try hub!.loop.runOnNextIteration(drainCallback)
            isDrainScheduled = true
        } catch {
            hub!.errorHandler(error, "hub")
        }
    }

    /// Resumes a greenlet that yielded, unless that yield already ended (something threw into
    /// it meanwhile: its ticket moved on).
    @inline(__always)
    private func resumeYielded(_ greenlet: Greenlet, ticket: UInt32) {
        guard greenlet.yieldTicket == ticket else { return }
        // Moving the ticket on tells the yield that its entry resumed it.
        greenlet.yieldTicket = ticket &+ 1
        do {
            try greenlet.resumeCountingReference()
        } catch {
            hub!.errorHandler(error, "hub")
        }
    }

    /// Starts a spawned greenlet from its start entry (see ``Hub/scheduleStart(_:)``).
    private func start(_ greenlet: Unmanaged<AnySpawnedGreenlet>) {
        // Started by a switch, or ended before it started: the entry holds it, and lets it go.
        guard greenlet._withUnsafeGuaranteedRef({ $0.phase == .notStarted }) else { return greenlet.release() }
        let carried: (any Error)?
        do {
            // The greenlet may be gone once this returns.
            carried = try greenlet._withUnsafeGuaranteedRef { try $0.startCarryingNothing() }
        } catch {
            // It cannot start (no stack to be had): it ends with that error, which is reported,
            // and the live list hands the entry its reference.
            _ = greenlet._withUnsafeGuaranteedRef { $0.endBeforeStarting(throwing: error) }
            greenlet.release()
            return
        }
        if let carried { hub!.errorHandler(carried, "hub") }
    }

    /// Asks the processor, in three stages, for what resuming the next woken greenlets reads:
    /// the waiter of the wake-up three entries on, the greenlet of the one two entries on (whose
    /// waiter was asked for one entry ago), and the top of the stack of the next one (whose
    /// greenlet was asked for one entry ago). So every line read here was asked for while a
    /// greenlet ran, and a resumed greenlet finds its lines in the cache: with many connections
    /// they are all cold by the next wake-up, and each resumption used to wait for them in turn.
    /// The entries are queued, so alive: their owners hold their waiters while they wait, else
    /// the entries do.
    @inline(__always)
    private func prefetchUpcomingWakeUps() {
        let count = entries.count
        if count > 2, case .resume(let third) = entries[2] { prefetchFirstLines(of: third) }
        if count > 1, case .resume(let second) = entries[1] {
            second._withUnsafeGuaranteedRef { $0.prefetchWaitingGreenlet() }
        }
        if count > 0, case .resume(let next) = entries[0] {
            next._withUnsafeGuaranteedRef { $0.prefetchWaitingGreenletsStack() }
        }
    }

    private func drain() {
        isDrainScheduled = false
        let started = LoopInstant.monotonicNow().nanoseconds
        var guaranteed = entries.count
        var extra = 0
        while let entry = entries.popFirst() {
            switch entry {
            case .resume(let waiter):
                prefetchUpcomingWakeUps()
                let entryOwnsReference = waiter._withUnsafeGuaranteedRef { $0.takeScheduledWake() }
                waiter._withUnsafeGuaranteedRef { $0.wake() }
                if entryOwnsReference { waiter.release() }
            case .yielded(let greenlet, let ticket, let isRetained):
                greenlet._withUnsafeGuaranteedRef { resumeYielded($0, ticket: ticket) }
                if isRetained { greenlet.release() }
            case .start(let greenlet):
                start(greenlet)
            case .call(let call):
                call._withUnsafeGuaranteedRef { call in
                    do { try call.body() } catch { hub!.errorHandler(error, "hub") }
                }
                call.release()
            }
            if guaranteed > 0 {
                guaranteed -= 1
                continue
            }
            // Reading the clock costs about as much as a switch: every 16 extra entries.
            // The interval is read each time: a greenlet resumed from here may change it.
            extra += 1
            // Unmanaged: an `unowned(unsafe)` read is a retain and a release per entry.
            let interval = Unmanaged.passUnretained(hub.unsafelyUnwrapped)._withUnsafeGuaranteedRef {
                $0.yieldPollIntervalNanoseconds
            }
            if interval == 0 { break }
            if extra & 15 == 0, LoopInstant.monotonicNow().nanoseconds - started >= interval { break }
        }
        if !entries.isEmpty && !isDrainScheduled { scheduleDrain() }
    }
}

/// The queue a scheduled drain runs, cleared when the queue goes.
private final class DrainTrigger {
    // Unowned(unsafe): cleared by the queue's deinit, so never dangling when read.
    @exclusivity(unchecked) unowned(unsafe) var queue: ReadyQueue?
}
