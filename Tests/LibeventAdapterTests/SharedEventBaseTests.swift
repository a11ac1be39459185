import CLibevent
import Greenloop
import GreenloopTestSupport
import LibeventAdapter
import SystemPackage
import Testing

#if canImport(Glibc)
import Glibc
#endif

@Suite("shared event_base: C events on the loop", .timeLimit(.minutes(1)))
struct SharedEventBaseTests {
    @Test("the mechanism follows the backend", arguments: allBackends)
    func mechanism(backend: Backend) throws {
        try withSharedBase(backend) { hub, shared in
            #expect(shared.mechanism == (backend.kind == .libevent ? .loopsOwnBase : .servedByLoop))
            #expect(String(cString: event_base_get_method(shared.base)) == "epoll")
        }
    }

    @Test("C events added before the loop runs, from C callbacks and from greenlets all run", arguments: allBackends)
    func eventsAddedAnywhere(backend: Backend) throws {
        try withSharedBase(backend) { hub, shared in
            let log = CallbackLog()
            let pipe = try GreenloopTestSupport.Pipe()
            // Before the loop has run at all: an io event and a timer.
            let readable = CEvent(base: shared.base, fd: pipe.readEnd.rawValue, events: greenloop_libevent_ev_read,
                                  name: "io", log: log)
            readable.add()
            let first = CEvent(base: shared.base, name: "timer", log: log)
            first.add(after: .milliseconds(5))
            // From a C callback: the timer adds another timer.
            let chained = CEvent(base: shared.base, name: "chained", log: log)
            first.then = { chained.add(after: .milliseconds(5)) }
            let done = CallbackResult<Void>()
            chained.completes(done, with: ())
            try pipe.write("x")
            try done.wait(timeout: .seconds(5))
            #expect(log.names == ["io", "timer", "chained"])

            // From greenlet code, while the loop is running: a timer and an activation.
            let fromGreenlet = CEvent(base: shared.base, name: "greenlet-timer", log: log)
            let activated = CEvent(base: shared.base, name: "activated", log: log)
            let second = CallbackResult<Void>()
            fromGreenlet.completes(second, with: ())
            let adder = try spawn {
                activated.activate()
                fromGreenlet.add(after: .milliseconds(2))
            }
            try adder.join()
            try second.wait(timeout: .seconds(5))
            #expect(log.names.suffix(2) == ["activated", "greenlet-timer"])
        }
    }

    @Test("libevent timers and loop timers interleave in deadline order", arguments: allBackends)
    func timersInterleave(backend: Backend) throws {
        try withSharedBase(backend) { hub, shared in
            let loop = hub.loop as! EventLoop
            let log = CallbackLog()
            try loop.updateNow()
            let start = ContinuousClock.now
            var cEvents: [CEvent] = []
            var loopTimers: [TimerWatcher] = []
            for step in 1...6 {
                let due = Duration.milliseconds(15 * step)
                if step.isMultiple(of: 2) {
                    let timer = try loop.makeTimer(after: due, repeat: .zero) { log.entries.append(("loop \(step)", .now)) }
                    try timer.start()
                    loopTimers.append(timer)
                } else {
                    let event = CEvent(base: shared.base, name: "C \(step)", log: log)
                    event.add(after: due)
                    cEvents.append(event)
                }
            }
            try sleep(.milliseconds(120))
            #expect(log.names == ["C 1", "loop 2", "C 3", "loop 4", "C 5", "loop 6"])
            for (index, entry) in log.entries.enumerated() {
                let late = entry.at - start - .milliseconds(15 * (index + 1))
                // Loop timers count from the loop's cached time, taken a moment before `start`.
                #expect(late > .milliseconds(-1), "\(entry.name) fired \(late) early")
                #expect(late < .milliseconds(50), "\(entry.name) fired \(late) late")
            }
        }
    }

