import CGreenloopTestSupport
import Greenlets
import GreenloopCore
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// Busy for `milliseconds` without switching: the loop's cached time ages meanwhile, as it does
/// behind any long callback or greenlet.
private func spin(milliseconds: UInt64) {
    let end = LoopInstant.monotonicNow().nanoseconds + milliseconds * 1_000_000
    while LoopInstant.monotonicNow().nanoseconds < end {}
}

@Suite("reliability: timing, graceful stop, arguments", .serialized, .timeLimit(.minutes(1)))
struct ReliabilityTests {
    @Test("a sleep, a timeout and every timed wait last their full duration, even when the loop's time is stale", arguments: allBackends)
    func noEarlyWakeUps(backend: Backend) throws {
        try withHub(backend) { _ in
            let pipe = try Pipe()
            let listener = try Socket(.ipv4)
            try listener.bind(to: SocketAddress(ipv4: "127.0.0.1", port: 0))
            try listener.listen()
            let quiet = try Socket.connect(to: listener.localAddress!)
            let sleeper = try spawn { try sleep(.seconds(10)) }
            defer { try? sleeper.kill() }
            let limit = Duration.milliseconds(5)
            // Each returns whether it ended by its time limit.
            let waits: [(String, () throws -> Bool)] = [
                ("sleep", { try sleep(limit); return true }),
                ("Event.wait", { try !Event().wait(timeout: limit) }),
                ("Queue.get", { try Queue<Int>().get(timeout: limit) == nil }),
                ("join", { try !sleeper.join(timeout: limit) }),
                ("waitReadable", { try !waitReadable(pipe.readEnd.rawValue, timeout: limit) }),
                ("withTimeout", {
                    do { try withTimeout(limit) { try sleep(.seconds(10)) } } catch is Timeout { return true }
                    return false
                }),
                ("Socket.read", {
                    quiet.timeout = limit
                    do { _ = try quiet.read() } catch SocketError.timedOut { return true }
                    return false
                }),
            ]
            for (name, wait) in waits {
                for _ in 0..<3 {
                    try sleep(.milliseconds(1))  // a new iteration, whose time then ages
                    spin(milliseconds: 20)
                    let start = LoopInstant.monotonicNow().nanoseconds
                    let timedOut = try wait()
                    let elapsed = LoopInstant.monotonicNow().nanoseconds - start
                    #expect(timedOut, "\(name) did not time out")
                    #expect(elapsed >= 5_000_000, "\(name) ended after \(elapsed) ns, before its 5 ms")
                }
            }
        }
    }

    @Test("serveForever returns only after stop() has let every request under way finish", arguments: allBackends)
    func gracefulStop(backend: Backend) throws {
        let signal = Signal.realTime(12)  // this suite's own (10 is the adapter tests')
        try withHub(backend) { _ in
            let request = 2048
            let server = try StreamServer(listeningOn: SocketAddress(ipv4: "127.0.0.1", port: 0)) { client in
                while true {
                    let bytes = try client.readExactly(request)
                    try client.writeAll(bytes)
                }
            }
            let clients = 20
            var halfSent = 0
            var completed = 0
            let allHalfSent = Event()
            let stopRequested = Event()
            for index in 0..<clients {
                _ = try spawn {
                    let socket = try Socket.connect(to: server.address)
                    socket.timeout = .seconds(10)
                    let message = (0..<request).map { UInt8(truncatingIfNeeded: $0 &* 7 &+ index) }
                    try socket.writeAll(Array(message[..<(request / 2)]))
                    halfSent += 1
                    if halfSent == clients { allHalfSent.set() }
                    // The rest only once the stop is under way: a cut server never sees it.
                    try stopRequested.wait()
                    try sleep(.milliseconds(20))
                    try socket.writeAll(Array(message[(request / 2)...]))
                    if try socket.readExactly(request) == message { completed += 1 }
                    socket.close()
                }
            }
            var everyHandlerFinished = false
            let handler = try SignalHandler(signal) {
                stopRequested.set()
                everyHandlerFinished = try server.stop(timeout: .seconds(10))
            }
            defer { try? handler.cancel() }
            _ = try spawn {
                try allHalfSent.wait()
                kill(getpid(), signal.rawValue)
            }
            try server.serveForever()
            // Returned: the stop has finished, so every request under way was answered.
            #expect(completed == clients)
            #expect(everyHandlerFinished)
            #expect(server.activeHandlerCount == 0)
            #expect(!server.isServing)
            // A second stop waits for nothing and says what the first said.
            #expect(try server.stop())
        }
    }

    @Test("a stack size no address space holds throws instead of trapping")
    func hugeStack() throws {
        #expect(throws: GreenletError.stackAllocationFailed(.noMemory)) {
            _ = try Greenlet(stackSize: Int.max / 2) { _ in nil }
        }
        #expect(throws: GreenletError.stackAllocationFailed(.noMemory)) {
            _ = try Greenlet(stackSize: Int.max) { _ in nil }
        }
    }

    @Test("a bad argument traps with its message in every build")
    func badArgumentMessage() async {
        await #expect(processExitsWith: .failure, observing: [\.standardErrorContent]) {
            _ = Pool(size: 0)
        }.map { result in
            let text = String(decoding: result.standardErrorContent, as: UTF8.self)
            #expect(text.contains("a pool runs at least one greenlet, not 0"))
        }
    }
}

