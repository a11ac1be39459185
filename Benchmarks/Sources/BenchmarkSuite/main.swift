// greenloop-bench: every workload beside its baselines, alternately, in one run.
//
// usage: greenloop-bench [--quick] [--only SUBSTRING] | --redraw
//
// Full runs take 3 rounds of each workload (5 of the echo servers, 7 of the greenlet
// micro-benchmarks) and report
// medians and ranges; --quick runs each workload once at small sizes (to keep the suite from
// rotting; no thresholds). Results go to the table on standard output, results/latest.json and
// results/latest.svg (full runs only).
// Servers run on CPU 0 and their load generator on CPU 1, so that they do not compete for a core.
import Foundation

let arguments = CommandLine.arguments
if arguments.contains("--redraw") {
    let results = URL(fileURLWithPath: arguments[0]).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().appendingPathComponent("results")
    try redrawChart(in: results)
    exit(0)
}
let quick = arguments.contains("--quick")
let only = arguments.firstIndex(of: "--only").map { arguments[$0 + 1] }
let rounds = quick ? 1 : 3
/// Rounds of the greenlet micro-benchmarks (under a second a run), whose medians move with the
/// machine's noise more than the servers' do.
let microRounds = quick ? 1 : 7
/// Rounds of the echo servers: their CPU per round trip moved by ±15% between medians of 3 rounds
/// an hour apart on a shared 2-core machine, more than the 15% their targets leave.
let echoRounds = quick ? 1 : 5
let paths = Paths(benchmarks: URL(fileURLWithPath: CommandLine.arguments[0])
    .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent())

func log(_ line: String) {
    FileHandle.standardError.write(Data((line + "\n").utf8))
}

let backends = ["libev", "libevent"]
func greenloop(_ backend: String) -> [String: String] { ["GREENLOOP_BACKEND": backend] }
let workloadProgram = paths.binary("greenloop-workload")

/// Greenloop on each backend against gevent, for a greenlet-level workload.
func greenletWorkload(_ name: String, _ unit: String, _ key: String, _ command: String, size: Int, bound: Double?)
    -> Workload
{
    var implementations = backends.map { backend in
        Implementation(name: "Greenloop (\(backend))") {
            [name: try figure(key, of: [workloadProgram, command, "\(size)"], environment: greenloop(backend))]
        }
    }
    implementations.append(Implementation(name: "gevent") {
        [name: try figure(key, of: [paths.python, paths.geventWorkloads, command, "\(size)"])]
    })
    return Workload(
        name: name, unit: unit, lowerIsBetter: true, implementations: implementations,
        comparisons: backends.map {
            Comparison(implementation: "Greenloop (\($0))", baseline: "gevent",
                       target: .fasterBy(40, than: "gevent", andAtMost: bound, unit))
        },
        rounds: microRounds)
}

/// Greenloop on each backend against the same library driven from C.
func loopWorkload(_ name: String, _ unit: String, _ key: String, _ command: [String]) -> Workload {
    let cPrograms = ["libev": paths.binary("libev-baseline"), "libevent": paths.binary("libevent-baseline")]
    var implementations: [Implementation] = []
    for backend in backends {
        implementations.append(Implementation(name: "Greenloop (\(backend))") {
            [name: try figure(key, of: [workloadProgram] + command, environment: greenloop(backend))]
        })
        implementations.append(Implementation(name: "\(backend) in C") {
            [name: try figure(key, of: [cPrograms[backend]!] + command)]
        })
    }
    return Workload(
        name: name, unit: unit, lowerIsBetter: true, implementations: implementations,
        comparisons: backends.map {
            Comparison(implementation: "Greenloop (\($0))", baseline: "\($0) in C",
                       target: .atMost(1.15, of: "\($0) in C"))
        })
}

