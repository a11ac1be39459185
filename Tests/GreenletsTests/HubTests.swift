import Greenlets
import GreenloopBackends
import GreenloopCore
import Synchronization
import Testing

@Suite("hub, sleep, spawn and timeouts", .timeLimit(.minutes(1)))
struct HubTests {
    @Test("sleeping greenlets wake in order of their deadlines", arguments: allBackends)
    func sleepOrder(backend: Backend) throws {
        try withHub(backend) { hub in
            var order: [Int] = []
            let sleepers = try [30, 10, 20].map { ms in
                try spawn {
                    try sleep(.milliseconds(ms))
                    order.append(ms)
                }
            }
            #expect(try joinAll(sleepers, timeout: .seconds(5)))
            #expect(order == [10, 20, 30])
            #expect(hub.loop.activeWatcherCount == 0)
        }
    }

    @Test("spawn returns values; errors are kept and reported once; GreenletExit is not an error", arguments: allBackends)
    func valuesAndErrors(backend: Backend) throws {
        try withHub(backend) { hub in
            var reported: [String] = []
            hub.errorHandler = { error, _ in reported.append("\(error)") }
            let answer = try spawn { 42 }
            let failing = try spawn { () throws -> Int in throw Boom() }
            let exiting = try spawn { () throws -> Int in throw GreenletExit() }
            #expect(try answer.value() == 42)
            #expect(throws: Boom.self) { try failing.value() }
            #expect(throws: Boom.self) { try failing.value() }
            #expect(throws: GreenletExit.self) { try exiting.value() }
            #expect(reported == ["Boom()"])
        }
    }

    @Test("kill during sleep, io wait and Event wait unwinds and leaves no active watcher", arguments: allBackends)
    func killLeavesNoWatcher(backend: Backend) throws {
        try withHub(backend) { hub in
            let pipe = try Pipe()
            let event = Event()
            var cleaned: [String] = []
            let sleeper = try spawn {
                defer { cleaned.append("sleep") }
                try sleep(.seconds(60))
            }
            let reader = try spawn {
                defer { cleaned.append("io") }
                try waitReadable(pipe.readEnd.rawValue)
            }
            let timedReader = try spawn {
                defer { cleaned.append("timed io") }
                try waitReadable(pipe.readEnd.rawValue, timeout: .seconds(60))
            }
            let waiter = try spawn {
                defer { cleaned.append("event") }
                try event.wait()
            }
            try sleep(.zero)
            // The sleep's timer, the io wait's watcher, the timed one's watcher and timer; an Event
            // needs none.
            #expect(hub.loop.activeWatcherCount == 4)
            for greenlet in [sleeper, reader, timedReader] { try greenlet.kill() }
            try waiter.kill()
            #expect(Set(cleaned) == ["sleep", "io", "timed io", "event"])
            #expect(hub.loop.activeWatcherCount == 0)
            #expect(throws: GreenletExit.self) { try sleeper.value() }
        }
    }

    @Test("a greenlet killed before it starts never runs", arguments: allBackends)
    func killBeforeStart(backend: Backend) throws {
        try withHub(backend) { _ in
            var ran = false
            let never = try spawn { ran = true }
            try never.kill()
            try sleep(.zero)
            #expect(!ran)
            #expect(never.isReady)
        }
    }

    @Test("a spawned greenlet that ends while resume() runs it hands the hub's reference on, and goes when dropped",
          arguments: allBackends)
    func resumedSpawnedEnds(backend: Backend) throws {
        try withHub(backend) { _ in
            weak var watched: SpawnedGreenlet<Int>?
            do {
                let me = Greenlet.current
                let greenlet = try spawn { () throws -> Int in
                    try me.resume()
                    return 7
                }
                watched = greenlet
                // It ends into this greenlet rather than into the hub.
                try greenlet.setParent(me)
                // The hub starts it, and it switches straight back here: into a plain switch to
                // the hub (a wait through the hub, such as a sleep, would refuse a stray switch).
                try Hub.current().greenlet.resume()
                #expect(greenlet.isStarted && !greenlet.isDead)
                // resume() counts no reference; as it ends, the hub's list hands the thread its own.
                try greenlet.resume()
                #expect(greenlet.isDead)
                #expect(try greenlet.value() == 7)
            }
            // Nothing else holds it: not the thread, nor the hub's frame that started it.
            #expect(watched == nil)
            try sleep(.zero)
        }
    }