@Suite("stack overflow is caught in the guard and reported", .timeLimit(.minutes(1)))
struct StackOverflowTests {
    @Test("a C frame just under the guard size faults in the guard with a stack-overflow message")
    func frameJustUnderTheGuard() async {
        await #expect(processExitsWith: .failure, observing: [\.standardErrorContent]) {
            let guardSize = Greenlet.stackGuardSize
            // Two stacks side by side: the victim's frames lie just below the overflowing one's
            // guard, where a frame that skipped the guard would write.
            let victim = try Greenlet(stackSize: Greenlet.minimumStackSize) { _ in
                _ = try Greenlet.current.parent!.switchInto()
                return nil
            }
            _ = try victim.switchInto()
            let overflowing = try Greenlet(stackSize: Greenlet.minimumStackSize) { _ in
                Int(greenloop_test_big_frame(guardSize - 4096))
            }
            _ = try overflowing.switchInto()
            print("the frame did not fault")
        }.map { result in
            let text = String(decoding: result.standardErrorContent, as: UTF8.self)
            #expect(text.contains("stack overflow in a greenlet"), "\(text)")
            #expect(text.contains("\(Greenlet.stackGuardSize / 1024) KiB guard region"))
        }
    }

    @Test("deep recursion in a greenlet ends in the same report")
    func recursion() async {
        await #expect(processExitsWith: .failure, observing: [\.standardErrorContent]) {
            func recurse(_ depth: Int) -> Int {
                var frame = (depth, depth, depth, depth, depth, depth, depth, depth)
                withUnsafeMutablePointer(to: &frame) { _ in }
                return depth == .max ? 0 : recurse(depth + 1) + frame.0
            }
            let greenlet = try Greenlet { _ in recurse(0) }
            _ = try greenlet.switchInto()
        }.map { result in
            let text = String(decoding: result.standardErrorContent, as: UTF8.self)
            #expect(text.contains("stack overflow in a greenlet"), "\(text)")
        }
    }

    @Test("the guard size is configurable, in pages, within bounds")
    func guardSizeSetting() throws {
        let page = Int(sysconf(Int32(_SC_PAGESIZE)))
        #expect(Greenlet.stackGuardSize >= 64 * 1024)
        #expect(throws: GreenletError.invalidStackGuardSize(0)) { try Greenlet.setStackGuardSize(0) }
        #expect(throws: GreenletError.invalidStackGuardSize(2 << 30)) { try Greenlet.setStackGuardSize(2 << 30) }
        #expect(Greenlet.stackGuardSize >= 64 * 1024)
        _ = page
    }
}

@Suite("only the hub resumes a wait", .timeLimit(.minutes(1)))
struct InvalidSwitchTests {
    @Test("a stray switch into a waiting greenlet fails its wait with invalidSwitch and leaves nothing behind", arguments: allBackends)
    func straySwitchFailsTheWait(backend: Backend) throws {
        try withHub(backend) { hub in
            let pipe = try Pipe()
            let event = Event()
            let queue = Queue<Int>()
            let sleeper = try spawn { try sleep(.seconds(30)) }
            let waits: [(String, () throws -> Void)] = [
                ("sleep", { try sleep(.seconds(2)) }),
                ("waitReadable", { _ = try waitReadable(pipe.readEnd.rawValue) }),
                ("waitReadable with a timeout", { _ = try waitReadable(pipe.readEnd.rawValue, timeout: .seconds(2)) }),
                ("Event.wait", { _ = try event.wait() }),
                ("Queue.get", { _ = try queue.get() }),
                ("join", { _ = try sleeper.join() }),
            ]
            try sleep(.milliseconds(1))
            let baseline = hub.loop.activeWatcherCount
            for (name, wait) in waits {
                var failure: (any Error)?
                var waited = Duration.zero
                let main = Greenlet.current
                let waiter = try spawn {
                    let start = LoopInstant.monotonicNow().nanoseconds
                    do { try wait() } catch { failure = error }
                    waited = .nanoseconds(Int64(LoopInstant.monotonicNow().nanoseconds - start))
                    _ = try main.switchInto()
                }
                try sleep(.milliseconds(1))  // started, and waiting
                _ = try waiter.switchInto()  // the stray switch; the waiter switches back
                #expect((failure as? HubError) == .invalidSwitch, "\(name): \(String(describing: failure))")
                #expect(waited < .seconds(1), "\(name)")
                #expect(hub.loop.activeWatcherCount == baseline, "\(name) left a watcher active")
                try waiter.kill()
                // The primitive is still sound: a proper wake-up still works.
                if name == "Event.wait" {
                    event.set()
                    #expect(try event.wait(timeout: .seconds(1)))
                    event.clear()
                }
                if name == "Queue.get" {
                    try queue.tryPut(7)
                    #expect(try queue.get(timeout: .seconds(1)) == 7)
                }
            }
            try sleeper.kill()
        }
    }

    @Test("a stray switch into a yielding greenlet fails its sleep(.zero) with invalidSwitch", arguments: allBackends)
    func straySwitchIntoAYield(backend: Backend) throws {
        try withHub(backend) { _ in
            var failure: (any Error)?
            var yielder: SpawnedGreenlet<Void>?
            // Started in this order: the yielder's entry is queued behind the intruder's start,
            // so the intruder switches in while the yield waits for its turn.
            yielder = try spawn {
                do { try sleep(.zero) } catch { failure = error }
            }
            let intruder = try spawn { _ = try yielder!.switchInto() }
            try sleep(.milliseconds(5))
            #expect((failure as? HubError) == .invalidSwitch)
            #expect(yielder!.isReady)
            try intruder.kill()
        }
    }
}