/// One echo measurement: a server, the load generator, CPU and throughput from the same run.
func echoRun(_ server: (_ port: Int) -> [String], environment: [String: String] = [:], connections: Int,
             seconds: Double, names: (cpu: String, throughput: String), serverCPUs: String? = "0",
             loadCPUs: String? = "1") throws -> [String: Double]
{
    let port = freePort()
    let process = try ServerProcess(server(port), port: port, environment: environment, cpus: serverCPUs)
    let result = try figures(from: runProgram(
        [paths.binary("loadgen"), "\(port)", "\(connections)", "64", "\(seconds)", "\(process.pid)"], cpus: loadCPUs))
    return [names.cpu: result["server_cpu_us_per_round_trip"] ?? .nan,
            names.throughput: result["round_trips_per_second"] ?? .nan]
}

func echoWorkloads(connections: Int) -> [Workload] {
    let cpuName = "TCP echo 64 B, \(connections) conn: server CPU"
    let throughputName = "TCP echo 64 B, \(connections) conn: round trips/s"
    let names = (cpu: cpuName, throughput: throughputName)
    let seconds = quick ? 0.5 : 2.0
    func run(_ server: [String], _ environment: [String: String] = [:]) -> () throws -> [String: Double] {
        {
            try echoRun({ server + ["\($0)"] }, environment: environment, connections: connections, seconds: seconds,
                        names: names)
        }
    }
    let implementations = [
        Implementation(name: "Greenloop (libev)", run: run([workloadProgram, "echo-server"], greenloop("libev"))),
        Implementation(name: "Greenloop (libevent)", run: run([workloadProgram, "echo-server"], greenloop("libevent"))),
        Implementation(name: "libev in C", run: run([paths.binary("libev-baseline"), "echo"])),
        Implementation(name: "libevent in C", run: run([paths.binary("libevent-baseline"), "echo"])),
        Implementation(name: "libevent bufferevent in C", run: run([paths.binary("libevent-baseline"), "bufferevent-echo"])),
        Implementation(name: "SwiftNIO (1 loop)") {
            try echoRun({ [paths.binary("nio-echo"), "\($0)", "1"] }, connections: connections, seconds: seconds,
                        names: names)
        },
        Implementation(name: "gevent", run: run([paths.python, paths.geventWorkloads, "echo-server"])),
    ]
    var comparisons: [Comparison] = []
    for backend in backends {
        let mine = "Greenloop (\(backend))"
        comparisons += [
            Comparison(implementation: mine, baseline: "\(backend) in C", target: .atMost(1.15, of: "\(backend) in C")),
            Comparison(implementation: mine, baseline: "SwiftNIO (1 loop)", target: .atMost(0.8, of: "SwiftNIO")),
            Comparison(implementation: mine, baseline: "gevent", target: .atMost(0.4, of: "gevent")),
        ]
    }
    let cpu = Workload(name: cpuName, unit: "µs/round trip", lowerIsBetter: true, implementations: implementations,
                       comparisons: comparisons, rounds: echoRounds)
    let throughput = Workload(
        name: throughputName, unit: "round trips/s", lowerIsBetter: false, implementations: [],
        comparisons: backends.map { Comparison(implementation: "Greenloop (\($0))", baseline: "\($0) in C", target: nil) })
    return [cpu, throughput]
}

func multiCoreEcho() -> Workload {
    let name = "TCP echo 64 B, 100 conn, one loop per core"
    let cores = ProcessInfo.processInfo.activeProcessorCount
    let seconds = quick ? 0.5 : 2.0
    let names = (cpu: name + ": server CPU", throughput: name)
    return Workload(
        name: name, unit: "round trips/s", lowerIsBetter: false,
        implementations: [
            Implementation(name: "Greenloop (libev, \(cores) hubs)") {
                try echoRun({ [workloadProgram, "echo-server-threads", "\($0)", "\(cores)"] },
                            environment: greenloop("libev"), connections: 100, seconds: seconds, names: names,
                            serverCPUs: nil, loadCPUs: nil)
            },
            Implementation(name: "SwiftNIO (\(cores) loops)") {
                try echoRun({ [paths.binary("nio-echo"), "\($0)", "\(cores)"] }, connections: 100, seconds: seconds,
                            names: names, serverCPUs: nil, loadCPUs: nil)
            },
        ],
        comparisons: [Comparison(implementation: "Greenloop (libev, \(cores) hubs)", baseline: "SwiftNIO (\(cores) loops)",
                                 target: .atLeast(1.0, of: "SwiftNIO"))])
}

