/// One thing measured, by several implementations that run alternately, each round in another
/// order (A B C, C B A, B C A, A C B, …; see ``measure(_:rounds:into:log:)``).
struct Workload {
    /// What the table and the JSON call it ("TCP echo, 64 B, 100 connections").
    let name: String
    let unit: String
    /// Whether a smaller figure is better (times, bytes) or a larger one (throughput).
    let lowerIsBetter: Bool
    let implementations: [Implementation]
    /// Which implementation each Greenloop implementation is compared with, and the target.
    let comparisons: [Comparison]
    /// Rounds for this workload in a full run, when not the suite's default.
    var rounds: Int? = nil
}

/// A program (or an in-process call) that yields one sample per run.
struct Implementation {
    let name: String
    /// One sample; may return several named figures from the same run (the echo load generator
    /// reports throughput and CPU), keyed by workload name.
    let run: () throws -> [String: Double]
}

/// "`implementation` against `baseline`: target".
struct Comparison {
    let implementation: String
    let baseline: String
    let target: Target?
}

/// What a Greenloop figure must reach, as a ratio to its baseline or an absolute bound.
struct Target {
    let text: String
    let holds: (_ ratio: Double, _ value: Double) -> Bool

    /// value / baseline at most `factor` (costs).
    static func atMost(_ factor: Double, of what: String) -> Target {
        Target(text: "≤ \(factor)× \(what)") { ratio, _ in ratio <= factor }
    }

    /// value / baseline at least `factor` (throughput).
    static func atLeast(_ factor: Double, of what: String) -> Target {
        Target(text: "≥ \(factor)× \(what)") { ratio, _ in ratio >= factor }
    }

    /// baseline / value at least `factor` (a cost `factor` times smaller).
    static func fasterBy(_ factor: Double, than what: String, andAtMost bound: Double? = nil, _ unit: String = "")
        -> Target
    {
        let absolute = bound.map { " and ≤ \(format($0)) \(unit)" } ?? ""
        return Target(text: "≥ \(Int(factor))× faster than \(what)\(absolute)") { ratio, value in
            1 / ratio >= factor && (bound.map { value <= $0 } ?? true)
        }
    }

    /// An absolute bound on the value; the baseline is shown for scale only.
    static func valueAtMost(_ bound: Double, _ unit: String) -> Target {
        Target(text: "≤ \(format(bound)) \(unit)") { _, value in value <= bound }
    }
}

/// Samples per (workload, implementation), each with the round it was measured in.
struct Samples {
    var values: [String: [String: [Int: Double]]] = [:]

    mutating func add(_ workload: String, _ implementation: String, _ value: Double, round: Int) {
        values[workload, default: [:]][implementation, default: [:]][round] = value
    }

    func of(_ workload: String, _ implementation: String) -> [Double] {
        (values[workload]?[implementation] ?? [:]).sorted { $0.key < $1.key }.map(\.value)
    }

    /// `implementation`'s figure over `baseline`'s, round by round, for every round that has both:
    /// the two ran one after the other, so each ratio is free of whatever the machine did between
    /// rounds.
    func ratios(_ workload: String, _ implementation: String, to baseline: String) -> [Double] {
        let theirs = values[workload]?[baseline] ?? [:]
        return (values[workload]?[implementation] ?? [:]).sorted { $0.key < $1.key }.compactMap { round, value in
            guard let reference = theirs[round], !value.isNaN, !reference.isNaN, reference != 0 else { return nil }
            return value / reference
        }
    }
}

/// Runs every implementation of `workload` `rounds` times, alternating in an order that changes
/// from round to round, and records every figure it reports (a run may report figures of sibling
/// workloads too).
func measure(_ workload: Workload, rounds: Int, into samples: inout Samples, log: (String) -> Void) {
    let count = workload.implementations.count
    for round in 1...rounds {
        // Each round starts one implementation further on, and every other round goes backwards:
        // so no implementation always runs first, and none always runs before or after the
        // same other one (whose leftovers, such as a thousand sockets in TIME_WAIT or caches
        // full of its data, the next one inherits), which would bias a round's ratio.
        let rotated = (0..<count).map { workload.implementations[($0 + (round - 1) / 2) % count] }
        for implementation in round % 2 == 1 ? rotated : rotated.reversed() {
            do {
                let figures = try implementation.run()
                for (name, value) in figures { samples.add(name, implementation.name, value, round: round) }
                let shown = figures[workload.name].map { format($0) } ?? "?"
                log("  [\(round)/\(rounds)] \(workload.name) · \(implementation.name): \(shown) \(workload.unit)")
            } catch {
                log("  [\(round)/\(rounds)] \(workload.name) · \(implementation.name): FAILED: \(error)")
            }
        }
    }
}

/// Two significant decimals at most; whole numbers above 1,000.
func format(_ value: Double) -> String {
    if value >= 1000 { return String(Int(value.rounded())) }
    if value >= 10 { return String((value * 10).rounded() / 10) }
    return String((value * 100).rounded() / 100)
}
