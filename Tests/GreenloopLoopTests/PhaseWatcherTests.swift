import Greenloop
import Testing

@Suite("prepare, check and idle watchers", .timeLimit(.minutes(1)))
struct PhaseWatcherTests {
    @Test("prepare runs before the wait and check after it, in every iteration", arguments: allBackends)
    func prepareAndCheck(backend: Backend) throws {
        try withLoop(backend) { loop in
            var log: [String] = []
            let prepare = try loop.makePrepareWatcher { log.append("prepare") }
            let check = try loop.makeCheckWatcher { log.append("check") }
            let timer = try loop.makeTimer(after: .milliseconds(5), repeat: .milliseconds(5)) {
                log.append("timer")
                if log.filter({ $0 == "timer" }).count == 2 { try loop.stop() }
            }
            try prepare.start()
            try check.start()
            try timer.start()
            try loop.run()
            // Each iteration is prepare … check; the timer runs between them.
            #expect(log.first == "prepare")
            #expect(log.last == "check")
            let timerIndices = log.indices.filter { log[$0] == "timer" }
            #expect(timerIndices.count == 2)
            for index in timerIndices {
                #expect(log[index - 1] == "prepare")
                #expect(log[index + 1] == "check")
            }
            #expect(log.filter { $0 == "prepare" }.count == log.filter { $0 == "check" }.count)
        }
    }

    @Test("prepare and check alone do not keep the loop from blocking, nor alive when unreferenced", arguments: allBackends)
    func prepareAloneBlocks(backend: Backend) throws {
        try withLoop(backend) { loop in
            var prepares = 0
            let prepare = try loop.makePrepareWatcher { prepares += 1 }
            try prepare.setRef(false)
            try prepare.start()
            var fired = false
            let timer = try loop.makeTimer(after: .milliseconds(50)) { fired = true }
            try timer.start()
            try loop.run()
            #expect(fired)
            // Blocking in the wait means one or two iterations for one timer, not a spin.
            #expect(prepares <= 3)
            #expect(loop.referencedWatcherCount == 0)
        }
    }

    @Test("idle runs only in iterations where nothing else ran, and keeps the loop from blocking", arguments: allBackends)
    func idle(backend: Backend) throws {
        try withLoop(backend) { loop in
            let pipe = try Pipe()
            var log: [String] = []
            var idle: IdleWatcher!
            defer { idle = nil }  // the callback captures its own watcher: break the cycle
            idle = try loop.makeIdleWatcher {
                log.append("idle")
                if log.filter({ $0 == "idle" }).count == 3 { try idle.stop() }
            }
            let reader = try loop.makeIOWatcher(pipe.readEnd, .read) { _ in
                _ = try pipe.readAvailable()
                log.append("io")
            }
            try reader.start()
            try reader.setRef(false)
            try pipe.write("x")
            try idle.start()
            // The loop never waits while idle is active, so this returns with no other watcher.
            try loop.run()
            #expect(log == ["io", "idle", "idle", "idle"])
            #expect(!idle.isActive)
        }
    }

    @Test("several watchers of one kind run in the order they were started", arguments: allBackends)
    func startOrder(backend: Backend) throws {
        try withLoop(backend) { loop in
            var order: [Int] = []
            let checks = try (0..<4).map { index in try loop.makeCheckWatcher { order.append(index) } }
            for index in [2, 0, 3, 1] { try checks[index].start() }
            _ = try withExtendedLifetime(checks) { try loop.run(.nonBlocking) }
            #expect(order == [2, 0, 3, 1])
        }
    }
}
