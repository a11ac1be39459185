import Greenloop
import Synchronization
import Testing

#if canImport(Glibc)
import Glibc
#endif

@Suite("async watchers", .timeLimit(.minutes(1)))
struct AsyncWatcherTests {
    @Test("a send from another thread wakes a blocked loop", arguments: allBackends)
    func wakesTheLoop(backend: Backend) throws {
        try withLoop(backend) { loop in
            var runs = 0
            let async = try loop.makeAsyncWatcher {
                runs += 1
                try loop.stop()
            }
            try async.start()
            #expect(!async.isPending)
            let sender = async.sender
            onNewThread { sender.send() }
            #expect(async.isPending)
            try loop.run()
            #expect(runs == 1)
            #expect(!async.isPending)
        }
    }

    @Test("8 threads sending at once: every send is followed by a callback, none is lost", arguments: allBackends)
    func manyThreads(backend: Backend) throws {
        try withLoop(backend) { loop in
            let ledger = SendLedger()
            var callbacks = 0
            let async = try loop.makeAsyncWatcher {
                callbacks += 1
                // Every send counted before this point is handled by this run.
                ledger.seen.store(ledger.sends.load(ordering: .sequentiallyConsistent), ordering: .sequentiallyConsistent)
            }
            try async.start()
            let sender = async.sender
            let threads = 8
            let sendsPerThread = 300
            let group = ThreadGroup(count: threads) { _ in
                for _ in 0..<sendsPerThread {
                    let ticket = ledger.sends.add(1, ordering: .sequentiallyConsistent).newValue
                    sender.send()
                    // Wait (bounded) for a callback that started after this send.
                    let deadline = LoopInstant.monotonicNow().advanced(byNanoseconds: 10_000_000_000)
                    while ledger.seen.load(ordering: .sequentiallyConsistent) < ticket {
                        if LoopInstant.monotonicNow() > deadline {
                            ledger.lost.add(1, ordering: .relaxed)
                            break
                        }
                        // Sleep rather than spin: 8 spinning threads would starve the loop's thread.
                        var pause = timespec(tv_sec: 0, tv_nsec: 20_000)
                        nanosleep(&pause, nil)
                    }
                }
                ledger.finished.add(1, ordering: .sequentiallyConsistent)
                sender.send()  // wakes the loop so that it sees `finished`
            }
            let allDone = try loop.run(
                until: { ledger.finished.load(ordering: .sequentiallyConsistent) == threads }, timeout: .seconds(60))
            group.join()
            #expect(allDone)
            #expect(ledger.lost.load(ordering: .relaxed) == 0)
            #expect(ledger.seen.load(ordering: .sequentiallyConsistent) == threads * sendsPerThread)
            #expect(callbacks >= 1 && callbacks <= threads * sendsPerThread)
        }
    }

    @Test("sends to a stopped watcher are dropped; start() clears them", arguments: allBackends)
    func stoppedDropsSends(backend: Backend) throws {
        try withLoop(backend) { loop in
            var runs = 0
            let async = try loop.makeAsyncWatcher { runs += 1 }
            async.sender.send()
            try async.start()
            try loop.run(.nonBlocking)
            #expect(runs == 0)
            async.sender.send()
            #expect(try loop.run(until: { runs == 1 }))
        }
    }
}

/// What the sending threads and the loop share.
final class SendLedger: Sendable {
    let sends = Atomic<Int>(0)
    let seen = Atomic<Int>(0)
    let lost = Atomic<Int>(0)
    let finished = Atomic<Int>(0)
}
