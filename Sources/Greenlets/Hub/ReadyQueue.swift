import DequeModule
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
    enum Entry {
        case resume(Waiter)
        case call(() throws -> Void)
    }

    // Unchecked exclusivity: see Waiter.
    @exclusivity(unchecked) private var entries = Deque<Entry>()
    @exclusivity(unchecked) private var isDrainScheduled = false
    // Unowned(unsafe): the hub owns this queue.
    private unowned(unsafe) let hub: Hub

    init(hub: Hub) { self.hub = hub }

    func append(_ entry: Entry) {
        entries.append(entry)
        if !isDrainScheduled { scheduleDrain() }
    }

    private func scheduleDrain() {
        do {
            // Weak: a hub destroyed with entries left must not leave the loop a dangling callback.
            try hub.loop.runOnNextIteration { [weak self] in self?.drain() }
            isDrainScheduled = true
        } catch {
            hub.errorHandler(error, "hub")
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
                waiter.wake()
            case .call(let body):
                do { try body() } catch { hub.errorHandler(error, "hub") }
            }
            if guaranteed > 0 {
                guaranteed -= 1
                continue
            }
            // Reading the clock costs about as much as a switch: every 16 extra entries.
            // The interval is read each time: a greenlet resumed from here may change it.
            extra += 1
            let interval = hub.yieldPollIntervalNanoseconds
            if interval == 0 { break }
            if extra & 15 == 0, LoopInstant.monotonicNow().nanoseconds - started >= interval { break }
        }
        if !entries.isEmpty && !isDrainScheduled { scheduleDrain() }
    }
}