    @Test("a C timer earlier than the one the loop waits for fires first", arguments: allBackends)
    func earlierDeadline(backend: Backend) throws {
        try withSharedBase(backend) { hub, shared in
            let log = CallbackLog()
            let late = CEvent(base: shared.base, name: "late", log: log)
            late.add(after: .seconds(30))
            try sleep(.milliseconds(5))  // the loop has waited with the 30 s deadline armed
            let early = CEvent(base: shared.base, name: "early", log: log)
            early.add(after: .milliseconds(5))
            try withTimeout(.seconds(2)) {
                while log.entries.isEmpty { try sleep(.milliseconds(1)) }
            }
            #expect(log.names == ["early"])
        }
    }

    @Test("an idle shared base does not keep waking the loop", arguments: allBackends)
    func idleBaseSleeps(backend: Backend) throws {
        try withSharedBase(backend) { hub, shared in
            let log = CallbackLog()
            let far = CEvent(base: shared.base, name: "far", log: log)
            far.add(after: .seconds(30))
            try sleep(.milliseconds(5))
            let iterations = hub.loop.iteration
            try sleep(.milliseconds(50))
            // The sleep's own timer and at most one wake-up for the adapter's next walk.
            #expect(hub.loop.iteration - iterations <= 4)
            #expect(log.names.isEmpty)
        }
    }

    @Test("with rescanInterval zero, every wait sees the earliest C timeout", arguments: allBackends)
    func exactRescans(backend: Backend) throws {
        try withSharedBase(backend) { _, shared in
            shared.rescanInterval = .zero
            #expect(shared.rescanInterval == .zero)
            let log = CallbackLog()
            let late = CEvent(base: shared.base, name: "late", log: log)
            late.add(after: .seconds(30))
            try sleep(.milliseconds(5))
            let early = CEvent(base: shared.base, name: "early", log: log)
            let start = ContinuousClock.now
            early.add(after: .milliseconds(5))
            try withTimeout(.seconds(2)) {
                while log.entries.isEmpty { try sleep(.milliseconds(1)) }
            }
            #expect(log.names == ["early"])
            #expect(log.entries[0].at - start >= .milliseconds(5))
        }
    }

    @Test("a greenlet waits for a C callback's result", arguments: allBackends)
    func greenletWaitsForC(backend: Backend) throws {
        try withSharedBase(backend) { hub, shared in
            let log = CallbackLog()
            let event = CEvent(base: shared.base, name: "answer", log: log)
            let answer = CallbackResult<Int>()
            event.completes(answer, with: 42)
            var ticks = 0
            let ticker = try spawn {
                while !answer.result.isReady {
                    ticks += 1
                    try sleep(.milliseconds(1))
                }
            }
            event.add(after: .milliseconds(20))
            #expect(try answer.wait(timeout: .seconds(5)) == 42)
            try ticker.join()
            #expect(ticks > 3, "greenlets ran while the C call was pending")
            #expect(throws: Timeout.self) { try CallbackResult<Int>().wait(timeout: .milliseconds(5)) }
        }
    }

    @Test("while open, the shared base keeps the loop running, unless told not to", arguments: allBackends)
    func keepsLoopRunning(backend: Backend) throws {
        let loop = try makeLoop(backend)
        defer { try? loop.close() }
        let shared = try SharedEventBase(loop: loop)
        #expect(loop.referencedWatcherCount == 1)
        shared.keepsLoopRunning = false
        #expect(loop.referencedWatcherCount == 0)
        #expect(try loop.run() == false)
        shared.keepsLoopRunning = true
        try shared.close()
        #expect(loop.referencedWatcherCount == 0)
        #expect(loop.activeWatcherCount == 0)
    }
}

@Suite("shared event_base: signals and fork", .serialized, .timeLimit(.minutes(1)))
struct SharedEventBaseProcessTests {
    @Test("a signal event added by C code is deleted and reported; the loop keeps the signal", arguments: allBackends)
    func signalEventRefused(backend: Backend) throws {
        try withSharedBase(backend) { hub, shared in
            let loop = hub.loop as! EventLoop
            let signal = Signal.realTime(10)
            var reported: [String] = []
            loop.errorHandler = { error, _ in reported.append("\(error)") }
            var delivered = 0
            let watcher = try loop.makeSignalWatcher(signal) { delivered += 1 }
            try watcher.start()
            let log = CallbackLog()
            let stolen = CEvent(base: shared.base, fd: signal.rawValue, events: greenloop_libevent_ev_signal | greenloop_libevent_ev_persist,
                                name: "stolen", log: log)
            stolen.add()
            // On libev the next walk finds it; on libevent, the once-a-second patrol.
            try withTimeout(.seconds(3)) {
                while reported.isEmpty { try sleep(.milliseconds(5)) }
            }
            #expect(reported.first?.contains("signal event for") == true)
            kill(getpid(), signal.rawValue)
            try withTimeout(.seconds(3)) {
                while delivered == 0 { try sleep(.milliseconds(1)) }
            }
            #expect(log.names.isEmpty)
        }
    }

