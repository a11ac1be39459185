import Greenlets
import GreenloopCore
import Testing

#if canImport(Glibc)
import Glibc
#endif

@Suite("semaphores, locks, queues, channels, results, groups and pools", .timeLimit(.minutes(1)))
struct SynchronizationTests {
    @Test("Semaphore: non-blocking and timed acquire, and waiters served in arrival order", arguments: allBackends)
    func semaphore(backend: Backend) throws {
        try withHub(backend) { _ in
            let semaphore = Semaphore(value: 1)
            #expect(try semaphore.acquire(timeout: .zero))
            #expect(try semaphore.acquire(timeout: .zero) == false)
            #expect(try semaphore.acquire(timeout: .milliseconds(5)) == false)
            var order: [Int] = []
            let waiters = try (0..<4).map { index in
                try spawn {
                    try semaphore.acquire()
                    order.append(index)
                    try sleep(.milliseconds(1))
                    try semaphore.release()
                }
            }
            try sleep(.zero)
            #expect(semaphore.waiterCount == 4)
            try semaphore.release()
            // A latecomer that finds the semaphore momentarily free must still queue behind them.
            let latecomer = try spawn {
                try semaphore.acquire()
                order.append(99)
                try semaphore.release()
            }
            try joinAll(waiters + [latecomer])
            #expect(order == [0, 1, 2, 3, 99])
            #expect(semaphore.value == 1)
        }
    }

    @Test("BoundedSemaphore refuses an extra release", arguments: allBackends)
    func bounded(backend: Backend) throws {
        try withHub(backend) { _ in
            let bounded = BoundedSemaphore(value: 2)
            #expect(throws: SynchronizationError.releasedTooOften(limit: 2)) { try bounded.release() }
            try bounded.acquire()
            try bounded.release()
            #expect(bounded.value == 2)
        }
    }

    @Test("Lock is reentrant, exclusive, and refuses release by another greenlet", arguments: allBackends)
    func lock(backend: Backend) throws {
        try withHub(backend) { _ in
            let lock = Lock()
            try lock.acquire()
            try lock.acquire()
            var otherGot: Bool?
            var refused: SynchronizationError?
            let other = try spawn {
                do { try lock.release() } catch let error as SynchronizationError { refused = error }
                otherGot = try lock.acquire(timeout: .milliseconds(5))
            }
            try other.join()
            #expect(refused == .notOwner)
            #expect(otherGot == false)
            try lock.release()
            #expect(lock.isLocked)
            try lock.release()
            #expect(!lock.isLocked)
            let later = try spawn { try lock.withLock { "inside" } }
            #expect(try later.value() == "inside")
        }
    }

    @Test("Queue: FIFO items, blocking and non-blocking put and get, timeouts", arguments: allBackends)
    func queue(backend: Backend) throws {
        try withHub(backend) { _ in
            let queue = Queue<Int>(maxSize: 2)
            try queue.tryPut(1)
            #expect(try queue.put(2, timeout: .zero))
            #expect(queue.isFull)
            #expect(throws: SynchronizationError.wouldBlock("the queue is full")) { try queue.tryPut(3) }
            #expect(try queue.put(3, timeout: .milliseconds(5)) == false)
            // A blocked putter gets in as soon as there is room, behind what was there.
            let putter = try spawn { try queue.put(3) }
            try sleep(.zero)
            #expect(try queue.get() == 1)
            #expect(try putter.value())
            #expect(try queue.get() == 2)
            #expect(try queue.tryGet() == 3)
            #expect(throws: SynchronizationError.wouldBlock("the queue is empty")) { try queue.tryGet() }
            #expect(try queue.get(timeout: .milliseconds(5)) == nil)
        }
    }

    @Test("Queue: waiting getters receive items in the order they waited", arguments: allBackends)
    func queueGetterOrder(backend: Backend) throws {
        try withHub(backend) { _ in
            let queue = Queue<String>()
            var received: [String] = []
            let getters = try (0..<3).map { index in
                try spawn { received.append("\(index):\(try queue.get()!)") }
            }
            try sleep(.zero)
            for item in ["a", "b", "c"] { try queue.put(item) }
            try joinAll(getters)
            #expect(received == ["0:a", "1:b", "2:c"])
            #expect(queue.isEmpty)
        }
    }

    @Test("Queue: a getter killed while waiting leaves no watcher and loses no item", arguments: allBackends)
    func queueKilledGetter(backend: Backend) throws {
        try withHub(backend) { hub in
            let queue = Queue<Int>()
            let doomed = try spawn { try queue.get() }
            let survivor = try spawn { try queue.get(timeout: .seconds(5)) }
            try sleep(.zero)
            try doomed.kill()
            try queue.put(7)
            #expect(try survivor.value() == 7)
            #expect(hub.loop.activeWatcherCount == 0)
        }
    }

