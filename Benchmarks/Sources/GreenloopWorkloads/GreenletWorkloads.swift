import CBaselines
import Greenloop

#if canImport(Glibc)
import Glibc
#endif

/// Nanoseconds that `body` took.
func nanoseconds(_ body: () throws -> Void) rethrows -> Double {
    let start = LoopInstant.monotonicNow()
    try body()
    return Double(LoopInstant.monotonicNow().nanoseconds - start.nanoseconds)
}

/// Greenlet ping-pong: A switches to B, B back to A; `count` switches in all. A plain counting
/// loop, so that nothing but the switch is measured.
@inline(never)
func greenletSwitchNanoseconds(count: Int) throws -> Double {
    let main = Greenlet.current
    let partner = try Greenlet { _ in
        while true { try main.resume() }
    }
    try partner.switchInto()
    let total = try nanoseconds {
        var remaining = count / 2
        while remaining > 0 {
            try partner.resume()
            remaining -= 1
        }
    }
    return total / Double(count)
}

/// The same ping-pong between the main greenlet and a spawned greenlet: the switches of a program
/// on a hub are of this kind.
@inline(never)
func spawnedSwitchNanoseconds(count: Int) throws -> Double {
    let main = Greenlet.current
    let partner = try spawn {
        while true { try main.resume() }
    }
    // The hub starts the partner, which hands control straight back.
    try sleep(.zero)
    let total = try nanoseconds {
        var remaining = count / 2
        while remaining > 0 {
            try partner.resume()
            remaining -= 1
        }
    }
    try partner.kill()
    return total / Double(count)
}

/// The same ping-pong in C on boost.context: the floor for a switch.
func cSwitchNanoseconds(count: Int) -> Double {
    greenloop_baseline_fcontext_switch_ns(UInt64(count))
}

func spawnJoinNanoseconds(count: Int) throws -> Double {
    func roundTrip() throws {
        var greenlets: [SpawnedGreenlet<Int>] = []
        greenlets.reserveCapacity(count)
        for index in 0..<count { greenlets.append(try spawn { index }) }
        try joinAll(greenlets)
    }
    // One untimed round first, as on gevent's side: the steady state (the allocator's pools
    // grown, stacks mapped), not the process's first touch of memory.
    try roundTrip()
    return try nanoseconds(roundTrip) / Double(count)
}

func sleepZeroNanoseconds(iterations: Int) throws -> Double {
    let total = try nanoseconds {
        let greenlet = try spawn {
            for _ in 0..<iterations { try sleep(.zero) }
        }
        try greenlet.join()
    }
    return total / Double(iterations)
}

func eventPingPongNanoseconds(rounds: Int) throws -> Double {
    let ping = Event()
    let pong = Event()
    let total = try nanoseconds {
        let partner = try spawn {
            for _ in 0..<rounds {
                try ping.wait()
                ping.clear()
                pong.set()
            }
        }
        for _ in 0..<rounds {
            ping.set()
            try pong.wait()
            pong.clear()
        }
        try partner.join()
    }
    return total / Double(rounds)
}

/// Resident bytes of this process (second field of /proc/self/statm, in pages).
func residentBytes() -> Double {
    guard let file = fopen("/proc/self/statm", "r") else { return 0 }
    defer { fclose(file) }
    var buffer = [CChar](repeating: 0, count: 256)
    guard fgets(&buffer, 256, file) != nil else { return 0 }
    let text = String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
    let fields = text.split(separator: " ")
    return Double(Int(fields[1]) ?? 0) * Double(sysconf(Int32(_SC_PAGESIZE)))
}

/// RSS per live greenlet, each spawned and left waiting on an Event.
func residentBytesPerSleepingGreenlet(count: Int) throws -> Double {
    let before = residentBytes()
    var greenlets: [SpawnedGreenlet<Void>] = []
    greenlets.reserveCapacity(count)
    let release = Event()
    for _ in 0..<count { greenlets.append(try spawn { try release.wait() }) }
    try sleep(.zero)
    let after = residentBytes()
    release.set()
    try joinAll(greenlets)
    return (after - before) / Double(count)
}
