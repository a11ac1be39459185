import Greenloop
import Synchronization
import Testing

@Suite("watcher lifetimes", .timeLimit(.minutes(1)))
struct WatcherLifetimeTests {
    @Test("a watcher dropped while active stops, for every kind", arguments: allBackends)
    func droppedWatcherStops(backend: Backend) throws {
        try withLoop(backend) { loop in
            let deinits = Mutex<Int>.Pointer()
            let pipe = try Pipe()
            var fired = 0
            func make() throws -> [Watcher] {
                let probe = LifetimeProbe(deinits)
                return [
                    try loop.makeIOWatcher(pipe.writeEnd, .write) { _ in _ = probe; fired += 1 },
                    try loop.makeTimer(after: .zero, repeat: .milliseconds(1)) { _ = probe; fired += 1 },
                    try loop.makeIdleWatcher { _ = probe; fired += 1 },
                    try loop.makePrepareWatcher { _ = probe; fired += 1 },
                    try loop.makeCheckWatcher { _ = probe; fired += 1 },
                    try loop.makeAsyncWatcher { _ = probe; fired += 1 },
                    try loop.makeSignalWatcher(.realTime(backend == .libev ? 3 : 4)) { _ = probe; fired += 1 },
                ]
            }
            var watchers: [Watcher]? = try make()
            for watcher in watchers! { try watcher.start() }
            #expect(loop.activeWatcherCount == 7)
            watchers = nil
            #expect(loop.activeWatcherCount == 0)
            #expect(deinits.count == 1)
            try loop.run()
            #expect(fired == 0)
        }
    }

    @Test("a callback may drop its own watcher; it is released once the callback returns", arguments: allBackends)
    func callbackDropsItself(backend: Backend) throws {
        try withLoop(backend) { loop in
            let deinits = Mutex<Int>.Pointer()
            var timer: TimerWatcher?
            var io: IOWatcher?
            var calls = 0
            let pipe = try Pipe()
            do {
                let probe = LifetimeProbe(deinits)
                timer = try loop.makeTimer(after: .milliseconds(1), repeat: .milliseconds(1)) {
                    _ = probe
                    calls += 1
                    timer = nil
                    // Still running inside the dropped watcher's callback: its state is intact.
                    calls += 1
                }
                io = try loop.makeIOWatcher(pipe.writeEnd, .write) { _ in
                    _ = probe
                    calls += 10
                    io = nil
                }
            }
            try timer?.start()
            try io?.start()
            try loop.run()
            #expect(calls == 12)
            #expect(deinits.count == 1)
            #expect(loop.activeWatcherCount == 0)
        }
    }

    @Test("a callback may stop another watcher that is already pending; it then does not run", arguments: allBackends)
    func stopAnotherPending(backend: Backend) throws {
        try withLoop(backend) { loop in
            let first = try Pipe()
            let second = try Pipe()
            var log: [String] = []
            var watchers: [IOWatcher] = []
            defer { watchers = [] }  // the callback captures its own watcher: break the cycle
            for (name, pipe) in [("a", first), ("b", second)] {
                watchers.append(
                    try loop.makeIOWatcher(pipe.readEnd, .read) { _ in
                        _ = try pipe.readAvailable()
                        log.append(name)
                        // Whichever runs first stops the other, which is pending by now.
                        for watcher in watchers where watcher.isActive && watcher.fileDescriptor != pipe.readEnd {
                            #expect(watcher.isPending)
                            #expect(loop.pendingCount >= 1)
                            try watcher.stop()
                            #expect(!watcher.isPending)
                        }
                    })
            }
            for watcher in watchers { try watcher.start() }
            try first.write("x")
            try second.write("y")
            try loop.run(.once)
            try loop.run(.nonBlocking)
            #expect(log == ["a"] || log == ["b"])
        }
    }

    @Test("a callback may stop and restart its own watcher and start new ones", arguments: allBackends)
    func restartFromCallback(backend: Backend) throws {
        try withLoop(backend) { loop in
            var fired = 0
            var timer: TimerWatcher!
            defer { timer = nil }  // the callback captures its own watcher: break the cycle
            var spawned: [TimerWatcher] = []
            timer = try loop.makeTimer(after: .milliseconds(1)) {
                fired += 1
                if fired < 3 {
                    try timer.start()
                    let child = try loop.makeTimer(after: .milliseconds(1)) { fired += 100 }
                    try child.start()
                    spawned.append(child)
                }
            }
            try timer.start()
            try loop.run()
            #expect(fired == 203)
        }
    }

    @Test("close() on a watcher frees it; later use throws watcherClosed", arguments: allBackends)
    func closedWatcher(backend: Backend) throws {
        try withLoop(backend) { loop in
            let timer = try loop.makeTimer(after: .seconds(10)) {}
            try timer.start()
            try timer.close()
            #expect(!timer.isActive)
            #expect(timer.isClosed)
            #expect(loop.activeWatcherCount == 0)
            #expect(throws: LoopError.watcherClosed(operation: "start()", watcher: "timer")) { try timer.start() }
            #expect(throws: LoopError.watcherClosed(operation: "again()", watcher: "timer")) { try timer.again() }
            try timer.close()
            try timer.stop()
            #expect(try loop.run() == false)
        }
    }
}