    @Test("Queue: a getter killed after it was handed an item, before it resumed, gives the item back", arguments: allBackends)
    func queueGetterKilledAfterHandOff(backend: Backend) throws {
        try withHub(backend) { hub in
            let queue = Queue<Int>()
            let getter = try spawn { try queue.get() }
            try sleep(.zero)
            // The kill runs from the hub before the hand-off's wake-up, which is queued after it:
            // the getter's wait ends while that wake-up still waits to run, and must outlive it.
            try getter.kill(block: false)
            #expect(try queue.put(7))
            try getter.join()
            #expect(getter.isDead)
            #expect(try queue.tryGet() == 7)
            try sleep(.zero)
            #expect(hub.loop.activeWatcherCount == 0)
        }
    }

    @Test("Channel: send returns only once a receiver took the item", arguments: allBackends)
    func channel(backend: Backend) throws {
        try withHub(backend) { _ in
            let channel = Channel<Int>()
            #expect(try channel.send(1, timeout: .milliseconds(5)) == false)
            var log: [String] = []
            let sender = try spawn {
                try channel.send(42)
                log.append("sent")
            }
            try sleep(.milliseconds(5))
            #expect(log.isEmpty)
            log.append("receiving")
            #expect(try channel.receive() == 42)
            try sender.join()
            #expect(log == ["receiving", "sent"])
        }
    }

    @Test("AsyncResult: every waiter gets the value, or the error", arguments: allBackends)
    func asyncResult(backend: Backend) throws {
        try withHub(backend) { hub in
            let result = AsyncResult<String>()
            let readers = try (0..<3).map { _ in try spawn { try result.get() } }
            // Set from a loop callback, as C code calling back would.
            let timer = try hub.loop.makeTimer(after: .milliseconds(2)) { result.set("done") }
            try timer.start()
            for reader in readers { #expect(try reader.value() == "done") }
            let failing = AsyncResult<Int>()
            failing.fail(Boom())
            #expect(throws: Boom.self) { try failing.get() }
            #expect(throws: Timeout.self) { try AsyncResult<Int>().get(timeout: .milliseconds(2)) }
        }
    }

    @Test("Pool never runs more than its size at once; Group joins and kills all", arguments: allBackends)
    func poolBound(backend: Backend) throws {
        try withHub(backend) { _ in
            let pool = Pool(size: 3)
            var running = 0
            var peak = 0
            for index in 0..<20 {
                try pool.spawn {
                    running += 1
                    peak = max(peak, running)
                    try sleep(.milliseconds(Int64(index % 3)))
                    running -= 1
                }
                #expect(running <= 3)
            }
            #expect(try pool.join(timeout: .seconds(5)))
            #expect(peak == 3)
            #expect(pool.freeCount == 3)
            let group = Group()
            for _ in 0..<5 { try group.spawn { try sleep(.seconds(60)) } }
            try sleep(.zero)
            #expect(group.count == 5)
            try group.killAll(timeout: .seconds(5))
            #expect(group.count == 0)
        }
    }
}

@Suite("signal handlers as greenlets", .serialized, .timeLimit(.minutes(1)))
struct SignalHandlerTests {
    @Test("a signal sent by a child process runs its handler in a greenlet, until cancelled", arguments: allBackends)
    func signalFromChild(backend: Backend) throws {
        // Signals are per process: this suite's own, distinct from every other suite's.
        let signal = Signal.realTime(7)
        try withHub(backend) { _ in
            let received = Event()
            var ranInGreenlet = false
            let handler = try SignalHandler(signal) {
                ranInGreenlet = !Greenlet.current.isMain
                try sleep(.milliseconds(1))  // a handler may block
                received.set()
            }
            #expect(handler.isActive)
            let pid = try spawnShell("kill -\(signal.rawValue) \(getpid())")
            #expect(try received.wait(timeout: .seconds(10)))
            #expect(ranInGreenlet)
            try handler.cancel()
            #expect(!handler.isActive)
            var status: CInt = 0
            waitpid(pid, &status, 0)
        }
    }
}

@Suite("groups and pools keep their promises", .timeLimit(.minutes(1)))
struct GroupContractTests {
    @Test("Pool.add waits for a slot: a pool of one never runs two", arguments: allBackends)
    func poolAddHonoursTheBound(backend: Backend) throws {
        try withHub(backend) { _ in
            let pool = Pool(size: 1)
            let first = try spawn { try sleep(.seconds(30)) }
            let second = try spawn { try sleep(.seconds(30)) }
            try pool.add(first)
            #expect(pool.freeCount == 0 && pool.count == 1)
            let adder = try spawn { try pool.add(second) }
            try sleep(.milliseconds(5))
            #expect(!adder.isReady, "add returned while the pool was full")
            #expect(pool.count == 1)
            try first.kill()
            #expect(try adder.join(timeout: .seconds(5)))
            #expect(pool.count == 1 && pool.freeCount == 0)
            try second.kill()
            try sleep(.milliseconds(1))
            #expect(pool.count == 0 && pool.freeCount == 1)
            // Adding one that has ended takes no slot.
            try pool.add(first)
            #expect(pool.freeCount == 1)
        }
    }

