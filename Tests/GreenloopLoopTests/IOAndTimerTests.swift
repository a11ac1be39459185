import Greenloop
import SystemPackage
import Testing

@Suite("io and timer watchers", .timeLimit(.minutes(1)))
struct IOAndTimerTests {
    @Test("an io watcher fires for readability with the data, and not once stopped", arguments: allBackends)
    func ioRead(backend: Backend) throws {
        try withLoop(backend) { loop in
            let pipe = try Pipe()
            var received: [String] = []
            var events: [IOEvents] = []
            let watcher = try loop.makeIOWatcher(pipe.readEnd, .read) { ready in
                events.append(ready)
                received.append(try pipe.readAvailable())
            }
            #expect(!watcher.isActive)
            try watcher.start()
            #expect(watcher.isActive)
            #expect(loop.activeWatcherCount == 1)
            try pipe.write("hello")
            #expect(try loop.run(until: { received == ["hello"] }))
            #expect(events == [.read])
            try watcher.stop()
            #expect(!watcher.isActive)
            #expect(loop.activeWatcherCount == 0)
            try pipe.write("unread")
            try loop.run(.nonBlocking)
            #expect(received == ["hello"])
        }
    }

    @Test("an io watcher fires for writability and is level-triggered", arguments: allBackends)
    func ioWrite(backend: Backend) throws {
        try withLoop(backend) { loop in
            let pipe = try Pipe()
            var fired = 0
            let watcher = try loop.makeIOWatcher(pipe.writeEnd, [.read, .write]) { ready in
                #expect(ready == .write)
                fired += 1
            }
            try watcher.start()
            #expect(try loop.run(until: { fired >= 3 }))
            #expect(watcher.isActive)
        }
    }