func httpWorkload() -> Workload {
    let name = "evhttp requests/s (wrk, 50 conn)"
    let seconds = quick ? 1 : 3
    func run(_ server: [String], _ environment: [String: String]) -> () throws -> [String: Double] {
        {
            let port = freePort()
            let process = try ServerProcess(server + ["\(port)"], port: port, environment: environment, cpus: "0")
            let output = try runProgram(["wrk", "-t1", "-c50", "-d\(seconds)s", "http://127.0.0.1:\(port)/"], cpus: "1")
            _ = process
            guard let line = output.split(separator: "\n").first(where: { $0.hasPrefix("Requests/sec:") }),
                let value = Double(line.split(separator: " ").last ?? "")
            else { throw ProgramError(description: "wrk printed no Requests/sec: \(output)") }
            return [name: value]
        }
    }
    return Workload(
        name: name, unit: "requests/s", lowerIsBetter: false,
        implementations: [
            Implementation(name: "evhttp via adapter (libev)", run: run([workloadProgram, "http-adapter"], greenloop("libev"))),
            Implementation(name: "evhttp on its own base", run: run([paths.binary("libevent-baseline"), "http"], [:])),
        ],
        comparisons: [Comparison(implementation: "evhttp via adapter (libev)", baseline: "evhttp on its own base",
                                 target: .atLeast(0.9, of: "native evhttp"))])
}

/// What serving a shared event_base adds to a loop iteration, by number of waiting C events.
func adapterIteration() -> Workload {
    let name = "shared event_base: one idle loop iteration"
    let counts = quick ? [0, 1000] : [0, 100, 1000, 10_000]
    let iterations = quick ? "2000" : "20000"
    var implementations: [Implementation] = []
    for backend in backends {
        for count in counts {
            implementations.append(Implementation(name: "\(backend), \(count) C events") {
                [name: try figure("ns_per_iteration", of: [workloadProgram, "adapter-iteration", "\(count)", iterations],
                                  environment: greenloop(backend))]
            })
        }
    }
    return Workload(
        name: name, unit: "ns/iteration", lowerIsBetter: true, implementations: implementations,
        comparisons: backends.flatMap { backend in
            counts.dropFirst().map {
                Comparison(implementation: "\(backend), \($0) C events", baseline: "\(backend), 0 C events", target: nil)
            }
        })
}

func liveGreenlets() -> Workload {
    let sizes = quick ? [10_000] : [100_000, 1_000_000]
    let name = "live sleeping greenlets: RSS"
    var implementations = sizes.map { size in
        Implementation(name: "Greenloop, \(size / 1000)k") {
            [name: try figure("bytes_per_greenlet", of: [workloadProgram, "live-greenlets", "\(size)"])]
        }
    }
    implementations.append(Implementation(name: "gevent, \(sizes[0] / 1000)k") {
        [name: try figure("bytes_per_greenlet", of: [paths.python, paths.geventWorkloads, "live-greenlets", "\(sizes[0])"])]
    })
    return Workload(
        name: name, unit: "bytes/greenlet", lowerIsBetter: true, implementations: implementations,
        comparisons: sizes.map {
            Comparison(implementation: "Greenloop, \($0 / 1000)k", baseline: "gevent, \(sizes[0] / 1000)k",
                       target: .valueAtMost(12 * 1024, "bytes (12 KiB)"))
        })
}