    @Test("killAll says whether everything ended within its timeout", arguments: allBackends)
    func killAllReportsSurvivors(backend: Backend) throws {
        try withHub(backend) { _ in
            // Catches its kill and takes its time to go.
            let stubborn = { () throws -> Void in
                do { try sleep(.seconds(30)) } catch is GreenletExit { try sleep(.milliseconds(300)) }
            }
            let group = Group()
            try group.spawn(stubborn)
            let loose = try spawn(stubborn)
            try sleep(.milliseconds(1))
            #expect(try group.killAll(timeout: .milliseconds(20)) == false)
            #expect(try killAll([loose], timeout: .milliseconds(20)) == false)
            #expect(try group.join(timeout: .seconds(5)))
            #expect(try loose.join(timeout: .seconds(5)))
            let quick = Group()
            try quick.spawn { try sleep(.seconds(30)) }
            try sleep(.milliseconds(1))
            #expect(try quick.killAll(timeout: .seconds(5)))
        }
    }

    @Test("Group.killAll does not kill again a member that is already dying", arguments: allBackends)
    func killAllSparesTheDying(backend: Backend) throws {
        try withHub(backend) { _ in
            let group = Group()
            var cleanupFinished = false
            try group.spawn {
                do { try sleep(.seconds(30)) } catch is GreenletExit {
                    try sleep(.milliseconds(50))  // cleanup that must not be cut short
                    cleanupFinished = true
                }
            }
            try sleep(.milliseconds(1))
            try group.killAll(block: false)
            try sleep(.milliseconds(5))
            try group.killAll(timeout: .seconds(5))
            #expect(cleanupFinished)
            #expect(group.count == 0)
        }
    }
}

@Suite("hand-offs are exactly once", .timeLimit(.minutes(1)))
struct ExactlyOnceTests {
    struct Interrupted: Error {}

    @Test("a Channel send whose receiver is interrupted before it resumes does not report a delivery", arguments: allBackends)
    func channelSendAgainstAnInterruptedReceiver(backend: Backend) throws {
        try withHub(backend) { _ in
            for interruption in [GreenletExit() as any Error, Interrupted()] {
                let channel = Channel<Int>()
                let receiver = try spawn { try channel.receive() }
                try sleep(.milliseconds(1))  // waiting in receive
                var delivered: Bool?
                let sender = try spawn {
                    // The interruption is queued first, the hand-off's wake-up second: the
                    // receiver's wait ends by the interruption after it was handed the item.
                    try receiver.kill(interruption, block: false)
                    delivered = try channel.send(42, timeout: .milliseconds(30))
                }
                #expect(try sender.join(timeout: .seconds(5)))
                #expect(delivered == false, "the send claimed a receiver that never had the item")
                #expect(receiver.isReady && receiver.result.map { (try? $0.get()) == nil } == true)
                // Nothing was left behind in a channel that buffers nothing.
                #expect(try channel.receive(timeout: .zero) == nil)
                // And the channel still works.
                let next = try spawn { try channel.receive(timeout: .seconds(5)) }
                #expect(try channel.send(7, timeout: .seconds(5)))
                #expect(try next.value() == 7)
            }
        }
    }

    @Test("a receiver's own timeout that fires after the hand-off loses to it: the item is received", arguments: allBackends)
    func handOffBeatsTheReceiversTimeout(backend: Backend) throws {
        try withHub(backend) { _ in
            let queue = Queue<Int>()
            var received: Int??
            let receiver = try spawn { received = try queue.get(timeout: .milliseconds(5)) }
            try sleep(.milliseconds(1))
            // Busy past the receiver's deadline after handing it the item: both are due at once.
            try queue.tryPut(9)
            let end = LoopInstant.monotonicNow().nanoseconds + 20_000_000
            while LoopInstant.monotonicNow().nanoseconds < end {}
            #expect(try receiver.join(timeout: .seconds(5)))
            #expect(received == .some(9))
            #expect(queue.count == 0)
        }
    }
}
