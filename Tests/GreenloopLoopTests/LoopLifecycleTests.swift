import Greenloop
import GreenloopLibevent
import Logging
import Synchronization
import Testing

@Suite("loop lifecycle", .timeLimit(.minutes(1)))
struct LoopLifecycleTests {
    @Test("a new loop has no active watcher, and run returns at once", arguments: allBackends)
    func emptyLoop(backend: Backend) throws {
        try withLoop(backend) { loop in
            #expect(loop.activeWatcherCount == 0)
            #expect(loop.referencedWatcherCount == 0)
            #expect(loop.pendingCount == 0)
            let remaining = try loop.run()
            #expect(remaining == false)
            #expect(loop.iteration == 1)
            #expect(loop.method == .epoll)
        }
    }

    /// Regression: libevent 2.1's event_get_supported_methods() rebuilds a shared array on every
    /// call, and loops made with a method on several threads at once crashed.
    @Test("loops with an explicit method can be made on many threads at once", arguments: allBackends)
    func loopsMadeConcurrently(backend: Backend) async throws {
        let name = backend.description
        try await withThrowingTaskGroup(of: Int.self) { group in
            for _ in 0..<8 {
                group.addTask {
                    var made = 0
                    for _ in 0..<50 {
                        let loop = try makeLoop(try Backend(parsing: name + ":epoll"))
                        #expect(loop.method == .epoll)
                        try loop.close()
                        made += 1
                        #expect(Libevent.supportedMethods.contains(.epoll))
                    }
                    return made
                }
            }
            var total = 0
            for try await made in group { total += made }
            #expect(total == 400)
        }
    }

    @Test("unreferenced watchers do not keep run going; referenced ones do", arguments: allBackends)
    func refDecidesWhenRunReturns(backend: Backend) throws {
        try withLoop(backend) { loop in
            var housekeeping = 0
            let background = try loop.makeTimer(after: .milliseconds(1), repeat: .milliseconds(1)) { housekeeping += 1 }
            try background.setRef(false)
            try background.start()
            #expect(loop.activeWatcherCount == 1)
            #expect(loop.referencedWatcherCount == 0)
            var fired = false
            let work = try loop.makeTimer(after: .milliseconds(30)) { fired = true }
            try work.start()
            #expect(loop.referencedWatcherCount == 1)
            #expect(try loop.run() == false)
            #expect(fired)
            #expect(housekeeping >= 1)
            #expect(background.isActive)
            // Only the unreferenced one is left: run returns after one non-blocking iteration.
            let before = loop.iteration
            #expect(try loop.run() == false)
            #expect(loop.iteration == before + 1)
            // Referenced again, it keeps the loop going until stopped.
            try background.setRef(true)
            #expect(loop.referencedWatcherCount == 1)
            let stopper = try loop.makeTimer(after: .milliseconds(10)) { try background.stop() }
            try stopper.start()
            try loop.run()
            #expect(!background.isActive)
            #expect(loop.activeWatcherCount == 0)
        }
    }

    @Test("runOnNextIteration callbacks run in FIFO order, those queued meanwhile in the next iteration", arguments: allBackends)
    func nextIterationOrder(backend: Backend) throws {
        try withLoop(backend) { loop in
            var log: [String] = []
            var iterations: [UInt64] = []
            for index in 0..<5 {
                try loop.runOnNextIteration {
                    log.append("first \(index)")
                    iterations.append(loop.iteration)
                    if index == 2 {
                        try loop.runOnNextIteration {
                            log.append("queued by 2")
                            iterations.append(loop.iteration)
                        }
                    }
                }
            }
            #expect(try loop.run() == false)
            #expect(log == ["first 0", "first 1", "first 2", "first 3", "first 4", "queued by 2"])
            #expect(Set(iterations.prefix(5)).count == 1)
            #expect(iterations[5] == iterations[0] + 1)
        }
    }

