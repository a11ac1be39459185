// Greenlet micro-benchmarks, each next to its baseline from the same run.
//
// Every workload runs in rounds, alternating with its baseline (A B A B …); the table shows the
// median and the range. Targets come from the project's issues; the last column says whether the
// median meets them. Release builds only (`make bench`).

import CBaselines
import Greenloop

#if canImport(Glibc)
import Glibc
#endif

struct Measurement {
    let workload: String
    let implementation: String
    let unit: String
    var samples: [Double]
    var median: Double { samples.sorted()[samples.count / 2] }
}

func nanoseconds(_ body: () throws -> Void) rethrows -> Double {
    let start = LoopInstant.monotonicNow()
    try body()
    return Double(LoopInstant.monotonicNow().nanoseconds - start.nanoseconds)
}

let quick = CommandLine.arguments.contains("--quick")
/// `--only-switch`: just the greenlet switch, for a profiler.
let onlySwitch = CommandLine.arguments.contains("--only-switch")
let rounds = quick ? 1 : 5
let switches: UInt64 = quick ? 200_000 : 10_000_000

/// Greenlet ping-pong: A switches to B, B back to A; `count` switches in all. A plain counting
/// loop, so that nothing but the switch is measured.
@inline(never)
func greenletSwitchNanoseconds(count: Int = Int(switches)) throws -> Double {
    let main = Greenlet.current
    let partner = try Greenlet { _ in
        while true { try main.switchInto() }
    }
    try partner.switchInto()
    let total = try nanoseconds {
        var remaining = count / 2
        while remaining > 0 {
            try partner.switchInto()
            remaining -= 1
        }
    }
    return total / Double(count)
}

func spawnJoinNanoseconds(count: Int) throws -> Double {
    let total = try nanoseconds {
        var greenlets: [SpawnedGreenlet<Int>] = []
        greenlets.reserveCapacity(count)
        for index in 0..<count { greenlets.append(try spawn { index }) }
        try joinAll(greenlets)
    }
    return total / Double(count)
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

func residentBytes() -> Double {
    var pages = 0
    if let file = fopen("/proc/self/statm", "r") {
        var size = 0
        fscanf_two(file, &size, &pages)
        fclose(file)
    }
    return Double(pages * Int(sysconf(Int32(_SC_PAGESIZE))))
}

/// Reads the first two numbers of /proc/self/statm.
func fscanf_two(_ file: UnsafeMutablePointer<FILE>, _ first: inout Int, _ second: inout Int) {
    var buffer = [CChar](repeating: 0, count: 256)
    guard fgets(&buffer, 256, file) != nil else { return }
    let bytes = buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }
    let fields = String(decoding: bytes, as: UTF8.self).split(separator: " ")
    first = Int(fields[0]) ?? 0
    second = Int(fields[1]) ?? 0
}

/// RSS per live greenlet, each spawned and left sleeping.
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

func runAll() throws {
    var results: [Measurement] = []
    func record(_ workload: String, _ implementation: String, _ unit: String, _ value: Double) {
        if let index = results.firstIndex(where: { $0.workload == workload && $0.implementation == implementation }) {
            results[index].samples.append(value)
        } else {
            results.append(Measurement(workload: workload, implementation: implementation, unit: unit, samples: [value]))
        }
    }
    let loop = try makeLoop()
    try Hub.install(loop: loop)
    for _ in 0..<rounds {
        record("stack switch", "raw C jump_fcontext", "ns/switch", greenloop_baseline_fcontext_switch_ns(switches))
        record("stack switch", "Greenlet.switchInto", "ns/switch", try greenletSwitchNanoseconds())
        record("spawn+join", "spawn + joinAll", "ns/greenlet", try spawnJoinNanoseconds(count: quick ? 10_000 : 200_000))
        record("sleep(0)", "sleep(.zero)", "ns/call", try sleepZeroNanoseconds(iterations: quick ? 10_000 : 1_000_000))
        record("Event ping-pong", "Event set/wait", "ns/round trip", try eventPingPongNanoseconds(rounds: quick ? 10_000 : 200_000))
    }
    let live = quick ? [10_000] : [100_000, 1_000_000]
    for count in live {
        record("live sleeping greenlets (\(count))", "spawn + Event.wait", "bytes RSS/greenlet",
               try residentBytesPerSleepingGreenlet(count: count))
    }

    let baseline = results.first { $0.implementation == "raw C jump_fcontext" }!.median
    let targets: [String: (String, (Double) -> Bool)] = [
        "stack switch": ("≤ 1.2× raw C", { $0 <= 1.2 * baseline }),
        "spawn+join": ("≤ 500 ns", { $0 <= 500 }),
        "sleep(0)": ("≤ 100 ns", { $0 <= 100 }),
        "live sleeping greenlets (100000)": ("≤ 12 KiB", { $0 <= 12 * 1024 }),
        "live sleeping greenlets (1000000)": ("≤ 12 KiB", { $0 <= 12 * 1024 }),
    ]
    print("backend: \(loop.backend) (\(loop.method)); rounds: \(rounds), alternating; median [min–max]")
    print("workload".padded(36) + "implementation".padded(24) + "median".padded(12) + "range".padded(22) + "unit".padded(20) + "target")
    for m in results {
        let sorted = m.samples.sorted()
        var target = ""
        if m.implementation != "raw C jump_fcontext", let (text, check) = targets[m.workload] {
            let ratio = m.workload == "stack switch" ? String(format1(m.median / baseline)) + "× C, " : ""
            target = "\(text): \(ratio)\(check(m.median) ? "met" : "MISSED")"
        }
        print(m.workload.padded(36) + m.implementation.padded(24) + format1(m.median).padded(12)
              + "\(format1(sorted.first!))–\(format1(sorted.last!))".padded(22) + m.unit.padded(20) + target)
    }
    try Hub.current().destroy()
}

do {
    if CommandLine.arguments.contains("--only-spawn") {
        try Hub.install(loop: try makeLoop())
        for _ in 0..<5 { print("spawn+join: \(format1(try spawnJoinNanoseconds(count: 200_000))) ns") }
        exit(0)
    }
    if CommandLine.arguments.contains("--only-sleep0") {
        try Hub.install(loop: try makeLoop())
        print("sleep(0): \(format1(try sleepZeroNanoseconds(iterations: 2_000_000))) ns")
        exit(0)
    }
    if onlySwitch {
        print("greenlet switch: \(format1(try greenletSwitchNanoseconds())) ns")
        exit(0)
    }
    try runAll()
} catch {
    print("benchmark failed: \(error)")
    exit(1)
}

func format1(_ value: Double) -> String {
    let scaled = (value * 10).rounded() / 10
    return scaled >= 1000 ? String(Int(scaled)) : String(scaled)
}

extension String {
    func padded(_ width: Int) -> String {
        count >= width ? self + " " : self + String(repeating: " ", count: width - count)
    }
}