    @Test("a spawned greenlet that a switch starts before the hub does runs once, and goes when dropped",
          arguments: allBackends)
    func startedBySwitch(backend: Backend) throws {
        try withHub(backend) { _ in
            var runs = 0
            weak var early: SpawnedGreenlet<Int>?
            let starter = try spawn { () throws -> Int in
                let greenlet = try spawn { () -> Int in
                    runs += 1
                    return 7
                }
                early = greenlet
                // Ends into this greenlet, which started it ahead of its turn in the hub's queue.
                try greenlet.setParent(Greenlet.current)
                try greenlet.switchInto()
                return try greenlet.value()
            }
            #expect(try starter.value() == 7)
            try sleep(.zero)  // the early greenlet's turn in the queue: nothing left to start
            #expect(runs == 1)
            #expect(early == nil)
            // Killed before it started, its handle dropped at once: its turn comes, and frees it.
            weak var killed: SpawnedGreenlet<Void>?
            do {
                let greenlet = try spawn { runs += 1 }
                killed = greenlet
                try greenlet.kill()
            }
            #expect(killed != nil)  // its start entry still holds it
            try sleep(.zero)
            #expect(killed == nil)
            #expect(runs == 1)
        }
    }

    @Test("an error thrown into a spawned greenlet before it starts ends it as a kill does", arguments: allBackends)
    func throwIntoUnstartedSpawned(backend: Backend) throws {
        try withHub(backend) { hub in
            var reported: [String] = []
            hub.errorHandler = { error, _ in reported.append("\(error)") }
            var ran = false
            var linked = 0
            let never = try spawn { () -> Int in
                ran = true
                return 1
            }
            never.link { _ in linked += 1 }
            let joiner = try spawn { try never.join() }
            // No switch to the hub, which a spawned greenlet hands nothing: back at once.
            #expect(try never.throwInto(Boom()) == nil)
            #expect(never.isDead && never.isReady)
            #expect(never.error is Boom)
            #expect(throws: Boom.self) { try never.value() }
            #expect(try joiner.value())
            #expect(!ran)
            #expect(linked == 1)
            #expect(reported == ["Boom()"])
            // Killed before it starts with an error of its own: reported too, as its body's would be.
            let killed = try spawn { ran = true }
            try killed.kill(Boom())
            try sleep(.zero)
            #expect(!ran)
            #expect(reported == ["Boom()", "Boom()"])
        }
    }

