import CBaselines
import Greenloop
import SystemPackage

#if canImport(Glibc)
import Glibc
#endif

/// `count` one-shot timers added at once, deadlines spread over 1 ms, run until all fired;
/// nanoseconds per timer (the same pattern as the C baselines).
func timersNanoseconds(count: Int) throws -> Double {
    let loop = try makeLoop()
    defer { try? loop.close() }
    let left = Countdown(count)
    var timers: [TimerWatcher] = []
    timers.reserveCapacity(count)
    let total = try nanoseconds {
        try loop.updateNow()
        for index in 0..<count {
            let timer = try loop.makeTimer(after: .microseconds((index * 7919) % 1000)) { left.value -= 1 }
            try timer.start()
            timers.append(timer)
        }
        while left.value > 0 { try loop.run(.once) }
    }
    return withExtendedLifetime(timers) { total / Double(count) }
}

/// A count that callbacks decrement, as the C baselines' global is: without the dynamic
/// exclusivity check Swift makes on a variable captured by an escaping closure.
private final class Countdown {
    @exclusivity(unchecked) var value: Int

    init(_ value: Int) { self.value = value }
}

/// The counters and descriptors of a chain run, as the C baselines keep them in globals: plain
/// fields that the callbacks update without the dynamic exclusivity checks Swift makes on
/// variables captured by escaping closures (a quarter of the instructions of a chain run,
/// measured with callgrind, that the C callbacks do not pay and that are not the loop's).
private final class ChainState {
    @exclusivity(unchecked) var writesLeft = 0
    @exclusivity(unchecked) var fired = 0
    @exclusivity(unchecked) var received = 0
    @exclusivity(unchecked) var byte: UInt8 = 0
    let ends: [(read: CInt, write: CInt)]

    init(ends: [(read: CInt, write: CInt)]) { self.ends = ends }

    /// The read callback of pair `index`: take the byte, and pass one on to the next pair.
    func readByte(on index: Int) {
        received += recv(ends[index].read, &byte, 1, 0)
        if writesLeft > 0 {
            let next = index + 1 == ends.count ? 0 : index + 1
            _ = send(ends[next].write, "e", 1, CInt(MSG_NOSIGNAL))
            writesLeft -= 1
            fired += 1
        }
    }
}

/// libevent's test/bench.c: `pipes` socket pairs with a read watcher each, `active` of them
/// written to, and each read writes to the next pair until `writes` writes were made. The time
/// of a run includes re-adding every watcher (and, with `idleTimers`, an idle timer each);
/// microseconds per run, median of `rounds`.
func chainMicroseconds(pipes count: Int, active: Int, writes: Int, rounds: Int, idleTimers: Bool) throws -> Double {
    let loop = try makeLoop()
    defer { try? loop.close() }
    var ends: [(read: CInt, write: CInt)] = []
    for _ in 0..<count {
        var pair: [CInt] = [0, 0]
        guard socketpair(AF_UNIX, CInt(SOCK_STREAM.rawValue) | CInt(SOCK_NONBLOCK.rawValue), 0, &pair) == 0 else {
            throw LoopError.systemCallFailed("socketpair", .init(rawValue: errno))
        }
        ends.append((pair[0], pair[1]))
    }
    defer { for end in ends { close(end.read); close(end.write) } }
    let state = ChainState(ends: ends)
    let readers = try ends.indices.map { index in
        try loop.makeIOWatcher(FileDescriptor(rawValue: ends[index].read), .read) { [unowned state] _ in
            state.readByte(on: index)
        }
    }
    let timers = try ends.indices.map { index in
        try loop.makeTimer(after: .seconds(10) + .microseconds(index % 1000)) {}
    }
    var runs: [Double] = []
    for _ in 0..<rounds {
        runs.append(try nanoseconds {
            for index in ends.indices {
                try readers[index].stop()
                try readers[index].start()
                if idleTimers {
                    try timers[index].stop()
                    try timers[index].start()
                }
            }
            try loop.run(.nonBlocking)
            state.fired = 0
            let space = count / active
            for index in 0..<active {
                _ = send(ends[(index * space) % count].write, "e", 1, CInt(MSG_NOSIGNAL))
                state.fired += 1
            }
            state.received = 0
            state.writesLeft = writes
            repeat { try loop.run(.nonBlocking) } while state.received != state.fired
        } / 1000)
    }
    return withExtendedLifetime((readers, timers, state)) { runs.sorted()[runs.count / 2] }
}

/// What the adapter adds to one loop iteration with `events` C events waiting on a shared base:
/// nanoseconds per non-blocking iteration (the backend from GREENLOOP_BACKEND; on libev the
/// walk for the earliest C timeout is the part that grows).
func adapterIterationNanoseconds(events: Int, iterations: Int) throws -> Double {
    let loop = try makeLoop()
    defer { try? loop.close() }
    let shared = try SharedEventBase(loop: loop)
    defer { try? shared.close() }
    guard greenloop_bench_add_idle_timers(shared.base, CInt(events)) == 0 else {
        throw LoopError.systemCallFailed("evtimer_add", .init(rawValue: errno))
    }
    try loop.run(.nonBlocking)
    return try nanoseconds {
        for _ in 0..<iterations { try loop.run(.nonBlocking) }
    } / Double(iterations)
}
