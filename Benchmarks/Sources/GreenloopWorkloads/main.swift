// Greenloop's side of every benchmark workload, one per invocation, so that the suite
// (greenloop-bench) can alternate it with its baselines in separate processes. Measurements print
// one JSON object; servers run until killed. The backend comes from GREENLOOP_BACKEND.
//
// usage: greenloop-workload switch COUNT | spawned-switch COUNT | c-switch COUNT | spawn-join COUNT | sleep0 COUNT
//        | event-pingpong COUNT | live-greenlets COUNT | timers COUNT
//        | chain PIPES ACTIVE WRITES ROUNDS [idle-timers]
//        | echo-server PORT | echo-server-threads PORT THREADS | http-adapter PORT
//        | adapter-iteration C_EVENTS ITERATIONS

import Greenloop

#if canImport(Glibc)
import Glibc
#endif

func emit(_ key: String, _ value: Double) {
    print("{\"\(key)\": \(value)}")
}

let arguments = Array(CommandLine.arguments.dropFirst())
func number(_ index: Int) -> Int {
    guard index < arguments.count, let value = Int(arguments[index]) else {
        print("greenloop-workload: argument \(index + 1) must be a number; see the usage in main.swift")
        exit(2)
    }
    return value
}

do {
    switch arguments.first {
    case "switch": emit("ns_per_switch", try greenletSwitchNanoseconds(count: number(1)))
    case "spawned-switch": emit("ns_per_switch", try spawnedSwitchNanoseconds(count: number(1)))
    case "c-switch": emit("ns_per_switch", cSwitchNanoseconds(count: number(1)))
    case "spawn-join": emit("ns_per_greenlet", try spawnJoinNanoseconds(count: number(1)))
    case "sleep0": emit("ns_per_call", try sleepZeroNanoseconds(iterations: number(1)))
    case "event-pingpong": emit("ns_per_round_trip", try eventPingPongNanoseconds(rounds: number(1)))
    case "live-greenlets": emit("bytes_per_greenlet", try residentBytesPerSleepingGreenlet(count: number(1)))
    case "timers": emit("ns_per_timer", try timersNanoseconds(count: number(1)))
    case "chain":
        emit("us_per_run", try chainMicroseconds(
            pipes: number(1), active: number(2), writes: number(3), rounds: number(4),
            idleTimers: arguments.count > 5))
    case "echo-server": try serveEcho(port: UInt16(number(1)))
    case "echo-server-threads": try serveEchoOnThreads(port: UInt16(number(1)), threads: number(2))
    case "http-adapter": try serveHTTPThroughAdapter(port: number(1))
    case "adapter-iteration":
        emit("ns_per_iteration", try adapterIterationNanoseconds(events: number(1), iterations: number(2)))
    default:
        print("greenloop-workload: unknown workload \(arguments.first ?? "(none)"); see the usage in main.swift")
        exit(2)
    }
} catch {
    print("greenloop-workload \(arguments.joined(separator: " ")): \(error)")
    exit(1)
}