    @Test("nested timeouts: the shorter wins, and a timeout never fires after its scope", arguments: allBackends)
    func nestedTimeouts(backend: Backend) throws {
        try withHub(backend) { _ in
            // Inner shorter.
            #expect {
                try withTimeout(.milliseconds(200)) {
                    try withTimeout(.milliseconds(20)) { try sleep(.seconds(5)) }
                }
            } throws: { ($0 as? Timeout)?.duration == .milliseconds(20) }
            // Outer shorter: passes through the inner scope.
            #expect {
                try withTimeout(.milliseconds(20)) {
                    try withTimeout(.milliseconds(200)) { try sleep(.seconds(5)) }
                }
            } throws: { ($0 as? Timeout)?.duration == .milliseconds(20) }
            // A scope that ended in time: its timer is gone, so a later sleep is not interrupted.
            let quick = try withTimeout(.milliseconds(10)) { "done" }
            #expect(quick == "done")
            try sleep(.milliseconds(30))
        }
    }

    @Test("join and Event.wait with timeouts say whether they finished", arguments: allBackends)
    func timedWaits(backend: Backend) throws {
        try withHub(backend) { _ in
            let slow = try spawn { try sleep(.milliseconds(200)) }
            #expect(try slow.join(timeout: .milliseconds(10)) == false)
            #expect(try slow.join(timeout: .seconds(5)))
            let event = Event()
            #expect(try event.wait(timeout: .milliseconds(10)) == false)
            let setter = try spawn(after: .milliseconds(10)) { event.set() }
            #expect(try event.wait(timeout: .seconds(5)))
            try setter.join()
        }
    }

    @Test("several joiners: one that gives up leaves, the others wake in the order they joined", arguments: allBackends)
    func severalJoiners(backend: Backend) throws {
        try withHub(backend) { _ in
            let gate = Event()
            let target = try spawn { try gate.wait() }
            var woken: [String] = []
            func joiner(_ name: String, timeout: Duration) throws -> SpawnedGreenlet<Void> {
                try spawn {
                    let ended = try target.join(timeout: timeout)
                    woken.append("\(name):\(ended)")
                }
            }
            let impatient = try joiner("first", timeout: .milliseconds(10))
            let patient = try [joiner("second", timeout: .seconds(5)), joiner("third", timeout: .seconds(5))]
            #expect(try impatient.join(timeout: .seconds(5)))
            #expect(woken == ["first:false"])
            // The first slot is free again: a late joiner queues behind the two still waiting.
            let late = try joiner("fourth", timeout: .seconds(5))
            try sleep(.zero)
            gate.set()
            #expect(try joinAll(patient + [late], timeout: .seconds(5)))
            #expect(woken == ["first:false", "second:true", "third:true", "fourth:true"])
            #expect(try target.join(timeout: .zero))
        }
    }

    @Test("spawned greenlets outlive their thread: their handles answer, then go away cleanly",
          arguments: allBackends)
    func handlesOutliveTheirThread(backend: Backend) throws {
        nonisolated(unsafe) var handles: [AnySpawnedGreenlet] = []
        onNewThread {
            do {
                // The hub and the thread go; the handles keep what they need (their parent, the
                // hub's greenlet, keeps the thread's state).
                let hub = try Hub.install(loop: try makeLoop(backend))
                let finished = try spawn { 42 }
                #expect(try finished.value() == 42)
                handles = [finished, try spawn {}]
                try hub.destroy()
            } catch {
                Issue.record(error)
            }
        }
        try #require(handles.count == 2)
        let finished = try #require(handles[0] as? SpawnedGreenlet<Int>)
        #expect(finished.isReady && finished.isDead)
        #expect(try finished.result?.get() == 42)
        // Waiting on it is an operation of its thread's hub, refused here.
        #expect(throws: GreenletError.self) { try finished.value() }
        // The error names the greenlet's thread: its state is still there to ask.
        #expect(throws: GreenletError.self) { try finished.switchInto() }
        // Killed by the hub's destruction before it could run.
        #expect(handles[1].isDead && handles[1].error is GreenletExit)
        // The last references, dropped on another thread than the greenlets' own.
        handles = []
    }

    @Test("a hub its thread did not destroy is destroyed when the thread ends: its greenlets unwind",
          arguments: allBackends)
    func hubEndsWithItsThread(backend: Backend) throws {
        let unwound = Mutex(false)
        let neverStartedReleased = Mutex(false)
        nonisolated(unsafe) var loop: (any Loop)?
        onNewThread {
            do {
                let hub = try Hub.install(loop: try makeLoop(backend))
                loop = hub.loop
                _ = try spawn {
                    defer { unwound.withLock { $0 = true } }
                    try sleep(.seconds(3600))
                }
                try sleep(.zero)  // the greenlet starts, and sleeps; then the thread ends
                // Never started: it goes with the hub, and so does its body.
                let token = DeinitSignal { neverStartedReleased.withLock { $0 = true } }
                _ = try spawn { withExtendedLifetime(token) {} }
            } catch {
                Issue.record(error)
            }
        }
        #expect(unwound.withLock { $0 })
        #expect(neverStartedReleased.withLock { $0 })
        // The sleeper's timer went with it: the loop was left with nothing to do.
        #expect(try #require(loop).activeWatcherCount == 0)
    }

    @Test("Event wakes every waiter in the order they waited", arguments: allBackends)
    func eventWakesAll(backend: Backend) throws {
        try withHub(backend) { _ in
            let event = Event()
            var woken: [Int] = []
            let waiters = try (0..<5).map { index in
                try spawn {
                    try event.wait()
                    woken.append(index)
                }
            }
            try sleep(.zero)
            #expect(woken.isEmpty)
            event.set()
            try joinAll(waiters)
            #expect(woken == [0, 1, 2, 3, 4])
            // Set: later waits return at once; cleared: they block again.
            #expect(try event.wait(timeout: .zero))
            event.clear()
            #expect(try event.wait(timeout: .milliseconds(5)) == false)
        }
    }

    @Test("sleep(0) is fair: ping-ponging greenlets advance in turn", arguments: allBackends)
    func sleepZeroFairness(backend: Backend) throws {
        try withHub(backend) { _ in
            var trace: [Int] = []
            let players = try (0..<4).map { index in
                try spawn {
                    for _ in 0..<5 {
                        trace.append(index)
                        try sleep(.zero)
                    }
                }
            }
            try joinAll(players)
            #expect(trace == Array(repeating: [0, 1, 2, 3], count: 5).flatMap { $0 })
        }
    }

    @Test("a greenlet whose yield a timeout ends, and that nobody holds, goes at once; its turn resumes nothing",
          arguments: allBackends)
    func yieldEndedByThrow(backend: Backend) throws {
        final class Observed: @unchecked Sendable {
            weak var greenlet: Greenlet?
            var yields = 0
            var ended = false
        }
        try withHub(backend) { hub in
            let observed = Observed()
            // No handle kept: once it ends, the hub's was the last reference.
            _ = try spawn {
                observed.greenlet = Greenlet.current
                do {
                    try withTimeout(.milliseconds(2)) {
                        while true {
                            observed.yields += 1
                            try sleep(.zero)
                        }
                    }
                } catch is Timeout {}
                observed.ended = true
            }
            let deadline = ContinuousClock.now + .seconds(10)
            while !observed.ended && ContinuousClock.now < deadline { try sleep(.zero) }
            #expect(observed.ended)
            #expect(observed.yields > 1)
            // The yield the timeout ended left its turn in the ready queue: it must resume nothing
            // (under the address sanitizer, reading the freed greenlet would fail here).
            for _ in 0..<3 { try sleep(.zero) }
            #expect(observed.greenlet == nil)
            #expect(hub.loop.activeWatcherCount == 0)
        }
    }

    @Test("I/O makes progress while greenlets only sleep(0); yieldPollInterval decides how soon",
          arguments: allBackends)
    func ioProgressDuringSleepZero(backend: Backend) throws {
        try withHub(backend) { hub in
            /// Spins on sleep(0), at most `limit` times, until a reader of a pipe written before the
            /// spinning wakes up; returns the spins and whether the reader woke during them.
            func spin(limit: Int) throws -> (spins: Int, wokeWhileSpinning: Bool) {
                let pipe = try Pipe()
                var readerWoke = false
                let reader = try spawn {
                    try waitReadable(pipe.readEnd.rawValue)
                    readerWoke = true
                }
                var spins = 0
                var wokeWhileSpinning = false
                let spinner = try spawn {
                    _ = try pipe.writeEnd.writeAll("x".utf8)
                    while !readerWoke && spins < limit {
                        spins += 1
                        try sleep(.zero)
                    }
                    wokeWhileSpinning = readerWoke
                }
                try joinAll([reader, spinner])
                #expect(readerWoke)
                return (spins, wokeWhileSpinning)
            }
            // By default the loop polls at least every 50 µs while greenlets only yield: the
            // reader wakes long before the spinner's limit (which takes seconds to reach).
            #expect(hub.yieldPollInterval == .microseconds(50))
            let amortized = try spin(limit: 10_000_000)
            #expect(amortized.wokeWhileSpinning, "no poll in \(amortized.spins) yields")
            // The interval is what decides: an hour of it, and 2,000 yields see no poll.
            hub.yieldPollInterval = .seconds(3600)
            let starved = try spin(limit: 2_000)
            #expect(!starved.wokeWhileSpinning && starved.spins == 2_000)
            // With no interval, every yield waits for a poll.
            hub.yieldPollInterval = .zero
            let strict = try spin(limit: 10_000_000)
            #expect(strict.wokeWhileSpinning && strict.spins <= 3, "\(strict.spins) spins")
        }
    }

    @Test("waitReadable and waitWritable report readiness, and time out", arguments: allBackends)
    func ioWaits(backend: Backend) throws {
        try withHub(backend) { hub in
            let pipe = try Pipe()
            #expect(try waitWritable(pipe.writeEnd.rawValue, timeout: .seconds(5)))
            #expect(try waitReadable(pipe.readEnd.rawValue, timeout: .milliseconds(10)) == false)
            let writer = try spawn(after: .milliseconds(5)) { _ = try pipe.writeEnd.writeAll("x".utf8) }
            #expect(try waitReadable(pipe.readEnd.rawValue, timeout: .seconds(5)))
            try writer.join()
            #expect(throws: LoopError.invalidFileDescriptor(-1, nil)) { try waitReadable(-1) }
            #expect(hub.loop.activeWatcherCount == 0)
        }
    }

    @Test("waiting for something that can never happen throws LoopExit instead of hanging", arguments: allBackends)
    func loopExit(backend: Backend) throws {
        try withHub(backend) { _ in
            let never = Event()
            #expect(throws: LoopExit.self) { try never.wait() }
            // The hub is still usable afterwards.
            try sleep(.milliseconds(1))
        }
    }

    @Test("a blocking call from a loop callback is refused", arguments: allBackends)
    func blockingInHub(backend: Backend) throws {
        try withHub(backend) { hub in
            var refusal: HubError?
            let timer = try hub.loop.makeTimer(after: .milliseconds(1)) {
                do { try sleep(.milliseconds(1)) } catch let error as HubError { refusal = error }
            }
            try timer.start()
            try sleep(.milliseconds(20))
            #expect(refusal == .blockingInHub)
            // The refused sleep had started its timer: it was stopped, and so was every other.
            #expect(hub.loop.activeWatcherCount == 0)
        }
    }

    @Test("stack sizes: per greenlet, per hub, and too small is refused", arguments: allBackends)
    func stackSizes(backend: Backend) throws {
        try withHub(backend) { hub in
            #expect(try spawn { 1 }.stackSize == Greenlet.defaultStackSize)
            #expect(try spawn(stackSize: 64 * 1024) { 1 }.stackSize == 64 * 1024)
            hub.defaultStackSize = 128 * 1024
            let sized = try spawn { 2 }
            #expect(sized.stackSize == 128 * 1024)
            #expect(try sized.value() == 2)
            hub.defaultStackSize = 1024
            #expect(throws: GreenletError.stackTooSmall(1024)) { try spawn { 3 } }
        }
    }

    @Test("100,000 greenlets spawn, sleep and join", arguments: allBackends)
    func hundredThousand(backend: Backend) throws {
        try withHub(backend) { hub in
            var finished = 0
            let greenlets = try (0..<100_000).map { index in
                try spawn {
                    try sleep(.milliseconds(Int64(index % 10)))
                    finished += 1
                    return index
                }
            }
            #expect(try joinAll(greenlets, timeout: .seconds(50)))
            #expect(finished == 100_000)
            #expect(try greenlets[99_999].value() == 99_999)
            #expect(hub.loop.activeWatcherCount == 0)
        }
    }
}

/// Calls its closure when it goes: captured by a greenlet's body, it shows that the body was let go.
private final class DeinitSignal {
    private let onDeinit: () -> Void

    init(_ onDeinit: @escaping () -> Void) { self.onDeinit = onDeinit }

    deinit { onDeinit() }
}
