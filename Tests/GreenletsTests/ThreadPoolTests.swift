import Greenlets
import GreenloopCore
import Synchronization
import Testing

#if canImport(Glibc)
import Glibc
#endif

@Suite("thread pool and name resolution", .timeLimit(.minutes(1)))
struct ThreadPoolTests {
    @Test("1,000 jobs from 100 greenlets: results and errors come back, threads stay bounded", arguments: allBackends)
    func manyJobs(backend: Backend) throws {
        try withHub(backend) { hub in
            let pool = try ThreadPool(maximumThreads: 3)
            let running = Atomic<Int>(0)
            let peak = Atomic<Int>(0)
            let greenlets = try (0..<100).map { greenlet in
                try spawn { () throws -> (Int, Int) in
                    var sum = 0
                    var failures = 0
                    for job in 0..<10 {
                        let n = greenlet * 10 + job
                        do {
                            sum += try pool.run { () throws -> Int in
                                let now = running.add(1, ordering: .relaxed).newValue
                                peak.max(now, ordering: .relaxed)
                                defer { running.subtract(1, ordering: .relaxed) }
                                if n % 7 == 0 { throw Boom() }
                                var pause = timespec(tv_sec: 0, tv_nsec: 10_000)
                                nanosleep(&pause, nil)  // a blocking call, off the hub's thread
                                return n * 2
                            }
                        } catch is Boom {
                            failures += 1
                        }
                    }
                    return (sum, failures)
                }
            }
            #expect(try joinAll(greenlets, timeout: .seconds(30)))
            var sum = 0
            var failures = 0
            for greenlet in greenlets {
                let (partial, failed) = try greenlet.value()
                sum += partial
                failures += failed
            }
            let multiplesOfSeven = Array(stride(from: 0, to: 1_000, by: 7))
            let expectedSum = 999 * 1_000 - 2 * multiplesOfSeven.reduce(0, +)
            #expect(sum == expectedSum)
            #expect(failures == multiplesOfSeven.count)
            #expect(peak.load(ordering: .relaxed) <= 3)
            // With nothing outstanding the pool does not keep the loop alive.
            #expect(hub.loop.referencedWatcherCount == 0)
            pool.shutDown()
            #expect(throws: ThreadPoolError.shutDown) { try pool.run { 1 } }
        }
    }

    @Test("a greenlet waiting on the pool can time out; the loop is not blocked meanwhile", arguments: allBackends)
    func timeoutWhileWaiting(backend: Backend) throws {
        try withHub(backend) { _ in
            let pool = try ThreadPool(maximumThreads: 1)
            var ticks = 0
            let ticker = try spawn {
                for _ in 0..<5 {
                    try sleep(.milliseconds(2))
                    ticks += 1
                }
            }
            #expect(throws: Timeout.self) {
                try withTimeout(.milliseconds(50)) {
                    try pool.run { () -> Int in
                        var pause = timespec(tv_sec: 0, tv_nsec: 200_000_000)
                        nanosleep(&pause, nil)
                        return 1
                    }
                }
            }
            try ticker.join()
            #expect(ticks == 5)
        }
    }

    @Test("resolve finds localhost, and a name that does not exist is a clear error", arguments: allBackends)
    func resolution(backend: Backend) throws {
        try withHub(backend) { _ in
            let pool = try ThreadPool()
            let addresses = try resolve(host: "localhost", port: 80, pool: pool)
            #expect(addresses.contains(try SocketAddress(ipv4: "127.0.0.1", port: 80)))
            #expect {
                _ = try resolve(host: "nosuch-host.invalid", port: 80, timeout: .seconds(5), pool: pool)
            } throws: { error in
                // The resolver answers "no such name" at once here; one that cannot reach a
                // server may instead run into the timeout.
                (error as? ResolveError)?.description.hasPrefix("cannot resolve nosuch-host.invalid: ") == true
                    || error is Timeout
            }
        }
    }
}