    @Test("set(_:_:) moves a stopped watcher to another descriptor", arguments: allBackends)
    func ioSet(backend: Backend) throws {
        try withLoop(backend) { loop in
            let first = try Pipe()
            let second = try Pipe()
            var received = ""
            var current = first
            let watcher = try loop.makeIOWatcher(first.readEnd, .read) { _ in received += try current.readAvailable() }
            #expect(throws: LoopError.self) {
                try watcher.start()
                try watcher.set(second.readEnd, .read)
            }
            try watcher.stop()
            try watcher.set(second.readEnd, .read)
            current = second
            try watcher.start()
            try first.write("first")
            try second.write("second")
            #expect(try loop.run(until: { received == "second" }))
        }
    }

    @Test("a one-shot timer fires once, not before its time, and stops itself", arguments: allBackends)
    func oneShot(backend: Backend) throws {
        try withLoop(backend) { loop in
            var fired: [LoopInstant] = []
            let start = LoopInstant.monotonicNow()
            let timer = try loop.makeTimer(after: .milliseconds(30)) { fired.append(LoopInstant.monotonicNow()) }
            try loop.updateNow()
            try timer.start()
            #expect(timer.remaining > .milliseconds(20) && timer.remaining <= .milliseconds(30))
            try loop.run()
            #expect(fired.count == 1)
            #expect(start.duration(to: fired[0]) >= .milliseconds(29))
            #expect(!timer.isActive)
            #expect(timer.remaining == .zero)
            #expect(loop.activeWatcherCount == 0)
        }
    }

    @Test("durations become deadlines to the nanosecond, below and above 18 s", arguments: allBackends)
    func durationConversion(backend: Backend) throws {
        try withLoop(backend) { loop in
            // 18.45 s is where a Duration's attosecond count outgrows 64 bits.
            let durations: [Duration] = [
                .nanoseconds(1), .microseconds(1500), .seconds(18) + .milliseconds(440),
                .seconds(18) + .milliseconds(450), .seconds(3600) + .nanoseconds(7),
            ]
            for duration in durations {
                let timer = try loop.makeTimer(after: duration) {}
                try loop.updateNow()
                try timer.start()
                // The deadline is `now` plus the duration: nothing has moved `now` since.
                #expect(timer.remaining == duration, "after \(duration)")
                try timer.close()
            }
            // Below a nanosecond rounds down to zero: due at once, never refused.
            let tiny = try loop.makeTimer(after: .nanoseconds(1) / 2) {}
            try tiny.start()
            #expect(tiny.remaining == .zero)
        }
    }

    @Test("timers that expire in the same wait run in order of expiry", arguments: allBackends)
    func ordering(backend: Backend) throws {
        try withLoop(backend) { loop in
            var order: [Int] = []
            let delays = [30, 10, 50, 20, 40]
            let timers = try delays.map { ms in try loop.makeTimer(after: .milliseconds(ms)) { order.append(ms) } }
            for timer in timers { try timer.start() }
            // An array's lifetime may end at its last use in an optimized build, and a watcher
            // stops with its last reference.
            _ = try withExtendedLifetime(timers) { try loop.run() }
            #expect(order == [10, 20, 30, 40, 50])
        }
    }

    @Test("a repeating timer keeps its rhythm and stops when told", arguments: allBackends)
    func repeating(backend: Backend) throws {
        try withLoop(backend) { loop in
            var times: [LoopInstant] = []
            var timer: TimerWatcher!
            defer { timer = nil }  // the callback captures its own watcher: break the cycle
            timer = try loop.makeTimer(after: .milliseconds(5), repeat: .milliseconds(10)) {
                times.append(loop.now)
                if times.count == 5 { try timer.stop() }
            }
            try loop.updateNow()
            let start = loop.now
            try timer.start()
            try loop.run()
            #expect(times.count == 5)
            #expect(!timer.isActive)
            // Scheduled at 5, 15, 25, 35, 45 ms: the rhythm does not drift by callback time.
            let last = start.duration(to: times[4])
            #expect(last >= .milliseconds(44) && last < .milliseconds(500))
        }
    }

    @Test("again() pushes a timeout back, and stops a timer without repeat", arguments: allBackends)
    func again(backend: Backend) throws {
        try withLoop(backend) { loop in
            var timeouts = 0
            var timeout: TimerWatcher!
            defer { timeout = nil }  // the callback captures its own watcher: break the cycle
            timeout = try loop.makeTimer(after: .zero, repeat: .milliseconds(40)) {
                timeouts += 1
                try timeout.stop()
            }
            try timeout.again()
            #expect(timeout.isActive)
            #expect(timeout.remaining > .milliseconds(30))
            // Activity every 10 ms for 100 ms keeps pushing the 40 ms timeout back.
            var activity = 0
            let active = try loop.makeTimer(after: .milliseconds(10), repeat: .milliseconds(10)) {
                activity += 1
                try timeout.again()
                if activity == 10 { try loop.stop() }
            }
            try active.start()
            try loop.run()
            #expect(timeouts == 0)
            try active.stop()
            try loop.run()
            #expect(timeouts == 1)
            // With no repeat, again() stops.
            try timeout.setRepeat(.zero)
            try timeout.start()
            try timeout.again()
            #expect(!timeout.isActive)
        }
    }

    @Test("a postponed timer fires once, when it was last pushed back to; an earlier time takes over at once",
          arguments: allBackends)
    func postponed(backend: Backend) throws {
        try withLoop(backend) { loop in
            var fired: [LoopInstant] = []
            let timeout = try loop.makeTimer(after: .zero) { fired.append(LoopInstant.monotonicNow()) }
            try loop.updateNow()
            timeout.postponeOnLoopThread(toNanosecondsFromNow: 20_000_000)  // starts it
            #expect(timeout.isActive)
            // Pushed back to 20 ms from now every 10 ms for 60 ms: its native timer expires on the
            // way, and moves on without calling back.
            var pushes = 0
            var lastPush = LoopInstant.monotonicNow()
            let pusher = try loop.makeTimer(after: .milliseconds(10), repeat: .milliseconds(10)) {
                pushes += 1
                if pushes > 6 { return }
                timeout.postponeOnLoopThread(toNanosecondsFromNow: 20_000_000)
                lastPush = LoopInstant.monotonicNow()
                #expect(timeout.remaining > .milliseconds(10))
            }
            try pusher.start()
            #expect(try loop.run(until: { pushes >= 6 }))
            try pusher.stop()
            #expect(fired.isEmpty)
            #expect(try loop.run(until: { !fired.isEmpty }))
            #expect(fired.count == 1)
            #expect(lastPush.duration(to: fired[0]) >= .milliseconds(19))
            #expect(!timeout.isActive)
            // Due in 500 ms, then in 5 ms: it fires after 5.
            try loop.updateNow()
            let started = LoopInstant.monotonicNow()
            timeout.postponeOnLoopThread(toNanosecondsFromNow: 500_000_000)
            timeout.postponeOnLoopThread(toNanosecondsFromNow: 5_000_000)
            #expect(try loop.run(until: { fired.count == 2 }))
            #expect(started.duration(to: fired[1]) < .milliseconds(400))
            #expect(loop.activeWatcherCount == 0)
        }
    }

    @Test("set(after:repeat:) refuses an active timer and applies at the next start", arguments: allBackends)
    func setTimer(backend: Backend) throws {
        try withLoop(backend) { loop in
            var fired = 0
            let timer = try loop.makeTimer(after: .seconds(60)) { fired += 1 }
            try timer.start()
            #expect(throws: LoopError.watcherActive(operation: "set(after:repeat:)", watcher: "timer")) {
                try timer.set(after: .zero, repeat: .zero)
            }
            try timer.stop()
            try timer.set(after: .milliseconds(1), repeat: .zero)
            try timer.start()
            try loop.run()
            #expect(fired == 1)
        }
    }

    @Test("priorities order io callbacks of the same iteration", arguments: allBackends)
    func priorities(backend: Backend) throws {
        try withLoop(backend) { loop in
            let pipes = try (0..<3).map { _ in try Pipe() }
            var order: [Int] = []
            let watchers = try pipes.enumerated().map { index, pipe in
                try loop.makeIOWatcher(pipe.readEnd, .read) { _ in
                    _ = try pipe.readAvailable()
                    order.append(index)
                }
            }
            try watchers[0].setPriority(-2)
            try watchers[2].setPriority(2)
            for watcher in watchers { try watcher.start() }
            for pipe in pipes { try pipe.write("x") }
            #expect(try withExtendedLifetime(watchers) { try loop.run(until: { order.count == 3 }) })
            #expect(order.first == 2)
            #expect(order.last == 0)
        }
    }
}