    @Test("a callback queued before the wait keeps that wait from blocking", arguments: allBackends)
    func queuedCallbackDoesNotBlock(backend: Backend) throws {
        try withLoop(backend) { loop in
            var ran = false
            let longTimer = try loop.makeTimer(after: .seconds(30)) {}
            try longTimer.start()
            var queued = false
            let prepare = try loop.makePrepareWatcher {
                guard !queued else { return }
                queued = true
                try loop.runOnNextIteration { ran = true }
            }
            try prepare.start()
            // Without the rule, this iteration would wait 30 s for the timer.
            try loop.run(.once)
            #expect(!ran)
            try loop.run(.nonBlocking)
            #expect(ran)
            #expect(longTimer.isActive)
            #expect(longTimer.remaining > .seconds(29))
        }
    }

    @Test("stop() ends run after the current iteration; run can be called again", arguments: allBackends)
    func stopAndResume(backend: Backend) throws {
        try withLoop(backend) { loop in
            var ticks = 0
            let timer = try loop.makeTimer(after: .milliseconds(1), repeat: .milliseconds(1)) {
                ticks += 1
                if ticks == 3 || ticks == 6 { try loop.stop() }
                if ticks == 6 { try loop.runOnNextIteration {} }
            }
            try timer.start()
            #expect(try loop.run() == true)
            #expect(ticks == 3)
            #expect(try loop.run() == true)
            #expect(ticks == 6)
            try timer.stop()
            #expect(try loop.run() == false)
        }
    }

    @Test("close() frees the loop; watchers become inactive and every use throws", arguments: allBackends)
    func closeLoop(backend: Backend) throws {
        let loop = try makeLoop(backend)
        let pipe = try Pipe()
        let io = try loop.makeIOWatcher(pipe.readEnd, .read) { _ in }
        let timer = try loop.makeTimer(after: .seconds(1)) {}
        let idle = try loop.makeIdleWatcher {}
        let async = try loop.makeAsyncWatcher {}
        for watcher in [io, timer, idle, async] as [Watcher] { try watcher.start() }
        try loop.close()
        #expect(loop.isClosed)
        #expect(!io.isActive && !timer.isActive && !idle.isActive && !async.isActive)
        #expect(throws: LoopError.loopClosed(operation: "run(_:)")) { try loop.run() }
        #expect(throws: LoopError.loopClosed(operation: "makeTimer")) { try loop.makeTimer(after: .zero) {} }
        #expect(throws: LoopError.loopClosed(operation: "timer.start()")) { try timer.start() }
        // Stopping, closing again and dropping are harmless.
        try timer.stop()
        try loop.close()
        async.sender.send()
    }

    @Test("a loop dropped without close() is freed, and so are its dropped watchers", arguments: allBackends)
    func droppedLoopIsFreed(backend: Backend) throws {
        weak var weakLoop: EventLoop?
        weak var weakTimer: TimerWatcher?
        do {
            let loop = try makeLoop(backend)
            let timer = try loop.makeTimer(after: .seconds(60)) {}
            try timer.start()
            let signal = try loop.makeSignalWatcher(.realTime(backend == .libev ? 5 : 6)) {}
            try signal.start()
            weakLoop = loop
            weakTimer = timer
            try loop.run(.nonBlocking)
        }
        #expect(weakTimer == nil)
        #expect(weakLoop == nil)
    }