func chainWorkloads() -> [Workload] {
    let shapes = quick ? [(100, 1)] : [(100, 1), (1000, 100), (9000, 100)]
    var all: [Workload] = []
    for (pipes, active) in shapes {
        for idle in [false, true] {
            let name = "bench.c chain N=\(pipes) A=\(active) W=\(pipes)" + (idle ? " +idle timers" : "")
            all.append(loopWorkload(name, "µs/run", "us_per_run",
                                    ["chain", "\(pipes)", "\(active)", "\(pipes)", quick ? "5" : "25"] + (idle ? ["t"] : [])))
        }
    }
    return all
}

// MARK: The suite

func prepareGevent() throws {
    if FileManager.default.fileExists(atPath: paths.python),
        (try? runProgram([paths.python, "-c", "import gevent"])) != nil
    {
        return
    }
    log("making the gevent virtual environment (\(paths.venv.path))")
    _ = try runProgram(["python3", "-m", "venv", paths.venv.path])
    _ = try runProgram([paths.venv.appendingPathComponent("bin/pip").path, "install", "-q", "-r",
                        paths.benchmarks.appendingPathComponent("gevent/requirements.txt").path])
}

let switches = quick ? 200_000 : 10_000_000
var workloads: [Workload] = [
    Workload(
        name: "stack switch", unit: "ns/switch", lowerIsBetter: true,
        implementations: [
            // Between the main greenlet and a spawned one, as on a hub.
            Implementation(name: "Greenlet.resume, spawned") {
                ["stack switch": try figure("ns_per_switch", of: [workloadProgram, "spawned-switch", "\(switches)"])]
            },
            // Between the main greenlet and a plain Greenlet.
            Implementation(name: "Greenlet.resume, plain") {
                ["stack switch": try figure("ns_per_switch", of: [workloadProgram, "switch", "\(switches)"])]
            },
            Implementation(name: "jump_fcontext in C") {
                ["stack switch": try figure("ns_per_switch", of: [workloadProgram, "c-switch", "\(switches)"])]
            },
        ],
        comparisons: ["Greenlet.resume, spawned", "Greenlet.resume, plain"].map {
            Comparison(implementation: $0, baseline: "jump_fcontext in C", target: .atMost(1.2, of: "C"))
        },
        rounds: microRounds),
    greenletWorkload("spawn+join", "ns/greenlet", "ns_per_greenlet", "spawn-join", size: quick ? 10_000 : 200_000, bound: 500),
    greenletWorkload("sleep(0)", "ns/call", "ns_per_call", "sleep0", size: quick ? 10_000 : 1_000_000, bound: 100),
    greenletWorkload("Event ping-pong", "ns/round trip", "ns_per_round_trip", "event-pingpong",
                     size: quick ? 10_000 : 200_000, bound: nil),
    loopWorkload("1M timers add+fire", "ns/timer", "ns_per_timer", ["timers", quick ? "100000" : "1000000"]),
]
workloads += chainWorkloads()
for connections in quick ? [1, 100] : [1, 100, 1000] { workloads += echoWorkloads(connections: connections) }
workloads.append(multiCoreEcho())
workloads.append(httpWorkload())
workloads.append(adapterIteration())
workloads.append(liveGreenlets())
if let only { workloads = workloads.filter { $0.name.contains(only) } }

do {
    try prepareGevent()
} catch {
    log("gevent baselines unavailable: \(error)")
}
let started = Date()
var samples = Samples()
for workload in workloads where !workload.implementations.isEmpty {
    log(workload.name)
    measure(workload, rounds: workload.rounds ?? rounds, into: &samples, log: log)
}
let rows = makeRows(workloads, samples)
printTable(rows, rounds: rounds, echoRounds: echoRounds, microRounds: microRounds, elapsed: Date().timeIntervalSince(started))
if !quick && only == nil {
    try writeResults(rows, to: paths.results)
}