    /// In a process of its own, so that the fork copies no other test's threads.
    @Test("after Hub.fork(), C events on the shared base work in the child and in the parent", arguments: allBackends)
    func forkedChild(backend: Backend) async {
        await #expect(processExitsWith: .success) { [name = backend.description as String] in
            try withHub(try Backend(parsing: name)) { hub in
                let shared = try SharedEventBase(loop: hub.loop as! EventLoop)
                defer { try? shared.close() }
                let log = CallbackLog()
                // Each round trip on a pipe of its own: after the fork, parent and child share
                // the pipes made before it, and either could drain the other's byte.
                func roundTrip() throws -> Bool {
                    let pipe = try GreenloopTestSupport.Pipe()
                    let readable = CEvent(base: shared.base, fd: pipe.readEnd.rawValue, events: greenloop_libevent_ev_read,
                                          name: "io", log: log)
                    readable.add()
                    let before = log.entries.count
                    let timer = CEvent(base: shared.base, name: "timer", log: log)
                    timer.add(after: .milliseconds(5))
                    try pipe.write("x")
                    try withTimeout(.seconds(5)) {
                        while log.entries.count < before + 2 { try sleep(.milliseconds(1)) }
                    }
                    return Set(log.names.suffix(2)) == ["io", "timer"]
                }
                #expect(try roundTrip())
                guard let child = try Hub.fork() else {
                    let works = (try? roundTrip()) ?? false
                    let served = shared.loop === (try Hub.current().loop as! EventLoop)
                    _exit(works && served ? 0 : 1)
                }
                var status: CInt = 0
                while waitpid(child.rawValue, &status, WNOHANG) == 0 { try sleep(.milliseconds(5)) }
                #expect(status == 0, "the child reported a failure (status \(status))")
                #expect(try roundTrip(), "the parent's shared base still works")
            }
        }
    }
}

@Suite("shared event_base: the greenlet bridge after readiness nobody waited for", .timeLimit(.minutes(1)))
struct SharedEventBaseBridgeTests {
    @Test("a CallbackResult is waited for again after a C event fired while nobody waited", arguments: allBackends)
    func bridgeWaitsAgain(backend: Backend) throws {
        try withSharedBase(backend) { _, shared in
            let log = CallbackLog()
            let pipe = try GreenloopTestSupport.Pipe()
            let writeEnd = pipe.writeEnd.rawValue
            let peer = RemotePeer()
            defer { peer.finish() }
            // The first C event fires while this greenlet sleeps: its result waits, completed.
            let early = CEvent(base: shared.base, fd: pipe.readEnd.rawValue, events: greenloop_libevent_ev_read,
                               name: "early", log: log)
            let first = CallbackResult<Int>()
            early.completes(first, with: 1)
            early.add()
            peer.perform { _ = write(writeEnd, "a", 1) }
            try sleep(.milliseconds(200))
            #expect(log.names == ["early"])
            #expect(try first.wait() == 1)
            _ = try pipe.readAvailable()
            // Then a wait with nothing but the bridge to keep the loop running: the peer, on a
            // thread of its own, makes the C event fire later.
            let late = CEvent(base: shared.base, fd: pipe.readEnd.rawValue, events: greenloop_libevent_ev_read,
                              name: "late", log: log)
            let second = CallbackResult<Int>()
            late.completes(second, with: 2)
            late.add()
            peer.perform(after: 300) { _ = write(writeEnd, "b", 1) }
            #expect(try second.wait() == 2)
            #expect(log.names == ["early", "late"])
        }
    }
}