    @Test("loop.now is cached per iteration and updateNow() refreshes it", arguments: allBackends)
    func cachedNow(backend: Backend) throws {
        try withLoop(backend) { loop in
            // What every callback saw, with its iteration: two timers, and an unreferenced check
            // watcher that runs after the callbacks of every iteration. (The two timers need not
            // fire in one iteration: libevent counts a timeout from the clock at `event_add`, so
            // the second deadline may come a few microseconds after the first.)
            var seen: [(iteration: UInt64, now: LoopInstant)] = []
            let first = try loop.makeTimer(after: .milliseconds(5)) { seen.append((loop.iteration, loop.now)) }
            let second = try loop.makeTimer(after: .milliseconds(5)) { seen.append((loop.iteration, loop.now)) }
            let check = try loop.makeCheckWatcher { seen.append((loop.iteration, loop.now)) }
            try check.setRef(false)
            try first.start()
            try second.start()
            try check.start()
            try loop.run()
            let byIteration = Dictionary(grouping: seen, by: \.iteration).values
            // Each timer's iteration also ran the check: at least one iteration saw two callbacks.
            #expect(byIteration.contains { $0.count >= 2 })
            for callbacks in byIteration {
                #expect(callbacks.allSatisfy { $0.now == callbacks[0].now })
            }
            let before = loop.now
            var spin = LoopInstant.monotonicNow()
            while spin.nanoseconds - before.nanoseconds < 2_000_000 { spin = LoopInstant.monotonicNow() }
            #expect(loop.now == before)
            try loop.updateNow()
            #expect(loop.now > before)
        }
    }

    @Test("run() inside a callback and close() while running are refused", arguments: allBackends)
    func reentrancy(backend: Backend) throws {
        try withLoop(backend) { loop in
            var errors: [LoopError] = []
            try loop.runOnNextIteration {
                do throws(LoopError) { try loop.run() } catch { errors.append(error) }
                do throws(LoopError) { try loop.close() } catch { errors.append(error) }
            }
            try loop.run()
            #expect(errors == [.reentrantRun, .closeWhileRunning])
            #expect(!loop.isClosed)
        }
    }

    @Test("an error thrown by a callback goes to the error handler, and the loop goes on", arguments: allBackends)
    func errorsGoToTheHandler(backend: Backend) throws {
        struct Boom: Error {}
        try withLoop(backend) { loop in
            var reported: [String] = []
            loop.errorHandler = { error, source in reported.append("\(source): \(error is Boom)") }
            var after = false
            let failing = try loop.makeTimer(after: .milliseconds(1)) { throw Boom() }
            // Unreferenced: it runs in every iteration (at least one) and keeps no loop running,
            // so the run ends after the timers whatever the order they fire in.
            let check = try loop.makeCheckWatcher { throw Boom() }
            try check.setRef(false)
            let later = try loop.makeTimer(after: .milliseconds(5)) { after = true }
            try failing.start()
            try later.start()
            try check.start()
            try loop.runOnNextIteration { throw Boom() }
            try loop.run()
            #expect(after)
            #expect(reported.contains("timer: true"))
            #expect(reported.contains("check watcher: true"))
            #expect(reported.contains("runOnNextIteration callback: true"))
        }
    }

    @Test("the default error handler logs through the loop's logger", arguments: allBackends)
    func defaultHandlerLogs(backend: Backend) throws {
        let records = RecordingLogHandler.Records()
        let logger = Logger(label: "test") { _ in RecordingLogHandler(records: records) }
        let loop = try makeLoop(backend, logger: logger)
        defer { try? loop.close() }
        struct Boom: Error, CustomStringConvertible { var description: String { "boom" } }
        try loop.runOnNextIteration { throw Boom() }
        try loop.run()
        let messages = records.messages
        #expect(messages.count == 1)
        #expect(messages.first?.contains("error thrown by a callback") == true)
        #expect(messages.first?.contains("boom") == true)
    }
}

/// A log handler that keeps what it is given, for one test.
struct RecordingLogHandler: LogHandler {
    final class Records: Sendable {
        private let storage = Mutex<[String]>([])
        func append(_ message: String) { storage.withLock { $0.append(message) } }
        var messages: [String] { storage.withLock { $0 } }
    }

    let records: Records
    var metadata: Logger.Metadata = [:]
    var logLevel: Logger.Level = .trace

    subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    func log(event: LogEvent) {
        records.append("\(event.level) \(event.message) \(event.metadata ?? [:])")
    }
}
